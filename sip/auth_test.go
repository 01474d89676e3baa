package sip_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"brygga/phone"
	"brygga/sip"
)

// TestDigestAuthForSourcesNotAllowed: a source outside sip.allow gets a
// 401 challenge (not a call) without credentials and with wrong ones, and
// is answered with the right ones; with no accounts it would get 403.
func TestDigestAuthForSourcesNotAllowed(t *testing.T) {
	b := startBridge(t, roomYAML, withSIP(func(o *sip.Options) {
		o.Trusted = nil
		o.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		o.AuthUsers = map[string]string{"pbx2": "correct horse"}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dial := func(user, pass string) (*phone.Call, error) {
		ph, err := phone.New(ctx, phone.Config{User: "auth", AuthUser: user, AuthPassword: pass})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ph.Close() })
		return ph.Dial(ctx, b.target("5000"))
	}
	for _, c := range []struct{ user, pass string }{{"", ""}, {"pbx2", "wrong password"}, {"eve", "correct horse"}} {
		_, err := dial(c.user, c.pass)
		var se *phone.StatusError
		if !errors.As(err, &se) || se.Code != 401 {
			t.Fatalf("user %q: %v, want 401", c.user, err)
		}
	}
	if n := b.srv.Calls(); n != 0 {
		t.Fatalf("%d calls after refused dials", n)
	}
	call, err := dial("pbx2", "correct horse")
	if err != nil {
		t.Fatalf("authenticated dial: %v", err)
	}
	waitFor(t, "the authenticated call", 10*time.Second, func() bool { return b.srv.Calls() == 1 })
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	call.Hangup(hctx)
}

// TestNotAllowedWithoutAccounts: without digest accounts a source outside
// sip.allow gets 403; a trusted source is allowed though not listed.
func TestNotAllowedWithoutAccounts(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		b := startBridge(t, roomYAML, withSIP(func(o *sip.Options) {
			o.Trusted = nil
			if trusted {
				o.Trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			}
			o.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ph, err := phone.New(ctx, phone.Config{User: "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		call, err := ph.Dial(ctx, b.target("5000"))
		var se *phone.StatusError
		switch {
		case trusted && err != nil:
			t.Errorf("a trusted source outside allow: %v", err)
		case trusted:
			hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
			call.Hangup(hctx)
			hcancel()
		case !errors.As(err, &se) || se.Code != 403:
			t.Errorf("an untrusted source outside allow: %v, want 403", err)
		}
		ph.Close()
		cancel()
	}
}
