package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"brygga/pin"
)

// PINTallies keeps the PIN lockout's counts and locks in the database
// (pin.Tallies), so that the nodes sharing it lock a guesser out at the
// count one node would, wherever its tries land. Windows and locks are
// measured by the database's clock.
//
// Per key, failures and lifts are serialized by a PostgreSQL advisory
// lock (on SQLite the single connection does that), so of several nodes
// counting the threshold'th failure at once exactly one starts the lock.
type PINTallies struct {
	db *DB
}

// PINTallies returns the database's PIN lockout tallies.
func (db *DB) PINTallies() *PINTallies { return &PINTallies{db: db} }

// pinLockClass is the class of the advisory locks on PIN lockout keys,
// each named by its scope and key.
const pinLockClass = 0x62720002

// keyed runs f in a transaction holding the lock of scope's key. f gets
// the database's time now in microseconds, the key's lock's end (0 for
// none) and its failures within window before now.
func (t *PINTallies) keyed(scope, key string, window time.Duration, f func(tx *txn, now, until int64, failures int) error) error {
	ctx := context.Background()
	return t.db.inTx(ctx, &lockKey{class: pinLockClass, name: scope + "/" + key}, func(tx *txn) error {
		var now, until int64
		var failures int
		err := tx.QueryRowContext(ctx, `SELECT c.now,
		COALESCE((SELECT until FROM pin_locks WHERE scope = ? AND key = ?), 0),
		(SELECT COUNT(*) FROM pin_failures WHERE scope = ? AND key = ? AND at > c.now - ?)
		FROM (SELECT `+t.db.clock()+` AS now) AS c`, scope, key, scope, key, window.Microseconds()).Scan(&now, &until, &failures)
		if err != nil {
			return err
		}
		return f(tx, now, until, failures)
	})
}

// Locked implements pin.Tallies: one indexed read, made for every PIN try.
func (t *PINTallies) Locked(source, room string) (bool, error) {
	var n int
	err := t.db.sql.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM pin_locks
		WHERE ((scope = ? AND key = ?) OR (scope = ? AND key = ?)) AND until > `+t.db.clock(),
		pin.ScopeSource, source, pin.ScopeRoom, room).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: pin locks: %w", err)
	}
	return n > 0, nil
}

// Fail implements pin.Tallies. Failures past the window are left to the
// sweep and not counted.
func (t *PINTallies) Fail(scope, key string, threshold int, window, lock time.Duration) (int, bool, error) {
	var (
		n      int
		locked bool
	)
	ctx := context.Background()
	err := t.keyed(scope, key, window, func(tx *txn, now, until int64, failures int) error {
		if until > now {
			return nil // tries are refused, not counted, while locked
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pin_failures (scope, key, at) VALUES (?, ?, ?)`, scope, key, now); err != nil {
			return err
		}
		if n = failures + 1; n < threshold {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pin_failures WHERE scope = ? AND key = ?`, scope, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO pin_locks (scope, key, failures, until) VALUES (?, ?, ?, ?)
			ON CONFLICT (scope, key) DO UPDATE SET failures = excluded.failures, until = excluded.until`,
			scope, key, n, now+lock.Microseconds())
		locked = err == nil
		return err
	})
	if err != nil {
		return 0, false, t.db.failed(fmt.Errorf("store: pin failure: %w", err))
	}
	t.sweep(window)
	if locked {
		return n, true, nil
	}
	return 0, false, nil
}

// sweep deletes failures past window and locks that are over, of keys not
// seen since, so the tables hold no more than the failures of one window
// and the locks in force. It runs after every failure: wrong PINs are
// rare, and the indexes on the times make it a short range scan. On
// PostgreSQL it skips rows another transaction holds
// rather than wait for them, so it never waits in a cycle with one.
func (t *PINTallies) sweep(window time.Duration) {
	clock := t.db.clock()
	ctx := context.Background()
	if t.db.Shared() {
		// One round trip; by ctid, since a semi-join on the columns
		// would scan the table.
		_, err := t.db.sql.ExecContext(ctx, `WITH f AS (DELETE FROM pin_failures WHERE ctid = ANY (ARRAY (
				SELECT ctid FROM pin_failures WHERE at <= `+clock+` - ? FOR UPDATE SKIP LOCKED)))
			DELETE FROM pin_locks WHERE ctid = ANY (ARRAY (
				SELECT ctid FROM pin_locks WHERE until <= `+clock+` FOR UPDATE SKIP LOCKED))`, window.Microseconds())
		t.db.failed(err)
		return
	}
	_, err1 := t.db.sql.ExecContext(ctx, `DELETE FROM pin_failures WHERE at <= `+clock+` - ?`, window.Microseconds())
	_, err2 := t.db.sql.ExecContext(ctx, `DELETE FROM pin_locks WHERE until <= `+clock)
	t.db.failed(errors.Join(err1, err2))
}

// Forget implements pin.Tallies. It is called after every right PIN, so
// it only writes when the source has failures to forget.
func (t *PINTallies) Forget(source string) error {
	var some bool
	ctx := context.Background()
	err := t.db.sql.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pin_failures WHERE scope = ? AND key = ?)`,
		pin.ScopeSource, source).Scan(&some)
	if err == nil && some {
		err = t.keyed(pin.ScopeSource, source, 0, func(tx *txn, _, _ int64, _ int) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM pin_failures WHERE scope = ? AND key = ?`, pin.ScopeSource, source)
			return err
		})
	}
	if err != nil {
		return t.db.failed(fmt.Errorf("store: pin failures: %w", err))
	}
	return nil
}

// Locks implements pin.Tallies.
func (t *PINTallies) Locks() ([]pin.Lock, error) {
	rows, err := t.db.sql.QueryContext(context.Background(),
		`SELECT scope, key, failures, until FROM pin_locks WHERE until > `+t.db.clock())
	if err != nil {
		return nil, fmt.Errorf("store: pin locks: %w", err)
	}
	defer rows.Close()
	var out []pin.Lock
	for rows.Next() {
		var l pin.Lock
		var until int64
		if err := rows.Scan(&l.Scope, &l.Key, &l.Failures, &until); err != nil {
			return nil, fmt.Errorf("store: pin locks: %w", err)
		}
		l.Until = time.UnixMicro(until)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Lift implements pin.Tallies.
func (t *PINTallies) Lift(scope, key string) (bool, error) {
	lifted := false
	ctx := context.Background()
	err := t.keyed(scope, key, 0, func(tx *txn, now, until int64, _ int) error {
		if until <= now {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pin_locks WHERE scope = ? AND key = ?`, scope, key); err != nil {
			return err
		}
		lifted = true
		_, err := tx.ExecContext(ctx, `DELETE FROM pin_failures WHERE scope = ? AND key = ?`, scope, key)
		return err
	})
	if err != nil {
		return false, t.db.failed(fmt.Errorf("store: pin lock: %w", err))
	}
	return lifted, nil
}
