package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// States of a recording, in the order it passes through them.
const (
	RecordingActive      = "recording"     // being written; after a crash, to be repaired
	RecordingPending     = "pending"       // finished, waiting for (another) delivery attempt
	RecordingDelivered   = "delivered"     // in the owner's voicemail; file kept for keep_days
	RecordingFailed      = "failed"        // delivery gave up (permanent error); file kept
	RecordingUndelivered = "undeliverable" // the room has no voicemail or email; file kept
	RecordingExpired     = "expired"       // delivered and past retention: file removed
)

// ErrNotFound is returned for an ID the store does not hold.
var ErrNotFound = errors.New("not found")

// Recording is a recording's row: the file and its delivery.
type Recording struct {
	ID, Room, Owner, Language, Target, Path string
	Started, Ended                          time.Time // Ended zero while recording
	Samples, Bytes                          int64
	State                                   string
	Attempts                                int
	NextAttempt                             time.Time // when the next delivery attempt is due
	LastError                               string
	Delivered                               time.Time
	PartsDone                               int // parts already deposited by a split SIP delivery
	// Node is the node that recorded it and whose disk holds the file;
	// "" for a recording made before nodes were told apart.
	Node string
}

const recordingColumns = `id, room, owner, language, target, path, started, ended, samples, bytes,
	state, attempts, next_attempt, last_error, delivered, parts_done, node`

func scanRecording(row interface{ Scan(...any) error }) (Recording, error) {
	var r Recording
	var started, ended, next, delivered string
	err := row.Scan(&r.ID, &r.Room, &r.Owner, &r.Language, &r.Target, &r.Path, &started, &ended,
		&r.Samples, &r.Bytes, &r.State, &r.Attempts, &next, &r.LastError, &delivered, &r.PartsDone, &r.Node)
	if err != nil {
		return r, err
	}
	r.Started, r.Ended, r.NextAttempt, r.Delivered = parseTime(started), parseTime(ended), parseTime(next), parseTime(delivered)
	return r, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// CreateRecording adds a recording in state RecordingActive. It is called
// before the file is created.
func (db *DB) CreateRecording(r Recording) error {
	_, err := db.sql.ExecContext(context.Background(), `INSERT INTO recordings
		(id, room, owner, language, target, path, started, state, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Room, r.Owner, r.Language, r.Target, r.Path, formatTime(r.Started), RecordingActive, r.Node)
	if err != nil {
		return db.failed(fmt.Errorf("store: recording %s: %w", r.ID, err))
	}
	return nil
}

// FinishRecording records the end of a recording and queues its delivery
// at once, or marks it undeliverable when it has no target.
func (db *DB) FinishRecording(id string, ended time.Time, samples, bytes int64) error {
	res, err := db.sql.ExecContext(context.Background(), `UPDATE recordings SET
		ended = ?, samples = ?, bytes = ?, next_attempt = ?,
		state = CASE WHEN target = '' THEN ? ELSE ? END
		WHERE id = ? AND state = ?`,
		formatTime(ended), samples, bytes, formatTime(ended), RecordingUndelivered, RecordingPending, id, RecordingActive)
	return db.changed(res, err, id)
}

func (db *DB) changed(res sql.Result, err error, id string) error {
	if err != nil {
		return db.failed(fmt.Errorf("store: recording %s: %w", id, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: recording %s: %w", id, ErrNotFound)
	}
	return nil
}

// Recording returns one recording.
func (db *DB) Recording(id string) (Recording, error) {
	r, err := scanRecording(db.sql.QueryRowContext(context.Background(),
		`SELECT `+recordingColumns+` FROM recordings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: recording %s: %w", id, ErrNotFound)
	}
	return r, err
}

func (db *DB) recordings(where string, args ...any) ([]Recording, error) {
	rows, err := db.sql.QueryContext(context.Background(),
		`SELECT `+recordingColumns+` FROM recordings `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: recordings: %w", err)
	}
	defer rows.Close()
	var out []Recording
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, fmt.Errorf("store: recordings: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Recordings lists every recording, newest first.
func (db *DB) Recordings() ([]Recording, error) {
	return db.recordings(`ORDER BY started DESC, id`)
}

// onNode narrows a query of recordings to node's, or leaves it at all of
// them when node is "" (a single node, or a recordings folder every node
// reaches).
func onNode(where, node string, args ...any) (string, []any) {
	if node == "" {
		return where, args
	}
	return where + ` AND node = ?`, append(args, node)
}

// ActiveRecordings lists node's recordings still marked as being
// written ("": every node's): after a crash, the ones to repair.
func (db *DB) ActiveRecordings(node string) ([]Recording, error) {
	where, args := onNode(`WHERE state = ?`, node, RecordingActive)
	return db.recordings(where+` ORDER BY started`, args...)
}

// AdoptRecordings gives node the recordings made before nodes were told
// apart (node "") whose file it has, so that it repairs, delivers and
// expires them. It returns how many it adopted.
func (db *DB) AdoptRecordings(node string, have func(path string) bool) (int, error) {
	old, err := db.recordings(`WHERE node = '' AND state != ?`, RecordingExpired)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range old {
		if !have(r.Path) {
			continue
		}
		res, err := db.sql.ExecContext(context.Background(), `UPDATE recordings SET node = ? WHERE id = ? AND node = ''`, node, r.ID)
		if err != nil {
			return n, db.failed(fmt.Errorf("store: recording %s: %w", r.ID, err))
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n++
		}
	}
	return n, nil
}

// DueRecordings lists node's pending deliveries due at now ("": every
// node's), oldest due first. Another node may hold a claim on one; see
// ClaimRecording.
func (db *DB) DueRecordings(node string, now time.Time) ([]Recording, error) {
	where, args := onNode(`WHERE state = ? AND next_attempt <= ?`, node, RecordingPending, formatTime(now))
	return db.recordings(where+` ORDER BY next_attempt, id`, args...)
}

// NextDue is when node's next pending delivery is due ("": any node's);
// ok is false when none is pending.
func (db *DB) NextDue(node string) (at time.Time, ok bool, err error) {
	var s sql.NullString
	where, args := onNode(`WHERE state = ?`, node, RecordingPending)
	err = db.sql.QueryRowContext(context.Background(),
		`SELECT MIN(next_attempt) FROM recordings `+where, args...).Scan(&s)
	if err != nil || !s.Valid {
		return time.Time{}, false, err
	}
	return parseTime(s.String), true, nil
}

// ClaimRecording claims a pending delivery due at now for claimer, for
// lease by the database's clock, and returns its row as it is now. ok is
// false when it is not there to claim: delivered or retried later by
// another queue meanwhile, or claimed by one whose claim has not run out.
// Of queues claiming at once one wins, on either backend: the claim is
// one UPDATE whose condition is checked again on the row it locks.
func (db *DB) ClaimRecording(id, claimer string, lease time.Duration, now time.Time) (r Recording, ok bool, err error) {
	clock := db.clock()
	r, err = scanRecording(db.sql.QueryRowContext(context.Background(), `UPDATE recordings
		SET claimed_by = ?, claimed_until = `+clock+` + ?
		WHERE id = ? AND state = ? AND next_attempt <= ? AND (claimed_by = '' OR claimed_until <= `+clock+`)
		RETURNING `+recordingColumns,
		claimer, lease.Microseconds(), id, RecordingPending, formatTime(now)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, false, nil
	case err != nil:
		return r, false, db.failed(fmt.Errorf("store: recording %s: claim: %w", id, err))
	}
	return r, true, nil
}

// ReleaseRecording gives up claimer's claim on a recording without an
// attempt (a delivery cut short by shutdown), so it is due again at once.
func (db *DB) ReleaseRecording(id, claimer string) error {
	_, err := db.sql.ExecContext(context.Background(),
		`UPDATE recordings SET claimed_by = '', claimed_until = 0 WHERE id = ? AND claimed_by = ?`, id, claimer)
	return db.failed(err)
}

// ReleaseClaims gives up every claim of claimer: a node starting again
// has no delivery under way, whatever claims it held when it died.
func (db *DB) ReleaseClaims(claimer string) (int, error) {
	res, err := db.sql.ExecContext(context.Background(),
		`UPDATE recordings SET claimed_by = '', claimed_until = 0 WHERE claimed_by = ?`, claimer)
	if err != nil {
		return 0, db.failed(fmt.Errorf("store: recordings: %w", err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RecordingDelivered marks a delivery done.
func (db *DB) RecordingDelivered(id string, at time.Time) error {
	res, err := db.sql.ExecContext(context.Background(),
		`UPDATE recordings SET state = ?, delivered = ?, attempts = attempts + 1, last_error = '',
		claimed_by = '', claimed_until = 0 WHERE id = ?`,
		RecordingDelivered, formatTime(at), id)
	return db.changed(res, err, id)
}

// RecordingAttemptFailed counts a failed attempt: retried at next, or
// given up for good (state RecordingFailed) when giveUp.
func (db *DB) RecordingAttemptFailed(id, why string, next time.Time, giveUp bool) error {
	state := RecordingPending
	if giveUp {
		state = RecordingFailed
	}
	res, err := db.sql.ExecContext(context.Background(),
		`UPDATE recordings SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt = ?,
		claimed_by = '', claimed_until = 0 WHERE id = ?`,
		state, why, formatTime(next), id)
	return db.changed(res, err, id)
}

// RetryRecording queues a recording again (failed, undeliverable, pending
// or delivered), due at once, with a new target when target is not empty.
func (db *DB) RetryRecording(id, target string, now time.Time) error {
	res, err := db.sql.ExecContext(context.Background(),
		`UPDATE recordings SET parts_done = CASE WHEN state = 'delivered' THEN 0 ELSE parts_done END,
		attempts = 0, state = ?, next_attempt = ?, target = CASE WHEN ? = '' THEN target ELSE ? END
		WHERE id = ? AND state IN (?, ?, ?, ?) AND (target != '' OR ? != '')`,
		RecordingPending, formatTime(now), target, target, id, RecordingFailed, RecordingUndelivered, RecordingPending, RecordingDelivered, target)
	return db.changed(res, err, id)
}

// SetRecordingParts records how many parts of a split delivery are in the
// mailbox, so a retry goes on from the next.
func (db *DB) SetRecordingParts(id string, done int) error {
	res, err := db.sql.ExecContext(context.Background(),
		`UPDATE recordings SET parts_done = ? WHERE id = ?`, done, id)
	return db.changed(res, err, id)
}

// ExpiredRecordings lists node's delivered recordings ("": every
// node's) whose delivery is older than before: their files may go.
func (db *DB) ExpiredRecordings(node string, before time.Time) ([]Recording, error) {
	where, args := onNode(`WHERE state = ? AND delivered < ?`, node, RecordingDelivered, formatTime(before))
	return db.recordings(where+` ORDER BY delivered`, args...)
}

// RecordingExpired marks a recording whose file has been removed.
func (db *DB) RecordingExpired(id string) error {
	res, err := db.sql.ExecContext(context.Background(),
		`UPDATE recordings SET state = ? WHERE id = ?`, RecordingExpired, id)
	return db.changed(res, err, id)
}

// DeleteRecording removes a recording's row. The caller removes the file
// first, so a crash between the two leaves a row without a file (reported)
// rather than a file nobody knows of.
func (db *DB) DeleteRecording(id string) error {
	res, err := db.sql.ExecContext(context.Background(), `DELETE FROM recordings WHERE id = ?`, id)
	return db.changed(res, err, id)
}
