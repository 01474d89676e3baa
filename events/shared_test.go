package events

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// memLog is a Log in memory that can refuse appends, as a database that
// is away does.
type memLog struct {
	mu     sync.Mutex
	rows   []Event
	refuse int // appends still to refuse
	wakes  []func()
}

func (l *memLog) AppendEvents(_ context.Context, es []Event) error {
	l.mu.Lock()
	if l.refuse > 0 {
		l.refuse--
		l.mu.Unlock()
		return errors.New("database away")
	}
	for _, e := range es {
		e.ID = uint64(len(l.rows) + 1)
		l.rows = append(l.rows, e)
	}
	wakes := l.wakes
	l.mu.Unlock()
	for _, w := range wakes {
		w()
	}
	return nil
}

func (l *memLog) EventsAfter(_ context.Context, after uint64, limit int) ([]Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.rows {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (l *memLog) RecentEvents(_ context.Context, n int) ([]Event, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	from := max(0, len(l.rows)-n)
	return append([]Event(nil), l.rows[from:]...), uint64(from), nil
}

func (l *memLog) ListenEvents(ctx context.Context, wake func()) error {
	l.mu.Lock()
	l.wakes = append(l.wakes, wake)
	l.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (l *memLog) TrimEvents(context.Context, time.Duration) error { return nil }

// Events published while the log refuses them wait and arrive, in order,
// once it takes them; each names its node.
func TestSharedBusKeepsEventsWhileTheLogIsAway(t *testing.T) {
	log := &memLog{refuse: 2}
	b, err := NewShared(log, SharedOptions{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, _, s := b.Subscribe(0, "")
	defer s.Close()
	for _, p := range []string{"x1", "x2", "x3"} {
		if e := b.Publish(Event{Type: ParticipantJoined, Room: "4711", Participant: p}); e.ID != 0 {
			t.Fatalf("a shared bus numbered %+v itself", e)
		}
	}
	for i, want := range []string{"x1", "x2", "x3"} {
		select {
		case e := <-s.C:
			if e.Participant != want || e.ID != uint64(i+1) || e.Node != "a" || e.Time.IsZero() {
				t.Fatalf("event %d: %+v, want %s with id %d from node a", i, e, want, i+1)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never arrived", i)
		}
	}
	if b.LastID() != 3 {
		t.Fatalf("LastID %d", b.LastID())
	}
}

// A bus started on a log that holds more than its backlog keeps the
// newest, and a client resuming before them is told of the gap.
func TestSharedBusStartsFromTheLog(t *testing.T) {
	log := &memLog{}
	for range 10 {
		log.AppendEvents(context.Background(), []Event{{Type: ParticipantTalk, Room: "4711"}})
	}
	b, err := NewShared(log, SharedOptions{Node: "b", Backlog: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	past, complete, s := b.Subscribe(6, "")
	s.Close()
	if !complete || len(past) != 4 || past[0].ID != 7 {
		t.Fatalf("after 6: complete %v, %+v", complete, past)
	}
	past, complete, s = b.Subscribe(5, "")
	s.Close()
	if complete || len(past) != 4 {
		t.Fatalf("after 5: complete %v, %d events; want a gap", complete, len(past))
	}
}
