package booking

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"brygga/calendar"
	"brygga/config"
	"brygga/pin"
	"brygga/store"
)

// now is when the tests' invites arrive: before every meeting in them.
var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

var oslo = mustZone("Europe/Oslo")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at is a time in Oslo in January 2025.
func at(day, hour, minute int) time.Time {
	return time.Date(2025, 1, day, hour, minute, 0, 0, oslo)
}

const (
	kari = "kari.nordmann@example.org" // room 4711: PIN 246810, host PIN 135790
	per  = "per.berg@example.org"      // room 4712: no PINs, early join 0
	ase  = "ase.odegard@example.org"   // room 4713: sensitive
)

type fixture struct {
	t     *testing.T
	path  string
	cfg   *config.Config
	db    *store.DB
	b     *Booker
	clock time.Time
}

func directory() *config.Config {
	cfg := config.Default()
	room := func(ext, name, email, p, hp string, sensitive bool, early int) config.Room {
		s := cfg.Defaults
		s.WarnMinutes = slices.Clone(s.WarnMinutes)
		s.EarlyJoinMinutes = early
		return config.Room{Extension: ext, Name: name, Email: email, PIN: p, HostPIN: hp, Sensitive: sensitive, Settings: s}
	}
	cfg.Directory = []config.Room{
		room("4711", "Kari Nordmann", "Kari.Nordmann@Example.org", "246810", "135790", false, 10),
		room("4712", "Per Berg", per, "", "", false, 0),
		room("4713", "Åse Ødegård", ase, "1111", "2222", true, 10),
	}
	return cfg
}

// newFixture also marks the test parallel: each has its own database,
// and hashing the directory's PINs makes every fixture slow to set up.
func newFixture(t *testing.T) *fixture {
	t.Parallel()
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "brygga.db"), cfg: directory(), clock: now}
	f.open()
	return f
}

// open opens the database file and a Booker on it, as a start of brygga does.
func (f *fixture) open() {
	f.t.Helper()
	db, err := store.Open(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	rooms, err := store.NewRooms(db, f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.db = db
	f.b = &Booker{DB: db, Rooms: rooms, Defaults: f.cfg.Defaults,
		Now: func() time.Time { return f.clock }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// restart closes the database and opens it again.
func (f *fixture) restart() {
	f.t.Helper()
	if err := f.db.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

// meeting is a single meeting or a series of one-hour-or-dur occurrences.
func meeting(uid, organizer, summary string, seq int, dur time.Duration, starts ...time.Time) calendar.Meeting {
	m := calendar.Meeting{UID: uid, Sequence: seq, Stamp: now.Add(-time.Hour).Add(time.Duration(seq) * time.Minute),
		Organizer: organizer, Summary: summary, Zone: oslo, Start: starts[0], Duration: dur, Recurring: len(starts) > 1}
	for _, s := range starts {
		m.Occurrences = append(m.Occurrences, calendar.Occurrence{ID: s.UTC(), Start: s, End: s.Add(dur)})
	}
	return m
}

func (f *fixture) handle(method string, ms ...calendar.Meeting) []Result {
	f.t.Helper()
	res := f.b.Handle(&calendar.Request{Method: method, Meetings: ms})
	if len(res) != len(ms) {
		f.t.Fatalf("%d results for %d meetings", len(res), len(ms))
	}
	for _, r := range res {
		if r.Err != nil {
			f.t.Fatalf("%s: %v", r.Meeting.UID, r.Err)
		}
	}
	return res
}

func (f *fixture) one(method string, m calendar.Meeting) Result {
	f.t.Helper()
	return f.handle(method, m)[0]
}

// book books m and fails the test unless it is accepted.
func (f *fixture) book(m calendar.Meeting) Result {
	f.t.Helper()
	r := f.one("REQUEST", m)
	if !r.Accepted || r.Action != ActionBooked {
		f.t.Fatalf("%s not booked: %s %q", m.UID, r.Action, r.Reason)
	}
	return r
}

func (f *fixture) lookup(room, p string, t time.Time) (Meeting, State) {
	f.t.Helper()
	m, s, err := f.b.Lookup(room, p, t)
	if err != nil {
		f.t.Fatal(err)
	}
	return m, s
}

func starts(s store.Schedule) []time.Time {
	var out []time.Time
	for _, o := range s.Occurrences {
		out = append(out, o.Start)
	}
	return out
}

func sameTimes(a, b []time.Time) bool {
	return slices.EqualFunc(a, b, time.Time.Equal)
}

func hasNote(r Result, substr string) bool {
	return slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, substr) })
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

func TestBook(t *testing.T) {
	f := newFixture(t)
	r := f.book(meeting("u1", kari, "Budget", 0, time.Hour, at(6, 10, 0)))
	if !sixDigits.MatchString(r.PIN) || r.PINKept || !pin.IsHash(r.Schedule.PIN) || !pin.NewMatcher(r.PIN).Matches(r.Schedule.PIN) {
		t.Fatalf("PIN %q (stored %q): want 6 digits", r.PIN, r.Schedule.PIN)
	}
	if r.Room.Extension != "4711" || r.Room.PIN != "" || r.Room.HostPIN != "" {
		t.Fatalf("room %+v: want 4711 with its PIN fields blank", r.Room)
	}
	if r.Ignored || r.Reason != "" || len(r.Notes) != 0 {
		t.Fatalf("result %+v", r)
	}
	s, err := f.db.ScheduleByUID("u1")
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != r.Schedule.ID || s.Room != "4711" || s.Summary != "Budget" || s.Zone != "Europe/Oslo" ||
		s.State != store.ScheduleActive || !sameTimes(starts(s), []time.Time{at(6, 10, 0)}) {
		t.Fatalf("stored %+v", s)
	}
	// A meeting that is over by the time the invite arrives.
	if r := f.one("REQUEST", meeting("past", kari, "Yesterday", 0, time.Hour, now.Add(-3*time.Hour))); r.Action != ActionDeclined ||
		r.Reason != "the meeting has no dates ahead" {
		t.Fatalf("past meeting: %s %q", r.Action, r.Reason)
	}
}

func TestUnknownOrganizer(t *testing.T) {
	f := newFixture(t)
	r := f.one("REQUEST", meeting("u1", "nobody@example.org", "X", 0, time.Hour, at(6, 10, 0)))
	want := "unknown organizer: nobody@example.org is not a room owner in brygga's directory"
	if r.Accepted || r.Ignored || r.Action != ActionDeclined || r.Reason != want {
		t.Fatalf("result %s %q, want declined %q", r.Action, r.Reason, want)
	}
	if list, _ := f.db.Schedules(); len(list) != 0 {
		t.Fatalf("an unknown organizer's meeting was stored: %+v", list)
	}
}

func TestOverlapDeclined(t *testing.T) {
	f := newFixture(t)
	a := f.book(meeting("a", kari, "Budget", 0, time.Hour, at(6, 10, 0), at(13, 10, 0)))

	// A series whose second date collides with a's.
	r := f.one("REQUEST", meeting("b", kari, "Clash", 0, time.Hour, at(7, 10, 30), at(13, 10, 30), at(20, 10, 30)))
	want := `room 4711 is already booked for "Budget" on Monday 13 January 2025 10:00–11:00 (Europe/Oslo)`
	if r.Accepted || r.Action != ActionDeclined || r.Reason != want {
		t.Fatalf("overlap: %s %q, want declined %q", r.Action, r.Reason, want)
	}
	if _, err := f.db.ScheduleByUID("b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a declined meeting was stored: %v", err)
	}

	// Back to back is no overlap, nor the same time in another room.
	f.book(meeting("c", kari, "After", 0, time.Hour, at(6, 11, 0)))
	f.book(meeting("d", per, "Elsewhere", 0, time.Hour, at(6, 10, 0)))

	// Once a's clashing date is cancelled, b fits.
	cancel := meeting("a", kari, "Budget", 1, time.Hour, at(13, 10, 0))
	cancel.Occurrences, cancel.Cancelled = nil, []time.Time{at(13, 10, 0).UTC()}
	if r := f.one("CANCEL", cancel); r.Action != ActionCancelled {
		t.Fatalf("cancel: %s %q", r.Action, r.Reason)
	}
	f.book(meeting("b", kari, "Clash", 0, time.Hour, at(7, 10, 30), at(13, 10, 30), at(20, 10, 30)))
	if got, _ := f.db.Schedule(a.Schedule.ID); got.State != store.ScheduleActive {
		t.Fatalf("a: %+v", got)
	}
}

func TestUpdateMovesOccurrencesKeepsPIN(t *testing.T) {
	f := newFixture(t)
	first := f.book(meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0), at(13, 10, 0), at(20, 10, 0)))

	// The organizer moves the series an hour later and renames it.
	r := f.one("REQUEST", meeting("u", kari, "Weekly, later", 1, time.Hour, at(6, 11, 0), at(13, 11, 0), at(20, 11, 0)))
	if !r.Accepted || r.Action != ActionUpdated || !kept(r) || r.Schedule.ID != first.Schedule.ID {
		t.Fatalf("update: %s %q PIN %q (was %q) ID %s (was %s)", r.Action, r.Reason, r.PIN, first.PIN, r.Schedule.ID, first.Schedule.ID)
	}
	s, _ := f.db.Schedule(first.Schedule.ID)
	if s.Summary != "Weekly, later" || s.Sequence != 1 || !sameTimes(starts(s), []time.Time{at(6, 11, 0), at(13, 11, 0), at(20, 11, 0)}) {
		t.Fatalf("after update: %+v", s)
	}
	// The old times are free again.
	f.book(meeting("other", kari, "Other", 0, time.Hour, at(6, 10, 0)))

	// Same SEQUENCE with a newer DTSTAMP is an update too.
	m := meeting("u", kari, "Weekly, later", 1, time.Hour, at(6, 12, 0))
	m.Stamp = m.Stamp.Add(time.Minute)
	if r := f.one("REQUEST", m); r.Action != ActionUpdated || !kept(r) {
		t.Fatalf("newer DTSTAMP: %s %q", r.Action, r.Reason)
	}

	// An update that would collide is declined and the booking stays.
	r = f.one("REQUEST", meeting("u", kari, "Weekly", 2, time.Hour, at(6, 10, 30)))
	if r.Accepted || r.Action != ActionDeclined || !strings.Contains(r.Reason, `"Other"`) ||
		!strings.Contains(r.Reason, "the earlier booking of this meeting is unchanged") {
		t.Fatalf("colliding update: %s %q", r.Action, r.Reason)
	}
	if s, _ := f.db.Schedule(first.Schedule.ID); s.Sequence != 1 || !sameTimes(starts(s), []time.Time{at(6, 12, 0)}) {
		t.Fatalf("a declined update changed the booking: %+v", s)
	}
}

func TestUpdateKeepsPastOccurrences(t *testing.T) {
	f := newFixture(t)
	f.book(meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0), at(13, 10, 0), at(20, 10, 0)))
	// Two weeks on, the organizer moves the rest; the invite holds only
	// the dates from a day back.
	f.clock = at(15, 12, 0)
	r := f.one("REQUEST", meeting("u", kari, "Weekly", 1, time.Hour, at(20, 9, 0), at(27, 9, 0)))
	if r.Action != ActionUpdated {
		t.Fatalf("update: %s %q", r.Action, r.Reason)
	}
	if got, want := starts(r.Schedule), []time.Time{at(6, 10, 0), at(13, 10, 0), at(20, 9, 0), at(27, 9, 0)}; !sameTimes(got, want) {
		t.Fatalf("occurrences %v, want %v", got, want)
	}
}

func TestOlderSequenceIgnored(t *testing.T) {
	f := newFixture(t)
	f.book(meeting("u", kari, "Weekly", 3, time.Hour, at(6, 10, 0)))
	for _, m := range []calendar.Meeting{
		meeting("u", kari, "Old", 2, time.Hour, at(6, 14, 0)),
		func() calendar.Meeting { // same SEQUENCE, older DTSTAMP
			m := meeting("u", kari, "Old", 3, time.Hour, at(6, 14, 0))
			m.Stamp = m.Stamp.Add(-time.Minute)
			return m
		}(),
	} {
		r := f.one("REQUEST", m)
		if r.Accepted || !r.Ignored || r.Action != ActionIgnored || !strings.Contains(r.Reason, "older version") || r.PIN != "" {
			t.Fatalf("older version: %+v", r)
		}
	}
	s, _ := f.db.ScheduleByUID("u")
	if s.Summary != "Weekly" || !sameTimes(starts(s), []time.Time{at(6, 10, 0)}) {
		t.Fatalf("an older version changed the booking: %+v", s)
	}
}

func TestDuplicate(t *testing.T) {
	f := newFixture(t)
	m := meeting("u", kari, "Weekly", 1, 90*time.Minute, at(6, 10, 0))
	first := f.book(m)
	r := f.one("REQUEST", m)
	if !r.Accepted || r.Ignored || r.Action != ActionDuplicate || !kept(r) ||
		r.Schedule.ID != first.Schedule.ID || !slices.Equal(r.Notes, first.Notes) {
		t.Fatalf("duplicate: %+v\nfirst: %+v", r, first)
	}
	if list, _ := f.db.Schedules(); len(list) != 1 {
		t.Fatalf("%d schedules after a duplicate", len(list))
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	first := f.book(meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0), at(13, 10, 0), at(20, 10, 0)))

	one := meeting("u", kari, "Weekly", 1, time.Hour, at(13, 10, 0))
	one.Occurrences, one.Cancelled = nil, []time.Time{at(13, 10, 0).UTC()}
	r := f.one("CANCEL", one)
	if !r.Accepted || r.Action != ActionCancelled || r.PIN != "" {
		t.Fatalf("cancel one: %+v", r)
	}
	s, _ := f.db.Schedule(first.Schedule.ID)
	if s.State != store.ScheduleActive || s.Sequence != 1 ||
		s.Occurrences[0].Cancelled || !s.Occurrences[1].Cancelled || s.Occurrences[2].Cancelled {
		t.Fatalf("after cancelling one: %+v", s)
	}
	if _, state := f.lookup("4711", first.PIN, at(13, 10, 30)); state != Cancelled {
		t.Fatalf("cancelled occurrence: %v", state)
	}
	if _, state := f.lookup("4711", first.PIN, at(20, 10, 30)); state != Open {
		t.Fatalf("the next occurrence: %v", state)
	}

	// Not this organizer's meeting, no such UID, an unknown date: no change.
	other := one
	other.Organizer = per
	for _, m := range []calendar.Meeting{other,
		func() calendar.Meeting { m := one; m.UID = "nope"; return m }(),
		func() calendar.Meeting { m := one; m.Sequence = 2; m.Cancelled = []time.Time{at(8, 8, 0)}; return m }(),
	} {
		r := f.one("CANCEL", m)
		if !r.Ignored || r.Accepted || r.Action != ActionIgnored {
			t.Fatalf("cancel %s by %s: %+v", m.UID, m.Organizer, r)
		}
		if m.Organizer != kari && (r.Schedule.ID != "" || r.Room.Extension != "") {
			t.Fatalf("another organizer's CANCEL learns of the meeting: %+v", r)
		}
	}

	whole := meeting("u", kari, "Weekly", 2, time.Hour, at(6, 10, 0))
	whole.Occurrences = nil
	if r := f.one("CANCEL", whole); r.Action != ActionCancelled || r.Schedule.State != store.ScheduleCancelled {
		t.Fatalf("cancel whole: %+v", r)
	}
	if _, state := f.lookup("4711", first.PIN, at(20, 10, 30)); state != Cancelled {
		t.Fatalf("after cancelling the whole meeting: %v", state)
	}
	if slots, _ := f.db.BookedSlots("4711", now, at(31, 0, 0), ""); len(slots) != 0 {
		t.Fatalf("a cancelled meeting still holds the room: %+v", slots)
	}
	// The invite before the cancellation arrives again: ignored.
	if r := f.one("REQUEST", meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0))); !r.Ignored {
		t.Fatalf("old invite after cancel: %+v", r)
	}
	// A newer one books the meeting again, with the PIN it had.
	r = f.one("REQUEST", meeting("u", kari, "Weekly again", 3, time.Hour, at(27, 10, 0)))
	if r.Action != ActionUpdated || !kept(r) || r.Schedule.State != store.ScheduleActive {
		t.Fatalf("rebooked: %+v", r)
	}
}

func TestOverridesOnly(t *testing.T) {
	f := newFixture(t)
	first := f.book(meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0), at(13, 10, 0), at(20, 10, 0)))
	m := meeting("u", kari, "Moved once", 1, time.Hour, at(13, 14, 0))
	m.Occurrences[0].ID = at(13, 10, 0).UTC()
	m.OverridesOnly, m.Cancelled = true, []time.Time{at(20, 10, 0).UTC()}
	r := f.one("REQUEST", m)
	if r.Action != ActionUpdated || !kept(r) || r.Schedule.Summary != "Weekly" {
		t.Fatalf("overrides: %+v", r)
	}
	if _, state := f.lookup("4711", first.PIN, at(13, 14, 30)); state != Open {
		t.Fatalf("the PIN mailed at booking, at the moved time: %v", state)
	}
	o := r.Schedule.Occurrences
	if len(o) != 3 || !o[1].Start.Equal(at(13, 14, 0)) || !o[1].ID.Equal(at(13, 10, 0)) || o[1].Cancelled || !o[2].Cancelled {
		t.Fatalf("occurrences after overrides: %+v", o)
	}
}

func TestSensitiveNeverRecords(t *testing.T) {
	f := newFixture(t)
	m := meeting("s", kari, "[sensitive] [record] HR", 0, time.Hour, at(6, 10, 0))
	m.Record, m.Sensitive = true, true
	r := f.book(m)
	if r.Schedule.Record || !r.Schedule.Sensitive ||
		!hasNote(r, "recording was asked for, but the meeting is sensitive: sensitive meetings are never recorded") {
		t.Fatalf("sensitive and record: %+v", r)
	}
	// In a sensitive room every meeting is sensitive.
	m = meeting("s2", ase, "[record] Board", 0, time.Hour, at(6, 10, 0))
	m.Record = true
	r = f.book(m)
	if r.Schedule.Record || !r.Schedule.Sensitive || !hasNote(r, "the room is sensitive") {
		t.Fatalf("record in a sensitive room: %+v", r)
	}
	if got, state := f.lookup("4713", r.PIN, at(6, 10, 0)); state != Open || got.Record || !got.Sensitive {
		t.Fatalf("lookup: %+v %v", got, state)
	}
	// Recording without sensitivity stays on.
	m = meeting("r", kari, "[record] Plain", 0, time.Hour, at(7, 10, 0))
	m.Record = true
	if r := f.book(m); !r.Schedule.Record || len(r.Notes) != 0 {
		t.Fatalf("record: %+v", r)
	}
}

func TestLongMeetingNote(t *testing.T) {
	f := newFixture(t)
	r := f.book(meeting("long", kari, "Long", 0, 90*time.Minute, at(6, 10, 0)))
	if !slices.Equal(r.Notes, []string{"the meeting is booked for 90 minutes; phone meetings stop after 60"}) {
		t.Fatalf("notes %q", r.Notes)
	}
	if r := f.book(meeting("short", kari, "Short", 0, 60*time.Minute, at(7, 10, 0))); len(r.Notes) != 0 {
		t.Fatalf("an hour-long meeting got notes %q", r.Notes)
	}
}

func TestLookupWindows(t *testing.T) {
	f := newFixture(t)
	r := f.book(meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0), at(13, 10, 0)))
	p := r.PIN
	second := time.Second
	cases := []struct {
		when  time.Time
		state State
		start time.Time
	}{
		{now, NotYet, at(6, 10, 0)},
		{at(6, 9, 50).Add(-second), NotYet, at(6, 10, 0)}, // early_join_minutes is 10 in 4711
		{at(6, 9, 50), Open, at(6, 10, 0)},
		{at(6, 11, 0).Add(-second), Open, at(6, 10, 0)},
		{at(6, 11, 0), Ended, at(6, 10, 0)},
		{at(9, 0, 0), Ended, at(6, 10, 0)},     // nearer the end of the first than the opening of the second
		{at(10, 12, 0), NotYet, at(13, 10, 0)}, // nearer the second
		{at(13, 10, 30), Open, at(13, 10, 0)},
		{at(20, 0, 0), Ended, at(13, 10, 0)},
	}
	for _, c := range cases {
		m, state := f.lookup("4711", p, c.when)
		if state != c.state || !m.Start.Equal(c.start) {
			t.Errorf("at %v: %v %v, want %v %v", c.when, state, m.Start, c.state, c.start)
		}
		if _, ok := f.b.ByPIN("4711", p, c.when); ok != (c.state == Open) {
			t.Errorf("ByPIN at %v = %v", c.when, ok)
		}
	}
	m, _ := f.lookup("4711", p, at(6, 10, 0))
	if m.ScheduleID != r.Schedule.ID || m.Room != "4711" || m.Summary != "Weekly" || !m.End.Equal(at(6, 11, 0)) ||
		m.Start.Location().String() != "Europe/Oslo" || !m.Occurrence.Equal(at(6, 10, 0)) {
		t.Fatalf("meeting %+v", m)
	}
	// The wrong PIN, the room's own PIN, another room.
	for _, c := range []struct{ room, pin string }{{"4711", "000000"}, {"4711", "246810"}, {"4711", ""}, {"4712", p}} {
		if _, state := f.lookup(c.room, c.pin, at(6, 10, 0)); state != NoMeeting {
			t.Errorf("room %s PIN %q: %v", c.room, c.pin, state)
		}
	}

	// Room 4712 opens meetings on the minute.
	r = f.book(meeting("p", per, "Per", 0, time.Hour, at(6, 10, 0)))
	if _, state := f.lookup("4712", r.PIN, at(6, 10, 0).Add(-second)); state != NotYet {
		t.Fatalf("early join 0, a second before the start: %v", state)
	}
	if _, state := f.lookup("4712", r.PIN, at(6, 10, 0)); state != Open {
		t.Fatalf("early join 0, at the start: %v", state)
	}
}

func TestMeetingPINDistinct(t *testing.T) {
	f := newFixture(t)
	first := f.book(meeting("a", kari, "A", 0, time.Hour, at(6, 10, 0)))
	// Candidates: the room's PIN, its host PIN, the other meeting's PIN,
	// then a free one.
	draws := []string{"246810", "135790", first.PIN, "424242"}
	n := 0
	f.b.draw = func() string { n++; return draws[n-1] }
	r := f.book(meeting("b", kari, "B", 0, time.Hour, at(7, 10, 0)))
	if r.PIN != "424242" || n != 4 {
		t.Fatalf("PIN %q after %d draws; want 424242 after 4", r.PIN, n)
	}
	// A free PIN in another room may equal this room's PIN.
	n, draws = 0, []string{"246810"}
	if r := f.book(meeting("c", per, "C", 0, time.Hour, at(7, 10, 0))); r.PIN != "246810" {
		t.Fatalf("room 4712: PIN %q", r.PIN)
	}
}

func TestRoomPINs(t *testing.T) {
	f := newFixture(t)
	f.b.PINs = PINsRoom
	r := f.book(meeting("u", kari, "Room PIN", 0, time.Hour, at(6, 10, 0)))
	if r.PIN != "" || r.Schedule.PIN != "" || !hasNote(r, "dial in with the PIN of room 4711") {
		t.Fatalf("room PINs: %+v", r)
	}
	for _, c := range []struct {
		pin  string
		want State
	}{{"246810", Open}, {"135790", Open}, {"999999", NoMeeting}, {"", NoMeeting}} {
		if _, state := f.lookup("4711", c.pin, at(6, 10, 0)); state != c.want {
			t.Errorf("PIN %q: %v, want %v", c.pin, state, c.want)
		}
	}
	// A room without a PIN: anyone who dials in.
	r = f.book(meeting("p", per, "Open room", 0, time.Hour, at(6, 10, 0)))
	if !hasNote(r, "whoever dials 4712 joins") {
		t.Fatalf("notes %q", r.Notes)
	}
	if _, state := f.lookup("4712", "", at(6, 10, 0)); state != Open {
		t.Fatalf("open room: %v", state)
	}
}

func TestRestart(t *testing.T) {
	f := newFixture(t)
	r := f.book(meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0), at(13, 10, 0)))
	one := meeting("u", kari, "Weekly", 1, time.Hour, at(13, 10, 0))
	one.Occurrences, one.Cancelled = nil, []time.Time{at(13, 10, 0).UTC()}
	f.one("CANCEL", one)
	f.restart()

	v, err := f.b.Get(r.Schedule.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.UID != "u" || v.Summary != "Weekly" || v.Sequence != 1 || !v.OwnPIN || len(v.Occurrences) != 2 ||
		v.Occurrences[0].State != OccurrenceUpcoming || v.Occurrences[1].State != OccurrenceCancelled {
		t.Fatalf("after restart: %+v", v)
	}
	if _, state := f.lookup("4711", r.PIN, at(6, 10, 0)); state != Open {
		t.Fatalf("PIN after restart: %v", state)
	}
	// The same invite again is still a duplicate with the same PIN.
	if d := f.one("REQUEST", meeting("u", kari, "Weekly", 0, time.Hour, at(6, 10, 0))); !d.Ignored {
		t.Fatalf("sequence 0 after the cancel at 1: %+v", d)
	}
	m := meeting("u", kari, "Weekly", 1, time.Hour, at(6, 10, 0))
	m.Stamp = one.Stamp
	if d := f.one("REQUEST", m); d.Action != ActionDuplicate || !kept(d) {
		t.Fatalf("duplicate after restart: %+v", d)
	}
}

func TestListStates(t *testing.T) {
	f := newFixture(t)
	r := f.book(meeting("u", kari, "Five", 0, time.Hour, at(6, 8, 0), at(6, 10, 0), at(6, 12, 0), at(6, 14, 0), at(6, 16, 0)))
	cancel := meeting("u", kari, "Five", 1, time.Hour, at(6, 16, 0))
	cancel.Occurrences, cancel.Cancelled = nil, []time.Time{at(6, 16, 0).UTC()}
	f.one("CANCEL", cancel)
	f.book(meeting("v", per, "Other", 0, time.Hour, at(2, 10, 0)))

	f.clock = at(6, 11, 55) // 8:00 over, 10:00 just over, 12:00 open, 14:00 upcoming, 16:00 cancelled
	list, err := f.b.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].UID != "v" || list[1].ID != r.Schedule.ID {
		t.Fatalf("list %+v", list)
	}
	var got []OccurrenceState
	for _, o := range list[1].Occurrences {
		got = append(got, o.State)
	}
	want := []OccurrenceState{OccurrenceEnded, OccurrenceEnded, OccurrenceOpen, OccurrenceUpcoming, OccurrenceCancelled}
	if !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	f.clock = at(6, 12, 0)
	if v, _ := f.b.Get(r.Schedule.ID); v.Occurrences[2].State != OccurrenceRunning || v.Occurrences[2].Start.Location().String() != "Europe/Oslo" {
		t.Fatalf("at 12:00: %+v", v.Occurrences[2])
	}

	up, err := f.b.Upcoming(at(6, 11, 0), at(6, 15, 0))
	if err != nil || len(up) != 2 || !up[0].Start.Equal(at(6, 12, 0)) || !up[1].Start.Equal(at(6, 14, 0)) {
		t.Fatalf("Upcoming: %+v %v", up, err)
	}

	if err := f.b.Delete(r.Schedule.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Get(r.Schedule.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if err := f.b.Delete(r.Schedule.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if _, state := f.lookup("4711", r.PIN, at(6, 14, 0)); state != NoMeeting {
		t.Fatalf("PIN of a deleted meeting: %v", state)
	}
}

func TestCurrentWindow(t *testing.T) {
	f := newFixture(t)
	start := at(20, 14, 0)
	f.book(meeting("cur@x", kari, "Budget", 0, time.Hour, start))
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{start.Add(-11 * time.Minute), false},
		{start.Add(-10 * time.Minute), true}, // early join opens the room as the meeting
		{start.Add(59 * time.Minute), true},
		{start.Add(time.Hour), false},
	} {
		m, ok, err := f.b.Current("4711", c.at)
		if err != nil || ok != c.want || (ok && (!m.Start.Equal(start) || m.Summary != "Budget")) {
			t.Errorf("Current at %v: %+v %v %v, want %v", c.at.Sub(start), m, ok, err, c.want)
		}
	}
	if _, ok, _ := f.b.Current("4712", start); ok {
		t.Error("another room's meeting counted")
	}
}

// kept is an accepted result for a meeting whose own PIN was mailed with
// an earlier answer: the store holds only its hash, so the PIN is not in
// this one.
func kept(r Result) bool { return r.PIN == "" && r.PINKept && pin.IsHash(r.Schedule.PIN) }
