package sip_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"brygga/media/codec"
	"brygga/phone"
	"brygga/sip"
)

// gateHandler holds the first log record with a given message until
// released: a hook into the middle of the INVITE handler, which logs
// "rtp remote" when it points the new call's media at the caller, after
// the dialog exists and before the 200 goes out.
type gateHandler struct {
	slog.Handler
	g *gate
}

type gate struct {
	msg     string
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (h gateHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.g.msg {
		h.g.once.Do(func() {
			close(h.g.entered)
			<-h.g.release
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h gateHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return gateHandler{Handler: h.Handler.WithAttrs(as), g: h.g}
}

func (h gateHandler) WithGroup(name string) slog.Handler {
	return gateHandler{Handler: h.Handler.WithGroup(name), g: h.g}
}

// TestCancelWhileAnswering: the CANCEL arrives after the bridge made the
// dialog and before its 200 went out. sipgo answers the CANCEL (200) and
// the INVITE (487), so the caller cancelled, just as when the CANCEL
// comes earlier: the call must not count as failed, and nothing may stay.
// (Found by interop's SIPp CANCEL test: the same cancel counted as
// "failed" or not at all, by a race of microseconds.)
func TestCancelWhileAnswering(t *testing.T) {
	g := &gate{msg: "rtp remote", entered: make(chan struct{}), release: make(chan struct{})}
	var mu sync.Mutex
	var results []string
	b := startBridge(t, roomYAML, withSIP(func(o *sip.Options) {
		o.Logger = slog.New(gateHandler{Handler: o.Logger.Handler(), g: g})
		o.OnCallResult = func(r string) {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}
	}))
	released := false
	release := func() {
		if !released {
			released = true
			close(g.release)
		}
	}
	defer release()

	p := newPhone(t, "impatient", codec.PCMU)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		c, err := p.Dial(ctx, b.target("4711"))
		if c != nil {
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Hangup(hctx)
			hcancel()
		}
		errc <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the INVITE never got as far as its media")
	}
	cancel() // the caller gives up while the 200 is being made
	var err error
	select {
	case err = <-errc:
	case <-time.After(40 * time.Second):
		t.Fatal("dial did not end after CANCEL")
	}
	var se *phone.StatusError
	if !errors.As(err, &se) || se.Code != 487 {
		t.Fatalf("cancelled dial: %v, want 487 Request Terminated", err)
	}
	release()
	checkIdle(t, b)
	mu.Lock()
	defer mu.Unlock()
	for _, r := range results {
		if r == "failed" || r == "answered" {
			t.Errorf("a cancelled call counted as %q (results %v)", r, results)
		}
	}
}
