package pin

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }
func attempt(src, room string) Attempt   { return Attempt{Source: netip.MustParseAddr(src), Room: room} }
func failN(l *Lockout, a Attempt, n int) {
	for range n {
		l.Failed(a)
	}
}

// lockOnThird checks that a is allowed after two failures and locked
// after the third, for a Lockout of Failures 3; how ends the message of a
// lock that did not start.
func lockOnThird(t *testing.T, l *Lockout, a Attempt, how string) {
	t.Helper()
	failN(l, a, 2)
	if !l.Allow(a) {
		t.Fatal("locked after 2 of 3 failures")
	}
	l.Failed(a)
	if l.Allow(a) {
		t.Fatal("not locked after 3 failures" + how)
	}
}

func newLockout(c *fakeClock, log *bytes.Buffer) *Lockout {
	return &Lockout{Failures: 3, Window: time.Minute, Lock: 5 * time.Minute, Now: c.now,
		Logger: slog.New(slog.NewTextHandler(log, nil))}
}

func TestLockoutPerSource(t *testing.T) {
	c := newClock()
	var log bytes.Buffer
	l := newLockout(c, &log)
	var got []string
	l.OnLockout = func(scope, source, room string) { got = append(got, scope+" "+source+" "+room) }
	bad, other := attempt("192.0.2.7", "4711"), attempt("192.0.2.8", "4711")

	lockOnThird(t, l, bad, "")
	if l.Allow(attempt("192.0.2.7", "5000")) {
		t.Error("a locked source may try another room")
	}
	if !l.Allow(other) {
		t.Error("another source is locked out with the guesser")
	}
	if fmt.Sprint(got) != "[source 192.0.2.7 4711]" {
		t.Errorf("OnLockout calls %v", got)
	}
	// The fail2ban filter of docs/config.md matches the line.
	re := regexp.MustCompile(`level=WARN msg="pin lockout" scope=source source=(\S+) room=`)
	if m := re.FindStringSubmatch(log.String()); m == nil || m[1] != "192.0.2.7" {
		t.Errorf("log line %q does not match the fail2ban filter", log.String())
	}
	if !bytes.Contains(log.Bytes(), []byte("failures=3 lock=5m0s")) {
		t.Errorf("log line %q", log.String())
	}

	c.add(5*time.Minute - time.Second)
	if l.Allow(bad) {
		t.Error("lock ended early")
	}
	c.add(time.Second)
	if !l.Allow(bad) {
		t.Error("lock did not end")
	}
	// After the lock the count starts from zero.
	failN(l, bad, 2)
	if !l.Allow(bad) {
		t.Error("locked again after 2 failures following a lock")
	}
}

func TestLockoutWindowSlides(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	a := attempt("192.0.2.7", "4711")
	l.Failed(a)
	c.add(40 * time.Second)
	l.Failed(a)
	c.add(21 * time.Second) // the first failure is out of the window
	l.Failed(a)
	if !l.Allow(a) {
		t.Fatal("locked by failures spread over more than the window")
	}
	c.add(10 * time.Second)
	l.Failed(a) // three within 31 s
	if l.Allow(a) {
		t.Fatal("not locked by three failures within the window")
	}
}

func TestLockoutSuccessResetsSource(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	a := attempt("192.0.2.7", "4711")
	failN(l, a, 2)
	l.Succeeded(a)
	failN(l, a, 2)
	if !l.Allow(a) {
		t.Fatal("failures before a success still counted")
	}
}

func TestLockoutPerRoom(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	var scopes []string
	l.OnLockout = func(scope, _, _ string) { scopes = append(scopes, scope) }
	// Nine sources with two failures each: none is locked, but the room
	// (3 × 3 failures) is, for everyone.
	for i := range 9 {
		a := attempt(fmt.Sprintf("192.0.2.%d", i+1), "4711")
		failN(l, a, 2)
		if i < 4 && !l.Allow(a) {
			t.Fatalf("room locked after %d failures", 2*(i+1))
		}
	}
	if l.Allow(attempt("198.51.100.1", "4711")) {
		t.Error("room not locked after 18 failures (room threshold 9)")
	}
	if !l.Allow(attempt("198.51.100.1", "5000")) {
		t.Error("another room is locked too")
	}
	if fmt.Sprint(scopes) != "[room]" {
		t.Errorf("locks %v, want one room lock", scopes)
	}
}

func TestLockoutExemptSourceCountsPerRoomOnly(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	pbx := netip.MustParseAddr("10.0.0.1")
	l.Exempt = func(a netip.Addr) bool { return a == pbx }
	failN(l, Attempt{Source: pbx, Room: "4711"}, 5)
	if !l.Allow(Attempt{Source: pbx, Room: "5000"}) {
		t.Error("the PBX was locked out of every room")
	}
	failN(l, Attempt{Source: pbx, Room: "4711"}, 4) // 9 = RoomFailures
	if l.Allow(Attempt{Source: pbx, Room: "4711"}) {
		t.Error("guessing through the PBX did not lock the room")
	}
}

func TestLockoutBoundedMemory(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	l.MaxEntries = 4
	first := attempt("192.0.2.1", "1")
	failN(l, first, 3)
	for i := range 10 {
		c.add(time.Second)
		l.Failed(attempt(fmt.Sprintf("198.51.100.%d", i), fmt.Sprint(100+i)))
	}
	if len(l.sources) > 4 || len(l.rooms) > 4 {
		t.Fatalf("%d sources, %d rooms remembered, cap 4", len(l.sources), len(l.rooms))
	}
	if !l.Allow(first) {
		t.Error("the oldest record was not the one forgotten")
	}
}

func TestVerifierWithLockout(t *testing.T) {
	c := newClock()
	v := Verifier{Guard: newLockout(c, &bytes.Buffer{})}
	s := Secrets{PIN: "2468"}
	a := attempt("192.0.2.7", "4711")
	for range 3 {
		if r, err := v.Verify(a, s, "1111"); r != None || err != nil {
			t.Fatalf("wrong PIN: %v %v", r, err)
		}
	}
	if _, err := v.Verify(a, s, "2468"); err != ErrLocked {
		t.Fatalf("right PIN from a locked source: err %v, want ErrLocked", err)
	}
	if r, err := v.Verify(attempt("192.0.2.8", "4711"), s, "2468"); r != Participant || err != nil {
		t.Fatalf("another source: %v %v", r, err)
	}
}
