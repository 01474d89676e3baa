package booking

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"time"

	"brygga/calendar"
	"brygga/config"
	"brygga/pin"
	"brygga/store"
)

// Action is what Handle did with one meeting.
type Action string

// Actions.
const (
	ActionBooked    Action = "booked"    // a new UID: stored; reply ACCEPTED with the PIN
	ActionUpdated   Action = "updated"   // a newer version of a stored UID: occurrences replaced, PIN kept; reply ACCEPTED
	ActionDuplicate Action = "duplicate" // the version already stored (same SEQUENCE and DTSTAMP): nothing changed; reply as before
	ActionCancelled Action = "cancelled" // a CANCEL applied to the whole meeting or the listed occurrences
	ActionDeclined  Action = "declined"  // not booked: reply DECLINED with Reason
	ActionIgnored   Action = "ignored"   // an older version, or a CANCEL that changes nothing: no reply
	ActionFailed    Action = "failed"    // the store failed (Err): nothing decided
)

// Result is the decision on one meeting of a request, with what the reply
// must say.
//
// A REQUEST gets an iMIP REPLY unless Ignored or Err is set: ACCEPTED when
// Accepted, else DECLINED with Reason. For calendar.DialIn take PIN,
// Room.Extension, Room.Settings' MaxMinutes and EarlyJoinMinutes,
// Record from Meeting (what was asked for) and Sensitive from Schedule (how
// the meeting will run), so the message can say that a sensitive meeting
// is not recorded. A CANCEL gets no iMIP reply; Accepted says it was
// applied. On Err (a store failure) the mail intake should answer with a
// temporary failure so that the sender tries again later.
type Result struct {
	Meeting  calendar.Meeting
	Action   Action
	Schedule store.Schedule // as stored after the decision; zero when nothing is stored for the UID
	Room     config.Room    // the meeting's room with its PIN fields blank; zero for an unknown organizer
	Accepted bool
	Ignored  bool
	Reason   string   // why declined or ignored, in English, for the reply and the log
	Notes    []string // what the organizer should know about an accepted meeting, in English
	// PIN is the meeting's own PIN in plain text, to mail, when it was
	// drawn by this decision; the store keeps only its hash, so this is
	// the one moment it is known. PINKept says the meeting has its own PIN
	// from an earlier answer (an update or a repeated invite), which
	// cannot be mailed again. Both unset: the meeting uses the room's PIN.
	PIN     string
	PINKept bool
	Err     error
}

func (r Result) decline(reason string) Result {
	r.Action, r.Reason = ActionDeclined, reason
	return r
}

func (r Result) ignore(reason string) Result {
	r.Action, r.Ignored, r.Reason = ActionIgnored, true, reason
	return r
}

func (r Result) fail(err error) Result {
	r.Action, r.Err = ActionFailed, err
	return r
}

func (r Result) accept(a Action, s store.Schedule, notes []string) Result {
	r.Action, r.Accepted, r.Schedule, r.Notes = a, true, s, notes
	r.PIN, r.PINKept = "", s.PIN != ""
	return r
}

// Handle decides every meeting of req, in order, and stores the outcome.
func (b *Booker) Handle(req *calendar.Request) []Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	out := make([]Result, 0, len(req.Meetings))
	for _, m := range req.Meetings {
		var r Result
		if req.Method == "CANCEL" {
			r = b.cancel(m)
		} else {
			r = b.request(m, now)
		}
		b.logResult(req.Method, r)
		out = append(out, r)
	}
	return out
}

func (b *Booker) logResult(method string, r Result) {
	level := slog.LevelInfo
	attrs := []any{"method", method, "uid", r.Meeting.UID, "sequence", r.Meeting.Sequence,
		"organizer", r.Meeting.Organizer, "action", string(r.Action), "room", r.Room.Extension, "schedule", r.Schedule.ID}
	if r.Reason != "" {
		attrs = append(attrs, "reason", r.Reason)
	}
	if r.Err != nil {
		level, attrs = slog.LevelError, append(attrs, "error", r.Err)
	}
	b.log().Log(context.Background(), level, "booking: invite", attrs...)
}

// known looks up the stored schedule of m's UID. With ok unset, r is the
// final result: a store failure, or (for another organizer) refused.
func (b *Booker) known(m calendar.Meeting) (r Result, stored store.Schedule, found, ok bool) {
	r = Result{Meeting: m}
	stored, err := b.DB.ScheduleByUID(m.UID)
	if errors.Is(err, store.ErrNotFound) {
		return r, stored, false, true
	}
	if err != nil {
		return r.fail(err), stored, false, false
	}
	if !strings.EqualFold(stored.Organizer, m.Organizer) {
		// Nothing of the stored meeting goes into this result: its
		// sender is not the organizer.
		return r.decline("the meeting is booked by another organizer; only they can change or cancel it"), stored, true, false
	}
	r.Schedule, r.Room = stored, blank(b.room(stored.Room))
	return r, stored, true, true
}

// version compares m with the version stored: by SEQUENCE, then DTSTAMP.
func version(m calendar.Meeting, s store.Schedule) int {
	if m.Sequence != s.Sequence {
		if m.Sequence < s.Sequence {
			return -1
		}
		return 1
	}
	return m.Stamp.Compare(s.Stamp)
}

func older(m calendar.Meeting, s store.Schedule) string {
	return fmt.Sprintf("an older version of the meeting (SEQUENCE %d, DTSTAMP %s) than the one booked (SEQUENCE %d, DTSTAMP %s)",
		m.Sequence, m.Stamp.Format(time.RFC3339), s.Sequence, s.Stamp.Format(time.RFC3339))
}

func (b *Booker) request(m calendar.Meeting, now time.Time) Result {
	r, stored, found, ok := b.known(m)
	switch {
	case !ok:
		return r
	case !found:
		return b.book(r, m, now)
	}
	switch v := version(m, stored); {
	case v < 0:
		return r.ignore(older(m, stored))
	case v == 0 && stored.State == store.ScheduleCancelled:
		return r.ignore("the meeting was cancelled; this is the version booked before")
	case v == 0:
		return r.accept(ActionDuplicate, stored, b.notes(m, stored, b.room(stored.Room)))
	}
	return b.update(r, m, stored, now)
}

func (b *Booker) book(r Result, m calendar.Meeting, now time.Time) Result {
	room, ok := b.ownerRoom(m.Organizer)
	if !ok {
		return r.decline(fmt.Sprintf("unknown organizer: %s is not a room owner in brygga's directory", m.Organizer))
	}
	r.Room = blank(room)
	s := store.Schedule{Room: room.Extension}
	fill(&s, m, room)
	s.Occurrences = occurrences(m)
	if len(Live(s.Occurrences, now)) == 0 {
		return r.decline("the meeting has no dates ahead")
	}
	r = b.save(r, ActionBooked, m, s, room, now, "")
	if r.Accepted && m.OverridesOnly {
		r.Notes = append(r.Notes, "brygga had no booking of this series; only the dates in this invitation are booked")
	}
	return r
}

// save checks s against the other meetings in room, gives it a PIN when
// it needs one, and stores it. A clash is declined with clash added to
// the reason, and nothing is stored.
func (b *Booker) save(r Result, a Action, m calendar.Meeting, s store.Schedule, room config.Room, now time.Time, clash string) Result {
	reason, err := b.conflict(room.Extension, s.Occurrences, s.ID, now, zone(s.Zone))
	switch {
	case err != nil:
		return r.fail(err)
	case reason != "":
		return r.decline(reason + clash)
	}
	var drawn string
	if s.PIN == "" && !b.roomPINs() {
		if drawn, err = b.newPIN(room); err != nil {
			return r.fail(err)
		}
		s.PIN = drawn // PutSchedule stores its hash
	}
	if s, err = b.DB.PutSchedule(s); err != nil {
		return r.fail(err)
	}
	r = r.accept(a, s, b.notes(m, s, room))
	if drawn != "" {
		r.PIN, r.PINKept = drawn, false
	}
	return r
}

// update books a newer version of a stored meeting. A version that
// collides with another meeting is declined and the stored one stays.
func (b *Booker) update(r Result, m calendar.Meeting, stored store.Schedule, now time.Time) Result {
	room := b.room(stored.Room)
	s := stored
	s.State = store.ScheduleActive
	if m.OverridesOnly {
		// Changed dates only: the series' summary, zone and markers stay.
		s.Sequence, s.Stamp = m.Sequence, m.Stamp
		s.Occurrences = overlay(stored.Occurrences, occurrences(m), m.Cancelled)
	} else {
		fill(&s, m, room)
		s.Occurrences = keepPast(stored.Occurrences, occurrences(m), now)
	}
	return b.save(r, ActionUpdated, m, s, room, now, "; the earlier booking of this meeting is unchanged")
}

func (b *Booker) cancel(m calendar.Meeting) Result {
	r, stored, found, ok := b.known(m)
	switch {
	case !ok && r.Err == nil:
		return r.ignore(r.Reason) // another organizer's CANCEL gets no reply
	case !ok:
		return r
	case !found:
		return r.ignore("no meeting with this UID is booked")
	}
	seq, stamp := stored.Sequence, stored.Stamp
	switch v := version(m, stored); {
	case v < 0:
		return r.ignore(older(m, stored))
	case v > 0:
		seq, stamp = m.Sequence, m.Stamp
	}
	var ids []time.Time
	for _, id := range m.Cancelled {
		if slices.ContainsFunc(stored.Occurrences, func(o store.Occurrence) bool { return o.ID.Equal(id) }) {
			ids = append(ids, id)
		}
	}
	if len(m.Cancelled) > 0 && len(ids) == 0 {
		return r.ignore("none of the cancelled dates is booked")
	}
	s, err := b.DB.CancelSchedule(stored.ID, ids, seq, stamp)
	if err != nil {
		return r.fail(err)
	}
	r = r.accept(ActionCancelled, s, nil)
	r.PINKept = false
	return r
}

// fill copies what an invite says about the meeting into s.
func fill(s *store.Schedule, m calendar.Meeting, room config.Room) {
	s.UID, s.Organizer, s.OrganizerName, s.Summary = m.UID, m.Organizer, m.OrganizerName, m.Summary
	s.Sequence, s.Stamp = m.Sequence, m.Stamp
	s.Zone = "UTC"
	if m.Zone != nil {
		s.Zone = m.Zone.String()
	}
	// Sensitive wins: a sensitive meeting, or any meeting in a sensitive
	// room, is never recorded.
	s.Sensitive = m.Sensitive || room.Sensitive
	s.Record = m.Record && !s.Sensitive
}

// notes are what the organizer should know about an accepted meeting.
func (b *Booker) notes(m calendar.Meeting, s store.Schedule, room config.Room) []string {
	var notes []string
	if m.Record && s.Sensitive {
		why := "the meeting is sensitive"
		if room.Sensitive && !m.Sensitive {
			why = "the room is sensitive"
		}
		notes = append(notes, "recording was asked for, but "+why+": sensitive meetings are never recorded")
	}
	var longest time.Duration
	for _, o := range s.Occurrences {
		longest = max(longest, o.End.Sub(o.Start))
	}
	if limit := room.Settings.MaxMinutes; limit > 0 && longest > time.Duration(limit)*time.Minute {
		notes = append(notes, fmt.Sprintf("the meeting is booked for %d minutes; phone meetings stop after %d",
			int(longest/time.Minute), limit))
	}
	if s.PIN == "" {
		if room.PIN == "" {
			notes = append(notes, fmt.Sprintf("the meeting has no PIN of its own and room %s has none: whoever dials %s joins", room.Extension, room.Extension))
		} else {
			notes = append(notes, fmt.Sprintf("the meeting has no PIN of its own: dial in with the PIN of room %s", room.Extension))
		}
	}
	return notes
}

// occurrences are m's dates for the store, with the overrides the
// organizer cancelled (m.Cancelled) marked.
func occurrences(m calendar.Meeting) []store.Occurrence {
	out := make([]store.Occurrence, 0, len(m.Occurrences))
	for _, o := range m.Occurrences {
		out = append(out, store.Occurrence{ID: o.ID.UTC(), Start: o.Start.UTC(), End: o.End.UTC(),
			Cancelled: slices.ContainsFunc(m.Cancelled, o.ID.Equal)})
	}
	return out
}

// overlay puts changed occurrences over the stored ones by ID, adds the
// new ones and marks the cancelled ones.
func overlay(stored, changed []store.Occurrence, cancelled []time.Time) []store.Occurrence {
	out := slices.Clone(stored)
	for _, c := range changed {
		if i := slices.IndexFunc(out, func(o store.Occurrence) bool { return o.ID.Equal(c.ID) }); i >= 0 {
			out[i] = c
		} else {
			out = append(out, c)
		}
	}
	for i := range out {
		if slices.ContainsFunc(cancelled, out[i].ID.Equal) {
			out[i].Cancelled = true
		}
	}
	sortOccurrences(out)
	return out
}

// keepPast adds to a new version's occurrences the stored ones that are
// over and that it no longer lists (an invite only carries dates from a
// day back), so the history of the meeting stays.
func keepPast(stored, fresh []store.Occurrence, now time.Time) []store.Occurrence {
	out := slices.Clone(fresh)
	for _, o := range stored {
		if !o.End.After(now) && !slices.ContainsFunc(fresh, func(f store.Occurrence) bool { return f.ID.Equal(o.ID) }) {
			out = append(out, o)
		}
	}
	sortOccurrences(out)
	return out
}

func sortOccurrences(occ []store.Occurrence) {
	slices.SortFunc(occ, func(a, b store.Occurrence) int { return a.Start.Compare(b.Start) })
}

// Live are the occurrences not cancelled and not over at now.
func Live(occ []store.Occurrence, now time.Time) []store.Occurrence {
	var out []store.Occurrence
	for _, o := range occ {
		if !o.Cancelled && o.End.After(now) {
			out = append(out, o)
		}
	}
	return out
}

// conflict names the first booked meeting in room, other than exclude,
// that one of occ's live occurrences overlaps, with times shown in loc;
// "" when there is none.
func (b *Booker) conflict(room string, occ []store.Occurrence, exclude string, now time.Time, loc *time.Location) (string, error) {
	mine := Live(occ, now)
	if len(mine) == 0 {
		return "", nil
	}
	from, to := mine[0].Start, mine[0].End
	for _, o := range mine {
		from, to = minTime(from, o.Start), maxTime(to, o.End)
	}
	booked, err := b.DB.BookedSlots(room, from, to, exclude)
	if err != nil {
		return "", err
	}
	var first *store.Slot
	clashes := 0
	for _, o := range mine {
		i := slices.IndexFunc(booked, func(s store.Slot) bool {
			return s.Occurrence.Start.Before(o.End) && s.Occurrence.End.After(o.Start)
		})
		if i < 0 {
			continue
		}
		if first == nil {
			first = &booked[i]
		}
		clashes++
	}
	if first == nil {
		return "", nil
	}
	reason := fmt.Sprintf("room %s is already booked for %q on %s", room, first.Schedule.Summary, span(first.Occurrence, loc))
	if clashes > 1 {
		reason += fmt.Sprintf(", and %d more of this meeting's dates collide with other meetings", clashes-1)
	}
	return reason, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// span is "Monday 6 January 2025 10:00–11:00 (Europe/Oslo)".
func span(o store.Occurrence, loc *time.Location) string {
	start, end := o.Start.In(loc), o.End.In(loc)
	const day, clock = "Monday 2 January 2006 15:04", "15:04"
	if start.Year() == end.Year() && start.YearDay() == end.YearDay() {
		return start.Format(day) + "–" + end.Format(clock) + " (" + loc.String() + ")"
	}
	return start.Format(day) + " – " + end.Format(day) + " (" + loc.String() + ")"
}

// newPIN draws a meeting PIN for room that differs from the room's own
// PINs and from the PINs of the room's other active meetings, all stored
// as hashes, so each candidate is checked with pin.Check and a
// pin.Matcher (one derivation for all the meetings: they share a salt).
func (b *Booker) newPIN(room config.Room) (string, error) {
	others, err := b.DB.RoomSchedules(room.Extension)
	if err != nil {
		return "", err
	}
	draw := b.draw
	if draw == nil {
		draw = randomPIN
	}
	secrets := pin.Secrets{PIN: room.PIN, HostPIN: room.HostPIN}
	for range 100 {
		p := draw()
		m := pin.NewMatcher(p)
		taken := slices.ContainsFunc(others, func(s store.Schedule) bool {
			return s.State == store.ScheduleActive && m.Matches(s.PIN)
		})
		if !taken && pin.Check(secrets, p) == pin.None {
			return p, nil
		}
	}
	return "", fmt.Errorf("booking: no free meeting PIN for room %s", room.Extension)
}

var million = big.NewInt(1_000_000)

// randomPIN is 6 random digits.
func randomPIN() string {
	n, _ := rand.Int(rand.Reader, million) // never fails (crypto/rand since Go 1.24)
	return fmt.Sprintf("%06d", n.Int64())
}
