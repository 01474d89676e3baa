package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"brygga/events"
)

// sseBlock is one blank-line-terminated block of a stream.
type sseBlock struct {
	id, event, data string
	comment         bool
}

type sseClient struct {
	t      *testing.T
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

func openStream(t *testing.T, url, token, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{t: t, resp: resp, rd: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next reads one block, failing the test if none comes within 5 s.
func (c *sseClient) next() sseBlock {
	c.t.Helper()
	type res struct {
		b   sseBlock
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var b sseBlock
		for {
			line, err := c.rd.ReadString('\n')
			if err != nil {
				ch <- res{err: err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				ch <- res{b: b}
				return
			case strings.HasPrefix(line, ":"):
				b.comment = true
			case strings.HasPrefix(line, "id: "):
				b.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				b.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				b.data = line[6:]
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			c.t.Fatalf("reading stream: %v", r.err)
		}
		return r.b
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event within 5 s")
	}
	return sseBlock{}
}

// nextEvent skips the retry hint and heartbeats.
func (c *sseClient) nextEvent() events.Event {
	c.t.Helper()
	for {
		b := c.next()
		if b.comment || b.data == "" {
			continue
		}
		var e events.Event
		if err := json.Unmarshal([]byte(b.data), &e); err != nil {
			c.t.Fatalf("data %q: %v", b.data, err)
		}
		if b.event != e.Type && b.event != "gap" {
			c.t.Errorf("event: %q but type %q", b.event, e.Type)
		}
		if b.event == "gap" {
			return events.Event{Type: "gap"}
		}
		if b.id != strconv.FormatUint(e.ID, 10) {
			c.t.Errorf("id: %q but event id %d", b.id, e.ID)
		}
		return e
	}
}

func ids(t *testing.T, c *sseClient, n int) []uint64 {
	t.Helper()
	var out []uint64
	for range n {
		out = append(out, c.nextEvent().ID)
	}
	return out
}

func TestEventsResume(t *testing.T) {
	e := newEnv(t, nil)
	bus := e.conf.bus
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close) // registered first, so it runs after the streams are closed

	pub := func(room, typ, who string) {
		bus.Publish(events.Event{Type: typ, Room: room, Participant: who})
	}
	pub("4711", events.ParticipantJoined, "a1") // 1
	pub("9000", events.ParticipantJoined, "x9") // 2
	pub("4711", events.ParticipantJoined, "b2") // 3
	pub("4711", events.ParticipantMuted, "b2")  // 4

	// A fresh client gets only what follows.
	fresh := openStream(t, srv.URL+"/api/v1/events", viewSecret, "")
	if ct := fresh.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	fresh.next()                              // retry hint, sent at once so the client knows it is connected
	pub("4711", events.ParticipantLeft, "a1") // 5
	if ev := fresh.nextEvent(); ev.ID != 5 || ev.Type != events.ParticipantLeft || ev.Participant != "a1" || ev.Room != "4711" {
		t.Errorf("fresh client got %+v", ev)
	}

	// Resume after id 1 for one room: the backlog, in order, without room
	// 9000, then the live events, with nothing repeated.
	c := openStream(t, srv.URL+"/api/v1/events?room=4711", viewSecret, "1")
	if got := ids(t, c, 3); got[0] != 3 || got[1] != 4 || got[2] != 5 {
		t.Errorf("resumed ids %v, want [3 4 5]", got)
	}
	pub("9000", events.ParticipantLeft, "x9") // 6
	pub("4711", events.ParticipantLeft, "b2") // 7
	if ev := c.nextEvent(); ev.ID != 7 {
		t.Errorf("live event %+v, want id 7", ev)
	}

	// ?after= works for clients that cannot set headers; the header wins.
	q := openStream(t, srv.URL+"/api/v1/events?after=5", viewSecret, "")
	if got := ids(t, q, 2); got[0] != 6 || got[1] != 7 {
		t.Errorf("after=5 ids %v", got)
	}
	h := openStream(t, srv.URL+"/api/v1/events?after=1", viewSecret, "6")
	if got := ids(t, h, 1); got[0] != 7 {
		t.Errorf("Last-Event-ID 6 over after=1: %v", got)
	}

	for _, bad := range []string{"?after=x", "?after=-1"} {
		want(t, e.do(t, "GET", "/api/v1/events"+bad, viewSecret, ""), 400)
	}
	want(t, e.do(t, "GET", "/api/v1/events", "", ""), 401)
}

func TestEventsGapAndHeartbeat(t *testing.T) {
	old := heartbeat
	heartbeat = 50 * time.Millisecond
	defer func() { heartbeat = old }()

	e := newEnv(t, nil)
	e.conf.bus = events.New(2, nil)
	done := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.h.ServeHTTP(w, r)
		if r.URL.Path == "/api/v1/events" {
			done <- struct{}{}
		}
	}))
	t.Cleanup(srv.Close) // registered first, so it runs after the streams are closed
	for range 5 {
		e.conf.bus.Publish(events.Event{Type: events.ParticipantJoined, Room: "4711"})
	}
	// Events 2 and 3 have left a backlog of 2: the client is told.
	c := openStream(t, srv.URL+"/api/v1/events", opSecret, "1")
	if ev := c.nextEvent(); ev.Type != "gap" {
		t.Errorf("first %+v, want a gap", ev)
	}
	if got := ids(t, c, 2); got[0] != 4 || got[1] != 5 {
		t.Errorf("after the gap: %v", got)
	}
	sawBeat := false
	for range 3 {
		if c.next().comment {
			sawBeat = true
			break
		}
	}
	if !sawBeat {
		t.Error("no heartbeat comment")
	}

	// The handler ends when the client goes.
	c.close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream handler still running after the client left")
	}
}
