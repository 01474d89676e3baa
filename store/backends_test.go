package store

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"brygga/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backend is a kind of database the store runs on. Every store test runs
// on each, as subtests named after it.
type backend struct {
	name    string
	dialect dialect
	// new returns the location of a new, empty database for Open; the
	// test may open it again by the same location.
	new func(t *testing.T) string
	// raw opens location without the store, for tests that must write
	// what an older brygga would have left.
	raw func(location string) (*sql.DB, error)
}

var backends = []backend{
	{"sqlite", dialectSQLite,
		func(t *testing.T) string { return filepath.Join(t.TempDir(), "data", "brygga.db") },
		func(path string) (*sql.DB, error) { return sql.Open("sqlite", "file:"+path) }},
	{"postgres", dialectPostgres,
		func(t *testing.T) string { return pgtest.URL(t) },
		func(url string) (*sql.DB, error) { return sql.Open("pgx", url) }},
}

// eachBackend runs test once per backend.
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}
