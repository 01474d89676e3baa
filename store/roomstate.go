package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RoomState is what a live meeting keeps in the database so that the node
// that takes its room over after a crash goes on with it: the same end,
// the same lock, lecture mode and recording, and its callers known again.
type RoomState struct {
	Room      string
	EndsAt    time.Time // zero: no time limit running
	Locked    bool
	Lecture   bool
	Recording bool
	Meeting   string       // the scheduled meeting's ID, or ""
	Callers   []RoomCaller // who was in the meeting
}

// RoomCaller is one caller of a meeting as a redialling phone shows itself
// again: its caller ID (the From user), and whether it was a host.
type RoomCaller struct {
	ID   string `json:"id"`
	Host bool   `json:"host,omitempty"`
}

// SaveRoomState writes a live room's state, replacing the one before, and
// marks it fresh by the database's clock.
func (db *DB) SaveRoomState(ctx context.Context, st RoomState) error {
	callers, err := jsonList(st.Callers)
	if err != nil {
		return err
	}
	_, err = db.sql.ExecContext(ctx, `INSERT INTO room_states (room, ends_at, locked, lecture, recording, meeting, callers, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, `+db.clock()+`)
		ON CONFLICT (room) DO UPDATE SET ends_at = excluded.ends_at, locked = excluded.locked,
			lecture = excluded.lecture, recording = excluded.recording, meeting = excluded.meeting,
			callers = excluded.callers, updated = excluded.updated`,
		st.Room, formatTime(st.EndsAt), st.Locked, st.Lecture, st.Recording, st.Meeting, callers)
	if err != nil {
		return db.failed(fmt.Errorf("store: room state %s: %w", st.Room, err))
	}
	return nil
}

// LoadRoomState reads the state a room left, if it was refreshed within
// the last within; older state is stale and reported as none.
func (db *DB) LoadRoomState(ctx context.Context, room string, within time.Duration) (RoomState, bool, error) {
	st := RoomState{Room: room}
	var ends, callers string
	err := db.sql.QueryRowContext(ctx, `SELECT ends_at, locked, lecture, recording, meeting, callers FROM room_states
		WHERE room = ? AND updated > `+db.clock()+` - ?`, room, within.Microseconds()).
		Scan(&ends, &st.Locked, &st.Lecture, &st.Recording, &st.Meeting, &callers)
	if errors.Is(err, sql.ErrNoRows) {
		return RoomState{}, false, nil
	}
	if err != nil {
		return RoomState{}, false, fmt.Errorf("store: room state %s: %w", room, err)
	}
	if ends != "" {
		if st.EndsAt, err = time.Parse(time.RFC3339Nano, ends); err != nil {
			return RoomState{}, false, fmt.Errorf("store: room state %s: ends_at: %w", room, err)
		}
	}
	if err := json.Unmarshal([]byte(callers), &st.Callers); err != nil {
		return RoomState{}, false, fmt.Errorf("store: room state %s: callers: %w", room, err)
	}
	return st, true, nil
}

// ForgetRoomState deletes a room's state, when its meeting has ended on
// its node, and every state older than within, left by rooms whose nodes
// died: nobody will take those over any more.
func (db *DB) ForgetRoomState(ctx context.Context, room string, within time.Duration) error {
	_, err := db.sql.ExecContext(ctx, `DELETE FROM room_states WHERE room = ? OR updated <= `+db.clock()+` - ?`,
		room, within.Microseconds())
	if err != nil {
		return db.failed(fmt.Errorf("store: room state %s: %w", room, err))
	}
	return nil
}
