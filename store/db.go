package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"brygga/config"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" with database/sql
	_ "modernc.org/sqlite"             // pure Go: no cgo, so the bridge stays one static binary
)

// DB is brygga's database: the directory of rooms, meetings booked by
// invites and the recordings' delivery queue. It is an embedded SQLite
// file, or PostgreSQL for nodes that share one. It is safe for concurrent
// use.
type DB struct {
	sql  *conn  // its dialect says which backend
	name string // the file, or the URL without its password, for messages

	tightened []Tightened // what Open narrowed; see Tightened

	onError atomic.Pointer[func(error)] // OnError's function
}

// OnError sets f to be told of every write the store could not make (a
// recording's row during a call or a delivery; not an unknown ID). It is
// for counting: the caller of the failed write logs it with its context.
// f must not block.
func (db *DB) OnError(f func(error)) {
	if f == nil {
		db.onError.Store(nil)
		return
	}
	db.onError.Store(&f)
}

// failed passes err, if any, to the OnError function and returns it.
func (db *DB) failed(err error) error {
	if err != nil {
		if f := db.onError.Load(); f != nil {
			(*f)(err)
		}
	}
	return err
}

// migrations are applied in order, each once; schema_version holds how
// many have run. Append only: a database in the field has run the old ones
// and will never run an edited one again. Each is written once for both
// backends, as SQLite runs it; dialect.ddl says what PostgreSQL gets
// instead ({flag} is a boolean column). Times are TEXT on both, UTC in
// fixed-width or RFC 3339 form, so one set of statements compares and
// reads them alike.
var migrations = []string{
	1: `
CREATE TABLE rooms (
	extension     TEXT PRIMARY KEY NOT NULL,
	name          TEXT NOT NULL DEFAULT '',
	email         TEXT NOT NULL DEFAULT '',
	voicemail     TEXT NOT NULL DEFAULT '',
	pin_hash      TEXT NOT NULL DEFAULT '',
	host_pin_hash TEXT NOT NULL DEFAULT '',
	sensitive     {flag},
	settings      TEXT NOT NULL,
	created       TEXT NOT NULL,
	updated       TEXT NOT NULL
) WITHOUT ROWID;
-- Extensions the config file's directory has seeded once, so that a room
-- an operator deleted through the API does not come back on the next
-- start just because the file still lists it.
CREATE TABLE seeded (
	extension TEXT PRIMARY KEY NOT NULL,
	at        TEXT NOT NULL
) WITHOUT ROWID;
`,
	2: `
-- One row per meeting recording, from its first frame until its file is
-- removed: the row is written before the file is created, so every file
-- on disk has a row and a crash can be repaired from the rows alone.
CREATE TABLE recordings (
	id           TEXT PRIMARY KEY NOT NULL,
	room         TEXT NOT NULL,
	owner        TEXT NOT NULL DEFAULT '',
	language     TEXT NOT NULL DEFAULT '',
	target       TEXT NOT NULL DEFAULT '',
	path         TEXT NOT NULL,
	started      TEXT NOT NULL,
	ended        TEXT NOT NULL DEFAULT '',
	samples      INTEGER NOT NULL DEFAULT 0,
	bytes        INTEGER NOT NULL DEFAULT 0,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt TEXT NOT NULL DEFAULT '',
	last_error   TEXT NOT NULL DEFAULT '',
	delivered    TEXT NOT NULL DEFAULT '',
	parts_done   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX recordings_due ON recordings (state, next_attempt);
`,
	3: `
-- One row per meeting booked by an invite (its UID), kept after it is
-- cancelled so that a late or repeated invite for the same UID is judged
-- by SEQUENCE and DTSTAMP. pin is the meeting's PIN in plain text, not a
-- hash: it is mailed to the organizer in every reply, also after each
-- update, so brygga must be able to read it back.
CREATE TABLE schedules (
	id             TEXT PRIMARY KEY NOT NULL,
	uid            TEXT NOT NULL UNIQUE,
	room           TEXT NOT NULL,
	organizer      TEXT NOT NULL DEFAULT '',
	organizer_name TEXT NOT NULL DEFAULT '',
	summary        TEXT NOT NULL DEFAULT '',
	sequence       INTEGER NOT NULL DEFAULT 0,
	stamp          TEXT NOT NULL DEFAULT '',
	zone           TEXT NOT NULL DEFAULT 'UTC',
	pin            TEXT NOT NULL DEFAULT '',
	record         {flag},
	sensitive      {flag},
	state          TEXT NOT NULL,
	created        TEXT NOT NULL,
	updated        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX schedules_room ON schedules (room, state);
-- A schedule's occurrences. occurrence is the original start (the
-- RECURRENCE-ID) and start_at, end_at the times as moved; all three are
-- UTC in a fixed-width form, so that text order is time order.
CREATE TABLE occurrences (
	schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
	occurrence  TEXT NOT NULL,
	start_at    TEXT NOT NULL,
	end_at      TEXT NOT NULL,
	cancelled   {flag},
	PRIMARY KEY (schedule_id, occurrence)
) WITHOUT ROWID;
CREATE INDEX occurrences_time ON occurrences (start_at, end_at);
`,
	4: `
-- Who may send invites for a room's owner: a JSON list of addresses.
ALTER TABLE rooms ADD COLUMN delegates TEXT NOT NULL DEFAULT '[]';
`,
	5: `
-- Meeting PINs are stored as pin.Hash from here on, like the rooms' PINs;
-- hashMeetingPINs (Go, in the same transaction) hashes the plain ones.
-- The clear PIN exists only when a meeting is booked and mailed.
`,
	6: `
-- Nodes of a cluster (several bridges sharing one PostgreSQL) and which
-- node mixes each live room. Times are the database's clock, never a
-- node's, so nodes' clock skew does not matter; only a cluster uses these
-- tables, and a cluster is on PostgreSQL only (SQLite gets them as well,
-- empty: TIMESTAMPTZ is a name like any other to it).
CREATE TABLE cluster_nodes (
	node_id   TEXT PRIMARY KEY NOT NULL,
	advertise TEXT NOT NULL,
	heartbeat TIMESTAMPTZ NOT NULL
) WITHOUT ROWID;
-- A room's lease: node_id mixes it until expires unless it renews.
CREATE TABLE room_leases (
	room    TEXT PRIMARY KEY NOT NULL,
	node_id TEXT NOT NULL,
	expires TIMESTAMPTZ NOT NULL
) WITHOUT ROWID;
CREATE INDEX room_leases_node ON room_leases (node_id);
`,
	7: `
-- Several nodes on one PostgreSQL. A recording's file is on the disk of
-- the node that recorded it (node; '' for rows from before nodes, which
-- the first node that finds the file adopts), and only that node repairs,
-- delivers and expires it. A delivery attempt claims its row first:
-- claimed_by and claimed_until (microseconds since 1970 by the
-- database's clock, not a node's) keep a second queue off it, and a claim
-- left by a node that died runs out.
ALTER TABLE recordings ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
-- PIN lockouts shared by the nodes (pin.Tallies): recent wrong PINs per
-- source or room, and the locks in force. Times are microseconds since
-- 1970 by the database's clock, so a window is the same on every node.
CREATE TABLE pin_failures (
	scope TEXT NOT NULL,
	key   TEXT NOT NULL,
	at    INTEGER NOT NULL
);
CREATE INDEX pin_failures_key ON pin_failures (scope, key, at);
CREATE INDEX pin_failures_at ON pin_failures (at);
CREATE TABLE pin_locks (
	scope    TEXT NOT NULL,
	key      TEXT NOT NULL,
	failures INTEGER NOT NULL,
	until    INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX pin_locks_until ON pin_locks (until);
`,
	8: `
-- Where the other nodes reach a node's admin API (a base URL such as
-- http://10.0.0.1:8080), for one admin view across the cluster: lists
-- gathered from every node, actions sent on to the room's node.
ALTER TABLE cluster_nodes ADD COLUMN api TEXT NOT NULL DEFAULT '';
-- The event stream of every node (events.Log): id numbers them for
-- all nodes in the order they became visible and never starts again;
-- at (microseconds since 1970, the database's clock) is for trimming;
-- body is the event as JSON without its id. Only a cluster writes here.
CREATE TABLE events (
	id   {serial},
	at   INTEGER NOT NULL,
	body TEXT NOT NULL
);
CREATE INDEX events_at ON events (at);
`,
	9: `
-- What a live meeting must keep when its node dies and another takes the
-- room over: the end of its time limit (absolute, RFC 3339 UTC), the
-- lock, lecture mode and recording flag, the scheduled meeting it runs
-- (its ID, or ''), and its callers (JSON: [{"id": caller ID, "host":
-- bool}]) who may come back into a locked room. updated is microseconds
-- since 1970 by the database's clock: the node refreshes it while the
-- room lives, and a row older than the takeover window is stale (the
-- room emptied long ago, or its node died long ago). A room that ends on
-- its node deletes its row.
CREATE TABLE room_states (
	room      TEXT PRIMARY KEY NOT NULL,
	ends_at   TEXT NOT NULL DEFAULT '',
	locked    {flag},
	lecture   {flag},
	recording {flag},
	meeting   TEXT NOT NULL DEFAULT '',
	callers   TEXT NOT NULL DEFAULT '[]',
	updated   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX room_states_updated ON room_states (updated);
`,
}

// migrationCode is work a migration does in Go after its SQL, in the same
// transaction: what SQL cannot compute.
var migrationCode = map[int]func(context.Context, *txn) error{
	5: hashMeetingPINs,
}

// Open opens the database at location, creates what is missing and
// brings its schema up to date. location is what store.url accepts (a
// postgres:// or postgresql:// URL, or sqlite:PATH) or the path of a
// SQLite file; the file and its folder are created when missing. A
// database that is not brygga's, or one written by a newer brygga, is an
// error naming it.
func Open(location string) (*DB, error) {
	path, postgres, err := location, "", error(nil)
	if strings.HasPrefix(location, "sqlite:") || strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://") {
		path, postgres, err = config.StoreLocation(location)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("store: %w", err)
	case postgres != "":
		return openPostgres(postgres)
	case path == "":
		return nil, errors.New("store: no database named")
	}
	return openSQLite(path)
}

func openSQLite(path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	tightened, err := private(abs)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// A file: URI so that '?' or '#' in a folder name stay part of the
	// path; the _pragma parameters are read by the driver on every new
	// connection. WAL lets readers run beside the one writer.
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	s, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	// SQLite has one writer at a time anyway; one connection turns what
	// would be SQLITE_BUSY between our own connections into queueing.
	s.SetMaxOpenConns(1)
	db := &DB{sql: newConn(s, dialectSQLite), name: path, tightened: tightened}
	if err := db.migrate(); err != nil {
		s.Close()
		return nil, err
	}
	return db, nil
}

// private readies the folder and file of the database at abs for Open: the
// folder made or narrowed to DirMode, the database made empty with
// FileMode when missing (SQLite would make it 0644 less the umask), and an
// existing database and its -wal and -shm files narrowed to FileMode.
// SQLite gives the -wal and -shm files it creates the database's mode.
func private(abs string) ([]Tightened, error) {
	var out []Tightened
	t, err := PrivateDir(filepath.Dir(abs))
	if err != nil {
		return nil, err
	}
	if t != nil {
		out = append(out, *t)
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|os.O_CREATE, FileMode)
	if err != nil {
		return nil, err
	}
	f.Close()
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		t, err := PrivateFile(p)
		if err != nil {
			return nil, err
		}
		if t != nil {
			out = append(out, *t)
		}
	}
	return out, nil
}

// Tightened lists the folder and files whose permissions Open narrowed
// because group or others could reach them, for the caller to log.
func (db *DB) Tightened() []Tightened { return db.tightened }

// Name is the database's file, or its URL without the password.
func (db *DB) Name() string { return db.name }

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Ping reports whether the database answers a query, for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	var v int
	if err := db.sql.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("store: %s: %w", db.name, err)
	}
	return nil
}

func (db *DB) migrate() error {
	ctx := context.Background()
	for {
		done, err := db.step(ctx)
		if err != nil || done {
			return err
		}
	}
}

// lockKey names a PostgreSQL advisory lock: the one-key lock class when
// name is "", else the two-key lock (class, hashtext(name)). The two forms
// never meet, so a one-key lock and a class of named ones may share a
// number.
type lockKey struct {
	class int64
	name  string
}

// migrationLock is the advisory lock that migrations hold, so that of
// several nodes starting at once one migrates and the others wait and
// then find the work done.
var migrationLock = lockKey{class: 0x6272796767610001} // "brygga" and 1

// begin starts a transaction which, on a shared database and with lock
// set, first takes that advisory lock, held until commit or rollback. It
// is a statement of its own: a statement reads what was committed when it
// began, so the reads after it see what the lock's last holder wrote.
// SQLite needs none: its one connection runs one transaction at a time.
func (db *DB) begin(ctx context.Context, lock *lockKey) (*txn, error) {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil || lock == nil || !db.Shared() {
		return tx, err
	}
	if lock.name == "" {
		_, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, lock.class)
	} else {
		_, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(CAST(? AS INTEGER), hashtext(?))`, lock.class, lock.name)
	}
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// inTx runs f in a transaction begun as begin does and commits it when f
// returns nil.
func (db *DB) inTx(ctx context.Context, lock *lockKey, f func(tx *txn) error) error {
	tx, err := db.begin(ctx, lock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// step applies the next migration, if one is due, and records it in the
// same transaction, so a crash leaves either both or neither. done says
// the schema is up to date.
func (db *DB) step(ctx context.Context) (done bool, err error) {
	// The lock is taken before the version is read.
	tx, err := db.begin(ctx, &migrationLock)
	if err != nil {
		return false, db.openError(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return false, db.openError(err)
	}
	var have int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&have)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, db.openError(err)
	}
	want := len(migrations) - 1
	if have > want {
		return false, fmt.Errorf("store: %s has schema version %d; this brygga knows up to %d (a newer brygga wrote it)", db.name, have, want)
	}
	if have == want {
		return true, tx.Commit()
	}
	if err := db.apply(ctx, tx, have+1); err != nil {
		return false, fmt.Errorf("store: %s: migration %d: %w", db.name, have+1, err)
	}
	return false, nil
}

func (db *DB) apply(ctx context.Context, tx *txn, v int) error {
	if _, err := tx.ExecContext(ctx, db.sql.d.ddl(migrations[v])); err != nil {
		return err
	}
	if code := migrationCode[v]; code != nil {
		if err := code(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v); err != nil {
		return err
	}
	return tx.Commit()
}

// openError turns SQLite's "file is not a database (26)" into a message
// an operator can act on; the first statement is where it shows.
func (db *DB) openError(err error) error {
	if strings.Contains(err.Error(), "not a database") {
		return fmt.Errorf("store: %s is not a SQLite database (damaged, or not brygga's): %w", db.name, err)
	}
	return fmt.Errorf("store: %s: %w", db.name, err)
}

// now is the timestamp written to created and updated columns: UTC text,
// which sorts and reads well in the sqlite3 shell.
func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }
