package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"brygga/events"
	"brygga/pin"
)

// The real lockout is what cmd/brygga hands to New.
var _ Lockouts = (*pin.Lockout)(nil)

// lockT is when lockedPINs' locks started.
var lockT = time.Date(2025, 11, 21, 9, 50, 0, 0, time.UTC)

// lockedPINs is a real lockout, on a clock that stands still, with room
// 4711 locked by many guessers and source 192.0.2.7 locked by its own
// guesses at room 5000.
func lockedPINs(t *testing.T) *pin.Lockout {
	t.Helper()
	now := lockT
	l := &pin.Lockout{Failures: 3, Lock: 15 * time.Minute, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)}
	for i := range 9 {
		l.Failed(pin.Attempt{Source: netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", i+1)), Room: "4711"})
	}
	now = now.Add(time.Minute)
	for range 3 {
		l.Failed(pin.Attempt{Source: netip.MustParseAddr("192.0.2.7"), Room: "5000"})
	}
	if n := len(l.Locks()); n != 2 {
		t.Fatalf("set-up: %d locks, want 2", n)
	}
	return l
}

func organizerAllowed(l *pin.Lockout) bool {
	return l.Allow(pin.Attempt{Source: netip.MustParseAddr("203.0.113.5"), Room: "4711"})
}

func TestLockoutsList(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/api/v1/lockouts", viewSecret, "")
	want(t, r, 200)
	l := r.list(t)
	if len(l) != 2 {
		t.Fatalf("list %s", r.body)
	}
	for i, w := range []map[string]any{
		{"scope": "room", "key": "4711", "failures": 9.0, "until": "2025-11-21T10:05:00Z"},
		{"scope": "source", "key": "192.0.2.7", "failures": 3.0, "until": "2025-11-21T10:06:00Z"},
	} {
		if fmt.Sprint(l[i]) != fmt.Sprint(w) {
			t.Errorf("entry %d: %v, want %v", i, l[i], w)
		}
	}

	none := newEnv(t, func(o *Options) { o.Lockouts = &pin.Lockout{} })
	r = none.do(t, "GET", "/api/v1/lockouts", viewSecret, "")
	want(t, r, 200)
	if strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("no lockouts: %s, want []", r.body)
	}
}

// auditRaw is the audit lines with every key, source included.
func auditRaw(t *testing.T, e *env) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "api change" {
			out = append(out, m)
		}
	}
	return out
}

func TestLockoutLiftRoom(t *testing.T) {
	e := newEnv(t, nil)
	_, _, sub := e.conf.bus.Subscribe(0, "")
	defer sub.Close()
	if organizerAllowed(e.pins) {
		t.Fatal("set-up: room 4711 not locked")
	}

	want(t, e.do(t, "DELETE", "/api/v1/lockouts/room/4711", viewSecret, ""), 403)
	if organizerAllowed(e.pins) {
		t.Fatal("a viewer lifted the lock")
	}
	r := e.do(t, "DELETE", "/api/v1/lockouts/room/4711", opSecret, "")
	if r.code != 204 || len(r.body) != 0 {
		t.Fatalf("lift: %d %s", r.code, r.body)
	}
	if !organizerAllowed(e.pins) {
		t.Fatal("the organizer is still locked out")
	}
	r = e.do(t, "GET", "/api/v1/lockouts", viewSecret, "")
	if l := r.list(t); len(l) != 1 || l[0]["scope"] != "source" {
		t.Errorf("after the lift: %s", r.body)
	}
	want(t, e.do(t, "DELETE", "/api/v1/lockouts/room/4711", opSecret, ""), 404)

	select {
	case ev := <-sub.C:
		if ev.Type != events.PINUnlocked || ev.Room != "4711" || fmt.Sprint(ev.Data) != "map[scope:room]" {
			t.Errorf("event %+v", ev)
		}
	default:
		t.Error("no event for the lift")
	}
	select {
	case ev := <-sub.C:
		t.Errorf("more events: %+v (a refused or failed lift published)", ev)
	default:
	}

	a := auditRaw(t, e)
	if len(a) != 3 {
		t.Fatalf("audit lines %v", a)
	}
	for i, w := range []struct {
		who    string
		status float64
	}{{"wall", 403}, {"ops", 204}, {"ops", 404}} {
		if a[i]["who"] != w.who || a[i]["action"] != "lockout.lift" || a[i]["room"] != "4711" || a[i]["status"] != w.status {
			t.Errorf("audit line %d: %v", i, a[i])
		}
		if _, ok := a[i]["source"]; ok {
			t.Errorf("audit line %d of a room names a source: %v", i, a[i])
		}
	}
}

func TestLockoutLiftSource(t *testing.T) {
	e := newEnv(t, nil)
	_, _, sub := e.conf.bus.Subscribe(0, "")
	defer sub.Close()
	guesser := pin.Attempt{Source: netip.MustParseAddr("192.0.2.7"), Room: "5000"}
	// The IPv4-mapped form names the same source.
	r := e.do(t, "DELETE", "/api/v1/lockouts/source/::ffff:192.0.2.7", opSecret, "")
	if r.code != 204 {
		t.Fatalf("lift: %d %s", r.code, r.body)
	}
	if !e.pins.Allow(guesser) {
		t.Error("the source is still locked out")
	}
	if organizerAllowed(e.pins) {
		t.Error("lifting the source lifted the room too")
	}
	select {
	case ev := <-sub.C:
		if ev.Type != events.PINUnlocked || ev.Room != "" || ev.Data["scope"] != "source" || ev.Data["source"] != "192.0.2.7" {
			t.Errorf("event %+v", ev)
		}
	default:
		t.Error("no event for the lift")
	}
	if a := auditRaw(t, e); len(a) != 1 || a[0]["source"] != "::ffff:192.0.2.7" || a[0]["room"] != "" || a[0]["status"] != 204.0 {
		t.Errorf("audit %v", a)
	}
	want(t, e.do(t, "DELETE", "/api/v1/lockouts/source/192.0.2.7", opSecret, ""), 404)
	want(t, e.do(t, "DELETE", "/api/v1/lockouts/source/2001:db8::1", opSecret, ""), 404)
}

func TestLockoutLiftBadRequests(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct{ path, msg string }{
		{"/api/v1/lockouts/rooms/4711", `scope: "rooms": expected room or source`},
		{"/api/v1/lockouts/caller/4711", `scope: "caller": expected room or source`},
		{"/api/v1/lockouts/source/4711", `key: "4711" is not an IP address`},
		{"/api/v1/lockouts/source/192.0.2.300", `key: "192.0.2.300" is not an IP address`},
	} {
		r := e.do(t, "DELETE", c.path, opSecret, "")
		want(t, r, 400)
		if got := r.json(t)["error"]; got != c.msg {
			t.Errorf("%s: error %q, want %q", c.path, got, c.msg)
		}
	}
	if len(e.pins.Locks()) != 2 {
		t.Error("a bad request lifted a lock")
	}
	// A key with a slash is not a path of this API.
	want(t, e.do(t, "DELETE", "/api/v1/lockouts/room/47/11", opSecret, ""), 404)
	r := e.do(t, "GET", "/api/v1/lockouts/room/4711", viewSecret, "")
	want(t, r, 405)
	if a := r.hdr.Get("Allow"); a != "DELETE" {
		t.Errorf("Allow %q", a)
	}
}

func TestLockoutsWithoutGuard(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Lockouts = nil })
	want(t, e.do(t, "GET", "/api/v1/lockouts", viewSecret, ""), 501)
	want(t, e.do(t, "DELETE", "/api/v1/lockouts/room/4711", opSecret, ""), 501)
	want(t, e.do(t, "DELETE", "/api/v1/lockouts/room/4711", viewSecret, ""), 403)
}
