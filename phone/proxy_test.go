package phone

import (
	"context"
	"testing"
	"time"
)

func TestOutboundRoute(t *testing.T) {
	for in, want := range map[string]string{
		"sip:pbx.example.org":      "<sip:pbx.example.org;lr>",
		"pbx.example.org:5070":     "<sip:pbx.example.org:5070;lr>",
		"sip:127.0.0.1:5070":       "<sip:127.0.0.1:5070;lr>",
		"<sip:pbx.example.org;lr>": "<sip:pbx.example.org;lr>",
		"sip:vm@pbx.example.org":   "<sip:pbx.example.org;lr>",
		"sipgate.example:5060":     "<sip:sipgate.example:5060;lr>",
	} {
		r, err := outboundRoute(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := r.Value(); got != want {
			t.Errorf("%q: Route %s, want %s", in, got, want)
		}
	}
	if _, err := outboundRoute(" "); err == nil {
		t.Error("an empty proxy made a route")
	}
}

// TestDialOutboundProxy dials a Request-URI whose host does not resolve:
// the call can only be answered if the INVITE went to the proxy.
func TestDialOutboundProxy(t *testing.T) {
	u := newUAS(t)
	p := newPhone(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := p.Dial(ctx, "sip:room@vm.invalid", WithOutboundProxy("sip:"+u.udp.String()))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	select {
	case <-u.answered:
	case <-ctx.Done():
		t.Fatal("UAS never saw the ACK")
	}
	if err := c.Hangup(ctx); err != nil {
		t.Errorf("Hangup: %v", err)
	}
	if _, err := p.Dial(ctx, "sip:room@vm.invalid", WithOutboundProxy("sip:")); err == nil {
		t.Error("Dial with a proxy without a host succeeded")
	}
}
