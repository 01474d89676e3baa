package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"brygga/config"
	"brygga/pin"
	"brygga/recordings"
	"brygga/store"
)

const (
	opSecret   = "op-secret-7f3a"
	viewSecret = "view-secret-91c2"
)

type env struct {
	h    http.Handler
	conf *fakeConf
	dir  *fakeDir
	db   *store.DB // the recordings' store: r1 delivered, r2 being written
	log  *bytes.Buffer
	pins *pin.Lockout // room 4711 and source 192.0.2.7 locked

	recDir string
	doc    obj // the OpenAPI document every answer is checked against
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	sum := sha256.Sum256([]byte(viewSecret))
	e := &env{conf: newFakeConf(), dir: newFakeDir(), log: &bytes.Buffer{}, pins: lockedPINs(t)}
	e.db, e.recDir = recordingStore(t)
	o := Options{
		Conferences: e.conf,
		Directory:   e.dir,
		Recordings:  &recordings.Archive{DB: e.db},
		Schedules:   newFakeSchedules(),
		Lockouts:    e.pins,
		Tokens: []config.Token{
			{Name: "ops", Token: opSecret, Role: "operator"},
			{Name: "wall", Token: "sha256:" + hex.EncodeToString(sum[:]), Role: "viewer"},
		},
		Logger:   slog.New(slog.NewJSONHandler(e.log, nil)),
		Defaults: config.RoomSettings{Language: "en", MaxMinutes: 60, WarnMinutes: []int{5, 1}, EarlyJoinMinutes: 10, Names: true, NamesMaxRoom: 10},
	}
	if mod != nil {
		mod(&o)
	}
	e.h = New(o)
	return e
}

type resp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (r resp) list(t *testing.T) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("body %q is not a JSON array: %v", r.body, err)
	}
	return l
}

func (e *env) do(t *testing.T, method, path, token, body string) resp {
	t.Helper()
	return e.doHeader(t, method, path, token, "", "", body)
}

// doHeader is do with one more request header (none when name is "").
func (e *env) doHeader(t *testing.T, method, path, token, name, value string, body ...string) resp {
	t.Helper()
	var rd io.Reader
	if len(body) > 0 && body[0] != "" {
		rd = strings.NewReader(body[0])
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if name != "" {
		req.Header.Set(name, value)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	r := resp{code: w.Code, hdr: w.Header(), body: w.Body.Bytes()}
	e.conform(t, req, r)
	return r
}

// want checks the status and, for errors, that the body is the JSON
// error shape.
func want(t *testing.T, r resp, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body %s", r.code, code, r.body)
	}
	if code >= 400 {
		if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("error Content-Type %q", ct)
		}
		var eb struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error == "" {
			t.Errorf("error body %q is not {\"error\": …}", r.body)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	ready := error(nil)
	e := newEnv(t, func(o *Options) {
		o.Ready = func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("Ready got a context without deadline")
			}
			return ready
		}
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "brygga_up 1\n") })
	})
	want(t, e.do(t, "GET", "/healthz", "", ""), 200)
	want(t, e.do(t, "GET", "/readyz", "", ""), 200)
	ready = errors.New("store /var/secret/db: locked")
	r := e.do(t, "GET", "/readyz", "", "")
	want(t, r, 503)
	if strings.Contains(string(r.body), "secret") {
		t.Errorf("readyz leaks the reason: %s", r.body)
	}
	r = e.do(t, "GET", "/metrics", "", "")
	want(t, r, 200)
	if string(r.body) != "brygga_up 1\n" {
		t.Errorf("metrics body %q", r.body)
	}

	off := newEnv(t, nil)
	want(t, off.do(t, "GET", "/metrics", "", ""), 404)
	want(t, off.do(t, "GET", "/readyz", "", ""), 200) // no Ready func: nothing to wait for
}

// Every route the API registers, with a body that is valid for it.
var allRoutes = []struct {
	method, path, body string
	change             bool
}{
	{"GET", "/api/v1/conferences", "", false},
	{"GET", "/api/v1/conferences/4711", "", false},
	{"POST", "/api/v1/conferences/4711/lock", "", true},
	{"POST", "/api/v1/conferences/4711/unlock", "", true},
	{"POST", "/api/v1/conferences/4711/lecture", `{"on": true}`, true},
	{"POST", "/api/v1/conferences/4711/record/start", "", true},
	{"POST", "/api/v1/conferences/4711/record/stop", "", true},
	{"POST", "/api/v1/conferences/4711/extend", `{"minutes": 5}`, true},
	{"POST", "/api/v1/conferences/4711/end", "", true},
	{"POST", "/api/v1/conferences/4711/participants/b2/mute", "", true},
	{"POST", "/api/v1/conferences/4711/participants/b2/unmute", "", true},
	{"POST", "/api/v1/conferences/4711/participants/b2/kick", "", true},
	{"POST", "/api/v1/conferences/4711/participants/c3/admit", "", true},
	{"POST", "/api/v1/conferences/4711/participants/b2/floor", "", true},
	{"POST", "/api/v1/conferences/4711/dial", `{"uri": "sip:1@example.org"}`, true},
	{"GET", "/api/v1/rooms", "", false},
	{"GET", "/api/v1/rooms/4711", "", false},
	{"PUT", "/api/v1/rooms/4712", `{"name": "Ola"}`, true},
	{"DELETE", "/api/v1/rooms/1000", "", true},
	{"GET", "/api/v1/schedules", "", false},
	{"POST", "/api/v1/schedules", "BEGIN:VCALENDAR", true},
	{"GET", "/api/v1/schedules/s1", "", false},
	{"DELETE", "/api/v1/schedules/s1", "", true},
	{"GET", "/api/v1/recordings", "", false},
	{"GET", "/api/v1/recordings/r1", "", false},
	{"GET", "/api/v1/recordings/r1/audio", "", true}, // a download is audited: operators only
	{"POST", "/api/v1/recordings/r1/retry", "", true},
	{"DELETE", "/api/v1/recordings/r1", "", true},
	{"GET", "/api/v1/lockouts", "", false},
	{"DELETE", "/api/v1/lockouts/room/4711", "", true},
	{"GET", "/api/v1/nonexistent", "", false},
}

func TestAuthMatrix(t *testing.T) {
	for _, rt := range allRoutes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e := newEnv(t, nil)

			r := e.do(t, rt.method, rt.path, "", rt.body)
			want(t, r, 401)
			if got := r.hdr.Get("WWW-Authenticate"); got != `Bearer realm="brygga"` {
				t.Errorf("no token: WWW-Authenticate %q", got)
			}
			r = e.do(t, rt.method, rt.path, "wrong", rt.body)
			want(t, r, 401)
			if got := r.hdr.Get("WWW-Authenticate"); !strings.Contains(got, "invalid_token") {
				t.Errorf("bad token: WWW-Authenticate %q", got)
			}
			// The hash in the config is not itself a token.
			sum := sha256.Sum256([]byte(viewSecret))
			want(t, e.do(t, rt.method, rt.path, "sha256:"+hex.EncodeToString(sum[:]), rt.body), 401)

			r = e.do(t, rt.method, rt.path, viewSecret, rt.body)
			if rt.change {
				want(t, r, 403)
				if c := e.conf.lastCall(); c != "" {
					t.Errorf("viewer's refused change still reached the bridge: %s", c)
				}
			} else if r.code == 401 || r.code == 403 {
				t.Errorf("viewer reading: %d %s", r.code, r.body)
			}

			r = e.do(t, rt.method, rt.path, opSecret, rt.body)
			if r.code == 401 || r.code == 403 || r.code >= 500 && r.code != 501 {
				t.Errorf("operator: %d %s", r.code, r.body)
			}
		})
	}
}

func TestAuthHeaderForms(t *testing.T) {
	e := newEnv(t, nil)
	for _, h := range []string{"Basic " + opSecret, opSecret, "Bearer", "Bearer  "} {
		req := httptest.NewRequest("GET", "/api/v1/conferences", nil)
		req.Header.Set("Authorization", h)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != 401 {
			t.Errorf("Authorization %q: %d", h, w.Code)
		}
	}
	req := httptest.NewRequest("GET", "/api/v1/conferences", nil)
	req.Header.Set("Authorization", "bearer "+opSecret) // the scheme is case-insensitive (RFC 9110)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Errorf("lower-case scheme: %d", w.Code)
	}

	none := newEnv(t, func(o *Options) { o.Tokens = nil })
	want(t, none.do(t, "GET", "/api/v1/conferences", opSecret, ""), 401)
}

func TestConferences(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/api/v1/conferences", viewSecret, "")
	want(t, r, 200)
	l := r.list(t)
	if len(l) != 2 || l[0]["room"] != "4711" || l[1]["room"] != "9000" {
		t.Fatalf("list %s", r.body)
	}
	c := l[0]
	if c["started"] != "2025-11-21T10:00:00Z" || c["ends_at"] != "2025-11-21T11:00:00Z" || c["participants"] != 2.0 ||
		c["locked"] != false || c["lecture"] != false || c["recording"] != false {
		t.Errorf("list entry %v", c)
	}
	if _, ok := c["members"]; ok {
		t.Error("list carries members; only one conference does")
	}
	if _, ok := l[1]["started"]; ok {
		t.Errorf("zero start time shown: %v", l[1])
	}

	r = e.do(t, "GET", "/api/v1/conferences/4711", viewSecret, "")
	want(t, r, 200)
	one := r.json(t)
	ms, _ := one["members"].([]any)
	if len(ms) != 3 {
		t.Fatalf("members %v", one["members"])
	}
	b2 := ms[1].(map[string]any)
	for k, v := range map[string]any{"id": "b2", "caller_id": "555", "role": "participant", "muted": true,
		"talking": false, "hand": true, "lobby": false, "named": true, "joined_at": "2025-11-21T10:01:00Z"} {
		if b2[k] != v {
			t.Errorf("member %s = %v, want %v", k, b2[k], v)
		}
	}
	if c3 := ms[2].(map[string]any); c3["lobby"] != true {
		t.Errorf("lobby member %v", c3)
	}
	if _, ok := one["mixer"].(map[string]any)["max_lateness_ms"]; !ok {
		t.Errorf("mixer %v", one["mixer"])
	}

	want(t, e.do(t, "GET", "/api/v1/conferences/1234", viewSecret, ""), 404)
	want(t, e.do(t, "GET", "/api/v1/conferences/", viewSecret, ""), 404)
	empty := newEnv(t, nil)
	empty.conf.rooms = nil
	r = empty.do(t, "GET", "/api/v1/conferences", viewSecret, "")
	if strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("no conferences: %s, want []", r.body)
	}
}

func TestRoomActions(t *testing.T) {
	for _, c := range []struct {
		path, body string
		call       string
		check      func(t *testing.T, m map[string]any)
	}{
		{"lock", "", "lock 4711 true", nil},
		{"unlock", "{}", "lock 4711 false", nil},
		{"lecture", "", "lecture 4711 true", func(t *testing.T, m map[string]any) {
			if m["on"] != true {
				t.Errorf("lecture default: %v", m)
			}
		}},
		{"lecture", `{"on": false}`, "lecture 4711 false", nil},
		{"record/start", "", "record 4711 true", nil},
		{"record/stop", "", "record 4711 false", nil},
		{"extend", `{"minutes": 15}`, "extend 4711 15m0s", func(t *testing.T, m map[string]any) {
			if m["ends_at"] != "2025-11-21T11:15:00Z" {
				t.Errorf("extend: %v", m)
			}
		}},
		{"end", "", "end 4711", nil},
	} {
		t.Run(c.path+c.body, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.do(t, "POST", "/api/v1/conferences/4711/"+c.path, opSecret, c.body)
			want(t, r, 200)
			if got := e.conf.lastCall(); got != c.call {
				t.Errorf("bridge got %q, want %q", got, c.call)
			}
			m := r.json(t)
			if m["room"] != "4711" || m["action"] == "" {
				t.Errorf("result %v", m)
			}
			if c.check != nil {
				c.check(t, m)
			}
			want(t, e.do(t, "POST", "/api/v1/conferences/1234/"+c.path, opSecret, c.body), 404)
		})
	}
}

func TestRoomActionErrors(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct {
		path, body string
		code       int
	}{
		{"extend", "", 400},
		{"extend", "{}", 400},
		{"extend", `{"minutes": 0}`, 400},
		{"extend", `{"minutes": 601}`, 400},
		{"extend", `{"minutes": -5}`, 400},
		{"extend", `{"minutes": "5"}`, 400},
		{"extend", `{"minutes": 5, "on": true}`, 400},
		{"extend", `{"minutes": 5}{"minutes": 5}`, 400},
		{"lecture", `{"on": "yes"}`, 400},
		{"lecture", `{"minutes": 5}`, 400},
		{"lock", `{"force": true}`, 400},
		{"lock", `not json`, 400},
		{"lock", `[]`, 400},
		{"record/start", "", 200},
	} {
		r := e.do(t, "POST", "/api/v1/conferences/4711/"+c.path, opSecret, c.body)
		if r.code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.path, c.body, r.code, r.body, c.code)
		}
	}
	// A sensitive room is never recorded: the bridge's conflict, with its
	// reason, comes back as 409.
	r := e.do(t, "POST", "/api/v1/conferences/9000/record/start", opSecret, "")
	want(t, r, 409)
	if !strings.Contains(string(r.body), "sensitive") {
		t.Errorf("409 without the reason: %s", r.body)
	}
	r = e.do(t, "POST", "/api/v1/conferences/4711/extend", opSecret, `{"minutes": 600}`)
	want(t, r, 200)
}

func TestOversizedBody(t *testing.T) {
	e := newEnv(t, nil)
	big := `{"on": true, "x": "` + strings.Repeat("a", 70<<10) + `"}`
	want(t, e.do(t, "POST", "/api/v1/conferences/4711/lecture", opSecret, big), 413)
	want(t, e.do(t, "PUT", "/api/v1/rooms/4712", opSecret, `{"name": "`+strings.Repeat("a", 70<<10)+`"}`), 413)
	if _, ok := e.dir.rooms["4712"]; ok {
		t.Error("oversized PUT stored a room")
	}
}

func TestParticipantActions(t *testing.T) {
	for _, c := range []struct{ action, id, call string }{
		{"mute", "a1", "mute 4711 a1 true"},
		{"unmute", "b2", "mute 4711 b2 false"},
		{"kick", "b2", "kick 4711 b2"},
		{"admit", "c3", "admit 4711 c3"},
		{"floor", "b2", "floor 4711 b2"},
	} {
		t.Run(c.action, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.do(t, "POST", "/api/v1/conferences/4711/participants/"+c.id+"/"+c.action, opSecret, "")
			want(t, r, 200)
			if got := e.conf.lastCall(); got != c.call {
				t.Errorf("bridge got %q, want %q", got, c.call)
			}
			if m := r.json(t); m["participant"] != c.id || m["action"] != c.action {
				t.Errorf("result %v", m)
			}
			want(t, e.do(t, "POST", "/api/v1/conferences/4711/participants/zz/"+c.action, opSecret, ""), 404)
			want(t, e.do(t, "POST", "/api/v1/conferences/1234/participants/"+c.id+"/"+c.action, opSecret, ""), 404)
			want(t, e.do(t, "POST", "/api/v1/conferences/4711/participants/"+c.id+"/"+c.action, opSecret, `{"id": "x"}`), 400)
		})
	}
	e := newEnv(t, nil)
	r := e.do(t, "POST", "/api/v1/conferences/4711/participants/b2/admit", opSecret, "")
	want(t, r, 409)
	if !strings.Contains(string(r.body), "lobby") {
		t.Errorf("409 without the reason: %s", r.body)
	}
}

func TestRooms(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/api/v1/rooms", viewSecret, "")
	want(t, r, 200)
	l := r.list(t)
	if len(l) != 2 || l[0]["extension"] != "1000" || l[1]["extension"] != "4711" {
		t.Fatalf("list %s", r.body)
	}
	if l[0]["has_pin"] != false || l[1]["has_pin"] != true || l[1]["has_host_pin"] != true {
		t.Errorf("has_pin flags: %s", r.body)
	}
	r = e.do(t, "GET", "/api/v1/rooms/4711", viewSecret, "")
	want(t, r, 200)
	m := r.json(t)
	if m["name"] != "Kari Nordmann" || m["language"] != "nb" || m["max_minutes"] != 60.0 {
		t.Errorf("room %v", m)
	}
	for _, k := range []string{"pin", "host_pin"} {
		if _, ok := m[k]; ok {
			t.Errorf("room shows %s", k)
		}
	}
	want(t, e.do(t, "GET", "/api/v1/rooms/4712", viewSecret, ""), 404)

	// Create: omitted settings take the defaults, given ones stick even
	// when they are false or zero.
	r = e.do(t, "PUT", "/api/v1/rooms/4712", opSecret,
		`{"extension": "4712", "name": "Ola", "email": "ola@example.org", "delegates": ["assistent@example.org"], "pin": "1357", "host_pin": "86420", "names": false, "max_minutes": 90, "lobby": true}`)
	want(t, r, 201)
	if loc := r.hdr.Get("Location"); loc != "/api/v1/rooms/4712" {
		t.Errorf("Location %q", loc)
	}
	if strings.Contains(string(r.body), "1357") || strings.Contains(string(r.body), "86420") {
		t.Errorf("PUT answer shows a PIN: %s", r.body)
	}
	m = r.json(t)
	for k, v := range map[string]any{"name": "Ola", "has_pin": true, "has_host_pin": true, "names": false,
		"max_minutes": 90.0, "lobby": true, "language": "en", "names_max_room": 10.0, "early_join_minutes": 10.0, "record": false} {
		if m[k] != v {
			t.Errorf("created %s = %v, want %v", k, m[k], v)
		}
	}
	if w, _ := m["warn_minutes"].([]any); len(w) != 2 {
		t.Errorf("warn_minutes %v, want the defaults", m["warn_minutes"])
	}
	if d, _ := m["delegates"].([]any); len(d) != 1 || d[0] != "assistent@example.org" {
		t.Errorf("delegates %v", m["delegates"])
	}
	if p := e.dir.last; p.PIN == nil || *p.PIN != "1357" || p.HostPIN == nil || *p.HostPIN != "86420" {
		t.Errorf("PINChange %+v", p)
	}

	// Replace: PINs omitted are kept, "" removes one; settings not sent
	// go back to the defaults.
	r = e.do(t, "PUT", "/api/v1/rooms/4712", opSecret, `{"name": "Ola N", "host_pin": "", "warn_minutes": []}`)
	want(t, r, 200)
	m = r.json(t)
	if m["has_pin"] != true || m["has_host_pin"] != false || m["names"] != true || m["max_minutes"] != 60.0 {
		t.Errorf("replaced %v", m)
	}
	if d, ok := m["delegates"].([]any); !ok || len(d) != 0 {
		t.Errorf("delegates %v after a replace without them, want []", m["delegates"])
	}
	if w, ok := m["warn_minutes"].([]any); !ok || len(w) != 0 {
		t.Errorf("warn_minutes %v, want []", m["warn_minutes"])
	}
	if p := e.dir.last; p.PIN != nil || p.HostPIN == nil || *p.HostPIN != "" {
		t.Errorf("PINChange %+v", p)
	}

	// A sensitive room does not inherit automatic recording…
	rec := newEnv(t, func(o *Options) { o.Defaults.Record = true })
	r = rec.do(t, "PUT", "/api/v1/rooms/5000", opSecret, `{"sensitive": true, "pin": "1234"}`)
	want(t, r, 201)
	if r.json(t)["record"] != false {
		t.Errorf("sensitive room records: %s", r.body)
	}
	// …and asking for it is the store's validation error, naming the key.
	r = rec.do(t, "PUT", "/api/v1/rooms/5001", opSecret, `{"sensitive": true, "pin": "1234", "record": true}`)
	want(t, r, 400)
	if !strings.Contains(string(r.body), "record") {
		t.Errorf("error does not name the key: %s", r.body)
	}

	for _, c := range []struct{ body, mention string }{
		{`{"pin": "12a4"}`, "pin"},
		{`{"max_minutes": 0}`, "max_minutes"},
		{`{"language": "de"}`, "language"},
		{`{"extension": "4713"}`, "extension"},
		{`{"has_pin": true}`, "read-only"},
		{`{"nmae": "typo"}`, "nmae"},
		{`{"names": "yes"}`, "names"},
		{``, "required"},
	} {
		r = e.do(t, "PUT", "/api/v1/rooms/4712", opSecret, c.body)
		want(t, r, 400)
		if !strings.Contains(string(r.body), c.mention) {
			t.Errorf("PUT %s: %s does not mention %q", c.body, r.body, c.mention)
		}
	}
	want(t, e.do(t, "PUT", "/api/v1/rooms/12ab", opSecret, `{}`), 400)

	e.dir.fail = errors.New("disk full at /var/lib/brygga")
	r = e.do(t, "PUT", "/api/v1/rooms/4712", opSecret, `{}`)
	want(t, r, 500)
	if strings.Contains(string(r.body), "/var/lib") {
		t.Errorf("500 leaks detail: %s", r.body)
	}
	e.dir.fail = store.ErrInvalid
	want(t, e.do(t, "PUT", "/api/v1/rooms/4712", opSecret, `{}`), 400)
	e.dir.fail = nil

	r = e.do(t, "DELETE", "/api/v1/rooms/4712", opSecret, "")
	if r.code != 204 || len(r.body) != 0 {
		t.Errorf("DELETE: %d %q", r.code, r.body)
	}
	want(t, e.do(t, "DELETE", "/api/v1/rooms/4712", opSecret, ""), 404)
	want(t, e.do(t, "GET", "/api/v1/rooms/4712", opSecret, ""), 404)

	nodir := newEnv(t, func(o *Options) { o.Directory = nil })
	want(t, nodir.do(t, "GET", "/api/v1/rooms", viewSecret, ""), 501)
	want(t, nodir.do(t, "GET", "/api/v1/rooms/4711", viewSecret, ""), 501)
	want(t, nodir.do(t, "PUT", "/api/v1/rooms/4711", opSecret, "{}"), 501)
	want(t, nodir.do(t, "DELETE", "/api/v1/rooms/4711", opSecret, ""), 501)
}

func TestNotYetAndUnknown(t *testing.T) {
	e := newEnv(t, nil)
	for _, rt := range allRoutes {
		if !strings.HasSuffix(rt.path, "/dial") {
			continue
		}
		want(t, e.do(t, rt.method, rt.path, opSecret, rt.body), 501)
	}
	want(t, e.do(t, "GET", "/api/v1/nonexistent", viewSecret, ""), 404)
	want(t, e.do(t, "GET", "/api/v2/conferences", viewSecret, ""), 404)

	r := e.do(t, "DELETE", "/api/v1/conferences/4711", opSecret, "")
	want(t, r, 405)
	if a := r.hdr.Get("Allow"); a != "GET, HEAD" {
		t.Errorf("Allow %q", a)
	}
	r = e.do(t, "POST", "/api/v1/rooms/4711", opSecret, "{}")
	want(t, r, 405)
	if a := r.hdr.Get("Allow"); a != "GET, PUT, DELETE, HEAD" {
		t.Errorf("Allow %q", a)
	}
	want(t, e.do(t, "GET", "/api/v1/conferences/4711/lock", viewSecret, ""), 405)
	// A stranger learns nothing about which paths exist.
	want(t, e.do(t, "DELETE", "/api/v1/conferences/4711", "", ""), 401)
}

type auditLine struct {
	Msg         string `json:"msg"`
	Who         string `json:"who"`
	Action      string `json:"action"`
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Status      int    `json:"status"`
}

func auditLines(t *testing.T, buf *bytes.Buffer) []auditLine {
	t.Helper()
	var out []auditLine
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if a.Msg == "api change" {
			out = append(out, a)
		}
	}
	return out
}

func TestAudit(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "GET", "/api/v1/conferences", opSecret, "")
	e.do(t, "GET", "/api/v1/rooms/4711", viewSecret, "")
	if l := auditLines(t, e.log); len(l) != 0 {
		t.Fatalf("reads were audited: %+v", l)
	}
	e.do(t, "POST", "/api/v1/conferences/4711/participants/b2/mute", opSecret, "")
	e.do(t, "POST", "/api/v1/conferences/4711/participants/b2/kick", viewSecret, "")
	e.do(t, "POST", "/api/v1/conferences/4711/extend", opSecret, `{"minutes": 0}`)
	e.do(t, "PUT", "/api/v1/rooms/4712", opSecret, `{"pin": "13579"}`)
	e.do(t, "POST", "/api/v1/conferences/4711/lock", "wrong-token", "")

	got := auditLines(t, e.log)
	wantLines := []auditLine{
		{"api change", "ops", "mute", "4711", "b2", 200},
		{"api change", "wall", "kick", "4711", "b2", 403},
		{"api change", "ops", "extend", "4711", "", 400},
		{"api change", "ops", "room.put", "4712", "", 201},
	}
	if len(got) != len(wantLines) {
		t.Fatalf("audit lines %+v, want %+v", got, wantLines)
	}
	for i := range got {
		if got[i] != wantLines[i] {
			t.Errorf("audit line %d: %+v, want %+v", i, got[i], wantLines[i])
		}
	}
	for _, secret := range []string{opSecret, viewSecret, "wrong-token", "13579"} {
		if strings.Contains(e.log.String(), secret) {
			t.Errorf("log holds a secret %q:\n%s", secret, e.log)
		}
	}
}
