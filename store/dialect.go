package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is the SQL a backend speaks. The store's statements are written
// once, in the common subset of SQLite and PostgreSQL with '?'
// placeholders; what differs is handled here and nowhere else.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// ddl expands a migration for the dialect. Migrations are written as
// SQLite runs them, byte for byte what older brygga versions ran, with
// {flag} for a boolean column and {serial} for a key numbered by the
// database. PostgreSQL gets real booleans (SQLite has
// none: TRUE and FALSE are 1 and 0 there, so the same statements serve
// both), BIGINT for INTEGER, whose 64 bits SQLite always gives, TEXT that
// compares byte by byte as SQLite's does whatever the database's locale
// (times are compared and sorted as text), and no WITHOUT ROWID, which
// only SQLite has.
func (d dialect) ddl(m string) string {
	if d == dialectPostgres {
		return pgDDL.Replace(m)
	}
	return sqliteDDL.Replace(m)
}

var (
	sqliteDDL = strings.NewReplacer("{flag}", "INTEGER NOT NULL DEFAULT 0", "{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT")
	pgDDL     = strings.NewReplacer("{flag}", "BOOLEAN NOT NULL DEFAULT FALSE", "{serial}", "BIGSERIAL PRIMARY KEY",
		"INTEGER", "BIGINT", "TEXT", `TEXT COLLATE "C"`, " WITHOUT ROWID", "")
)

// clock is an expression for the database's time in microseconds since
// 1970: what claims and PIN lockout windows are measured in, so that
// nodes whose clocks disagree still agree on them. On PostgreSQL it is
// the time the statement started, which is stable within it and so lets
// a comparison with it use an index; julianday has millisecond
// resolution, enough for leases and windows of seconds.
func (d dialect) clock() string {
	if d == dialectPostgres {
		return `CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000 AS BIGINT)`
	}
	return `CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)`
}

// clock is the database's clock expression (dialect.clock).
func (db *DB) clock() string { return db.sql.d.clock() }

// reboundQueries holds each statement as rebind rewrote it. The store's
// statements are a fixed set of strings (constants and fixed fragments;
// values always go in as arguments), so each is scanned once per process
// and not on every call.
var reboundQueries sync.Map // string → string

// rebind turns the '?' placeholders of q into PostgreSQL's $1, $2, …,
// leaving string literals, quoted names and comments alone.
func (d dialect) rebind(q string) string {
	if d != dialectPostgres || !strings.Contains(q, "?") {
		return q
	}
	if r, ok := reboundQueries.Load(q); ok {
		return r.(string)
	}
	r := numbered(q)
	reboundQueries.Store(q, r)
	return r
}

// numbered is rebind's rewriting, uncached.
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+1])
			i += end
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// runner is what *sql.DB and *sql.Tx have in common.
type runner interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// rebound is a runner seen through its dialect: every statement is
// rebound before it reaches the driver, so the rest of the store writes
// '?' for both backends.
type rebound struct {
	r runner
	d dialect
}

func (b rebound) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return b.r.ExecContext(ctx, b.d.rebind(q), args...)
}

func (b rebound) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return b.r.QueryContext(ctx, b.d.rebind(q), args...)
}

func (b rebound) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return b.r.QueryRowContext(ctx, b.d.rebind(q), args...)
}

// conn is the database seen through its dialect.
type conn struct {
	rebound
	db *sql.DB
}

func newConn(db *sql.DB, d dialect) *conn { return &conn{rebound{db, d}, db} }

func (c *conn) Exec(q string, args ...any) (sql.Result, error) {
	return c.ExecContext(context.Background(), q, args...)
}

func (c *conn) Query(q string, args ...any) (*sql.Rows, error) {
	return c.QueryContext(context.Background(), q, args...)
}

func (c *conn) QueryRow(q string, args ...any) *sql.Row {
	return c.QueryRowContext(context.Background(), q, args...)
}

func (c *conn) BeginTx(ctx context.Context, opts *sql.TxOptions) (*txn, error) {
	t, err := c.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{rebound{t, c.d}, t}, nil
}

func (c *conn) Close() error { return c.db.Close() }

// txn is a transaction seen through its dialect.
type txn struct {
	rebound
	t *sql.Tx
}

func (t *txn) Commit() error   { return t.t.Commit() }
func (t *txn) Rollback() error { return t.t.Rollback() }

// ErrExists is wrapped by an error for a write that would give a second
// row the key or unique value another row holds, on either backend.
var ErrExists = errors.New("already exists")

// exists wraps err with ErrExists when it is a unique or primary key
// violation, so callers need not know the backends' error codes.
func exists(err error) error {
	var se *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY),
		errors.As(err, &pe) && pe.Code == "23505": // unique_violation
		return existsError{err}
	}
	return err
}

// existsError reads as the driver's error and is also ErrExists.
type existsError struct{ err error }

func (e existsError) Error() string   { return e.err.Error() }
func (e existsError) Unwrap() []error { return []error{ErrExists, e.err} }
