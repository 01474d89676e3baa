package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"brygga/events"
)

// writeTimeout bounds one write to an event stream: a client that stops
// reading must not hold the handler (and its subscription) for ever.
const writeTimeout = 30 * time.Second

// events streams the bus as server-sent events. A client resumes with the
// standard Last-Event-ID header (what EventSource sends on reconnect) or
// ?after= for clients that cannot set headers; the header wins because it
// is newer than the URL the client was started with.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room := q.Get("room")
	from := q.Get("after")
	if h := strings.TrimSpace(r.Header.Get("Last-Event-ID")); h != "" {
		from = h
	}
	var after uint64
	if from != "" {
		n, err := strconv.ParseUint(from, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after: "+strconv.Quote(from)+" is not an event id")
			return
		}
		after = n
	}
	rc := http.NewResponseController(w)
	// A server-wide WriteTimeout would cut every stream after a fixed time;
	// per-write deadlines below take its place. The server's ReadTimeout
	// would likewise end the stream's context once it passed (the server
	// reads on in the background to notice a client going away), so the
	// read deadline is lifted too: the request has been read by now.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}

	past, complete, sub := s.o.Conferences.Events().Subscribe(after, room)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
	w.WriteHeader(http.StatusOK)

	var buf []byte
	send := func() bool {
		if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := w.Write(buf); err != nil {
			return false
		}
		buf = buf[:0]
		return rc.Flush() == nil
	}
	// The retry hint keeps reconnects quick but not hammering.
	buf = append(buf, "retry: 2000\n\n"...)
	if !complete {
		// Events were lost from the backlog; say so rather than pretend
		// the stream is whole, so a client knows to re-read state.
		buf = fmt.Appendf(buf, "event: gap\ndata: {\"after\":%d}\n\n", after)
	}
	for _, e := range past {
		buf = appendEvent(buf, e)
	}
	if !send() {
		return
	}

	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				// Cut off for falling behind; the client reconnects with
				// its last id and gets the rest from the backlog.
				return
			}
			buf = appendEvent(buf, e)
			// Send whatever else is already waiting in one write.
			for more := true; more; {
				select {
				case e, ok := <-sub.C:
					if !ok {
						more = false
						break
					}
					buf = appendEvent(buf, e)
				default:
					more = false
				}
			}
			if !send() {
				return
			}
		case <-tick.C:
			buf = append(buf, ": keepalive\n\n"...)
			if !send() {
				return
			}
		}
	}
}

func appendEvent(buf []byte, e events.Event) []byte {
	data, err := json.Marshal(e)
	if err != nil {
		// Data holds only what the bridge put there; an unmarshalable
		// value is a bug, but must not stop the stream for everyone.
		data, _ = json.Marshal(events.Event{ID: e.ID, Time: e.Time, Type: e.Type, Room: e.Room, Participant: e.Participant, Node: e.Node})
	}
	buf = fmt.Appendf(buf, "id: %d\n", e.ID)
	// The type travels in data too; event: lets EventSource clients
	// listen per type. Types never hold newlines (they are constants).
	buf = append(buf, "event: "...)
	buf = append(buf, e.Type...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	return append(buf, "\n\n"...)
}
