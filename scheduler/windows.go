package scheduler

import (
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Window is one occurrence of a scheduled meeting as the clock sees it:
// callers may come in from Open (early join) until End; the meeting's own
// time limit counts from Start.
type Window struct {
	ID               string // the meeting's ID
	Room             string
	Open, Start, End time.Time
}

// Windows keeps one-time jobs at the opening, start and end of every
// scheduled meeting in the next Horizon. Nothing about a meeting lives only
// in these jobs: they are rebuilt from Source (the store) at start, after
// every booking change (Rebuild), and again before the horizon runs out,
// so a restart or a change loses nothing.
type Windows struct {
	S       *Scheduler
	Source  func(from, to time.Time) ([]Window, error)
	Horizon time.Duration // default 24 h

	// OnOpen, OnStart and OnEnd run on the scheduler's goroutines.
	OnOpen, OnStart, OnEnd func(Window)
	// OnError is told when Source fails; the next rebuild tries again.
	OnError func(error)

	mu sync.Mutex
}

const windowsTag = "windows"

// Rebuild replaces every window job with the ones Source gives now.
func (w *Windows) Rebuild() {
	w.mu.Lock()
	defer w.mu.Unlock()
	horizon := w.Horizon
	if horizon <= 0 {
		horizon = 24 * time.Hour
	}
	now := w.S.Now()
	until := now.Add(horizon)
	// A window that opens before now but has not ended still gets its
	// end job; its open and start jobs lie in the past and are skipped.
	wins, err := w.Source(now, until)
	if err != nil {
		if w.OnError != nil {
			w.OnError(err)
		}
	}
	w.S.cron.RemoveByTags(windowsTag)
	for _, win := range wins {
		w.at(win.Open, now, until, w.OnOpen, win)
		w.at(win.Start, now, until, w.OnStart, win)
		w.at(win.End, now, until, w.OnEnd, win)
	}
	// Before the horizon runs out, look again (sooner after a failure).
	next := now.Add(horizon / 2)
	if err != nil {
		next = now.Add(time.Minute)
	}
	_, _ = w.S.cron.NewJob(gocron.OneTimeJob(gocron.OneTimeJobStartDateTime(next)),
		gocron.NewTask(w.Rebuild), gocron.WithTags(windowsTag))
}

func (w *Windows) at(t, now, until time.Time, fn func(Window), win Window) {
	if fn == nil || t.Before(now) || t.After(until) {
		return
	}
	_, _ = w.S.cron.NewJob(gocron.OneTimeJob(gocron.OneTimeJobStartDateTime(t)),
		gocron.NewTask(fn, win), gocron.WithTags(windowsTag))
}
