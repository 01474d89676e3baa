package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"brygga/pin"
)

// A room's state written by one node reads back whole; a newer save
// replaces it; a state older than the window is none; forgetting deletes
// the room's own row and every stale one, and no other.
func TestRoomStateRoundTrip(t *testing.T) { eachBackend(t, testRoomStateRoundTrip) }

func testRoomStateRoundTrip(t *testing.T, b backend) {
	ctx := context.Background()
	db := open(t, b.new(t))
	if _, ok, err := db.LoadRoomState(ctx, "4711", time.Minute); err != nil || ok {
		t.Fatalf("state of a room never saved: %v %v, want none", ok, err)
	}
	ends := time.Date(2026, 12, 8, 10, 30, 0, 123456789, time.UTC)
	want := RoomState{Room: "4711", EndsAt: ends, Locked: true, Recording: true, Meeting: "m-1",
		Callers: []RoomCaller{{ID: "alice", Host: true}, {ID: "bob"}}}
	if err := db.SaveRoomState(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.LoadRoomState(ctx, "4711", time.Minute)
	if err != nil || !ok {
		t.Fatalf("load: %v %v", ok, err)
	}
	if !got.EndsAt.Equal(ends) || got.Locked != true || got.Lecture || !got.Recording || got.Meeting != "m-1" ||
		!slices.Equal(got.Callers, want.Callers) {
		t.Fatalf("loaded %+v, want %+v", got, want)
	}
	want.Locked, want.Lecture, want.EndsAt, want.Callers = false, true, time.Time{}, nil
	if err := db.SaveRoomState(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, _, _ = db.LoadRoomState(ctx, "4711", time.Minute)
	if got.Locked || !got.Lecture || !got.EndsAt.IsZero() || len(got.Callers) != 0 {
		t.Fatalf("after the second save: %+v", got)
	}

	if err := db.SaveRoomState(ctx, RoomState{Room: "4712", Locked: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if _, ok, _ := db.LoadRoomState(ctx, "4712", 10*time.Millisecond); ok {
		t.Error("a state saved 30 ms ago is fresh within 10 ms")
	}
	if err := db.SaveRoomState(ctx, RoomState{Room: "4713"}); err != nil {
		t.Fatal(err)
	}
	// 4711 by name; 4712 stale (older than 20 ms); 4713 kept.
	if err := db.ForgetRoomState(ctx, "4711", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for room, kept := range map[string]bool{"4711": false, "4712": false, "4713": true} {
		if _, ok, _ := db.LoadRoomState(ctx, room, time.Hour); ok != kept {
			t.Errorf("room %s after forgetting: kept %v, want %v", room, ok, kept)
		}
	}
}

// Two nodes on one database: a room added, a PIN changed and a room
// deleted through one node's directory reach the other's by Follow, with
// no restart.
func TestDirectoryFollowsAnotherNode(t *testing.T) {
	db := sharedDB(t)
	a := newRooms(t, db, testConfig())
	// db.name is redacted only of a password; pgtest has none.
	other := open(t, db.name)
	b := newRooms(t, other, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Follow(ctx, 20*time.Millisecond, func(err error) { t.Error(err) }) }()
	t.Cleanup(func() { cancel(); <-done })

	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("node b never saw %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	room, _ := a.Get("4711")
	room.Extension = "4800"
	if _, err := a.Put(room, PINChange{PIN: ptr("5555")}); err != nil {
		t.Fatal(err)
	}
	eventually("the new room", func() bool { return role(t, b, "4800", "5555") == pin.Participant })
	room, _ = a.Get("4711")
	if _, err := a.Put(room, PINChange{PIN: ptr("1122")}); err != nil {
		t.Fatal(err)
	}
	eventually("the changed PIN", func() bool { return role(t, b, "4711", "1122") == pin.Participant })
	if role(t, b, "4711", "2468") != pin.None {
		t.Error("node b still lets the old PIN in")
	}
	// A change through b keeps the PIN a set.
	room, _ = b.Get("4800")
	room.Name = "renamed on b"
	if _, err := b.Put(room, PINChange{}); err != nil {
		t.Fatal(err)
	}
	if role(t, b, "4800", "5555") != pin.Participant {
		t.Error("renaming the room on b lost the PIN set on a")
	}
	if _, err := a.Delete("4800"); err != nil {
		t.Fatal(err)
	}
	eventually("the deletion", func() bool { _, ok := b.Get("4800"); return !ok })
}
