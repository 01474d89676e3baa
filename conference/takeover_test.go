package conference

import (
	"context"
	"slices"
	"testing"
	"time"

	"brygga/events"
	"brygga/pin"
	"brygga/prompts"
	"brygga/store"
)

// stateOf is the room's state as the database has it, or waits until
// want accepts it.
func stateOf(t *testing.T, db *store.DB, room, what string, want func(store.RoomState, bool) bool) store.RoomState {
	t.Helper()
	var st store.RoomState
	var ok bool
	waitUntil(t, what, func() bool {
		var err error
		st, ok, err = db.LoadRoomState(context.Background(), room, TakeoverWindow)
		if err != nil {
			t.Fatal(err)
		}
		return want(st, ok)
	})
	return st
}

// A live room writes what another node needs to go on with it: its
// callers (the host marked), the lock and lecture as the host sets them,
// the end as an operator extends it; and a meeting that ends on its node
// leaves nothing behind.
func TestRoomStateFollowsTheMeeting(t *testing.T) {
	db := openDB(t)
	b, _ := meetingBridge(t, func(o *Options) { o.States = db })
	rc := room4711
	rc.Settings.MaxMinutes = 60
	h := enter(t, b, rc, "h", "alice", "97531#")
	p := enter(t, b, rc, "p", "bob", "2468#")
	stateOf(t, db, "4711", "both callers in the state", func(st store.RoomState, ok bool) bool {
		return ok && slices.Equal(st.Callers, []store.RoomCaller{{ID: "alice", Host: true}, {ID: "bob"}}) && !st.EndsAt.IsZero()
	})
	h.press("*7")
	h.press("*4")
	stateOf(t, db, "4711", "locked and lecture", func(st store.RoomState, ok bool) bool { return ok && st.Locked && st.Lecture })
	end, err := b.Extend("4711", 7*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	stateOf(t, db, "4711", "the extended end", func(st store.RoomState, ok bool) bool { return ok && st.EndsAt.Equal(end) })
	hangUpAll(t, b, h, p)
	stateOf(t, db, "4711", "the state deleted when the meeting ended", func(_ store.RoomState, ok bool) bool { return !ok })
}

// A room whose node died goes on where it left off on the node that
// starts it next: the same end, lock and lecture mode; its earlier
// callers pass the lock (with the PIN still asked) and a stranger does
// not; a host is a host by the host PIN as before; a stranger refused
// does not make the room forget the meeting. The returning callers are
// spared the welcome: they are back sooner.
func TestTakenOverRoomGoesOn(t *testing.T) {
	db := openDB(t)
	ends := time.Now().Add(17 * time.Minute).Truncate(time.Millisecond).UTC()
	left := store.RoomState{Room: "4711", EndsAt: ends, Locked: true, Lecture: true,
		Callers: []store.RoomCaller{{ID: "alice", Host: true}, {ID: "bob"}}}
	if err := db.SaveRoomState(context.Background(), left); err != nil {
		t.Fatal(err)
	}
	b, sub := meetingBridge(t, func(o *Options) { o.States = db })
	rc := room4711
	rc.Settings.MaxMinutes = 60

	// PINs in the Request-URI, so that no key cuts the welcome short.
	eve := newFakeCall(t, "e", "eve")
	serve(b, eve, rc, "2468")
	waitUntil(t, "the stranger refused at the lock", eve.hungUp.Load)
	hears(t, eve, 0, prompts.WelcomeConf)
	hears(t, eve, 0, prompts.Locked)
	if _, ok, _ := db.LoadRoomState(context.Background(), "4711", TakeoverWindow); !ok {
		t.Fatal("the refused stranger made the room forget the meeting it took over")
	}

	p := newFakeCall(t, "p", "bob")
	serve(b, p, rc, "2468")
	waitUntil(t, "bob back in the room", func() bool { return joined(b, "4711", "p") })
	h := enter(t, b, rc, "h", "alice", "97531#")
	// The returning caller is spared the welcome and the joining prompt.
	notHeard(t, p, 0, prompts.WelcomeConf)
	notHeard(t, p, 0, prompts.OnlyPerson)
	ri, _ := b.Room("4711")
	if !ri.Locked || !ri.Lecture || !ri.EndsAt.Equal(ends) {
		t.Fatalf("taken over: locked %v lecture %v ends %v; want locked, lecture, ends %v", ri.Locked, ri.Lecture, ri.EndsAt, ends)
	}
	if roleOf(b, "4711", "h") != pin.Host.String() || roleOf(b, "4711", "p") != pin.Participant.String() {
		t.Errorf("roles after the takeover: h %s, p %s", roleOf(b, "4711", "h"), roleOf(b, "4711", "p"))
	}
	// Lecture mode holds: only the host is heard.
	r := b.live("4711")
	r.mu.Lock()
	talks := r.st.canTalk("p")
	r.mu.Unlock()
	if talks {
		t.Error("a participant is heard in a room taken over in lecture mode")
	}
	nextEvent(t, sub, events.ParticipantJoined, "h")

	mallory := newFakeCall(t, "m", "mallory")
	serve(b, mallory, rc, "")
	mallory.press("2468#")
	waitUntil(t, "a second stranger refused", mallory.hungUp.Load)
	hangUpAll(t, b, p, h)
}

// The state machine on its own: returning callers pass the lock only
// until their window closes, and what is carried on names them again; a
// recording carried over is not announced again to those who come back,
// and is to anyone else.
func TestReturningCallersWindow(t *testing.T) {
	s := newState(room4711)
	now := time.Now()
	s.restore(carried{locked: true, callers: map[string]bool{"bob": false, "alice": true}, until: now.Add(RejoinWindow)})
	if _, refused := s.arrive("1", "bob", pin.Participant, false); refused {
		t.Fatal("a returning caller refused at the lock")
	}
	if _, refused := s.arrive("2", "eve", pin.Participant, false); !refused {
		t.Fatal("a stranger let through the lock")
	}
	if _, refused := s.arrive("3", "", pin.Participant, false); !refused {
		t.Fatal("a caller without caller ID let through the lock")
	}
	if c := s.carry(); !c.callers["alice"] || c.callers["bob"] || len(c.callers) != 2 || !c.locked {
		t.Fatalf("carried %+v, want alice (host) and bob, locked", c)
	}
	s.expire(now.Add(RejoinWindow))
	if _, refused := s.arrive("4", "bob", pin.Participant, false); !refused {
		t.Fatal("a returning caller let through the lock after the window")
	}
}

func TestCarriedRecordingToldOnlyToNewcomers(t *testing.T) {
	s := newState(room4711)
	s.restore(carried{recording: true, callers: map[string]bool{"bob": false}, until: time.Now().Add(RejoinWindow)})
	told := func(id, callerID string, role pin.Role) bool {
		fx, _ := s.arrive(id, callerID, role, false)
		return slices.Contains(describe(fx, id), "me: "+prompts.NowRecording)
	}
	if told("1", "bob", pin.Participant) {
		t.Error("a returning caller is told again of the recording carried over")
	}
	if !told("2", "carol", pin.Participant) {
		t.Error("a new caller is not told that the meeting is recorded")
	}
	s.setRecording(false, "")
	s.setRecording(true, "")
	s.leave("1")
	if !told("3", "bob", pin.Participant) {
		t.Error("a returning caller is not told of a recording started after the takeover")
	}
}
