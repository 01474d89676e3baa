package pin

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

func TestLocksListsActiveLocksSorted(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	if got := l.Locks(); len(got) != 0 {
		t.Fatalf("fresh lockout: %v", got)
	}
	// Two sources locked (3 each), in an order that sorts differently as
	// text and as addresses; both fail at room 5000, which is not locked (6 < 9).
	failN(l, attempt("192.0.2.10", "5000"), 3)
	c.add(time.Second)
	failN(l, attempt("192.0.2.9", "5000"), 3)
	// Room 4711 locked by nine sources with one failure each; none of them
	// is locked.
	c.add(time.Second)
	for i := range 9 {
		l.Failed(attempt(fmt.Sprintf("198.51.100.%d", i+1), "4711"))
	}
	// Two failures only: no lock.
	failN(l, attempt("203.0.113.1", "6000"), 2)

	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	want := []Lock{
		{Scope: "room", Key: "4711", Failures: 9, Until: start.Add(2*time.Second + 5*time.Minute)},
		{Scope: "source", Key: "192.0.2.9", Failures: 3, Until: start.Add(time.Second + 5*time.Minute)},
		{Scope: "source", Key: "192.0.2.10", Failures: 3, Until: start.Add(5 * time.Minute)},
	}
	if got := l.Locks(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("locks\n%v\nwant\n%v", got, want)
	}

	// A lock that ran out is no longer listed, though its record is kept.
	c.add(5*time.Minute - 2*time.Second)
	if got := l.Locks(); len(got) != 2 || got[0].Key != "4711" || got[1].Key != "192.0.2.9" {
		t.Fatalf("after the first lock ended: %v", got)
	}
	c.add(2 * time.Second)
	if got := l.Locks(); len(got) != 0 {
		t.Fatalf("after every lock ended: %v", got)
	}
}

func TestLiftRoom(t *testing.T) {
	c := newClock()
	var log bytes.Buffer
	l := newLockout(c, &log)
	organizer := attempt("192.0.2.1", "4711")
	for i := range 9 {
		l.Failed(attempt(fmt.Sprintf("198.51.100.%d", i+1), "4711"))
	}
	if l.Allow(organizer) {
		t.Fatal("room not locked")
	}
	if l.Lift("source", "4711") || l.Lift("room", "5000") || l.Lift("rooms", "4711") {
		t.Fatal("Lift of something not locked reported true")
	}
	if !l.Lift("room", "4711") {
		t.Fatal("Lift of the locked room reported false")
	}
	if !l.Allow(organizer) {
		t.Fatal("organizer still refused after the lift")
	}
	if len(l.Locks()) != 0 {
		t.Errorf("locks after the lift: %v", l.Locks())
	}
	if l.Lift("room", "4711") {
		t.Error("second Lift reported true")
	}
	if !bytes.Contains(log.Bytes(), []byte(`msg="pin lockout lifted" scope=room key=4711`)) {
		t.Errorf("log %q", log.String())
	}
	// The count starts from zero: eight more failures do not lock it.
	for i := range 8 {
		l.Failed(attempt(fmt.Sprintf("198.51.100.%d", i+1), "4711"))
	}
	if !l.Allow(organizer) {
		t.Error("failures before the lift still counted")
	}
	l.Failed(attempt("198.51.100.9", "4711"))
	if l.Allow(organizer) {
		t.Error("room not locked again by a full count after the lift")
	}
}

func TestLiftSource(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	a := attempt("192.0.2.7", "4711")
	failN(l, a, 3)
	if l.Allow(a) {
		t.Fatal("source not locked")
	}
	if l.Lift("source", "not-an-address") || l.Lift("source", "192.0.2.8") {
		t.Fatal("Lift of something not locked reported true")
	}
	// The IPv4-mapped form names the same source.
	if !l.Lift("source", "::ffff:192.0.2.7") {
		t.Fatal("Lift of the locked source reported false")
	}
	if !l.Allow(a) {
		t.Fatal("source still refused after the lift")
	}
	failN(l, a, 2)
	if !l.Allow(a) {
		t.Error("failures before the lift still counted")
	}
	// Once the lock is over by itself there is nothing to lift.
	l.Failed(a)
	c.add(5 * time.Minute)
	if l.Lift("source", "192.0.2.7") {
		t.Error("Lift of an expired lock reported true")
	}
}

func TestLiftLeavesOtherLocks(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	l.RoomFailures = 3
	// One source, three failures: it and the room are both locked.
	a := attempt("192.0.2.7", "4711")
	failN(l, a, 3)
	if got := l.Locks(); len(got) != 2 {
		t.Fatalf("locks %v, want the room and the source", got)
	}
	if !l.Lift("room", "4711") {
		t.Fatal("room lift")
	}
	if l.Allow(a) {
		t.Error("the source's lock went with the room's")
	}
	if !l.Allow(attempt("192.0.2.8", "4711")) {
		t.Error("the room is still locked for others")
	}
	if got := l.Locks(); len(got) != 1 || got[0].Scope != "source" {
		t.Errorf("locks %v, want the source", got)
	}
}

func TestLocksLeaveOutExemptSources(t *testing.T) {
	c := newClock()
	l := newLockout(c, &bytes.Buffer{})
	pbx := netip.MustParseAddr("10.0.0.1")
	exempt := false
	l.Exempt = func(a netip.Addr) bool { return exempt && a == pbx }
	failN(l, Attempt{Source: pbx, Room: "4711"}, 3)
	exempt = true // as Allow ignores an exempt source's lock, so do they
	if got := l.Locks(); len(got) != 0 {
		t.Errorf("locks %v", got)
	}
	if l.Lift("source", "10.0.0.1") {
		t.Error("Lift of an exempt source reported true")
	}
}

func TestLocksAndLiftConcurrently(t *testing.T) {
	l := &Lockout{Failures: 1, RoomFailures: 1, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			l.Failed(attempt(fmt.Sprintf("192.0.2.%d", i%250+1), fmt.Sprint(i%7)))
		}
	}()
	for i := range 200 {
		for _, k := range l.Locks() {
			l.Lift(k.Scope, k.Key)
		}
		l.Lift("room", fmt.Sprint(i%7))
	}
	<-done
}
