package store

import (
	"net"
	"strings"
	"sync"
	"testing"
)

// Placeholders become $n in order; a '?' in a literal, a quoted name or a
// comment is text, and an apostrophe in a comment opens no literal.
func TestRebind(t *testing.T) {
	cases := map[string]string{
		`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`:                 `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`,
		`SELECT '?', "?x" FROM t WHERE a = ? AND b LIKE 'it''s ?%'`:   `SELECT '?', "?x" FROM t WHERE a = $1 AND b LIKE 'it''s ?%'`,
		"-- the room's PIN?\nUPDATE t SET a = ? -- why?\nWHERE b = ?": "-- the room's PIN?\nUPDATE t SET a = $1 -- why?\nWHERE b = $2",
		`SELECT 1`:                                 `SELECT 1`,
		`SELECT 'unterminated ?`:                   `SELECT 'unterminated ?`,
		`SELECT ? -- to the end ?`:                 `SELECT $1 -- to the end ?`,
		`SELECT a - ? FROM t WHERE b -? > 0 AND ?`: `SELECT a - $1 FROM t WHERE b -$2 > 0 AND $3`,
	}
	for in, want := range cases {
		if got := dialectPostgres.rebind(in); got != want {
			t.Errorf("rebind(%q)\n = %q\nwant %q", in, got, want)
		}
		if got := dialectSQLite.rebind(in); got != in {
			t.Errorf("SQLite's rebind changed %q to %q", in, got)
		}
	}
}

// Nodes that start together on one new PostgreSQL database migrate it
// once between them: the advisory lock makes the others wait and then
// find the schema done, instead of failing on tables that appeared.
func TestOpenConcurrentMigratesOnce(t *testing.T) {
	for _, b := range backends {
		if b.dialect != dialectPostgres {
			continue // a SQLite file belongs to one node
		}
		t.Run(b.name, func(t *testing.T) {
			url := b.new(t)
			const nodes = 4
			var wg sync.WaitGroup
			errs := make([]error, nodes)
			dbs := make([]*DB, nodes)
			for i := range nodes {
				wg.Go(func() { dbs[i], errs[i] = Open(url) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("node %d: %v", i, err)
				}
				defer dbs[i].Close()
			}
			var rows, version int
			if err := dbs[0].sql.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&rows, &version); err != nil {
				t.Fatal(err)
			}
			if rows != 1 || version != len(migrations)-1 {
				t.Fatalf("schema_version: %d rows, version %d", rows, version)
			}
		})
	}
}

// A PostgreSQL server that cannot be reached stops Open with an error
// that names the database without its password.
func TestOpenPostgresUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: refused at once
	_, err = Open("postgres://brygga:hunter2-secret@" + addr + "/brygga?connect_timeout=5&sslmode=disable")
	if err == nil || !strings.Contains(err.Error(), "postgres://brygga:***@"+addr+"/brygga") ||
		strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open(unreachable) = %v", err)
	}
}
