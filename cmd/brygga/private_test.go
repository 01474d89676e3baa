package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"brygga/store"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// A first start makes the data folder 0700 and the database 0600.
func TestServeMakesDataPrivate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	startServe(t, "31300-31309", "--api", "127.0.0.1:0", "--data", data)
	if m := mode(t, data); m != 0o700 {
		t.Errorf("data folder %04o, want 0700", m)
	}
	for _, f := range []string{"brygga.db", "brygga.db-wal", "brygga.db-shm"} {
		if m := mode(t, filepath.Join(data, f)); m != 0o600 {
			t.Errorf("%s %04o, want 0600", f, m)
		}
	}
	if m := mode(t, filepath.Join(data, "recordings")); m != 0o700 {
		t.Errorf("recordings folder %04o, want 0700", m)
	}
}

// A data folder an older brygga left readable to others is narrowed at
// start, and each narrowing is logged.
func TestServeNarrowsLooseData(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	db, err := store.Open(filepath.Join(data, "brygga.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	loose := map[string]fs.FileMode{data: 0o755, filepath.Join(data, "brygga.db"): 0o644, filepath.Join(data, "recordings"): 0o750}
	os.Mkdir(filepath.Join(data, "recordings"), 0o750)
	for p, m := range loose {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	s := startServe(t, "31310-31319", "--api", "127.0.0.1:0", "--data", data)
	for p, was := range loose {
		want := fs.FileMode(0o600)
		if p == data || strings.HasSuffix(p, "recordings") {
			want = 0o700
		}
		if m := mode(t, p); m != want {
			t.Errorf("%s %04o after start, want %04o", p, m, want)
		}
		if !strings.Contains(s.errb.String(), fmt.Sprintf("path=%s was=%04o now=%04o", p, uint32(was), uint32(want))) {
			t.Errorf("no log line for %s:\n%s", p, s.errb.String())
		}
	}
}
