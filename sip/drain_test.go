package sip_test

import (
	"testing"

	ssip "github.com/emiago/sipgo/sip"
)

// Once draining, the bridge refuses new calls and fails health checks:
// INVITE and OPTIONS get 503 with Retry-After, so a PBX or proxy sends
// the next caller to another node.
func TestDrainRefusesInviteAndOptions(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	if res := raw.request(t, ssip.OPTIONS, b.target("4711"), "", nil); res.StatusCode != 200 {
		t.Fatalf("OPTIONS before draining: %d, want 200", res.StatusCode)
	}
	b.srv.Drain()
	for _, m := range []ssip.RequestMethod{ssip.OPTIONS, ssip.INVITE} {
		res := raw.request(t, m, b.target("4711"), "", nil)
		if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
			t.Errorf("%s while draining: %d %s, want 503 with Retry-After", m, res.StatusCode, res.Reason)
		}
	}
}
