package interop

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSIPpDigestAuth: with sip.allow naming another address and a digest
// account, SIPp from 127.0.0.1 is challenged and gets in with the right
// password, and is refused (a second 401, which fails its scenario) with a
// wrong one; the failure is logged for fail2ban.
func TestSIPpDigestAuth(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	dir := t.TempDir()
	b := startBridgeIn(t, dir, testConfig+`sip:
  trusted: []
  allow: ["127.0.0.2/32"]
  auth:
    realm: brygga-interop
    users:
      - {user: pbx2, password: "correct horse"}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	call := sippCall{scenario: "sipp_auth.xml", service: roomExt, limit: 20 * time.Second,
		args: []string{"-au", "pbx2", "-ap", "correct horse"}}
	if err := runSIPp(ctx, t, sipp, b, t.TempDir(), call); err != nil {
		t.Fatalf("right password: %v", err)
	}
	call.args = []string{"-au", "pbx2", "-ap", "battery staple"}
	call.limit = 8 * time.Second
	if err := runSIPp(ctx, t, sipp, b, t.TempDir(), call); err == nil {
		t.Fatal("a wrong password got a call")
	}
	if !strings.Contains(b.Log(), `msg="sip auth failed" source=127.0.0.1 user=pbx2`) {
		t.Error("no fail2ban line for the wrong password")
	}
	if n := strings.Count(b.Log(), "caller authenticated"); n != 1 {
		t.Errorf("%d authenticated calls logged, want 1", n)
	}
}
