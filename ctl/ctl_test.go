package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"brygga/events"
	"brygga/internal/logtest"
)

func TestConferencesTableAndJSON(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, opEnv(b), "conferences")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ROOM") {
		t.Fatalf("table:\n%s", r.stdout)
	}
	for _, want := range []string{"4711", "2", "2025-11-21T10:00:00Z", "2025-11-21T11:00:00Z", "locked"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if got := b.lastRequest(); got.Method != "GET" || got.Path != "/api/v1/conferences" {
		t.Errorf("request %+v", got)
	}

	r = ctl(t, opEnv(b), "--json", "conferences")
	var cs []map[string]any
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &cs) != nil || len(cs) != 1 || cs[0]["room"] != "4711" {
		t.Fatalf("--json: exit %d, %q", r.code, r.stdout)
	}

	delete(b.conf.rooms, "4711")
	r = ctl(t, opEnv(b), "conferences")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "no live conferences" {
		t.Errorf("empty: exit %d, %q", r.code, r.stdout)
	}
	r = ctl(t, opEnv(b), "conferences", "--json")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty --json after the command: exit %d, %q", r.code, r.stdout)
	}
}

func TestConferenceDetail(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, opEnv(b), "conference", "4711")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"room          4711",
		"participants  2 in the mix, 3 admitted",
		"state         locked",
		"ID  CALLER ID  ROLE         STATE        JOINED",
		"a1  4711       host         talking      2025-11-21T10:00:00Z",
		"b2  555        participant  muted,hand   2025-11-21T10:01:00Z",
		"c3  666        participant  lobby,named  -",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ctl(t, opEnv(b), "conference", "9999")
	if r.code != ExitFailure || r.stderr != "brygga ctl: no conference in that room\n" {
		t.Errorf("unknown room: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestActions checks each action's request (method, path, body), what the
// bridge was asked to do, and the line ctl prints.
func TestActions(t *testing.T) {
	cases := []struct {
		args       []string
		path, body string
		call, out  string
	}{
		{[]string{"mute", "4711", "b2"}, "/api/v1/conferences/4711/participants/b2/mute", "", "mute 4711 b2 true", "4711: b2 muted"},
		{[]string{"unmute", "4711", "b2"}, "/api/v1/conferences/4711/participants/b2/unmute", "", "mute 4711 b2 false", "4711: b2 unmuted"},
		{[]string{"kick", "4711", "b2"}, "/api/v1/conferences/4711/participants/b2/kick", "", "kick 4711 b2", "4711: b2 kicked"},
		{[]string{"admit", "4711", "c3"}, "/api/v1/conferences/4711/participants/c3/admit", "", "admit 4711 c3", "4711: c3 admitted"},
		{[]string{"floor", "4711", "b2"}, "/api/v1/conferences/4711/participants/b2/floor", "", "floor 4711 b2", "4711: b2 given the floor"},
		{[]string{"lock", "4711"}, "/api/v1/conferences/4711/lock", "", "lock 4711 true", "4711: locked"},
		{[]string{"unlock", "4711"}, "/api/v1/conferences/4711/unlock", "", "lock 4711 false", "4711: unlocked"},
		{[]string{"lecture", "4711"}, "/api/v1/conferences/4711/lecture", `{"on":true}`, "lecture 4711 true", "4711: lecture on"},
		{[]string{"lecture", "4711", "off"}, "/api/v1/conferences/4711/lecture", `{"on":false}`, "lecture 4711 false", "4711: lecture off"},
		{[]string{"record", "4711", "start"}, "/api/v1/conferences/4711/record/start", "", "record 4711 true", "4711: recording"},
		{[]string{"record", "4711", "stop"}, "/api/v1/conferences/4711/record/stop", "", "record 4711 false", "4711: recording stopped"},
		{[]string{"extend", "4711", "10"}, "/api/v1/conferences/4711/extend", `{"minutes":10}`, "extend 4711 10m0s", "4711: extended; ends at 2025-11-21T11:10:00Z"},
		{[]string{"end", "4711"}, "/api/v1/conferences/4711/end", "", "end 4711", "4711: ended"},
	}
	b := newBridge(t)
	for _, c := range cases {
		t.Run(strings.Join(c.args, "_"), func(t *testing.T) {
			r := ctl(t, opEnv(b), c.args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			got := b.lastRequest()
			if got.Method != "POST" || got.Path != c.path || got.Body != c.body {
				t.Errorf("request %s %s %q, want POST %s %q", got.Method, got.Path, got.Body, c.path, c.body)
			}
			if call := b.conf.last(); call != c.call {
				t.Errorf("bridge did %q, want %q", call, c.call)
			}
			if strings.TrimSpace(r.stdout) != c.out {
				t.Errorf("printed %q, want %q", r.stdout, c.out)
			}
			j := ctl(t, opEnv(b), append([]string{"--json"}, c.args...)...)
			var res map[string]any
			if j.code != ExitOK || json.Unmarshal([]byte(j.stdout), &res) != nil || res["room"] != "4711" {
				t.Errorf("--json: exit %d, %q", j.code, j.stdout)
			}
		})
	}
}

func TestAPIErrorsExitOne(t *testing.T) {
	b := newBridge(t)
	cases := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"bad token", map[string]string{"BRYGGA_API": b.srv.URL, "BRYGGA_TOKEN": "nope"}, []string{"rooms"}, "brygga ctl: invalid bearer token\n"},
		{"no token", map[string]string{"BRYGGA_API": b.srv.URL}, []string{"conferences"}, "brygga ctl: missing bearer token\n"},
		{"viewer changes", map[string]string{"BRYGGA_API": b.srv.URL, "BRYGGA_TOKEN": viewerToken}, []string{"lock", "4711"}, "brygga ctl: token wall may only read\n"},
		{"not in lobby", opEnv(b), []string{"admit", "4711", "b2"}, "brygga ctl: conference: not possible now: the participant is not in the lobby\n"},
		{"no participant", opEnv(b), []string{"mute", "4711", "zz"}, "brygga ctl: no such participant in that conference\n"},
		{"extend out of range", opEnv(b), []string{"extend", "4711", "0"}, "brygga ctl: minutes: 0 is not between 1 and 600\n"},
		{"dial not built", opEnv(b), []string{"dial", "4711", "sip:1000@pbx"}, "brygga ctl: dialling out is not available yet\n"},
		{"no such room", opEnv(b), []string{"room", "4799"}, "brygga ctl: no such room in the directory\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ctl(t, c.env, c.args...)
			if r.code != ExitFailure || r.stderr != c.stderr || r.stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want 1, %q", r.code, r.stderr, r.stdout, c.stderr)
			}
		})
	}
	// A viewer may read.
	if r := ctl(t, map[string]string{"BRYGGA_API": b.srv.URL, "BRYGGA_TOKEN": viewerToken}, "rooms"); r.code != ExitOK {
		t.Errorf("viewer rooms: exit %d, %s", r.code, r.stderr)
	}
}

func TestUnreachableExitsOne(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r := ctl(t, map[string]string{"BRYGGA_API": url}, "conferences")
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "brygga ctl: cannot reach the bridge at "+url+": ") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = ctl(t, map[string]string{"BRYGGA_API": url}, "events", "--watch")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "cannot reach the bridge") {
		t.Errorf("watch: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestNotTheBridge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer srv.Close()
	r := ctl(t, map[string]string{"BRYGGA_API": srv.URL}, "rooms")
	if r.code != ExitFailure || r.stderr != "brygga ctl: 502 Bad Gateway (not an answer of the bridge's API)\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	b := newBridge(t)
	cases := []struct {
		args []string
		msg  string
	}{
		{nil, "which command?"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--bogus", "rooms"}, "flag provided but not defined: -bogus"},
		{[]string{"rooms", "--bogus"}, "rooms: flag provided but not defined: -bogus"},
		{[]string{"mute", "4711"}, "mute: expected ROOM PARTICIPANT, got 1 argument"},
		{[]string{"lock"}, "lock: expected ROOM, got 0 arguments"},
		{[]string{"rooms", "x"}, "rooms: expected no arguments, got 1 argument"},
		{[]string{"lecture", "4711", "maybe"}, `lecture: "maybe": expected on or off`},
		{[]string{"record", "4711", "pause"}, `record: "pause": expected start or stop`},
		{[]string{"extend", "4711", "ten"}, `extend: minutes: "ten" is not a whole number`},
		{[]string{"room", "set"}, "room: room set: which extension?"},
		{[]string{"room", "rename", "4711"}, `room: "rename": expected set or delete before the extension`},
		{[]string{"room", "4711", "--lobby", "on"}, "room: settings are only taken by room set"},
		{[]string{"room", "set", "4711", "--lobby", "maybe"}, `room: invalid value "maybe" for flag -lobby: "maybe": expected on or off`},
		{[]string{"room", "set", "4711", "--max-minutes", "x"}, `room: invalid value "x" for flag -max-minutes: not a whole number`},
		{[]string{"events"}, "events: give --after ID to list past events, or --watch to follow"},
		{[]string{"events", "--after", "x"}, `events: after: "x" is not an event id`},
		{[]string{"--api", "ftp://x", "rooms"}, `rooms: api: "ftp://x": scheme must be http or https`},
		{[]string{"help", "frobnicate"}, `help: unknown command "frobnicate"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, "_"), func(t *testing.T) {
			r := ctl(t, opEnv(b), c.args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "brygga ctl: "+c.msg) {
				t.Errorf("stderr %q, want it to start with %q", r.stderr, "brygga ctl: "+c.msg)
			}
		})
	}
	if n := len(b.requests()); n != 0 {
		t.Errorf("usage errors sent %d requests", n)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	r := ctl(t, nil, "help")
	if r.code != ExitOK {
		t.Fatalf("exit %d", r.code)
	}
	for _, c := range commands {
		if !strings.Contains(r.stdout, "\n  "+c.name+" ") {
			t.Errorf("help lacks %q:\n%s", c.name, r.stdout)
		}
	}
	r = ctl(t, nil, "room", "-h")
	if r.code != ExitOK || !strings.Contains(r.stdout, "-host-pin PIN") || !strings.Contains(r.stdout, "-lobby on|off") {
		t.Errorf("room -h: exit %d:\n%s", r.code, r.stdout)
	}
	r = ctl(t, nil, "help", "events")
	if r.code != ExitOK || !strings.Contains(r.stdout, "-watch") {
		t.Errorf("help events: exit %d:\n%s", r.code, r.stdout)
	}
}

func TestAPIAndTokenFromFlagsAndEnv(t *testing.T) {
	b := newBridge(t)
	// The flag beats the variable.
	env := map[string]string{"BRYGGA_API": "http://127.0.0.1:1", "BRYGGA_TOKEN": "wrong"}
	if r := ctl(t, env, "--api", b.srv.URL, "rooms", "--token", opToken); r.code != ExitOK {
		t.Errorf("flags: exit %d, %s", r.code, r.stderr)
	}
	// BRYGGA_API may be the listen address serve takes.
	hostPort := strings.TrimPrefix(b.srv.URL, "http://")
	if r := ctl(t, map[string]string{"BRYGGA_API": hostPort, "BRYGGA_TOKEN": opToken}, "rooms"); r.code != ExitOK {
		t.Errorf("host:port: exit %d, %s", r.code, r.stderr)
	}
	for in, want := range map[string]string{
		"":                          DefaultAPI,
		"0.0.0.0:8080":              "http://127.0.0.1:8080",
		":9090":                     "http://127.0.0.1:9090",
		"[::]:8080":                 "http://[::1]:8080",
		"https://bridge.example/x/": "https://bridge.example/x",
	} {
		c, err := NewClient(in, "")
		if err != nil || c.Base.String() != want {
			t.Errorf("NewClient(%q) = %v, %v; want %s", in, c.Base, err, want)
		}
	}
}

// TestRoomSetKeepsWhatWasNotNamed changes one setting of a seeded room and
// checks every other setting and both PINs survive the PUT.
func TestRoomSetKeepsWhatWasNotNamed(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, opEnv(b), "room", "set", "4711", "--name", "Kari Olsen")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	reqs := b.requests()
	if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Method != "PUT" || reqs[1].Path != "/api/v1/rooms/4711" {
		t.Fatalf("requests %+v", reqs)
	}
	var put map[string]any
	if err := json.Unmarshal([]byte(reqs[1].Body), &put); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"has_pin", "has_host_pin", "pin", "host_pin"} {
		if _, ok := put[k]; ok {
			t.Errorf("PUT sent %s: %s", k, reqs[1].Body)
		}
	}
	if put["name"] != "Kari Olsen" || put["lobby"] != true || put["max_minutes"] != 90.0 || put["language"] != "nb" {
		t.Errorf("PUT body %s", reqs[1].Body)
	}
	if !strings.HasPrefix(r.stdout, "4711: changed\n") {
		t.Errorf("output:\n%s", r.stdout)
	}
	room, _ := b.dir.Get("4711")
	pin, host := b.dir.HasPINs("4711")
	if room.Name != "Kari Olsen" || !room.Settings.Lobby || room.Settings.MaxMinutes != 90 || room.Settings.Language != "nb" ||
		fmt.Sprint(room.Settings.WarnMinutes) != "[10]" || !pin || !host {
		t.Errorf("stored %+v, pins %v %v", room, pin, host)
	}

	// Named settings change; "" removes a PIN.
	r = ctl(t, opEnv(b), "room", "set", "--lobby", "off", "4711", "--host-pin", "", "--warn-minutes", "5,1")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	room, _ = b.dir.Get("4711")
	pin, host = b.dir.HasPINs("4711")
	if room.Settings.Lobby || fmt.Sprint(room.Settings.WarnMinutes) != "[5 1]" || !pin || host || room.Name != "Kari Olsen" {
		t.Errorf("stored %+v, pins %v %v", room, pin, host)
	}
	for _, want := range []string{"lobby               off", "host-pin            none", "pin                 set", "warn-minutes        5,1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	// The bridge's validation reaches the operator, naming the key.
	r = ctl(t, opEnv(b), "room", "set", "4711", "--pin", "12ab")
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "brygga ctl: pin: ") {
		t.Errorf("bad pin: exit %d, %q", r.code, r.stderr)
	}
}

func TestRoomSetTurnsRecordingRoomSensitive(t *testing.T) {
	b := newBridge(t)
	if r := ctl(t, opEnv(b), "room", "set", "4711", "--record", "on"); r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r := ctl(t, opEnv(b), "room", "set", "4711", "--sensitive", "on"); r.code != ExitOK {
		t.Fatalf("sensitive: exit %d: %s", r.code, r.stderr)
	}
	room, _ := b.dir.Get("4711")
	if !room.Sensitive || room.Settings.Record || !room.Settings.Lobby {
		t.Errorf("stored %+v", room)
	}
}

func TestRoomCreateShowListDelete(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, opEnv(b), "room", "set", "4712", "--name", "Ola Nordmann", "--pin", "1357", "--lobby", "on")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "4712: created\n") {
		t.Fatalf("create: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if got := b.lastRequest().Body; got != `{"lobby":true,"name":"Ola Nordmann","pin":"1357"}` {
		t.Errorf("create sent %s", got)
	}
	r = ctl(t, opEnv(b), "room", "4712")
	for _, want := range []string{"extension           4712", "name                Ola Nordmann", "pin                 set", "lobby               on", "language            en"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("room lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ctl(t, opEnv(b), "rooms")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != ExitOK || len(lines) != 3 || !strings.HasPrefix(lines[0], "EXTENSION") ||
		!strings.HasPrefix(lines[1], "4711") || !strings.Contains(lines[2], "Ola Nordmann") || !strings.Contains(lines[2], "lobby") {
		t.Errorf("rooms: exit %d:\n%s", r.code, r.stdout)
	}
	r = ctl(t, opEnv(b), "--json", "rooms")
	var rs []Room
	if json.Unmarshal([]byte(r.stdout), &rs) != nil || len(rs) != 2 {
		t.Errorf("rooms --json: %q", r.stdout)
	}
	r = ctl(t, opEnv(b), "room", "delete", "4712")
	if got := b.lastRequest(); r.code != ExitOK || got.Method != "DELETE" || got.Path != "/api/v1/rooms/4712" || r.stdout != "4712: deleted\n" {
		t.Errorf("delete: exit %d, %q, %+v", r.code, r.stdout, got)
	}
	r = ctl(t, opEnv(b), "room", "delete", "4712")
	if r.code != ExitFailure || r.stderr != "brygga ctl: no such room in the directory\n" {
		t.Errorf("delete again: exit %d, %q", r.code, r.stderr)
	}
}

func TestPathSegmentsAreEscaped(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, opEnv(b), "mute", "4711", "../../rooms/4711")
	got := b.lastRequest()
	if r.code != ExitFailure || got.Method != "POST" || !strings.HasPrefix(got.Path, "/api/v1/conferences/4711/participants/") {
		t.Errorf("exit %d, request %+v", r.code, got)
	}
}

func TestHealth(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, nil, "--api", b.srv.URL, "health")
	if r.code != ExitOK || r.stdout != "alive\nready\n" {
		t.Errorf("exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = ctl(t, nil, "--api", b.srv.URL, "health", "--json")
	var h map[string]map[string]string
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &h) != nil || h["readyz"]["status"] != "ready" || h["healthz"]["status"] != "ok" {
		t.Errorf("--json: exit %d, %q", r.code, r.stdout)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"not ready"}`))
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	r = ctl(t, nil, "--api", srv.URL, "health")
	if r.code != ExitFailure || r.stderr != "brygga ctl: not ready\n" || !strings.Contains(r.stdout, "not ready") {
		t.Errorf("not ready: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestEventsAfterPrintsBacklog(t *testing.T) {
	b := newBridge(t)
	bus := b.conf.bus
	bus.Publish(events.Event{Type: events.ParticipantJoined, Room: "4711", Participant: "a1", Data: map[string]any{"role": "host", "caller_id": "4711"}})
	bus.Publish(events.Event{Type: events.ParticipantMuted, Room: "4711", Participant: "b2"})
	bus.Publish(events.Event{Type: events.ConferenceLocked, Room: "4800", Data: map[string]any{"locked": true}})
	bus.Publish(events.Event{Type: events.ParticipantTalk, Room: "4711", Participant: "a1", Data: map[string]any{"talking": false}})

	r := ctl(t, opEnv(b), "events", "--after", "1", "--wait", "200ms")
	want := "2025-11-21T10:00:00Z      2  4711    participant.muted      b2\n" +
		"2025-11-21T10:00:00Z      3  4800    conference.locked      locked=true\n" +
		"2025-11-21T10:00:00Z      4  4711    participant.talking    a1  talking=false\n"
	if r.code != ExitOK || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	if got := b.lastRequest(); got.LastEventID != "1" || got.Path != "/api/v1/events" {
		t.Errorf("request %+v", got)
	}

	r = ctl(t, opEnv(b), "events", "--room", "4711", "--after", "0", "--wait", "200ms", "--json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := b.lastRequest(); got.Query != "room=4711" {
		t.Errorf("query %q", got.Query)
	}
	// after=0 is "from now" for the bridge; nothing from the backlog.
	if r.stdout != "" {
		t.Errorf("--after 0 printed %q", r.stdout)
	}
	r = ctl(t, opEnv(b), "events", "--room", "4711", "--after", "1", "--wait", "200ms", "--json")
	var ids []uint64
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ids = append(ids, e.ID)
	}
	if fmt.Sprint(ids) != "[2 4]" {
		t.Errorf("--room 4711 --json ids %v:\n%s", ids, r.stdout)
	}
}

// sseServer is a hand-written event stream: each connection is answered by
// the next script, and what the client sent is kept.
type sseServer struct {
	scripts []func(w http.ResponseWriter, r *http.Request)
	n       atomic.Int32
	lastIDs chan string
}

func (s *sseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.lastIDs <- r.Header.Get("Last-Event-ID")
	if i >= len(s.scripts) {
		http.Error(w, `{"error":"no more"}`, http.StatusTeapot)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	s.scripts[i](w, r)
}

func sse(w http.ResponseWriter, text string) {
	w.Write([]byte(text))
	w.(http.Flusher).Flush()
}

func ev(id int, typ string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: {\"id\":%d,\"time\":\"2025-11-21T10:00:00Z\",\"type\":%q,\"room\":\"4711\"}\n\n", id, typ, id, typ)
}

// TestWatchReconnectsWithLastEventID drops the stream twice, once by
// closing it and once by going silent, and expects ctl to come back each
// time with the last id it saw, printing every event once.
func TestWatchReconnectsWithLastEventID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := &sseServer{lastIDs: make(chan string, 10)}
	srv.scripts = []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			sse(w, "retry: 20\n\n"+ev(41, "participant.joined")+": keepalive\n\n"+ev(42, "participant.muted"))
			// Return: the connection ends, as when the bridge restarts.
		},
		func(w http.ResponseWriter, r *http.Request) {
			sse(w, "retry: 20\n\nevent: gap\ndata: {\"after\":42}\n\n"+ev(43, "participant.left"))
			// Go silent past the client's watchdog (300 ms in tests).
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		},
		func(w http.ResponseWriter, r *http.Request) {
			sse(w, ev(44, "conference.ended"))
			<-r.Context().Done()
		},
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	var out, errb logtest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--api", hs.URL, "events", "--watch", "--json", "--after", "40"},
			func(string) string { return "" }, &out, &errb, testClient)
	}()
	for len(out.Lines()) < 5 {
		select {
		case code := <-done:
			t.Fatalf("watch ended with %d: %s", code, errb.String())
		case <-ctx.Done():
			t.Fatalf("only got:\n%s\nstderr:\n%s", out.String(), errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("exit %d after interrupt", code)
	}
	var ids []string
	for range 3 {
		ids = append(ids, <-srv.lastIDs)
	}
	if fmt.Sprint(ids) != "[40 42 43]" {
		t.Errorf("Last-Event-ID sent %v, want [40 42 43]", ids)
	}
	lines := out.Lines()
	var got []string
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		got = append(got, fmt.Sprintf("%v %v %v", m["type"], m["id"], m["after"]))
	}
	want := "[participant.joined 41 <nil> participant.muted 42 <nil> gap <nil> 42 participant.left 43 <nil> conference.ended 44 <nil>]"
	if fmt.Sprint(got) != want {
		t.Errorf("printed %v\nwant %s", got, want)
	}
	if n := strings.Count(errb.String(), "reconnecting in"); n != 2 {
		t.Errorf("stderr should tell of 2 reconnects:\n%s", errb.String())
	}
}

// TestWatchStopsWhenRefused: a bridge that answers the reconnect with 401
// (the token was revoked) ends the watch with exit 1 instead of retrying.
func TestWatchStopsWhenRefused(t *testing.T) {
	var n atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid bearer token"}`))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		sse(w, "retry: 10\n\n"+ev(1, "conference.started"))
	}))
	defer hs.Close()
	r := ctl(t, map[string]string{"BRYGGA_API": hs.URL}, "events", "--watch")
	if r.code != ExitFailure || !strings.HasSuffix(r.stderr, "brygga ctl: invalid bearer token\n") ||
		!strings.Contains(r.stdout, "conference.started") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestReadSSE(t *testing.T) {
	in := "retry: 1500\r\n: hello\r\n\r\nid: 7\r\nevent: x\r\ndata: a\r\ndata:b\r\n\r\ndata: plain\n\nid: 8\n\n"
	var got []Message
	var retry time.Duration
	err := readSSE(strings.NewReader(in), func(m Message) bool { got = append(got, m); return true },
		func(d time.Duration) { retry = d })
	if err == nil || retry != 1500*time.Millisecond {
		t.Fatalf("err %v, retry %v", err, retry)
	}
	want := `[{  []} {7 x [97 10 98]} { message [112 108 97 105 110]}]`
	if fmt.Sprint(got) != want {
		t.Errorf("got %v\nwant %s", got, want)
	}
}

// A cluster's list names each conference's node in a first column; a
// single bridge's list (no node anywhere) has no such column.
func TestConferencesNodeColumn(t *testing.T) {
	var out strings.Builder
	if err := WriteConferences(&out, []Conference{{Room: "4711", Node: "a", Participants: 2}, {Room: "5000", Node: "b", Participants: 1}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NODE  ROOM") || !strings.HasPrefix(lines[2], "b     5000") {
		t.Fatalf("cluster table:\n%s", out.String())
	}
	out.Reset()
	if err := WriteConference(&out, Conference{Room: "5000", Node: "b"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "node          b\n") {
		t.Fatalf("detail lacks the node:\n%s", out.String())
	}
}
