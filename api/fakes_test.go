package api

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"brygga/conference"
	"brygga/config"
	"brygga/events"
	"brygga/store"
)

// fakeConf is a bridge with rooms held in memory. It follows the error
// contract of *conference.Bridge so the API's mapping of errors to
// statuses is exercised as it will run.
type fakeConf struct {
	mu    sync.Mutex
	rooms map[string]*conference.RoomInfo
	calls []string
	bus   *events.Bus
	// sensitive rooms refuse recording, as the bridge does.
	sensitive map[string]bool
}

var t0 = time.Date(2025, 11, 21, 10, 0, 0, 0, time.UTC)

func newFakeConf() *fakeConf {
	return &fakeConf{
		bus: events.New(0, nil),
		rooms: map[string]*conference.RoomInfo{
			"4711": {
				Extension: "4711", Started: t0, EndsAt: t0.Add(time.Hour), Participants: 2,
				Members: []conference.MemberInfo{
					{ID: "a1", CallerID: "4711", Role: "host", Talking: true, JoinedAt: t0},
					{ID: "b2", CallerID: "555", Role: "participant", Muted: true, Hand: true, Named: true, JoinedAt: t0.Add(time.Minute)},
					{ID: "c3", CallerID: "666", Role: "participant", Lobby: true},
				},
			},
			"9000": {Extension: "9000", Participants: 1},
		},
		sensitive: map[string]bool{"9000": true},
	}
}

func (f *fakeConf) note(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeConf) lastCall() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeConf) Rooms() []conference.RoomInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []conference.RoomInfo
	for _, r := range f.rooms {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b conference.RoomInfo) int {
		if a.Extension < b.Extension {
			return -1
		}
		return 1
	})
	return out
}

func (f *fakeConf) Room(ext string) (conference.RoomInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[ext]
	if !ok {
		return conference.RoomInfo{}, false
	}
	return *r, true
}

func (f *fakeConf) room(ext string) (*conference.RoomInfo, error) {
	r, ok := f.rooms[ext]
	if !ok {
		return nil, conference.ErrNoRoom
	}
	return r, nil
}

func (f *fakeConf) member(ext, id string) (*conference.MemberInfo, error) {
	r, err := f.room(ext)
	if err != nil {
		return nil, err
	}
	for i := range r.Members {
		if r.Members[i].ID == id {
			return &r.Members[i], nil
		}
	}
	return nil, conference.ErrNoParticipant
}

func (f *fakeConf) Lock(ext string, locked bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(ext)
	if err != nil {
		return err
	}
	r.Locked = locked
	f.note("lock %s %v", ext, locked)
	return nil
}

func (f *fakeConf) SetLecture(ext string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(ext)
	if err != nil {
		return err
	}
	r.Lecture = on
	f.note("lecture %s %v", ext, on)
	return nil
}

func (f *fakeConf) SetRecording(ext string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(ext)
	if err != nil {
		return err
	}
	if on && f.sensitive[ext] {
		return fmt.Errorf("%w: a sensitive room is never recorded", conference.ErrConflict)
	}
	r.Recording = on
	f.note("record %s %v", ext, on)
	return nil
}

func (f *fakeConf) End(ext string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.room(ext); err != nil {
		return err
	}
	delete(f.rooms, ext)
	f.note("end %s", ext)
	return nil
}

func (f *fakeConf) Extend(ext string, d time.Duration) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(ext)
	if err != nil {
		return time.Time{}, err
	}
	r.EndsAt = r.EndsAt.Add(d)
	f.note("extend %s %v", ext, d)
	return r.EndsAt, nil
}

func (f *fakeConf) Mute(ext, id string, muted bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.member(ext, id)
	if err != nil {
		return err
	}
	m.Muted = muted
	f.note("mute %s %s %v", ext, id, muted)
	return nil
}

func (f *fakeConf) Kick(ext, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.member(ext, id); err != nil {
		return err
	}
	f.note("kick %s %s", ext, id)
	return nil
}

func (f *fakeConf) Admit(ext, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.member(ext, id)
	if err != nil {
		return err
	}
	if !m.Lobby {
		return fmt.Errorf("%w: %s is not in the lobby", conference.ErrConflict, id)
	}
	m.Lobby = false
	f.note("admit %s %s", ext, id)
	return nil
}

func (f *fakeConf) GiveFloor(ext, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.member(ext, id)
	if err != nil {
		return err
	}
	m.Muted, m.Hand = false, false
	f.note("floor %s %s", ext, id)
	return nil
}

func (f *fakeConf) Events() *events.Bus { return f.bus }

// fakeDir keeps rooms in memory and validates them the way the store
// does, with config.Room.Validate, so its errors are *config.Error.
type fakeDir struct {
	mu    sync.Mutex
	rooms map[string]config.Room // PIN fields hold the plain PIN here
	last  store.PINChange
	fail  error
}

func newFakeDir() *fakeDir {
	return &fakeDir{rooms: map[string]config.Room{
		"4711": {Extension: "4711", Name: "Kari Nordmann", PIN: "2468", HostPIN: "97531",
			Settings: config.RoomSettings{Language: "nb", MaxMinutes: 60, WarnMinutes: []int{5, 1}, NamesMaxRoom: 10}},
		"1000": {Extension: "1000", Settings: config.RoomSettings{Language: "en", MaxMinutes: 30, NamesMaxRoom: 10}},
	}}
}

func blank(r config.Room) config.Room {
	r.PIN, r.HostPIN = "", ""
	r.Settings.WarnMinutes = slices.Clone(r.Settings.WarnMinutes)
	return r
}

func (d *fakeDir) List() []config.Room {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []config.Room
	for _, r := range d.rooms {
		out = append(out, blank(r))
	}
	slices.SortFunc(out, func(a, b config.Room) int {
		if a.Extension < b.Extension {
			return -1
		}
		return 1
	})
	return out
}

func (d *fakeDir) Get(ext string) (config.Room, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.rooms[ext]
	return blank(r), ok
}

func (d *fakeDir) HasPINs(ext string) (bool, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.rooms[ext]
	return r.PIN != "", r.HostPIN != ""
}

func (d *fakeDir) Put(r config.Room, pins store.PINChange) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = pins
	if d.fail != nil {
		return false, d.fail
	}
	old, exists := d.rooms[r.Extension]
	r.PIN, r.HostPIN = old.PIN, old.HostPIN
	if pins.PIN != nil {
		r.PIN = *pins.PIN
	}
	if pins.HostPIN != nil {
		r.HostPIN = *pins.HostPIN
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	d.rooms[r.Extension] = r
	return !exists, nil
}

func (d *fakeDir) Delete(ext string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return false, d.fail
	}
	_, ok := d.rooms[ext]
	delete(d.rooms, ext)
	return ok, nil
}
