package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"brygga/events"
)

// The nodes' shared event stream (events.Log): every node appends its
// events and reads everyone's, woken by NOTIFY.

// eventsLock is the key of the advisory lock an append holds until it
// commits: ids are taken and made visible one append after another, so a
// node that has read up to an id never finds a lower one later.
var eventsLock = lockKey{class: 0x6272796767610002} // "brygga" and 2

// eventsChannel is the NOTIFY channel of new events.
const eventsChannel = "brygga_events"

// AppendEvents stores es in order, numbered after every event stored
// before, and wakes the nodes listening.
func (db *DB) AppendEvents(ctx context.Context, es []events.Event) error {
	if !db.Shared() {
		return ErrNotShared
	}
	bodies := make([]string, 0, len(es))
	for _, e := range es {
		e.ID = 0
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("store: append event %s: %w", e.Type, err)
		}
		bodies = append(bodies, string(body))
	}
	err := db.inTx(ctx, &eventsLock, func(tx *txn) error {
		// One statement for the batch, the lock held for one round trip;
		// the ids are drawn as the rows come, in the batch's order.
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (at, body)
SELECT `+db.clock()+`, b FROM unnest(?::text[]) WITH ORDINALITY AS u(b, n) ORDER BY n`, bodies); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `SELECT pg_notify(?, '')`, eventsChannel)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: append events: %w", err)
	}
	return nil
}

// EventsAfter returns up to limit events with ids above after, by id.
func (db *DB) EventsAfter(ctx context.Context, after uint64, limit int) ([]events.Event, error) {
	if !db.Shared() {
		return nil, ErrNotShared
	}
	return db.readEvents(ctx, `SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?`, int64(after), limit)
}

// RecentEvents returns the newest n events by id, and the id of the
// newest event that is gone (trimmed, or before the n): a client that
// resumes after an id below it has missed events.
func (db *DB) RecentEvents(ctx context.Context, n int) ([]events.Event, uint64, error) {
	if !db.Shared() {
		return nil, 0, ErrNotShared
	}
	es, err := db.readEvents(ctx, `SELECT id, body FROM (SELECT id, body FROM events ORDER BY id DESC LIMIT ?) AS r ORDER BY id`, n)
	if err != nil {
		return nil, 0, err
	}
	if len(es) > 0 {
		return es, es[0].ID - 1, nil
	}
	// None kept: every id the sequence has given out is gone.
	var last int64
	var called bool
	if err := db.sql.QueryRowContext(ctx, `SELECT last_value, is_called FROM events_id_seq`).Scan(&last, &called); err != nil {
		return nil, 0, fmt.Errorf("store: events: %w", err)
	}
	if !called {
		last = 0
	}
	return nil, uint64(last), nil
}

func (db *DB) readEvents(ctx context.Context, q string, args ...any) ([]events.Event, error) {
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []events.Event
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		var e events.Event
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("store: event %d: %w", id, err)
		}
		e.ID = uint64(id)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}

// TrimEvents deletes the events older than keep, by the database's clock.
func (db *DB) TrimEvents(ctx context.Context, keep time.Duration) error {
	if !db.Shared() {
		return ErrNotShared
	}
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM events WHERE at < `+db.clock()+` - ?`, keep.Microseconds()); err != nil {
		return fmt.Errorf("store: trim events: %w", err)
	}
	return nil
}

// ListenEvents holds one of the pool's connections to LISTEN on it and
// calls wake for each notification of new events, until ctx ends or the
// connection fails (it is then dropped from the pool).
func (db *DB) ListenEvents(ctx context.Context, wake func()) error {
	if !db.Shared() {
		return ErrNotShared
	}
	c, err := db.sql.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: listen for events: %w", err)
	}
	defer c.Close()
	var failed error
	err = c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: listen for events: a %T is no pgx connection", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
			failed = err
			return driver.ErrBadConn
		}
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				if ctx.Err() == nil {
					failed = err
				}
				// Cancelling a wait leaves the connection in an unknown
				// state, and a failed one is no better: not back into
				// the pool with either.
				return driver.ErrBadConn
			}
			wake()
		}
	})
	if failed != nil {
		return fmt.Errorf("store: listen for events: %w", failed)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("store: listen for events: %w", err)
	}
	return err
}
