package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"brygga/config"
	"brygga/pin"
)

// ErrInvalid is wrapped by every error Put returns for a room that breaks
// the directory rules, so the API can answer 400 without knowing the rules.
// When a rule names a key the error also unwraps to a *config.Error.
var ErrInvalid = errors.New("invalid room")

// PINChange says what Put does with each PIN: nil keeps it, "" removes it,
// anything else is the new plain PIN, which is validated and stored hashed.
type PINChange struct {
	PIN, HostPIN *string
}

// Rooms is the directory kept in the database, with the config file's
// directory as its seed and its open-rooms pattern for extensions it does
// not list. It implements Directory.
//
// The SIP layer calls Room for every INVITE, so reads never touch the
// database or a lock: writers build a new snapshot and swap it in after the
// database has committed, and the next caller sees the change.
type Rooms struct {
	db       *DB
	open     *config.Config // cfg without its directory: open rooms only
	defaults config.RoomSettings

	write sync.Mutex // one writer at a time, so snapshots follow commit order
	snap  atomic.Pointer[snapshot]
}

type snapshot struct {
	rooms map[string]config.Room // PIN fields hold hashes
	list  []string               // extensions in directory order
}

// NewRooms loads the directory from db. Rooms of cfg.Directory that the
// database has never seen are added first, their PINs hashed; after that
// the database rules, so a change made through the API survives a restart
// with the file unchanged, and a room deleted through the API stays deleted.
func NewRooms(db *DB, cfg *config.Config) (*Rooms, error) {
	open := *cfg
	open.Directory = nil
	r := &Rooms{db: db, open: &open, defaults: cloneSettings(cfg.Defaults)}
	if err := r.seed(cfg.Directory); err != nil {
		return nil, err
	}
	rooms, err := r.load()
	if err != nil {
		return nil, err
	}
	r.snap.Store(newSnapshot(rooms))
	return r, nil
}

func (r *Rooms) seed(dir []config.Room) error {
	ctx := context.Background()
	tx, err := r.db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: seeding rooms: %w", err)
	}
	defer tx.Rollback()
	for _, room := range dir {
		res, err := tx.ExecContext(ctx, `INSERT INTO seeded (extension, at) VALUES (?, ?) ON CONFLICT DO NOTHING`, room.Extension, now())
		if err != nil {
			return fmt.Errorf("store: seeding room %s: %w", room.Extension, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		room.PIN, room.HostPIN = hashed(room.PIN), hashed(room.HostPIN)
		// DO NOTHING: a room the API created before the file listed it
		// is the operator's newer word.
		if err := upsert(ctx, tx, room, false); err != nil {
			return fmt.Errorf("store: seeding room %s: %w", room.Extension, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: seeding rooms: %w", err)
	}
	return nil
}

func hashed(p string) string {
	if p == "" || pin.IsHash(p) {
		return p
	}
	return pin.Hash(p)
}

func (r *Rooms) load() (map[string]config.Room, error) {
	rows, err := r.db.sql.Query(`SELECT extension, name, email, delegates, voicemail, pin_hash, host_pin_hash, sensitive, settings FROM rooms`)
	if err != nil {
		return nil, fmt.Errorf("store: loading rooms: %w", err)
	}
	defer rows.Close()
	rooms := make(map[string]config.Room)
	for rows.Next() {
		var room config.Room
		var settings, delegates []byte
		if err := rows.Scan(&room.Extension, &room.Name, &room.Email, &delegates, &room.Voicemail,
			&room.PIN, &room.HostPIN, &room.Sensitive, &settings); err != nil {
			return nil, fmt.Errorf("store: loading rooms: %w", err)
		}
		if err := json.Unmarshal(delegates, &room.Delegates); err != nil {
			return nil, fmt.Errorf("store: room %s: delegates: %w", room.Extension, err)
		}
		if len(room.Delegates) == 0 {
			room.Delegates = nil
		}
		// Start from today's defaults so a setting added to brygga after
		// the row was written gets its default rather than a zero.
		room.Settings = cloneSettings(r.defaults)
		if err := json.Unmarshal(settings, &room.Settings); err != nil {
			return nil, fmt.Errorf("store: room %s: settings: %w", room.Extension, err)
		}
		rooms[room.Extension] = room
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: loading rooms: %w", err)
	}
	return rooms, nil
}

// jsonList is list as a JSON array, [] when it is nil: the list columns
// are NOT NULL and read back with json.Unmarshal.
func jsonList[T any](list []T) (string, error) {
	if list == nil {
		list = []T{}
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// upsert writes room with its PIN fields as given (hashes). With replace
// unset an existing row is left alone.
func upsert(ctx context.Context, tx runner, room config.Room, replace bool) error {
	settings, err := json.Marshal(room.Settings)
	if err != nil {
		return err
	}
	delegates, err := jsonList(room.Delegates)
	if err != nil {
		return err
	}
	conflict := `DO NOTHING`
	if replace {
		conflict = `DO UPDATE SET name = excluded.name, email = excluded.email, delegates = excluded.delegates,
			voicemail = excluded.voicemail, pin_hash = excluded.pin_hash,
			host_pin_hash = excluded.host_pin_hash, sensitive = excluded.sensitive,
			settings = excluded.settings, updated = excluded.updated`
	}
	t := now()
	_, err = tx.ExecContext(ctx, `INSERT INTO rooms (extension, name, email, delegates, voicemail, pin_hash,
		host_pin_hash, sensitive, settings, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (extension) `+conflict,
		room.Extension, room.Name, room.Email, delegates, room.Voicemail, room.PIN, room.HostPIN,
		room.Sensitive, settings, t, t)
	return err
}

func newSnapshot(rooms map[string]config.Room) *snapshot {
	list := slices.Collect(maps.Keys(rooms))
	slices.SortFunc(list, compareExtensions)
	return &snapshot{rooms: rooms, list: list}
}

// compareExtensions orders extensions as numbers (99 before 100), which is
// how people read a list of them; equal lengths compare as text.
func compareExtensions(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

func cloneSettings(s config.RoomSettings) config.RoomSettings {
	s.WarnMinutes = slices.Clone(s.WarnMinutes)
	return s
}

// Room implements Directory: the database's room, else an open room when
// the config's pattern matches. PIN fields hold hashes, which pin.Check
// reads. The result is a copy.
func (r *Rooms) Room(ext string) (config.Room, bool) {
	if room, ok := r.snap.Load().rooms[ext]; ok {
		room.Settings = cloneSettings(room.Settings)
		return room, true
	}
	return r.open.Room(ext)
}

// List returns the directory's rooms in extension order with the PIN
// fields blank; open rooms are not listed.
func (r *Rooms) List() []config.Room {
	s := r.snap.Load()
	out := make([]config.Room, 0, len(s.list))
	for _, ext := range s.list {
		out = append(out, blank(s.rooms[ext]))
	}
	return out
}

// Get returns one directory room with the PIN fields blank; HasPINs says
// whether they are set. Open rooms are not in the directory.
func (r *Rooms) Get(ext string) (config.Room, bool) {
	room, ok := r.snap.Load().rooms[ext]
	if !ok {
		return config.Room{}, false
	}
	return blank(room), true
}

// HasPINs reports whether a directory room has a participant PIN and a
// host PIN.
func (r *Rooms) HasPINs(ext string) (pin, hostPIN bool) {
	room := r.snap.Load().rooms[ext]
	return room.PIN != "", room.HostPIN != ""
}

// blank keeps even the hashes away from API callers: a hash of a PIN of a
// few digits is as good as the PIN to anyone who tries every PIN offline.
func blank(room config.Room) config.Room {
	room.PIN, room.HostPIN = "", ""
	room.Settings = cloneSettings(room.Settings)
	return room
}

// Put creates or replaces the directory room room.Extension, with its PINs
// changed as pins says; room.PIN and room.HostPIN must be empty. The room
// is checked with the config file's directory rules first, and the next
// Room call sees the change.
func (r *Rooms) Put(room config.Room, pins PINChange) (created bool, err error) {
	if room.PIN != "" || room.HostPIN != "" {
		return false, fmt.Errorf("store: %w: PINs are set through PINChange, not the room", ErrInvalid)
	}
	r.write.Lock()
	defer r.write.Unlock()
	cur := r.snap.Load()
	old, existed := cur.rooms[room.Extension]
	if r.db.Shared() {
		// Another node may have changed the room's PINs since this node's
		// snapshot: the kept ones are the database's.
		var err error
		if old, existed, err = r.stored(room.Extension); err != nil {
			return false, err
		}
	}
	room.PIN, room.HostPIN = old.PIN, old.HostPIN
	if pins.PIN != nil {
		room.PIN = *pins.PIN
	}
	if pins.HostPIN != nil {
		room.HostPIN = *pins.HostPIN
	}
	room.Settings = cloneSettings(room.Settings)
	room.Delegates = slices.Clone(room.Delegates)
	if err := validate(room, pins.PIN == nil, pins.HostPIN == nil); err != nil {
		return false, err
	}
	room.PIN, room.HostPIN = hashed(room.PIN), hashed(room.HostPIN)

	if err := upsert(context.Background(), r.db.sql, room, true); err != nil {
		return false, fmt.Errorf("store: room %s: %w", room.Extension, err)
	}
	next := maps.Clone(cur.rooms)
	next[room.Extension] = room
	r.snap.Store(newSnapshot(next))
	return !existed, nil
}

// stored is a room's PIN hashes as the database has them.
func (r *Rooms) stored(ext string) (room config.Room, ok bool, err error) {
	err = r.db.sql.QueryRow(`SELECT pin_hash, host_pin_hash FROM rooms WHERE extension = ?`, ext).Scan(&room.PIN, &room.HostPIN)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return config.Room{}, false, nil
	case err != nil:
		return config.Room{}, false, fmt.Errorf("store: room %s: %w", ext, err)
	}
	return room, true, nil
}

// Delete removes a directory room and reports whether there was one. The
// extension may still be an open room if the config's pattern matches it.
func (r *Rooms) Delete(ext string) (bool, error) {
	r.write.Lock()
	defer r.write.Unlock()
	res, err := r.db.sql.Exec(`DELETE FROM rooms WHERE extension = ?`, ext)
	if err != nil {
		return false, fmt.Errorf("store: room %s: %w", ext, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	next := maps.Clone(r.snap.Load().rooms)
	delete(next, ext)
	r.snap.Store(newSnapshot(next))
	return true, nil
}

// invalid is a rule violation: errors.Is(ErrInvalid), and errors.As a
// *config.Error when there is one, with that error's text unchanged so the
// API can show "config: host_pin: …" as the file would.
type invalid struct{ err error }

func (e invalid) Error() string   { return e.err.Error() }
func (e invalid) Unwrap() []error { return []error{ErrInvalid, e.err} }

// validate applies config.Room.Validate to a room whose kept PINs are
// hashes. Validate reads plain PINs, so a kept hash is shown to it as a
// stand-in plain PIN that equals the other PIN exactly when the hash
// matches it; the rules on a missing or repeated PIN then judge the room
// as it will be stored. New PINs are always judged as typed, so a caller
// cannot slip in a hash of its own making.
func validate(room config.Room, keptPIN, keptHost bool) error {
	hp := keptPIN && pin.IsHash(room.PIN)
	hh := keptHost && pin.IsHash(room.HostPIN)
	switch {
	case hp && hh:
		// Both kept: they were checked to differ when they were set.
		room.PIN, room.HostPIN = "000", "0000"
	case hp:
		room.PIN = standIn(room.PIN, room.HostPIN)
	case hh:
		room.HostPIN = standIn(room.HostPIN, room.PIN)
	}
	if err := room.Validate(); err != nil {
		return invalid{err}
	}
	return nil
}

// standIn is a valid plain PIN for hash h: other itself when h is its hash,
// else one that differs from other.
func standIn(h, other string) string {
	if other != "" && pin.Check(pin.Secrets{PIN: h}, other) == pin.Participant {
		return other
	}
	if other == "000" {
		return "0000"
	}
	return "000"
}

// Follow keeps the directory in step with changes other nodes sharing the
// database make through their API: every interval it asks the database
// for a fingerprint of the rooms (each extension with its updated time)
// and reloads them all when it differs from the last one seen. A node's
// own changes are seen at once (Put and Delete swap the snapshot); another
// node's within an interval. It returns when ctx is done; errors (the
// database away) are passed to onError and the next interval tries again.
// Polling was chosen over LISTEN/NOTIFY: it needs no connection held per
// node, works through any pooler, and a missed notification cannot leave
// a node stale for good.
func (r *Rooms) Follow(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last, err := r.fingerprint(ctx)
	if err != nil && onError != nil {
		onError(err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp, err := r.fingerprint(ctx)
		if err == nil && fp != last {
			err = r.reload()
		}
		if err != nil {
			if onError != nil && ctx.Err() == nil {
				onError(err)
			}
			continue
		}
		last = fp
	}
}

// fingerprint changes whenever a room is added, changed or deleted: the
// count, and the hash of every extension with its updated time (text on
// both backends; a change on a node with a slow clock still changes it).
func (r *Rooms) fingerprint(ctx context.Context) (string, error) {
	q := `SELECT COUNT(*) || ':' || COALESCE(md5(string_agg(extension || '@' || updated, ',' ORDER BY extension)), '') FROM rooms`
	if !r.db.Shared() {
		// SQLite has no md5; one node owns a SQLite file, so this is
		// for tests: the list itself is the fingerprint.
		q = `SELECT COUNT(*) || ':' || COALESCE(group_concat(extension || '@' || updated, ','), '') FROM (SELECT extension, updated FROM rooms ORDER BY extension)`
	}
	var fp string
	if err := r.db.sql.QueryRowContext(ctx, q).Scan(&fp); err != nil {
		return "", fmt.Errorf("store: directory fingerprint: %w", err)
	}
	return fp, nil
}

// reload replaces the snapshot with the database's rooms.
func (r *Rooms) reload() error {
	r.write.Lock()
	defer r.write.Unlock()
	rooms, err := r.load()
	if err != nil {
		return err
	}
	r.snap.Store(newSnapshot(rooms))
	return nil
}
