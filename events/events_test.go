package events

import (
	"testing"
	"time"
)

func fixed() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }

func TestPublishSubscribeFilter(t *testing.T) {
	b := New(8, fixed)
	_, _, all := b.Subscribe(0, "")
	_, _, room := b.Subscribe(0, "4711")
	b.Publish(Event{Type: ParticipantJoined, Room: "4711", Participant: "a"})
	b.Publish(Event{Type: ParticipantJoined, Room: "5000", Participant: "b"})
	e := <-all.C
	if e.ID != 1 || e.Room != "4711" || !e.Time.Equal(fixed()) {
		t.Fatalf("first event %+v", e)
	}
	if e := <-all.C; e.ID != 2 {
		t.Fatalf("second event %+v", e)
	}
	if e := <-room.C; e.Room != "4711" {
		t.Fatalf("room filter let through %+v", e)
	}
	select {
	case e := <-room.C:
		t.Fatalf("room filter let through %+v", e)
	default:
	}
	all.Close()
	all.Close() // twice is harmless
	if _, ok := <-all.C; ok {
		t.Fatal("closed subscription still delivers")
	}
}

func TestResumeFromBacklog(t *testing.T) {
	b := New(4, fixed)
	for i := 0; i < 6; i++ {
		b.Publish(Event{Type: ParticipantTalk, Room: "4711"})
	}
	// IDs 3..6 are kept. Resuming after 4 gets 5 and 6, complete.
	past, complete, s := b.Subscribe(4, "")
	defer s.Close()
	if !complete || len(past) != 2 || past[0].ID != 5 || past[1].ID != 6 {
		t.Fatalf("resume after 4: complete %v, %+v", complete, past)
	}
	// Resuming after 1 misses event 2: incomplete, gets 3..6.
	past, complete, s2 := b.Subscribe(1, "")
	defer s2.Close()
	if complete || len(past) != 4 || past[0].ID != 3 {
		t.Fatalf("resume after 1: complete %v, %d events", complete, len(past))
	}
	if b.LastID() != 6 {
		t.Fatalf("LastID %d", b.LastID())
	}
}

func TestSlowSubscriberIsCutOffNotBlocking(t *testing.T) {
	b := New(0, nil)
	_, _, s := b.Subscribe(0, "")
	done := make(chan struct{})
	go func() {
		for i := 0; i < subscriberBuffer*3; i++ {
			b.Publish(Event{Type: ParticipantTalk, Room: "4711"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	n := 0
	for range s.C {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("slow subscriber got %d events before being cut off, want %d", n, subscriberBuffer)
	}
	s.Close() // after the bus closed it: harmless
}
