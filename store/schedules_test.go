package store

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

var monday = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

// weekly is a schedule of n weekly one-hour occurrences from monday.
func weekly(uid, room string, n int) Schedule {
	s := Schedule{UID: uid, Room: room, Organizer: "kari@example.org", OrganizerName: "Kari",
		Summary: "Weekly " + uid, Sequence: 0, Stamp: monday.Add(-72 * time.Hour), Zone: "Europe/Oslo",
		PIN: "123456", Record: true}
	for i := range n {
		start := monday.AddDate(0, 0, 7*i)
		s.Occurrences = append(s.Occurrences, Occurrence{ID: start, Start: start, End: start.Add(time.Hour)})
	}
	return s
}

func put(t *testing.T, db *DB, s Schedule) Schedule {
	t.Helper()
	got, err := db.PutSchedule(s)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSchedulePutGetReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	db := open(t, path)
	s := put(t, db, weekly("uid-1", "4711", 3))
	if !regexp.MustCompile(`^m-[0-9a-f]{8}$`).MatchString(s.ID) {
		t.Fatalf("ID %q is not m- and 8 hex digits", s.ID)
	}
	if s.State != ScheduleActive || s.PIN != "123456" || !s.Record || s.Zone != "Europe/Oslo" ||
		len(s.Occurrences) != 3 || !s.Occurrences[2].Start.Equal(monday.AddDate(0, 0, 14)) ||
		!s.Stamp.Equal(monday.Add(-72*time.Hour)) || s.Created.IsZero() {
		t.Fatalf("stored %+v", s)
	}
	if _, err := db.PutSchedule(weekly("uid-1", "4712", 1)); err == nil {
		t.Fatal("a second schedule with the same UID was stored")
	}

	// Replace: fewer occurrences, one moved, a new sequence.
	s.Sequence, s.Summary = 2, "Moved"
	s.Occurrences = s.Occurrences[:2]
	s.Occurrences[1].Start = s.Occurrences[1].Start.Add(30 * time.Minute)
	s.Occurrences[1].End = s.Occurrences[1].End.Add(30 * time.Minute)
	put(t, db, s)
	db.Close()

	db = open(t, path)
	got, err := db.ScheduleByUID("uid-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.Sequence != 2 || got.Summary != "Moved" || len(got.Occurrences) != 2 ||
		!got.Occurrences[1].Start.Equal(monday.AddDate(0, 0, 7).Add(30*time.Minute)) ||
		!got.Occurrences[1].ID.Equal(monday.AddDate(0, 0, 7)) || !got.Created.Equal(s.Created) {
		t.Fatalf("after replace and reopen: %+v", got)
	}
	if _, err := db.Schedule("m-00000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Schedule(unknown) = %v", err)
	}
	if _, err := db.ScheduleByUID("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ScheduleByUID(unknown) = %v", err)
	}
}

func TestScheduleBookedSlots(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "b.db"))
	a := put(t, db, weekly("a", "4711", 3))
	b := put(t, db, weekly("b", "4712", 3))
	c := weekly("c", "4711", 1)
	c.State = ScheduleCancelled
	put(t, db, c)

	ids := func(slots []Slot) (out []string) {
		for _, s := range slots {
			out = append(out, s.Schedule.ID+"@"+s.Occurrence.Start.Format("01-02T15:04"))
		}
		return out
	}
	check := func(name string, got []Slot, want ...string) {
		t.Helper()
		if g := ids(got); !slices.Equal(g, want) && len(g)+len(want) > 0 {
			t.Fatalf("%s: %v, want %v", name, g, want)
		}
	}
	slots, err := db.BookedSlots("4711", monday.Add(30*time.Minute), monday.AddDate(0, 0, 7).Add(time.Minute), "")
	if err != nil {
		t.Fatal(err)
	}
	check("room 4711, first two weeks", slots, a.ID+"@01-06T09:00", a.ID+"@01-13T09:00")
	if slots[0].Schedule.Summary != "Weekly a" || slots[0].Schedule.PIN != "123456" || slots[0].Schedule.Occurrences != nil {
		t.Fatalf("slot schedule %+v", slots[0].Schedule)
	}

	// Touching ends do not overlap; exclude leaves a schedule out.
	slots, _ = db.BookedSlots("4711", monday.Add(time.Hour), monday.AddDate(0, 0, 7), "")
	check("between", slots)
	slots, _ = db.BookedSlots("4711", monday, monday.AddDate(0, 0, 30), a.ID)
	check("excluding a", slots)
	slots, _ = db.BookedSlots("", monday, monday.Add(time.Minute), "")
	both := []string{a.ID + "@01-06T09:00", b.ID + "@01-06T09:00"}
	slices.Sort(both) // equal starts: by schedule ID
	check("every room", slots, both...)

	// Cancelling one occurrence, then the whole schedule.
	got, err := db.CancelSchedule(a.ID, []time.Time{monday.AddDate(0, 0, 7), monday.AddDate(0, 0, 99)}, 3, monday)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != ScheduleActive || got.Sequence != 3 || !got.Occurrences[1].Cancelled || got.Occurrences[0].Cancelled {
		t.Fatalf("after cancelling one: %+v", got)
	}
	slots, _ = db.BookedSlots("4711", monday, monday.AddDate(0, 0, 30), "")
	check("one cancelled", slots, a.ID+"@01-06T09:00", a.ID+"@01-20T09:00")
	if got, err = db.CancelSchedule(a.ID, nil, 4, monday); err != nil || got.State != ScheduleCancelled {
		t.Fatalf("cancel whole: %+v %v", got, err)
	}
	slots, _ = db.BookedSlots("4711", monday, monday.AddDate(0, 0, 30), "")
	check("all cancelled", slots)
	if _, err := db.CancelSchedule("m-00000000", nil, 1, monday); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}

	list, err := db.RoomSchedules("4711")
	if err != nil || len(list) != 2 {
		t.Fatalf("RoomSchedules: %d %v", len(list), err)
	}
	all, err := db.Schedules()
	if err != nil || len(all) != 3 {
		t.Fatalf("Schedules: %+v %v", all, err)
	}
	// a, b and c all begin on the same Monday: their order among
	// themselves is by creation, which the test does not rely on.
	for _, s := range all {
		if s.ID == a.ID && len(s.Occurrences) != 3 {
			t.Fatalf("Schedules: %s has %d occurrences, want 3", a.ID, len(s.Occurrences))
		}
	}

	if err := db.DeleteSchedule(b.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSchedule(b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	var orphans int
	if err := db.sql.QueryRow(`SELECT count(*) FROM occurrences WHERE schedule_id = ?`, b.ID).Scan(&orphans); err != nil || orphans != 0 {
		t.Fatalf("occurrences left after delete: %d %v", orphans, err)
	}
}
