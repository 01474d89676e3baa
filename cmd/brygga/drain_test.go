package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeCalls is the conference bridge as drain sees it: calls until ended
// or hung up (or gone by themselves).
type fakeCalls struct {
	n        atomic.Int32
	ended    atomic.Int32 // EndAll calls
	hungUp   atomic.Int32 // HangupAll calls
	endBlock chan struct{}
}

func (f *fakeCalls) Calls() int { return int(f.n.Load()) }
func (f *fakeCalls) EndAll(time.Duration) bool {
	f.ended.Add(1)
	if f.endBlock != nil {
		<-f.endBlock // the notice still playing
	}
	f.n.Store(0)
	return true
}
func (f *fakeCalls) HangupAll(time.Duration) bool { f.hungUp.Add(1); f.n.Store(0); return true }

func runDrain(t *testing.T, f *fakeCalls, grace time.Duration, hurry chan os.Signal) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		drain(f, grace, hurry, slog.New(slog.DiscardHandler))
	}()
	return done
}

func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("drain did not return")
	}
}

func TestDrainWithoutGraceHangsUpAtOnce(t *testing.T) {
	f := &fakeCalls{}
	f.n.Store(3)
	waitDone(t, runDrain(t, f, 0, make(chan os.Signal, 1)))
	if f.hungUp.Load() != 1 || f.ended.Load() != 0 {
		t.Fatalf("hang-ups %d ends %d, want one HangupAll", f.hungUp.Load(), f.ended.Load())
	}
}

func TestDrainEndsWhenTheLastCallLeaves(t *testing.T) {
	f := &fakeCalls{}
	f.n.Store(2)
	done := runDrain(t, f, time.Hour, make(chan os.Signal, 1))
	f.n.Store(1)
	select {
	case <-done:
		t.Fatal("drain returned with a call still up")
	case <-time.After(3 * drainPoll):
	}
	f.n.Store(0) // the last caller hangs up during the grace
	waitDone(t, done)
	if f.hungUp.Load() != 0 || f.ended.Load() != 0 {
		t.Fatalf("hang-ups %d ends %d, want none: the calls left by themselves", f.hungUp.Load(), f.ended.Load())
	}
}

func TestDrainGraceOverEndsMeetings(t *testing.T) {
	f := &fakeCalls{}
	f.n.Store(2)
	waitDone(t, runDrain(t, f, 100*time.Millisecond, make(chan os.Signal, 1)))
	if f.ended.Load() != 1 || f.hungUp.Load() != 0 {
		t.Fatalf("ends %d hang-ups %d, want one EndAll", f.ended.Load(), f.hungUp.Load())
	}
}

func TestDrainSecondSignalEndsAtOnce(t *testing.T) {
	for _, during := range []string{"grace", "notice"} {
		t.Run(during, func(t *testing.T) {
			f := &fakeCalls{endBlock: make(chan struct{})}
			defer close(f.endBlock)
			f.n.Store(2)
			hurry := make(chan os.Signal, 1)
			grace := time.Hour
			if during == "notice" {
				grace = 10 * time.Millisecond
			}
			done := runDrain(t, f, grace, hurry)
			if during == "notice" {
				deadline := time.Now().Add(10 * time.Second)
				for f.ended.Load() == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
			}
			hurry <- syscall.SIGTERM
			waitDone(t, done)
			if f.hungUp.Load() != 1 {
				t.Fatalf("hang-ups %d after the second signal, want 1", f.hungUp.Load())
			}
		})
	}
}

func TestReadinessFailsWhileStopping(t *testing.T) {
	var stopping atomic.Bool
	pingErr := errors.New("store down")
	var ping error
	ready := readiness(&stopping, func(context.Context) error { return ping })
	if err := ready(context.Background()); err != nil {
		t.Fatalf("ready before stopping: %v", err)
	}
	ping = pingErr
	if err := ready(context.Background()); !errors.Is(err, pingErr) {
		t.Fatalf("store down: %v", err)
	}
	ping = nil
	stopping.Store(true)
	if err := ready(context.Background()); !errors.Is(err, errDraining) {
		t.Fatalf("stopping: %v, want not ready", err)
	}
}

// The store is asked at most once per interval; its answer, good or bad,
// stands until the interval has passed, then the next one counts.
func TestCachedPing(t *testing.T) {
	clock := time.Unix(1e9, 0)
	var pings int
	var answer error
	ready := cachedPing(func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the ping has no deadline")
		}
		pings++
		return answer
	}, time.Second, func() time.Time { return clock })
	check := func(wantPings int, wantErr error) {
		t.Helper()
		if err := ready(context.Background()); !errors.Is(err, wantErr) || pings != wantPings {
			t.Fatalf("ready: %v after %d pings, want %v after %d", err, pings, wantErr, wantPings)
		}
	}
	check(1, nil)
	down := errors.New("store unreachable")
	answer = down
	clock = clock.Add(999 * time.Millisecond)
	check(1, nil) // cached
	clock = clock.Add(time.Millisecond)
	check(2, down)
	answer = nil
	check(2, down) // cached
	clock = clock.Add(time.Second)
	check(3, nil)
}
