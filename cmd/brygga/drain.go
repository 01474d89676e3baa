package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Shutdown (SIGTERM or SIGINT): new calls are refused at once (INVITE and
// OPTIONS 503, /readyz 503) and the running meetings may go on for
// shutdown_grace. When it runs out, each room still going hears that the
// conference has ended and is hung up; its recording is closed and queued
// as at any meeting's end. A second signal ends every call at once.

// endTimeout bounds ending the meetings at the end of the grace: the
// spoken notice (a few seconds; the room waits at most 30 s for it), then
// the BYEs. What is left after it is hung up without a word.
const endTimeout = 40 * time.Second

// drainPoll is how often the grace looks whether the last call has gone.
const drainPoll = 250 * time.Millisecond

// errDraining is /readyz's reason once shutdown has begun.
var errDraining = errors.New("shutting down: no new calls")

// calls is what draining needs of the conference bridge.
type calls interface {
	Calls() int
	EndAll(timeout time.Duration) bool
	HangupAll(timeout time.Duration) bool
}

// Readiness asks the store at most once per pingEvery, each time for at
// most pingTimeout: a load balancer polling /readyz of every node, many
// times a second, costs the database one query a second per node, and a
// store that stops answering turns /readyz to 503 within about two
// seconds, back to 200 as soon after it returns.
const (
	pingEvery   = time.Second
	pingTimeout = time.Second
)

// cachedPing is ping with its answer kept for every (now is the clock).
// Concurrent callers while the answer is stale wait for one ping.
func cachedPing(ping func(context.Context) error, every time.Duration, now func() time.Time) func(context.Context) error {
	var mu sync.Mutex
	var last error
	var at time.Time
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if t := now(); at.IsZero() || t.Sub(at) >= every || t.Before(at) {
			ctx, cancel := context.WithTimeout(ctx, pingTimeout)
			last = ping(ctx)
			cancel()
			at = now()
		}
		return last
	}
}

// readiness is /readyz: not ready once stopping is set, else as ping says.
func readiness(stopping *atomic.Bool, ping func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if stopping.Load() {
			return errDraining
		}
		return ping(ctx)
	}
}

// drain lets the calls go on for up to grace, then ends the meetings with
// a notice; a signal on hurry hangs everyone up at once. With no grace
// every call is hung up at once. It returns when the bridge's calls are
// over (or the hang-ups have been given their time); the SIP side's BYE
// transactions are the caller's to wait for.
func drain(b calls, grace time.Duration, hurry <-chan os.Signal, log *slog.Logger) {
	if grace <= 0 {
		b.HangupAll(drainTimeout)
		return
	}
	now := func(sig os.Signal) {
		log.Warn("second signal: hanging up every call now", "signal", sig.String(), "calls", b.Calls())
		b.HangupAll(drainTimeout)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	poll := time.NewTicker(drainPoll)
	defer poll.Stop()
	for b.Calls() > 0 {
		select {
		case sig := <-hurry:
			now(sig)
			return
		case <-timer.C:
			log.Info("shutdown grace over: ending the meetings", "calls", b.Calls(), "grace", grace)
			ended := make(chan bool, 1)
			go func() { ended <- b.EndAll(endTimeout) }()
			select {
			case ok := <-ended:
				if !ok {
					log.Warn("meetings not ended in time: hanging up the rest", "calls", b.Calls())
					b.HangupAll(drainTimeout)
				}
			case sig := <-hurry:
				now(sig)
			}
			return
		case <-poll.C:
		}
	}
}
