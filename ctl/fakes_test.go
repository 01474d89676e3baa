package ctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"brygga/api"
	"brygga/conference"
	"brygga/config"
	"brygga/events"
	"brygga/internal/logtest"
	"brygga/pin"
	"brygga/recordings"
	"brygga/store"
)

// fakeConf is a bridge with one live conference in memory. It returns the
// bridge's own errors so the API maps them to the statuses ctl will meet.
type fakeConf struct {
	mu    sync.Mutex
	rooms map[string]*conference.RoomInfo
	calls []string
	bus   *events.Bus
}

var t0 = time.Date(2025, 11, 21, 10, 0, 0, 0, time.UTC)

func newFakeConf() *fakeConf {
	return &fakeConf{
		bus: events.New(0, func() time.Time { return t0 }),
		rooms: map[string]*conference.RoomInfo{
			"4711": {
				Extension: "4711", Started: t0, EndsAt: t0.Add(time.Hour), Participants: 2, Locked: true,
				Members: []conference.MemberInfo{
					{ID: "a1", CallerID: "4711", Role: "host", Talking: true, JoinedAt: t0},
					{ID: "b2", CallerID: "555", Role: "participant", Muted: true, Hand: true, JoinedAt: t0.Add(time.Minute)},
					{ID: "c3", CallerID: "666", Role: "participant", Lobby: true, Named: true},
				},
			},
		},
	}
}

func (f *fakeConf) note(format string, a ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
	return nil
}

func (f *fakeConf) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeConf) room(ext string) (*conference.RoomInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[ext]
	if !ok {
		return nil, conference.ErrNoRoom
	}
	return r, nil
}

func (f *fakeConf) member(ext, id string) (*conference.MemberInfo, error) {
	r, err := f.room(ext)
	if err != nil {
		return nil, err
	}
	for i := range r.Members {
		if r.Members[i].ID == id {
			return &r.Members[i], nil
		}
	}
	return nil, conference.ErrNoParticipant
}

func (f *fakeConf) Rooms() []conference.RoomInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []conference.RoomInfo
	for _, r := range f.rooms {
		out = append(out, *r)
	}
	return out
}

func (f *fakeConf) Room(ext string) (conference.RoomInfo, bool) {
	r, err := f.room(ext)
	if err != nil {
		return conference.RoomInfo{}, false
	}
	return *r, true
}

func (f *fakeConf) Lock(ext string, locked bool) error {
	if _, err := f.room(ext); err != nil {
		return err
	}
	return f.note("lock %s %v", ext, locked)
}

func (f *fakeConf) SetLecture(ext string, on bool) error {
	if _, err := f.room(ext); err != nil {
		return err
	}
	return f.note("lecture %s %v", ext, on)
}

func (f *fakeConf) SetRecording(ext string, on bool) error {
	if _, err := f.room(ext); err != nil {
		return err
	}
	return f.note("record %s %v", ext, on)
}

func (f *fakeConf) End(ext string) error {
	if _, err := f.room(ext); err != nil {
		return err
	}
	return f.note("end %s", ext)
}

func (f *fakeConf) Extend(ext string, d time.Duration) (time.Time, error) {
	r, err := f.room(ext)
	if err != nil {
		return time.Time{}, err
	}
	f.note("extend %s %v", ext, d)
	return r.EndsAt.Add(d), nil
}

func (f *fakeConf) Mute(ext, id string, muted bool) error {
	if _, err := f.member(ext, id); err != nil {
		return err
	}
	return f.note("mute %s %s %v", ext, id, muted)
}

func (f *fakeConf) Kick(ext, id string) error {
	if _, err := f.member(ext, id); err != nil {
		return err
	}
	return f.note("kick %s %s", ext, id)
}

func (f *fakeConf) Admit(ext, id string) error {
	m, err := f.member(ext, id)
	if err != nil {
		return err
	}
	if !m.Lobby {
		return fmt.Errorf("%w: the participant is not in the lobby", conference.ErrConflict)
	}
	return f.note("admit %s %s", ext, id)
}

func (f *fakeConf) GiveFloor(ext, id string) error {
	if _, err := f.member(ext, id); err != nil {
		return err
	}
	return f.note("floor %s %s", ext, id)
}

func (f *fakeConf) Events() *events.Bus { return f.bus }

// request is what the bridge was sent, as seen before the API handles it.
type request struct {
	Method, Path, Query, Body, LastEventID string
}

// bridge is the real API over fakeConf and a real directory store, with
// every request recorded.
type bridge struct {
	srv  *httptest.Server
	conf *fakeConf
	dir  *store.Rooms
	db   *store.DB
	pins *pin.Lockout // room 4711 and source 192.0.2.7 locked

	mu   sync.Mutex
	reqs []request
}

const (
	opToken     = "op-secret"
	viewerToken = "view-secret"
)

func newBridge(t *testing.T) *bridge {
	t.Helper()
	cfg := config.Default()
	cfg.Directory = []config.Room{{
		Extension: "4711", Name: "Kari Nordmann", PIN: "2468", HostPIN: "97531",
		Settings: func() config.RoomSettings {
			s := cfg.Defaults
			s.Lobby, s.MaxMinutes, s.Language, s.WarnMinutes = true, 90, "nb", []int{10}
			return s
		}(),
	}}
	db, err := store.Open(filepath.Join(t.TempDir(), "brygga.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir, err := store.NewRooms(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &bridge{conf: newFakeConf(), dir: dir, db: db, pins: lockedPINs()}
	h := api.New(api.Options{
		Conferences: b.conf,
		Directory:   dir,
		Recordings:  &recordings.Archive{DB: db},
		Schedules:   &fakeBookings{},
		Lockouts:    b.pins,
		Tokens: []config.Token{
			{Name: "ops", Token: opToken, Role: "operator"},
			{Name: "wall", Token: viewerToken, Role: "viewer"},
		},
		Defaults: cfg.Defaults,
	})
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		b.mu.Lock()
		b.reqs = append(b.reqs, request{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Get("Last-Event-ID")})
		b.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bridge) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

func (b *bridge) lastRequest() request {
	rs := b.requests()
	if len(rs) == 0 {
		return request{}
	}
	return rs[len(rs)-1]
}

// result is one ctl run.
type result struct {
	code           int
	stdout, stderr string
}

// ctl runs the command with env as its environment (BRYGGA_API and
// BRYGGA_TOKEN unless the test sets its own).
func ctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return ctlCtx(t, context.Background(), env, args...)
}

func ctlCtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb logtest.Buffer
	code := run(ctx, args, func(k string) string { return env[k] }, &out, &errb, testClient)
	return result{code, out.String(), errb.String()}
}

// testClient is NewClient with a stream watchdog short enough for tests.
func testClient(base, token string) (*Client, error) {
	c, err := NewClient(base, token)
	if c != nil {
		c.StreamIdle = 300 * time.Millisecond
	}
	return c, err
}

func opEnv(b *bridge) map[string]string {
	return map[string]string{"BRYGGA_API": b.srv.URL, "BRYGGA_TOKEN": opToken}
}
