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
	sipp := RequirePeer(t, "sipp", "sip-tester")
	dir := t.TempDir()
	b := StartBridgeIn(t, dir, BridgeConfig+`sip:
  trusted: []
  allow: ["127.0.0.2/32"]
  auth:
    realm: brygga-interop
    users:
      - {user: pbx2, password: "correct horse"}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	call := SIPpCall{Scenario: "sipp_auth.xml", Service: RoomExt, Limit: 20 * time.Second,
		Args: []string{"-au", "pbx2", "-ap", "correct horse"}}
	if err := RunSIPp(ctx, t, sipp, b, t.TempDir(), call); err != nil {
		t.Fatalf("right password: %v", err)
	}
	call.Args = []string{"-au", "pbx2", "-ap", "battery staple"}
	call.Limit = 8 * time.Second
	if err := RunSIPp(ctx, t, sipp, b, t.TempDir(), call); err == nil {
		t.Fatal("a wrong password got a call")
	}
	if !strings.Contains(b.Log(), `msg="sip auth failed" source=127.0.0.1 user=pbx2`) {
		t.Error("no fail2ban line for the wrong password")
	}
	if n := strings.Count(b.Log(), "caller authenticated"); n != 1 {
		t.Errorf("%d authenticated calls logged, want 1", n)
	}
}
