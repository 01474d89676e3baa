package ctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Message is one server-sent event: an event of the bridge (Type is its
// type, Data its JSON) or the stream's own "gap" notice.
type Message struct {
	ID   string // "" for messages without an id (gap)
	Type string
	Data []byte
}

// EventQuery says which events to read and for how long.
type EventQuery struct {
	Room  string
	After string // the last id already seen; "" starts with what happens next
	// Follow keeps reading until ctx ends, reopening the stream after a
	// drop with Last-Event-ID so nothing still in the backlog is lost.
	Follow bool
	// Quiet ends a stream that is not followed once no event came for
	// this long: the bridge sends its backlog at once and then waits for
	// news, so a short silence means the backlog is through.
	Quiet time.Duration
	// OnDrop, if set, hears about each lost connection while following,
	// before the client waits and reconnects.
	OnDrop func(err error, wait time.Duration)
}

// Retry delays when following. The bridge suggests 2 s (retry:); a bridge
// that stays away is asked less and less often, up to maxRetry.
const (
	defaultRetry = 2 * time.Second
	maxRetry     = 30 * time.Second
)

// errStreamIdle ends a stream that went silent past Client.StreamIdle.
var errStreamIdle = errors.New("event stream silent; reconnecting")

// Events reads the event stream and hands each message to on; an error
// from on stops it. It returns nil when ctx ends or, without Follow, when
// the stream has been quiet for q.Quiet or the bridge closed it.
func (c *Client) Events(ctx context.Context, q EventQuery, on func(Message) error) error {
	last := q.After
	retry := defaultRetry
	wait := time.Duration(0)
	connected := false
	for {
		err := c.eventStream(ctx, q, last, func(m Message) error {
			if m.ID != "" {
				last = m.ID
			}
			return on(m)
		}, func(d time.Duration) { retry = d }, func() { connected, wait = true, 0 })
		if ctx.Err() != nil {
			return nil
		}
		if !q.Follow || !connected {
			// Not following, or the bridge was never reached: most likely
			// a wrong URL, which retrying would only hide.
			return err
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 {
			// The bridge answered and refused (a revoked token): asking
			// again would get the same answer.
			return err
		}
		if !isDrop(err) {
			return err
		}
		if wait == 0 {
			wait = retry
		} else {
			wait = min(2*wait, maxRetry)
		}
		if q.OnDrop != nil {
			q.OnDrop(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// isDrop tells a lost connection (worth reconnecting) from a failure of
// ours. A nil error is the bridge closing the stream, which it does to a
// client that fell behind.
func isDrop(err error) bool {
	var u *UnreachableError
	var a *APIError
	return err == nil || errors.Is(err, errStreamIdle) || errors.As(err, &u) || errors.As(err, &a)
}

// eventStream reads one connection's worth of events. setRetry receives
// the bridge's retry hint; up is called once the bridge accepted the
// request.
func (c *Client) eventStream(ctx context.Context, q EventQuery, last string, on func(Message) error, setRetry func(time.Duration), up func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	vals := url.Values{}
	if q.Room != "" {
		vals.Set("room", q.Room)
	}
	req, err := c.request(ctx, http.MethodGet, "/api/v1/events", vals, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	// Headers must come as quickly as any other answer; only the body
	// may stay open.
	hdrTimer := time.AfterFunc(requestTimeout, func() { cancel(errStreamIdle) })
	resp, err := c.send(req)
	hdrTimer.Stop()
	if err != nil {
		if context.Cause(ctx) == errStreamIdle {
			return &UnreachableError{Base: c.Base.String(), Err: errors.New("no answer to the event request")}
		}
		return err
	}
	up()

	msgs := make(chan Message)
	done := make(chan error, 1)
	finished := false
	defer func() {
		// The reader calls setRetry, so it must be gone before the caller
		// reads the retry delay.
		cancel(nil)
		resp.Body.Close()
		if !finished {
			<-done
		}
	}()
	go func() {
		done <- readSSE(resp.Body, func(m Message) bool {
			select {
			case msgs <- m:
				return true
			case <-ctx.Done():
				return false
			}
		}, setRetry)
	}()

	idle := c.StreamIdle
	if idle <= 0 {
		idle = 45 * time.Second
	}
	watchdog := time.NewTimer(idle)
	defer watchdog.Stop()
	var quiet <-chan time.Time
	var qt *time.Timer
	if !q.Follow && q.Quiet > 0 {
		qt = time.NewTimer(q.Quiet)
		defer qt.Stop()
		quiet = qt.C
	}
	for {
		select {
		case m := <-msgs:
			watchdog.Reset(idle)
			if m.Type == "" {
				continue // a comment: the stream is alive, nothing to show
			}
			if err := on(m); err != nil {
				return err
			}
			if qt != nil {
				qt.Reset(q.Quiet)
			}
		case err := <-done:
			finished = true
			return streamEnd(c.Base.String(), err)
		case <-quiet:
			return nil
		case <-watchdog.C:
			return errStreamIdle
		case <-ctx.Done():
			return nil
		}
	}
}

// streamEnd turns the reader's end into a drop: EOF is the bridge closing
// the stream, anything else the connection breaking.
func streamEnd(base string, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return &UnreachableError{Base: base, Err: fmt.Errorf("event stream broke: %w", err)}
}

// readSSE parses text/event-stream (WHATWG HTML, "server-sent events")
// and calls emit for each message and, with an empty Type, for each
// comment, so the caller can see that the stream is alive. It returns when
// the body ends or emit returns false.
func readSSE(r io.Reader, emit func(Message) bool, setRetry func(time.Duration)) error {
	sc := bufio.NewScanner(r)
	// One event is a few hundred bytes; a line beyond 1 MiB is not SSE.
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var id, typ string
	var data []string
	hasData := false
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			if hasData {
				t := typ
				if t == "" {
					t = "message"
				}
				if !emit(Message{ID: id, Type: t, Data: []byte(strings.Join(data, "\n"))}) {
					return nil
				}
			}
			// Unlike the spec's "last event ID buffer" the id is per
			// message, so a gap does not look like a repeat of the event
			// before it; the caller keeps the last id for reconnecting.
			id, typ, data, hasData = "", "", data[:0], false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			if !emit(Message{}) {
				return nil
			}
		case "id":
			if !strings.ContainsRune(value, 0) {
				id = value
			}
		case "event":
			typ = value
		case "data":
			data = append(data, value)
			hasData = true
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 && setRetry != nil {
				setRetry(time.Duration(ms) * time.Millisecond)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}
