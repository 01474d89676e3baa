// Package booking decides what an invite does to brygga's scheduled
// meetings, keeps them in the store, and answers the call path's question
// "which meeting does this PIN open, now?".
//
// It sits between package calendar (what an invite means) and the mail
// intake and API that reply to organizers: Handle takes a parsed request
// and returns one Result per meeting, with the decision and what the
// reply must say; the caller writes and sends the reply. Nothing here runs
// on a timer: whether a meeting is open is computed from the store when a
// caller asks, and Upcoming lists the occurrences for whoever arms jobs.
package booking

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"brygga/config"
	"brygga/store"
)

// PIN modes of a Booker.
const (
	PINsMeeting = "meeting" // each meeting gets its own random 6-digit PIN (the default)
	PINsRoom    = "room"    // meetings use the room's own PIN
)

// Rooms is the directory. List finds the room whose owner organizes a
// meeting; Room gives a room's settings and its PINs as stored (hashes,
// which pin.Check reads): List leaves the PINs blank. *store.Rooms is one.
type Rooms interface {
	List() []config.Room
	Room(extension string) (config.Room, bool)
}

// Booker books, updates and cancels meetings from invites. Its fields are
// set before first use and not changed after. Handle calls run one at a
// time; the other methods may run beside them.
type Booker struct {
	DB       *store.DB
	Rooms    Rooms
	Defaults config.RoomSettings // settings for a schedule whose room is no longer in the directory
	PINs     string              // PINsMeeting ("" too) or PINsRoom
	Now      func() time.Time    // nil: time.Now
	Logger   *slog.Logger        // nil: slog.Default()

	mu sync.Mutex // one Handle at a time: each decision reads, then writes

	// draw returns a candidate meeting PIN; nil: randomPIN. Tests replace it.
	draw func() string
}

func (b *Booker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Booker) log() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

func (b *Booker) roomPINs() bool { return b.PINs == PINsRoom }

// OwnedBy are the directory's rooms whose owner's address is addr, in
// directory order, as List gives them; none for "", which would match
// every room without an owner.
func (b *Booker) OwnedBy(addr string) []config.Room {
	if addr == "" {
		return nil
	}
	var out []config.Room
	for _, r := range b.Rooms.List() {
		if strings.EqualFold(strings.TrimSpace(r.Email), addr) {
			out = append(out, r)
		}
	}
	return out
}

// ownerRoom is the first room in directory order whose owner's address is
// organizer.
func (b *Booker) ownerRoom(organizer string) (config.Room, bool) {
	rooms := b.OwnedBy(organizer)
	if len(rooms) == 0 {
		return config.Room{}, false
	}
	return b.room(rooms[0].Extension), true
}

// room is the directory's room ext with its PIN hashes, or a room with
// the Defaults when the directory no longer has it.
func (b *Booker) room(ext string) config.Room {
	if r, ok := b.Rooms.Room(ext); ok {
		if r.Settings.MaxMinutes <= 0 {
			r.Settings.MaxMinutes = b.Defaults.MaxMinutes
		}
		return r
	}
	return config.Room{Extension: ext, Settings: b.Defaults}
}

// blank is a room without its PIN fields, for results.
func blank(r config.Room) config.Room {
	r.PIN, r.HostPIN = "", ""
	return r
}

// zone is a schedule's location; UTC when the name is unknown here.
func zone(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.UTC
}
