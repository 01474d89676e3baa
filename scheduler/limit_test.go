package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

type events chan string

func (e events) limit(room string, start time.Time, max time.Duration, warn ...time.Duration) Limit {
	return Limit{
		Room: room, Start: start, Max: max, Warn: warn,
		OnWarn: func(left time.Duration) { e <- fmt.Sprintf("%s warn %s", room, left) },
		OnEnd:  func() { e <- room + " end" },
	}
}

// expect waits for the next event; nothing real-time is asserted beyond a
// generous bound for the scheduler's goroutines to run.
func (e events) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-e:
		if got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event, want %q", want)
	}
}

func (e events) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-e:
		t.Fatalf("unexpected event %q", got)
	case <-time.After(100 * time.Millisecond):
	}
}

// advance moves the fake clock once the scheduler has armed n timers, so a
// job registered a moment late cannot miss its time.
func advance(t *testing.T, fc *clockwork.FakeClock, n int, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("scheduler never armed %d timers: %v", n, err)
	}
	fc.Advance(d)
}

func newTest(t *testing.T) (*Scheduler, *clockwork.FakeClock, events) {
	t.Helper()
	fc := clockwork.NewFakeClockAt(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s, err := New(fc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fc, make(events, 16)
}

func TestWarningsThenEnd(t *testing.T) {
	s, fc, ev := newTest(t)
	if err := s.Start(ev.limit("4711", fc.Now(), 60*time.Minute, 5*time.Minute, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if end, ok := s.EndsAt("4711"); !ok || !end.Equal(fc.Now().Add(time.Hour)) {
		t.Fatalf("EndsAt %v %v", end, ok)
	}
	advance(t, fc, 3, 54*time.Minute)
	ev.none(t)
	fc.Advance(time.Minute)
	ev.expect(t, "4711 warn 5m0s")
	advance(t, fc, 2, 4*time.Minute)
	ev.expect(t, "4711 warn 1m0s")
	advance(t, fc, 1, time.Minute)
	ev.expect(t, "4711 end")
	if _, ok := s.EndsAt("4711"); ok {
		t.Fatal("meeting still known after its end")
	}
}

func TestExtendRearmsWarnings(t *testing.T) {
	s, fc, ev := newTest(t)
	if err := s.Start(ev.limit("4711", fc.Now(), 60*time.Minute, 5*time.Minute, time.Minute)); err != nil {
		t.Fatal(err)
	}
	advance(t, fc, 3, 55*time.Minute)
	ev.expect(t, "4711 warn 5m0s")
	advance(t, fc, 2, 4*time.Minute)
	ev.expect(t, "4711 warn 1m0s")
	end, err := s.Extend("4711", 10*time.Minute)
	if err != nil || !end.Equal(fc.Now().Add(11*time.Minute)) {
		t.Fatalf("Extend: %v %v", end, err)
	}
	// Eleven minutes left: both warnings lie ahead again, the old end is gone.
	advance(t, fc, 3, time.Minute)
	ev.none(t)
	fc.Advance(5 * time.Minute)
	ev.expect(t, "4711 warn 5m0s")
	advance(t, fc, 2, 4*time.Minute)
	ev.expect(t, "4711 warn 1m0s")
	advance(t, fc, 1, time.Minute)
	ev.expect(t, "4711 end")
	ev.none(t)
}

func TestShortenIntoThePastEndsNow(t *testing.T) {
	s, fc, ev := newTest(t)
	if err := s.Start(ev.limit("4711", fc.Now(), 60*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Extend("4711", -2*time.Hour); err != nil {
		t.Fatal(err)
	}
	ev.expect(t, "4711 end")
}

func TestStopCancelsAndRoomsAreSeparate(t *testing.T) {
	s, fc, ev := newTest(t)
	if err := s.Start(ev.limit("4711", fc.Now(), 10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ev.limit("5000", fc.Now(), 20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	s.Stop("4711")
	if _, err := s.Extend("4711", time.Minute); err != ErrNoMeeting {
		t.Fatalf("Extend after Stop: %v", err)
	}
	advance(t, fc, 1, 20*time.Minute)
	ev.expect(t, "5000 end")
	ev.none(t)
}

func TestBadLimit(t *testing.T) {
	s, fc, ev := newTest(t)
	if err := s.Start(ev.limit("", fc.Now(), time.Minute)); err == nil {
		t.Fatal("a limit without a room was accepted")
	}
	if err := s.Start(ev.limit("1", fc.Now(), 0)); err == nil {
		t.Fatal("a zero-length meeting was accepted")
	}
}
