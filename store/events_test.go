package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"brygga/events"
)

// Two nodes' shared buses on one database: each one's stream carries the
// other's events under the same IDs, woken at once; IDs go on after a
// node's bus starts again, and its backlog lets a client resume there.
func TestSharedEventsAcrossNodes(t *testing.T) {
	db := sharedDB(t)
	// One event from before, so that resuming after it asks for a backlog.
	if err := db.AppendEvents(context.Background(), []events.Event{{Type: events.ConferenceStarted, Room: "4711"}}); err != nil {
		t.Fatal(err)
	}
	a, err := events.NewShared(db, events.SharedOptions{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := events.NewShared(db, events.SharedOptions{Node: "b"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, subA := a.Subscribe(0, "")
	defer subA.Close()
	_, _, subB := b.Subscribe(0, "5000")
	defer subB.Close()

	b.Publish(events.Event{Type: events.ParticipantJoined, Room: "5000", Participant: "x1"})
	a.Publish(events.Event{Type: events.ConferenceLocked, Room: "4711"})
	next := func(s *events.Subscription, who string) events.Event {
		t.Helper()
		select {
		case e := <-s.C:
			return e
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no event within 10 s", who)
		}
		return events.Event{}
	}
	seen := map[string]uint64{}
	for range 2 {
		e := next(subA, "a")
		seen[e.Node+" "+e.Type] = e.ID
	}
	joined := seen["b participant.joined"]
	if joined == 0 || seen["a conference.locked"] == 0 || joined == seen["a conference.locked"] {
		t.Fatalf("a's stream: %v", seen)
	}
	if e := next(subB, "b"); e.ID != joined || e.Participant != "x1" {
		t.Fatalf("b's own event on b: %+v, want id %d", e, joined)
	}
	select {
	case e := <-subB.C:
		t.Fatalf("b's room filter let through %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
	b.Close()

	// b again, as after a restart: its backlog holds both events, the
	// IDs go on from there.
	b, err = events.NewShared(db, events.SharedOptions{Node: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	past, complete, s := b.Subscribe(1, "")
	defer s.Close()
	if !complete || len(past) != 2 {
		t.Fatalf("resuming on the restarted b: complete %v, %+v", complete, past)
	}
	b.Publish(events.Event{Type: events.ParticipantLeft, Room: "5000", Participant: "x1"})
	if e := next(s, "b after its restart"); e.ID <= max(joined, seen["a conference.locked"]) {
		t.Fatalf("an id started again: %+v", e)
	}
	if e := next(subA, "a"); e.Type != events.ParticipantLeft {
		t.Fatalf("a's stream: %+v", e)
	}
}

// Trimmed events are gone for a resuming client, which is told so.
func TestEventsTrimmedAreAGap(t *testing.T) {
	db := sharedDB(t)
	ctx := context.Background()
	for i := range 3 {
		if err := db.AppendEvents(ctx, []events.Event{{Type: events.ParticipantTalk, Room: "4711", Participant: string(rune('a' + i))}}); err != nil {
			t.Fatal(err)
		}
	}
	es, floor, err := db.RecentEvents(ctx, 2)
	if err != nil || len(es) != 2 || floor != es[0].ID-1 || es[1].Participant != "c" {
		t.Fatalf("the newest two: %+v, floor %d, %v", es, floor, err)
	}
	if err := db.TrimEvents(ctx, 0); err != nil {
		t.Fatal(err)
	}
	es, floor, err = db.RecentEvents(ctx, 10)
	if err != nil || len(es) != 0 || floor != 3 {
		t.Fatalf("after trimming all: %+v, floor %d, %v; want none and floor 3", es, floor, err)
	}
	bus, err := events.NewShared(db, events.SharedOptions{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, complete, s := bus.Subscribe(1, ""); complete {
		s.Close()
		t.Fatal("resuming after a trimmed event is complete")
	} else {
		s.Close()
	}
	if bus.LastID() != 3 {
		t.Fatalf("LastID %d, want 3", bus.LastID())
	}
}

// A listener is woken by another connection's append, and returns when
// its context ends.
func TestListenEventsWakes(t *testing.T) {
	db := sharedDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	woken := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- db.ListenEvents(ctx, func() { woken <- struct{}{} }) }()
	deadline := time.Now().Add(10 * time.Second)
	// The LISTEN may not have been sent yet when the first append
	// commits: append until a wake comes, a bounded number of times.
	for got := false; !got; {
		if time.Now().After(deadline) {
			t.Fatal("no wake within 10 s")
		}
		if err := db.AppendEvents(context.Background(), []events.Event{{Type: events.ParticipantTalk, Room: "4711"}}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-woken:
			got = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ListenEvents did not return when its context ended")
	}
}

// A batch keeps its order in the ids.
func TestAppendEventsKeepsOrder(t *testing.T) {
	db := sharedDB(t)
	ctx := context.Background()
	var batch []events.Event
	for i := range 50 {
		batch = append(batch, events.Event{Type: events.ParticipantTalk, Room: "4711", Participant: fmt.Sprint(i)})
	}
	if err := db.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	es, err := db.EventsAfter(ctx, 0, 100)
	if err != nil || len(es) != 50 {
		t.Fatalf("%d events, %v", len(es), err)
	}
	for i, e := range es {
		if e.Participant != fmt.Sprint(i) || e.ID != uint64(i+1) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}
