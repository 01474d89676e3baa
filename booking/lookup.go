package booking

import (
	"time"

	"brygga/pin"
	"brygga/store"
)

// Meeting is one occurrence of a scheduled meeting, for the call path.
type Meeting struct {
	ScheduleID string
	Room       string
	Summary    string
	Occurrence time.Time // the occurrence's ID: its original start, UTC
	Start, End time.Time // the occurrence's times, in the meeting's zone
	// Record: the organizer asked for recording (never with Sensitive).
	// Sensitive: the meeting or its room is sensitive.
	Record, Sensitive bool
}

func meetingOf(s store.Schedule, o store.Occurrence) Meeting {
	loc := zone(s.Zone)
	return Meeting{ScheduleID: s.ID, Room: s.Room, Summary: s.Summary, Occurrence: o.ID,
		Start: o.Start.In(loc), End: o.End.In(loc), Record: s.Record, Sensitive: s.Sensitive}
}

// State is what a meeting PIN means at a given time.
type State int

// States of Lookup.
const (
	NoMeeting State = iota // the PIN is no meeting's in this room
	NotYet                 // the meeting's next occurrence has not opened yet
	Open                   // an occurrence is open: from early_join_minutes before its start to its end
	Ended                  // the meeting's last occurrence has ended
	Cancelled              // the occurrence open now was cancelled
)

func (s State) String() string {
	switch s {
	case NotYet:
		return "not-yet"
	case Open:
		return "open"
	case Ended:
		return "ended"
	case Cancelled:
		return "cancelled"
	}
	return "no-meeting"
}

// window is when an occurrence of a meeting in a room with early join
// minutes lets callers in: [start - early, end).
func window(o store.Occurrence, early int) (opens, closes time.Time) {
	return o.Start.Add(-time.Duration(early) * time.Minute), o.End
}

// Lookup finds the meeting in room whose PIN is entered and says whether
// it is open at now. A meeting that uses the room's PIN (PINsRoom) matches
// when entered is the room's participant or host PIN, or when the room has
// no participant PIN. When several occurrences match: one open now (the
// earliest), else a cancelled one whose window holds now, else the nearer
// of the next to open (NotYet) and the last to have ended (Ended); Meeting
// is that occurrence.
func (b *Booker) Lookup(room, entered string, now time.Time) (Meeting, State, error) {
	schedules, err := b.DB.RoomSchedules(room)
	if err != nil {
		return Meeting{}, NoMeeting, err
	}
	r := b.room(room)
	early := r.Settings.EarlyJoinMinutes
	var roomMatch *bool // the room's PIN is checked at most once: it costs a key derivation
	// The meetings' PINs are hashes sharing the room's salt: one more
	// derivation for all of them, however many meetings the room has had.
	own := pin.NewMatcher(entered)
	matches := func(s store.Schedule) bool {
		if s.PIN != "" {
			return own.Matches(s.PIN)
		}
		if roomMatch == nil {
			secrets := pin.Secrets{PIN: r.PIN, HostPIN: r.HostPIN}
			ok := !secrets.Required() || pin.Check(secrets, entered) != pin.None
			roomMatch = &ok
		}
		return *roomMatch
	}

	type pick struct {
		m  Meeting
		at time.Time
		ok bool
	}
	var open, cancelled, next, last pick
	for _, s := range schedules {
		if !matches(s) {
			continue
		}
		for _, o := range s.Occurrences {
			opens, closes := window(o, early)
			inside := !now.Before(opens) && now.Before(closes)
			off := o.Cancelled || s.State == store.ScheduleCancelled
			switch {
			case inside && !off:
				if !open.ok || o.Start.Before(open.at) {
					open = pick{meetingOf(s, o), o.Start, true}
				}
			case inside:
				if !cancelled.ok {
					cancelled = pick{meetingOf(s, o), o.Start, true}
				}
			case off:
			case now.Before(opens):
				if !next.ok || opens.Before(next.at) {
					next = pick{meetingOf(s, o), opens, true}
				}
			default:
				if !last.ok || closes.After(last.at) {
					last = pick{meetingOf(s, o), closes, true}
				}
			}
		}
	}
	switch {
	case open.ok:
		return open.m, Open, nil
	case cancelled.ok:
		return cancelled.m, Cancelled, nil
	case next.ok && (!last.ok || next.at.Sub(now) <= now.Sub(last.at)):
		return next.m, NotYet, nil
	case last.ok:
		return last.m, Ended, nil
	}
	return Meeting{}, NoMeeting, nil
}

// ByPIN is Lookup for callers that only need the open meeting: ok is set
// when entered opens a meeting in room at now. A store failure is logged
// and reads as no meeting.
func (b *Booker) ByPIN(room, entered string, now time.Time) (Meeting, bool) {
	m, state, err := b.Lookup(room, entered, now)
	if err != nil {
		b.log().Error("booking: meeting lookup failed", "room", room, "error", err)
	}
	return m, state == Open
}

// Upcoming lists the occurrences, in every room, of active meetings that
// are not cancelled and overlap [from, to), by start: for whoever arms
// jobs at the meetings' windows (which open early_join_minutes earlier).
func (b *Booker) Upcoming(from, to time.Time) ([]Meeting, error) {
	slots, err := b.DB.BookedSlots("", from, to, "")
	if err != nil {
		return nil, err
	}
	out := make([]Meeting, 0, len(slots))
	for _, s := range slots {
		out = append(out, meetingOf(s.Schedule, s.Occurrence))
	}
	return out, nil
}

// Current is the meeting whose window is open in room at now, whatever its
// PIN: while it is open the room runs as that meeting. Of several, the one
// that starts first.
func (b *Booker) Current(room string, now time.Time) (Meeting, bool, error) {
	early := time.Duration(b.room(room).Settings.EarlyJoinMinutes) * time.Minute
	// The window [start - early, end) holds now exactly when the
	// occurrence overlaps [now, now + early]; the store keeps whole
	// seconds, so "up to and including" is "before a second later".
	slots, err := b.DB.BookedSlots(room, now, now.Add(early).Truncate(time.Second).Add(time.Second), "")
	if err != nil {
		return Meeting{}, false, err
	}
	var best Meeting
	found := false
	for _, s := range slots {
		m := meetingOf(s.Schedule, s.Occurrence)
		if !found || m.Start.Before(best.Start) {
			best, found = m, true
		}
	}
	return best, found, nil
}
