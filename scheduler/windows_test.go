package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// Jobs fire at each window's opening, start and end; a rebuild after a
// change (here: the meeting moved an hour later) drops the old jobs.
func TestWindowsFireAndRebuild(t *testing.T) {
	fc := clockwork.NewFakeClockAt(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	s, err := New(fc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := fc.Now().Add(30 * time.Minute)
	var mu sync.Mutex
	booked := []Window{{ID: "m-1", Room: "4711", Open: start.Add(-10 * time.Minute), Start: start, End: start.Add(time.Hour)}}
	var got []string
	note := func(what string) func(Window) {
		return func(w Window) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, what+" "+w.ID+" "+fc.Now().Format("15:04"))
		}
	}
	w := &Windows{S: s, Source: func(from, to time.Time) ([]Window, error) {
		mu.Lock()
		defer mu.Unlock()
		var out []Window
		for _, b := range booked {
			if b.End.After(from) && b.Open.Before(to) {
				out = append(out, b)
			}
		}
		return out, nil
	}, OnOpen: note("open"), OnStart: note("start"), OnEnd: note("end")}
	w.Rebuild()

	step := func(jobs int, d time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := fc.BlockUntilContext(ctx, jobs); err != nil {
			t.Fatalf("jobs not armed: %v", err)
		}
		fc.Advance(d)
	}
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			l := len(got)
			mu.Unlock()
			if l >= n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%d events, want %d: %v", len(got), n, got)
	}
	step(4, 20*time.Minute) // open, start, end, and the next rebuild
	wait(1)

	// The organizer moves the meeting an hour later; the lead rebuilds.
	mu.Lock()
	booked[0].Start, booked[0].End = start.Add(time.Hour), start.Add(2*time.Hour)
	mu.Unlock()
	w.Rebuild() // the new opening (12:50) is already past: start, end, rebuild
	step(3, 70*time.Minute)
	wait(2)
	step(2, time.Hour)
	wait(3)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"open m-1 12:20", "start m-1 13:30", "end m-1 14:30"}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}
