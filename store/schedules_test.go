package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"brygga/pin"
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

func TestSchedulePutGetReplace(t *testing.T) { eachBackend(t, testSchedulePutGetReplace) }

func testSchedulePutGetReplace(t *testing.T, b backend) {
	path := b.new(t)
	db := open(t, path)
	s := put(t, db, weekly("uid-1", "4711", 3))
	if !regexp.MustCompile(`^m-[0-9a-f]{8}$`).MatchString(s.ID) {
		t.Fatalf("ID %q is not m- and 8 hex digits", s.ID)
	}
	if s.State != ScheduleActive || !pin.IsHash(s.PIN) || !pin.NewMatcher("123456").Matches(s.PIN) || !s.Record || s.Zone != "Europe/Oslo" ||
		len(s.Occurrences) != 3 || !s.Occurrences[2].Start.Equal(monday.AddDate(0, 0, 14)) ||
		!s.Stamp.Equal(monday.Add(-72*time.Hour)) || s.Created.IsZero() {
		t.Fatalf("stored %+v", s)
	}
	if _, err := db.PutSchedule(weekly("uid-1", "4712", 1)); !errors.Is(err, ErrExists) {
		t.Fatalf("a second schedule with the same UID: %v, want ErrExists", err)
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

func TestScheduleBookedSlots(t *testing.T) { eachBackend(t, testScheduleBookedSlots) }

func testScheduleBookedSlots(t *testing.T, bk backend) {
	db := open(t, bk.new(t))
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
	if slots[0].Schedule.Summary != "Weekly a" || !pin.NewMatcher("123456").Matches(slots[0].Schedule.PIN) || slots[0].Schedule.Occurrences != nil {
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

// saltOf is the salt field of a pin.Hash.
func saltOf(h string) string {
	parts := strings.Split(h, "$")
	if len(parts) != 4 {
		return ""
	}
	return parts[2]
}

// A meeting PIN is stored hashed, with the salt of the room's other
// meeting PINs; a replacement keeps the stored hash as it is.
func TestScheduleMeetingPINHashed(t *testing.T) { eachBackend(t, testScheduleMeetingPINHashed) }

func testScheduleMeetingPINHashed(t *testing.T, bk backend) {
	path := bk.new(t)
	db := open(t, path)
	a := put(t, db, weekly("a", "4711", 1))
	bw := weekly("b", "4711", 1)
	bw.PIN = "654321"
	b := put(t, db, bw)
	c := put(t, db, weekly("c", "4712", 1))
	if saltOf(a.PIN) == "" || saltOf(a.PIN) != saltOf(b.PIN) || saltOf(c.PIN) == saltOf(a.PIN) {
		t.Fatalf("salts: 4711 %q %q, 4712 %q; want one per room", a.PIN, b.PIN, c.PIN)
	}
	if !pin.NewMatcher("654321").Matches(b.PIN) || pin.NewMatcher("123456").Matches(b.PIN) {
		t.Fatal("b's hash does not match its own PIN only")
	}
	a.Summary = "Renamed"
	if again := put(t, db, a); again.PIN != a.PIN {
		t.Fatalf("a replacement rehashed the stored hash: %q, was %q", again.PIN, a.PIN)
	}
	db.Close()
	if bk.dialect != dialectSQLite {
		return // the server's files are its own; the rows were checked above
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(path + "-wal")
	for _, p := range []string{"123456", "654321"} {
		if bytes.Contains(raw, []byte(p)) || bytes.Contains(wal, []byte(p)) {
			t.Errorf("the database file holds the plain PIN %s", p)
		}
	}
}

// A database written before meeting PINs were hashed (schema 3, PINs in
// plain text) is migrated on open: every meeting PIN is hashed, one salt
// per room, each still matches its PIN, and no plain PIN is left.
func TestMigrateHashesPlainMeetingPINs(t *testing.T) {
	eachBackend(t, testMigrateHashesPlainMeetingPINs)
}

func testMigrateHashesPlainMeetingPINs(t *testing.T, b backend) {
	path := b.new(t)
	if b.dialect == dialectSQLite {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old, err := b.raw(path)
	if err != nil {
		t.Fatal(err)
	}
	// What brygga with three migrations left on disk: its schema, its
	// version row, and meetings with plain PINs.
	d := b.dialect
	stmts := []string{`CREATE TABLE schema_version (version INTEGER NOT NULL)`, d.ddl(migrations[1]), d.ddl(migrations[2]), d.ddl(migrations[3]),
		`INSERT INTO schema_version (version) VALUES (3)`}
	for i, m := range map[string][2]string{"m-00000001": {"4711", "111111"}, "m-00000002": {"4711", "222222"},
		"m-00000003": {"4712", "333333"}, "m-00000004": {"4712", ""}} {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO schedules (id, uid, room, pin, state, created, updated)
			VALUES ('%s', 'uid-%s', '%s', '%s', 'active', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`, i, i, m[0], m[1]))
	}
	for _, s := range stmts {
		if _, err := old.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	old.Close()

	db := open(t, path)
	want := map[string]string{"m-00000001": "111111", "m-00000002": "222222", "m-00000003": "333333", "m-00000004": ""}
	salts := map[string]string{}
	for id, p := range want {
		s, err := db.Schedule(id)
		if err != nil {
			t.Fatal(err)
		}
		if p == "" {
			if s.PIN != "" {
				t.Errorf("%s had no PIN and now has %q", id, s.PIN)
			}
			continue
		}
		if !pin.IsHash(s.PIN) || !pin.NewMatcher(p).Matches(s.PIN) || pin.NewMatcher("000000").Matches(s.PIN) {
			t.Errorf("%s: stored %q does not hash %s", id, s.PIN, p)
		}
		if prev, ok := salts[s.Room]; ok && prev != saltOf(s.PIN) {
			t.Errorf("room %s has two salts", s.Room)
		}
		salts[s.Room] = saltOf(s.PIN)
	}
	var v int
	if err := db.sql.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations)-1 {
		t.Fatalf("schema version %d (%v)", v, err)
	}
	var plain int
	if err := db.sql.QueryRow(`SELECT count(*) FROM schedules WHERE pin IN ('111111', '222222', '333333')`).Scan(&plain); err != nil || plain != 0 {
		t.Fatalf("%d plain PINs left (%v)", plain, err)
	}
}
