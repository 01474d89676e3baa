package ctl

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"brygga/pin"
)

// lockedPINs is a real lockout on a clock that stands still: room 4711
// locked by nine guessers, source 192.0.2.7 by its own guesses.
func lockedPINs() *pin.Lockout {
	now := t0.Add(-10 * time.Minute)
	l := &pin.Lockout{Failures: 3, Lock: 15 * time.Minute, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)}
	for i := range 9 {
		l.Failed(pin.Attempt{Source: netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", i+1)), Room: "4711"})
	}
	now = now.Add(time.Minute)
	for range 3 {
		l.Failed(pin.Attempt{Source: netip.MustParseAddr("192.0.2.7"), Room: "5000"})
	}
	return l
}

func TestLockoutsTableAndJSON(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, map[string]string{"BRYGGA_API": b.srv.URL, "BRYGGA_TOKEN": viewerToken}, "lockouts")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "SCOPE   KEY        FAILURES  UNTIL\n" +
		"room    4711       9         2025-11-21T10:05:00Z\n" +
		"source  192.0.2.7  3         2025-11-21T10:06:00Z\n"
	if r.stdout != want {
		t.Errorf("table:\n%s\nwant\n%s", r.stdout, want)
	}
	if got := b.lastRequest(); got.Method != "GET" || got.Path != "/api/v1/lockouts" {
		t.Errorf("request %+v", got)
	}

	r = ctl(t, opEnv(b), "lockouts", "--json")
	var ls []map[string]any
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &ls) != nil || len(ls) != 2 || ls[1]["key"] != "192.0.2.7" {
		t.Fatalf("--json: exit %d, %q", r.code, r.stdout)
	}

	for _, l := range b.pins.Locks() {
		b.pins.Lift(l.Scope, l.Key)
	}
	r = ctl(t, opEnv(b), "lockouts")
	if r.code != ExitOK || r.stdout != "no PIN lockouts\n" {
		t.Errorf("none: exit %d, %q", r.code, r.stdout)
	}
}

func TestLift(t *testing.T) {
	b := newBridge(t)
	organizer := pin.Attempt{Source: netip.MustParseAddr("203.0.113.5"), Room: "4711"}

	r := ctl(t, map[string]string{"BRYGGA_API": b.srv.URL, "BRYGGA_TOKEN": viewerToken}, "lift", "room", "4711")
	if r.code != ExitFailure || r.stderr != "brygga ctl: token wall may only read\n" {
		t.Errorf("viewer: exit %d, %q", r.code, r.stderr)
	}
	r = ctl(t, opEnv(b), "lift", "room", "4711")
	if r.code != ExitOK || r.stdout != "room 4711: PIN lockout lifted\n" {
		t.Fatalf("lift room: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if got := b.lastRequest(); got.Method != "DELETE" || got.Path != "/api/v1/lockouts/room/4711" {
		t.Errorf("request %+v", got)
	}
	if !b.pins.Allow(organizer) {
		t.Error("the organizer is still locked out")
	}
	if b.conf.last() != "" {
		t.Errorf("lift touched the conference: %s", b.conf.last())
	}
	r = ctl(t, opEnv(b), "lift", "room", "4711")
	if r.code != ExitFailure || r.stderr != "brygga ctl: no such lockout in force\n" {
		t.Errorf("again: exit %d, %q", r.code, r.stderr)
	}

	r = ctl(t, opEnv(b), "--json", "lift", "source", "192.0.2.7")
	if r.code != ExitOK || r.stdout != "" {
		t.Fatalf("lift source --json: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if len(b.pins.Locks()) != 0 {
		t.Errorf("locks left: %v", b.pins.Locks())
	}
	r = ctl(t, opEnv(b), "lift", "source", "4711")
	if r.code != ExitFailure || r.stderr != `brygga ctl: key: "4711" is not an IP address`+"\n" {
		t.Errorf("bad address: exit %d, %q", r.code, r.stderr)
	}

	n := len(b.requests())
	for _, args := range [][]string{{"lift", "rooms", "4711"}, {"lift", "4711"}, {"lift", "room", "4711", "x"}} {
		r := ctl(t, opEnv(b), args...)
		if r.code != ExitUsage || !strings.HasPrefix(r.stderr, "brygga ctl: lift: ") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stderr)
		}
	}
	if len(b.requests()) != n {
		t.Error("a usage error sent a request")
	}
}
