package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"brygga/config"
	"brygga/pin"
)

func testConfig() *config.Config {
	cfg := config.Default()
	s := cfg.Defaults
	s.WarnMinutes = slices.Clone(s.WarnMinutes)
	cfg.Directory = []config.Room{
		{Extension: "4711", Name: "Kari Nordmann", PIN: "2468", HostPIN: "97531", Settings: s},
	}
	return cfg
}

func open(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newRooms(t *testing.T, db *DB, cfg *config.Config) *Rooms {
	t.Helper()
	r, err := NewRooms(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ptr(s string) *string { return &s }

// role is what entered makes a caller of ext, as the SIP layer would
// decide it from Room.
func role(t *testing.T, r *Rooms, ext, entered string) pin.Role {
	t.Helper()
	room, ok := r.Room(ext)
	if !ok {
		t.Fatalf("room %s missing", ext)
	}
	return pin.Check(pin.Secrets{PIN: room.PIN, HostPIN: room.HostPIN}, entered)
}

func TestOpenMigrateReopen(t *testing.T) { eachBackend(t, testOpenMigrateReopen) }

func testOpenMigrateReopen(t *testing.T, b backend) {
	path := b.new(t)
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := newRooms(t, db, config.Default())
	s := config.Default().Defaults
	s.WarnMinutes, s.EndWithHost, s.Lobby = []int{10, 2}, true, true
	room := config.Room{Extension: "100", Name: "Ola", Email: "ola@example.org", Delegates: []string{"kari@example.org"},
		Voicemail: "mailto:ola@example.org", Settings: s}
	if created, err := r.Put(room, PINChange{PIN: ptr("1357")}); err != nil || !created {
		t.Fatalf("Put: %v %v", created, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(context.Background()); err == nil {
		t.Fatal("Ping of a closed database succeeded; /readyz would lie")
	}

	db = open(t, path)
	var versions, version int
	if err := db.sql.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&versions, &version); err != nil {
		t.Fatal(err)
	}
	if versions != 1 || version != len(migrations)-1 {
		t.Fatalf("schema_version: %d rows, version %d", versions, version)
	}
	r = newRooms(t, db, config.Default())
	got, ok := r.Get("100")
	if !ok {
		t.Fatal("room 100 did not survive a reopen")
	}
	if got.Name != "Ola" || got.Email != room.Email || got.Voicemail != room.Voicemail || !slices.Equal(got.Delegates, room.Delegates) ||
		!slices.Equal(got.Settings.WarnMinutes, []int{10, 2}) || !got.Settings.EndWithHost || !got.Settings.Lobby {
		t.Fatalf("after reopen: %+v", got)
	}
	if role(t, r, "100", "1357") != pin.Participant {
		t.Fatal("PIN did not survive a reopen")
	}
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "brygga.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is not SQLite\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Fatalf("Open(garbage) = %v", err)
	}
}

func TestOpenNewerSchema(t *testing.T) { eachBackend(t, testOpenNewerSchema) }

func testOpenNewerSchema(t *testing.T, b backend) {
	path := b.new(t)
	db := open(t, path)
	if _, err := db.sql.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer brygga") {
		t.Fatalf("Open(schema 99) = %v", err)
	}
}

func TestSeed(t *testing.T) { eachBackend(t, testSeed) }

func testSeed(t *testing.T, b backend) {
	path := b.new(t)
	cfg := testConfig()
	db := open(t, path)
	r := newRooms(t, db, cfg)
	room, ok := r.Room("4711")
	if !ok || !pin.IsHash(room.PIN) || !pin.IsHash(room.HostPIN) {
		t.Fatalf("seeded room %+v: PINs must be stored hashed", room)
	}
	var stored string
	if err := db.sql.QueryRow(`SELECT pin_hash || host_pin_hash FROM rooms`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "2468") || strings.Contains(stored, "97531") {
		t.Fatal("a plain PIN reached the database")
	}
	if role(t, r, "4711", "97531") != pin.Host {
		t.Fatal("seeded host PIN does not work")
	}

	// The API renames the room and changes its PIN; the file still says
	// otherwise on the next start, and the API's word stands.
	changed, _ := r.Get("4711")
	changed.Name = "Kari N."
	if created, err := r.Put(changed, PINChange{PIN: ptr("8642")}); err != nil || created {
		t.Fatalf("Put: %v %v", created, err)
	}
	db.Close()
	cfg.Directory = append(cfg.Directory, config.Room{Extension: "4712", Name: "New", Settings: cfg.Defaults})
	db = open(t, path)
	r = newRooms(t, db, cfg)
	if got, _ := r.Get("4711"); got.Name != "Kari N." {
		t.Fatalf("seed overwrote the API's name: %q", got.Name)
	}
	if role(t, r, "4711", "2468") != pin.None || role(t, r, "4711", "8642") != pin.Participant {
		t.Fatal("seed overwrote the API's PIN")
	}
	if _, ok := r.Get("4712"); !ok {
		t.Fatal("a room added to the file later was not seeded")
	}

	// A room deleted through the API stays deleted though the file lists it.
	if ok, err := r.Delete("4711"); !ok || err != nil {
		t.Fatalf("Delete: %v %v", ok, err)
	}
	db.Close()
	r = newRooms(t, open(t, path), cfg)
	if _, ok := r.Get("4711"); ok {
		t.Fatal("a deleted room came back from the file on restart")
	}
}

func TestPINChangeAppliesAtOnce(t *testing.T) { eachBackend(t, testPINChangeAppliesAtOnce) }

func testPINChangeAppliesAtOnce(t *testing.T, b backend) {
	r := newRooms(t, open(t, b.new(t)), testConfig())
	if role(t, r, "4711", "2468") != pin.Participant {
		t.Fatal("seeded PIN does not work")
	}
	room, _ := r.Get("4711")
	if _, err := r.Put(room, PINChange{PIN: ptr("1122")}); err != nil {
		t.Fatal(err)
	}
	if got := role(t, r, "4711", "2468"); got != pin.None {
		t.Fatalf("old PIN still lets the next caller in as %v", got)
	}
	if role(t, r, "4711", "1122") != pin.Participant {
		t.Fatal("new PIN does not work for the next caller")
	}
	if role(t, r, "4711", "97531") != pin.Host {
		t.Fatal("a nil HostPIN change must keep the host PIN")
	}
	if _, err := r.Put(room, PINChange{HostPIN: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if p, h := r.HasPINs("4711"); !p || h {
		t.Fatalf("HasPINs after removing the host PIN = %v %v", p, h)
	}
	if role(t, r, "4711", "97531") != pin.None {
		t.Fatal("removed host PIN still works")
	}
}

func TestListGetDelete(t *testing.T) { eachBackend(t, testListGetDelete) }

func testListGetDelete(t *testing.T, b backend) {
	cfg := testConfig()
	r := newRooms(t, open(t, b.new(t)), cfg)
	for _, ext := range []string{"100", "99", "12345"} {
		if _, err := r.Put(config.Room{Extension: ext, Settings: cfg.Defaults}, PINChange{}); err != nil {
			t.Fatal(err)
		}
	}
	var exts []string
	for _, room := range r.List() {
		if room.PIN != "" || room.HostPIN != "" {
			t.Fatalf("List leaks PIN fields of %s", room.Extension)
		}
		exts = append(exts, room.Extension)
	}
	if want := []string{"99", "100", "4711", "12345"}; !slices.Equal(exts, want) {
		t.Fatalf("List order %v, want %v", exts, want)
	}
	got, ok := r.Get("4711")
	if !ok || got.PIN != "" || got.HostPIN != "" || got.Name != "Kari Nordmann" {
		t.Fatalf("Get = %+v %v", got, ok)
	}
	if p, h := r.HasPINs("4711"); !p || !h {
		t.Fatalf("HasPINs(4711) = %v %v", p, h)
	}
	if p, h := r.HasPINs("100"); p || h {
		t.Fatalf("HasPINs(100) = %v %v", p, h)
	}
	// What callers get are copies.
	got.Settings.WarnMinutes[0] = 42
	if again, _ := r.Room("4711"); again.Settings.WarnMinutes[0] == 42 {
		t.Fatal("Get shares the snapshot's WarnMinutes")
	}

	if ok, err := r.Delete("4711"); !ok || err != nil {
		t.Fatalf("Delete: %v %v", ok, err)
	}
	if ok, err := r.Delete("4711"); ok || err != nil {
		t.Fatalf("second Delete: %v %v", ok, err)
	}
	if _, ok := r.Get("4711"); ok {
		t.Fatal("Get finds a deleted room")
	}
	// The default open-rooms pattern still makes 4711 a room, without PIN.
	if room, ok := r.Room("4711"); !ok || room.PIN != "" || room.Name != "" {
		t.Fatalf("Room(4711) after delete = %+v %v, want the open room", room, ok)
	}
	if _, ok := r.Room("1"); ok {
		t.Fatal("Room(1): not in the directory nor the open-rooms pattern")
	}
	cfg.OpenRooms, cfg.OpenRoomsRE = "", nil
	r = newRooms(t, open(t, b.new(t)), cfg)
	r.Delete("4711")
	if _, ok := r.Room("4711"); ok {
		t.Fatal("open rooms are off; a deleted room must be gone")
	}
}

func TestPutInvalid(t *testing.T) { eachBackend(t, testPutInvalid) }

func testPutInvalid(t *testing.T, b backend) {
	cfg := testConfig()
	r := newRooms(t, open(t, b.new(t)), cfg)
	d := cfg.Defaults
	kari, _ := r.Get("4711")
	sensitive := kari
	sensitive.Sensitive = true
	recorded := sensitive
	recorded.Settings.Record = true
	longWarn := kari
	longWarn.Settings.WarnMinutes = []int{5, 90}
	cases := []struct {
		room config.Room
		pins PINChange
		key  string // "" when not a *config.Error
	}{
		{config.Room{Extension: "47a1", Settings: d}, PINChange{}, "extension"},
		{config.Room{Extension: "", Settings: d}, PINChange{}, "extension"},
		{config.Room{Extension: "200", Email: "nobody", Settings: d}, PINChange{}, "email"},
		{config.Room{Extension: "200", Settings: d}, PINChange{PIN: ptr("12")}, "pin"},
		{config.Room{Extension: "200", Settings: d}, PINChange{HostPIN: ptr("12 34")}, "host_pin"},
		{config.Room{Extension: "200", Settings: d}, PINChange{PIN: ptr("1234"), HostPIN: ptr("1234")}, "host_pin"},
		{config.Room{Extension: "200", Sensitive: true, Settings: d}, PINChange{}, "pin"},
		{config.Room{Extension: "200", Settings: config.RoomSettings{Language: "de"}}, PINChange{}, "language"},
		// A new host PIN equal to the kept, hashed participant PIN.
		{kari, PINChange{HostPIN: ptr("2468")}, "host_pin"},
		{kari, PINChange{PIN: ptr("97531")}, "host_pin"},
		// A hash is not a PIN a caller could type, however it got here.
		{kari, PINChange{PIN: ptr(pin.Hash("1234"))}, "pin"},
		{sensitive, PINChange{PIN: ptr("")}, "pin"},
		{recorded, PINChange{}, "record"},
		{longWarn, PINChange{}, "warn_minutes[1]"},
		{config.Room{Extension: "200", PIN: "1234", Settings: d}, PINChange{}, ""},
	}
	for i, c := range cases {
		_, err := r.Put(c.room, c.pins)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: %v does not wrap ErrInvalid", i, err)
			continue
		}
		var ce *config.Error
		if got := errors.As(err, &ce); got != (c.key != "") || got && ce.Key != c.key {
			t.Errorf("case %d: %v, want key %q", i, err, c.key)
		} else if got && err.Error() != ce.Error() {
			t.Errorf("case %d: %q should read as the config error %q", i, err, ce)
		}
	}
	if _, ok := r.Get("200"); ok {
		t.Fatal("an invalid Put created a room")
	}
	if role(t, r, "4711", "2468") != pin.Participant || role(t, r, "4711", "97531") != pin.Host {
		t.Fatal("an invalid Put changed a PIN")
	}
	if got, _ := r.Get("4711"); got.Sensitive || !slices.Equal(got.Settings.WarnMinutes, d.WarnMinutes) {
		t.Fatalf("an invalid Put changed the room: %+v", got)
	}
	// The kept hashes satisfy a sensitive room's need for a PIN, and a
	// host PIN that differs from the hashed PIN is fine.
	if _, err := r.Put(sensitive, PINChange{HostPIN: ptr("1111")}); err != nil {
		t.Fatalf("sensitive room with kept PIN: %v", err)
	}
}

// TestReadsDuringWrites is for -race: SIP lookups run while the API writes.
// Every read must see one whole version of the room, never a mix.
func TestReadsDuringWrites(t *testing.T) { eachBackend(t, testReadsDuringWrites) }

func testReadsDuringWrites(t *testing.T, b backend) {
	cfg := testConfig()
	r := newRooms(t, open(t, b.new(t)), cfg)
	const writes = 40
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				room, ok := r.Room("4711")
				if ok && strings.HasPrefix(room.Name, "v") && room.Voicemail != "mailto:"+room.Name+"@example.org" {
					errs <- fmt.Errorf("torn read: name %q voicemail %q", room.Name, room.Voicemail)
					return
				}
				_ = r.List()
				r.HasPINs("200")
			}
		}()
	}
	for i := range writes {
		room := config.Room{Extension: "4711", Name: fmt.Sprintf("v%d", i), Voicemail: fmt.Sprintf("mailto:v%d@example.org", i), Settings: cfg.Defaults}
		if _, err := r.Put(room, PINChange{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.Room("4711"); got.Name != room.Name {
			t.Fatalf("write %d not visible to the next reader: %q", i, got.Name)
		}
		if _, err := r.Put(config.Room{Extension: "200", Settings: cfg.Defaults}, PINChange{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Delete("200"); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Open makes the folder 0700 and the database 0600, with SQLite's -wal
// and -shm files following the database; loose ones left by an older
// brygga are narrowed and reported.
func TestOpenPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "brygga.db")
	db := open(t, path)
	if _, err := NewRooms(db, testConfig()); err != nil { // a write, so the -wal file exists
		t.Fatal(err)
	}
	perm := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	want := map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
	for p, m := range want {
		if got := perm(p); got != m {
			t.Errorf("%s: %04o, want %04o", p, got, m)
		}
	}
	if len(db.Tightened()) != 0 {
		t.Errorf("a fresh database reports narrowing: %v", db.Tightened())
	}
	for p := range want {
		os.Chmod(p, perm(p)|0o044)
	}
	again := open(t, path)
	narrowed := map[string]bool{}
	for _, n := range again.Tightened() {
		narrowed[n.Path] = true
		if n.Now != want[n.Path] || n.Was != want[n.Path]|0o044 {
			t.Errorf("reported %+v", n)
		}
	}
	for p, m := range want {
		if got := perm(p); got != m || !narrowed[p] {
			t.Errorf("%s: %04o after reopening (reported %v), want %04o", p, got, narrowed[p], m)
		}
	}
}
