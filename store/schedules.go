package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"brygga/pin"
)

// States of a schedule.
const (
	ScheduleActive    = "active"    // booked; its occurrences not marked cancelled take place
	ScheduleCancelled = "cancelled" // the organizer cancelled the whole meeting
)

// Schedule is a meeting booked by an invite: one UID, a single meeting or
// a series, with its occurrences.
type Schedule struct {
	ID            string // "m-" and 8 hex digits
	UID           string // the invite's UID; unique
	Room          string // the room's extension
	Organizer     string // bare lower-case address
	OrganizerName string
	Summary       string
	Sequence      int       // SEQUENCE of the version stored
	Stamp         time.Time // its DTSTAMP; zero when the invite had none
	Zone          string    // IANA name of the meeting's zone, for showing its times
	// PIN is the meeting's own PIN as stored, a pin.Hash ("" when the
	// meeting uses the room's PIN); PutSchedule hashes a plain one, with
	// the salt of the room's other meeting PINs (pin.HashLike), so a
	// caller's PIN is checked against all of them with one derivation.
	// The plain PIN is only known to whoever booked the meeting, which
	// mails it to the organizer then; it cannot be read back.
	PIN               string
	Record, Sensitive bool
	State             string // ScheduleActive or ScheduleCancelled
	Created, Updated  time.Time

	// Occurrences sorted by start. Filled by Schedule, ScheduleByUID,
	// Schedules and RoomSchedules; empty in a Slot.
	Occurrences []Occurrence
}

// Occurrence is one date of a schedule. Times are UTC, to the second.
type Occurrence struct {
	ID         time.Time // the original start (RECURRENCE-ID); the key within its schedule
	Start, End time.Time // as moved by the organizer
	Cancelled  bool
}

// Slot is an occurrence with its schedule, which has no Occurrences.
type Slot struct {
	Schedule   Schedule
	Occurrence Occurrence
}

// slotLayout writes occurrence times: fixed width in UTC, so SQL compares
// them as text in time order (RFC3339Nano's optional fraction would not).
const slotLayout = "2006-01-02T15:04:05Z"

func formatSlot(t time.Time) string { return t.UTC().Format(slotLayout) }

func parseSlot(s string) time.Time {
	t, _ := time.Parse(slotLayout, s)
	return t
}

const scheduleColumns = `s.id, s.uid, s.room, s.organizer, s.organizer_name, s.summary, s.sequence,
	s.stamp, s.zone, s.pin, s.record, s.sensitive, s.state, s.created, s.updated`

const occurrenceColumns = `o.occurrence, o.start_at, o.end_at, o.cancelled`

func scanSchedule(row interface{ Scan(...any) error }, more ...any) (Schedule, error) {
	var s Schedule
	var stamp, created, updated string
	dst := append([]any{&s.ID, &s.UID, &s.Room, &s.Organizer, &s.OrganizerName, &s.Summary,
		&s.Sequence, &stamp, &s.Zone, &s.PIN, &s.Record, &s.Sensitive, &s.State, &created, &updated}, more...)
	if err := row.Scan(dst...); err != nil {
		return s, err
	}
	s.Stamp, s.Created, s.Updated = parseTime(stamp), parseTime(created), parseTime(updated)
	return s, nil
}

// occurrenceFields are Scan destinations for occurrenceColumns; done turns
// what they read into the Occurrence.
func occurrenceFields() (fields []any, done func() Occurrence) {
	var id, start, end string
	var cancelled bool
	return []any{&id, &start, &end, &cancelled}, func() Occurrence {
		return Occurrence{ID: parseSlot(id), Start: parseSlot(start), End: parseSlot(end), Cancelled: cancelled}
	}
}

func newScheduleID() string {
	var b [4]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return "m-" + hex.EncodeToString(b[:])
}

// PutSchedule stores s with its occurrences in one transaction: a new
// schedule when s.ID is empty (the ID is drawn here), else a replacement
// of schedule s.ID whose occurrences are replaced by s.Occurrences. A
// State left empty is ScheduleActive. It returns the schedule as stored.
// A UID that another schedule holds is an error wrapping ErrExists.
func (db *DB) PutSchedule(s Schedule) (Schedule, error) {
	ctx := context.Background()
	if s.State == "" {
		s.State = ScheduleActive
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return s, fmt.Errorf("store: schedule %s: %w", s.UID, err)
	}
	defer tx.Rollback()
	if s.ID == "" {
		if s.ID, err = freeScheduleID(ctx, tx); err != nil {
			return s, fmt.Errorf("store: schedule %s: %w", s.UID, err)
		}
	}
	if s.PIN != "" && !pin.IsHash(s.PIN) {
		if s.PIN, err = hashMeetingPIN(ctx, tx, s.Room, s.PIN); err != nil {
			return s, fmt.Errorf("store: schedule %s: %w", s.ID, err)
		}
	}
	t := now()
	_, err = tx.ExecContext(ctx, `INSERT INTO schedules (id, uid, room, organizer, organizer_name,
		summary, sequence, stamp, zone, pin, record, sensitive, state, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET uid = excluded.uid, room = excluded.room,
			organizer = excluded.organizer, organizer_name = excluded.organizer_name,
			summary = excluded.summary, sequence = excluded.sequence, stamp = excluded.stamp,
			zone = excluded.zone, pin = excluded.pin, record = excluded.record,
			sensitive = excluded.sensitive, state = excluded.state, updated = excluded.updated`,
		s.ID, s.UID, s.Room, s.Organizer, s.OrganizerName, s.Summary, s.Sequence, formatTime(s.Stamp),
		s.Zone, s.PIN, s.Record, s.Sensitive, s.State, t, t)
	if err != nil {
		return s, fmt.Errorf("store: schedule %s: %w", s.ID, exists(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM occurrences WHERE schedule_id = ?`, s.ID); err != nil {
		return s, fmt.Errorf("store: schedule %s: %w", s.ID, err)
	}
	for _, o := range s.Occurrences {
		if _, err := tx.ExecContext(ctx, `INSERT INTO occurrences (schedule_id, occurrence, start_at, end_at, cancelled)
			VALUES (?, ?, ?, ?, ?)`, s.ID, formatSlot(o.ID), formatSlot(o.Start), formatSlot(o.End), o.Cancelled); err != nil {
			return s, fmt.Errorf("store: schedule %s: occurrence %s: %w", s.ID, formatSlot(o.ID), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s, fmt.Errorf("store: schedule %s: %w", s.ID, err)
	}
	return db.Schedule(s.ID)
}

// freeScheduleID draws IDs until one is unused; 32 bits make a second
// draw rare and a third all but impossible.
func freeScheduleID(ctx context.Context, tx *txn) (string, error) {
	for range 16 {
		id := newScheduleID()
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schedules WHERE id = ?`, id).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return id, nil
		}
	}
	return "", errors.New("no free schedule ID")
}

// Schedule returns one schedule with its occurrences.
func (db *DB) Schedule(id string) (Schedule, error) {
	return db.oneSchedule(id, `s.id = ?`, id)
}

// ScheduleByUID returns the schedule booked by the invite with this UID.
func (db *DB) ScheduleByUID(uid string) (Schedule, error) {
	return db.oneSchedule(uid, `s.uid = ?`, uid)
}

func (db *DB) oneSchedule(key, where string, arg any) (Schedule, error) {
	list, err := db.schedules(where, arg)
	if err != nil {
		return Schedule{}, err
	}
	if len(list) == 0 {
		return Schedule{}, fmt.Errorf("store: schedule %s: %w", key, ErrNotFound)
	}
	return list[0], nil
}

// Schedules lists every schedule, cancelled ones too, by first occurrence.
func (db *DB) Schedules() ([]Schedule, error) { return db.schedules(`TRUE`) }

// RoomSchedules lists the schedules of one room, cancelled ones too.
func (db *DB) RoomSchedules(room string) ([]Schedule, error) {
	return db.schedules(`s.room = ?`, room)
}

// schedules reads the schedules matching where (on alias s) and then
// their occurrences with one more query.
func (db *DB) schedules(where string, args ...any) ([]Schedule, error) {
	ctx := context.Background()
	rows, err := db.sql.QueryContext(ctx, `SELECT `+scheduleColumns+` FROM schedules s WHERE `+where+`
		ORDER BY (SELECT min(start_at) FROM occurrences WHERE schedule_id = s.id), s.created, s.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: schedules: %w", err)
	}
	var out []Schedule
	index := make(map[string]int)
	for rows.Next() {
		s, err := scanSchedule(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: schedules: %w", err)
		}
		index[s.ID] = len(out)
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: schedules: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}

	rows, err = db.sql.QueryContext(ctx, `SELECT o.schedule_id, `+occurrenceColumns+`
		FROM occurrences o JOIN schedules s ON s.id = o.schedule_id WHERE `+where+`
		ORDER BY o.start_at, o.occurrence`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: occurrences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		fields, done := occurrenceFields()
		if err := rows.Scan(append([]any{&id}, fields...)...); err != nil {
			return nil, fmt.Errorf("store: occurrences: %w", err)
		}
		if i, ok := index[id]; ok {
			out[i].Occurrences = append(out[i].Occurrences, done())
		}
	}
	return out, rows.Err()
}

// BookedSlots lists the occurrences of active schedules, not cancelled,
// that overlap [from, to): in room, or in every room when room is "",
// leaving out schedule exclude (the one being changed). Sorted by start.
func (db *DB) BookedSlots(room string, from, to time.Time, exclude string) ([]Slot, error) {
	rows, err := db.sql.QueryContext(context.Background(), `SELECT `+scheduleColumns+`, `+occurrenceColumns+`
		FROM occurrences o JOIN schedules s ON s.id = o.schedule_id
		WHERE (? = '' OR s.room = ?) AND s.state = ? AND NOT o.cancelled
			AND o.start_at < ? AND o.end_at > ? AND s.id != ?
		ORDER BY o.start_at, s.id`,
		room, room, ScheduleActive, formatSlot(to), formatSlot(from), exclude)
	if err != nil {
		return nil, fmt.Errorf("store: booked occurrences: %w", err)
	}
	defer rows.Close()
	var out []Slot
	for rows.Next() {
		fields, done := occurrenceFields()
		s, err := scanSchedule(rows, fields...)
		if err != nil {
			return nil, fmt.Errorf("store: booked occurrences: %w", err)
		}
		out = append(out, Slot{Schedule: s, Occurrence: done()})
	}
	return out, rows.Err()
}

// CancelSchedule cancels schedule id as of the invite with sequence and
// stamp: the whole meeting when occurrences is empty, else the listed
// occurrences (by ID; IDs it does not hold are passed over). It returns
// the schedule as stored.
func (db *DB) CancelSchedule(id string, occurrences []time.Time, sequence int, stamp time.Time) (Schedule, error) {
	ctx := context.Background()
	state := `state`
	if len(occurrences) == 0 {
		state = `'` + ScheduleCancelled + `'`
	}
	err := db.inTx(ctx, nil, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE schedules SET state = `+state+`, sequence = ?, stamp = ?, updated = ? WHERE id = ?`,
			sequence, formatTime(stamp), now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		for _, o := range occurrences {
			if _, err := tx.ExecContext(ctx, `UPDATE occurrences SET cancelled = TRUE WHERE schedule_id = ? AND occurrence = ?`,
				id, formatSlot(o)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Schedule{}, fmt.Errorf("store: schedule %s: %w", id, err)
	}
	return db.Schedule(id)
}

// DeleteSchedule removes a schedule and its occurrences.
func (db *DB) DeleteSchedule(id string) error {
	res, err := db.sql.ExecContext(context.Background(), `DELETE FROM schedules WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: schedule %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: schedule %s: %w", id, ErrNotFound)
	}
	return nil
}

// hashMeetingPIN hashes the plain meeting PIN p of a meeting in room with
// the salt of another meeting PIN of that room, if there is one.
func hashMeetingPIN(ctx context.Context, tx *txn, room, p string) (string, error) {
	var like string
	err := tx.QueryRowContext(ctx, `SELECT pin FROM schedules WHERE room = ? AND pin LIKE 'pbkdf2-%' LIMIT 1`, room).Scan(&like)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	return pin.HashLike(p, like), nil
}

// hashMeetingPINs is migration 5: it hashes the meeting PINs that earlier
// versions stored in plain text, room by room with one salt each.
func hashMeetingPINs(ctx context.Context, tx *txn) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, room, pin FROM schedules WHERE pin != '' ORDER BY room, id`)
	if err != nil {
		return err
	}
	type plain struct{ id, room, pin string }
	var todo []plain
	for rows.Next() {
		var p plain
		if err := rows.Scan(&p.id, &p.room, &p.pin); err != nil {
			rows.Close()
			return err
		}
		if !pin.IsHash(p.pin) {
			todo = append(todo, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range todo {
		h, err := hashMeetingPIN(ctx, tx, p.room, p.pin)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schedules SET pin = ? WHERE id = ?`, h, p.id); err != nil {
			return fmt.Errorf("schedule %s: %w", p.id, err)
		}
	}
	return nil
}
