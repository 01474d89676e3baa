package pin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// downTallies is a shared store that cannot be reached.
type downTallies struct{ calls int }

var errDown = errors.New("connection refused")

func (d *downTallies) Locked(string, string) (bool, error) { d.calls++; return false, errDown }
func (d *downTallies) Fail(string, string, int, time.Duration, time.Duration) (int, bool, error) {
	d.calls++
	return 0, false, errDown
}
func (d *downTallies) Forget(string) error               { d.calls++; return errDown }
func (d *downTallies) Locks() ([]Lock, error)            { d.calls++; return nil, errDown }
func (d *downTallies) Lift(string, string) (bool, error) { d.calls++; return false, errDown }

// With the shared store down a node still locks a guesser out by itself,
// at the same count, and says why in the log.
func TestLockoutSharedDownFallsBackToMemory(t *testing.T) {
	c := newClock()
	var log bytes.Buffer
	l := newLockout(c, &log)
	down := &downTallies{}
	l.Shared = down
	bad := attempt("192.0.2.7", "4711")
	lockOnThird(t, l, bad, " with the shared store down")
	if locks := l.Locks(); len(locks) != 1 || locks[0].Key != "192.0.2.7" {
		t.Errorf("locks %+v", locks)
	}
	if !l.Lift(ScopeSource, "192.0.2.7") || !l.Allow(bad) {
		t.Error("the local lock could not be lifted")
	}
	if down.calls == 0 || !strings.Contains(log.String(), "counted here instead") {
		t.Errorf("the shared store was not tried, or its failure not logged:\n%s", log.String())
	}
}

// sharedLock is a shared store that holds one lock.
type sharedLock struct{ downTallies }

func (sharedLock) Locked(source, room string) (bool, error) { return source == "192.0.2.7", nil }
func (sharedLock) Locks() ([]Lock, error) {
	return []Lock{{Scope: ScopeSource, Key: "192.0.2.7", Failures: 3}, {Scope: ScopeRoom, Key: "4711", Failures: 9}}, nil
}

// A lock another node started refuses here, and is listed.
func TestLockoutSharedLockRefuses(t *testing.T) {
	var log bytes.Buffer
	l := newLockout(newClock(), &log)
	l.Shared = &sharedLock{}
	if l.Allow(attempt("::ffff:192.0.2.7", "5000")) {
		t.Error("a source locked in the shared store was allowed")
	}
	if !l.Allow(attempt("192.0.2.8", "5000")) {
		t.Error("another source was refused")
	}
	locks := l.Locks()
	if len(locks) != 2 || locks[0].Scope != ScopeRoom || locks[1].Key != "192.0.2.7" {
		t.Errorf("locks %+v, want the room first, then the source", locks)
	}
}
