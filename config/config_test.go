package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseWith runs Parse with a config file held in memory at "brygga.yaml"
// (when src is not "") and the given environment.
func parseWith(src string, env map[string]string, args ...string) (*Config, error) {
	if src != "" {
		args = append([]string{"--config", "brygga.yaml"}, args...)
	}
	read := func(name string) ([]byte, error) {
		if name == "brygga.yaml" {
			return []byte(src), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return parse(args, func(k string) string { return env[k] }, read)
}

func mustParse(t *testing.T, src string, env map[string]string, args ...string) *Config {
	t.Helper()
	c, err := parseWith(src, env, args...)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

// wantKeyError checks that src is refused with an *Error naming key whose
// message contains msg.
func wantKeyError(t *testing.T, src, key, msg string) {
	t.Helper()
	_, err := parseWith(src, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != key || !strings.Contains(ce.Msg, msg) {
		t.Errorf("%q: got %v, want an error naming %s that says %q", src, err, key, msg)
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	c, err := Parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigFile != "" {
		t.Errorf("ConfigFile = %q, want none", c.ConfigFile)
	}
	want := []Listen{{"udp", "127.0.0.1:5060"}, {"tcp", "127.0.0.1:5060"}}
	if !slices.Equal(c.SIP.Listen, want) {
		t.Errorf("SIP.Listen = %v, want %v", c.SIP.Listen, want)
	}
	if c.Media.IP != netip.MustParseAddr("127.0.0.1") || c.Media.PortLo != 20000 || c.Media.PortHi != 29999 || c.Media.Symmetric != "auto" {
		t.Errorf("Media = %+v", c.Media)
	}
	if c.API.Listen != "127.0.0.1:8080" || len(c.API.Tokens) != 0 {
		t.Errorf("API = %+v", c.API)
	}
	if c.Data != "./brygga-data" || c.LogLevel != "info" {
		t.Errorf("Data, LogLevel = %q, %q", c.Data, c.LogLevel)
	}
	if c.SIP.MaxCalls != 500 || c.Mixer.MaxTalkers != 4 || c.SIP.UserAgent != "brygga" {
		t.Errorf("MaxCalls, MaxTalkers, UserAgent = %d, %d, %q", c.SIP.MaxCalls, c.Mixer.MaxTalkers, c.SIP.UserAgent)
	}
	wantDefaults := RoomSettings{Language: "en", MaxMinutes: 60, WarnMinutes: []int{5, 1}, EarlyJoinMinutes: 10, Names: true, NamesMaxRoom: 10}
	if !reflect.DeepEqual(c.Defaults, wantDefaults) {
		t.Errorf("Defaults = %+v, want %+v", c.Defaults, wantDefaults)
	}
	if c.Recordings != (Recordings{KeepDays: 30, MaxEmailMB: 10}) {
		t.Errorf("Recordings = %+v", c.Recordings)
	}
	for _, tc := range []struct {
		addr             string
		trusted, allowed bool
	}{
		{"127.0.0.1", true, true},
		{"127.8.9.10", true, true},
		{"::1", true, true},
		{"::ffff:127.0.0.1", true, true}, // as a dual-stack socket reports it
		{"10.1.2.3", false, true},
		{"2001:db8::1", false, true},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := c.SIP.IsTrusted(a); got != tc.trusted {
			t.Errorf("IsTrusted(%s) = %v, want %v", a, got, tc.trusted)
		}
		if got := c.SIP.IsAllowed(a); got != tc.allowed {
			t.Errorf("IsAllowed(%s) = %v, want %v", a, got, tc.allowed)
		}
	}
	// Every extension of 3 to 6 digits is an open room without a PIN.
	for ext, want := range map[string]bool{
		"100": true, "4711": true, "999999": true,
		"12": false, "1234567": false, "12a4": false, "": false, "4711*2468": false,
	} {
		r, ok := c.Room(ext)
		if ok != want {
			t.Errorf("Room(%q) ok = %v, want %v", ext, ok, want)
			continue
		}
		if ok && (r.Extension != ext || r.PIN != "" || r.HostPIN != "" || r.Settings.Language != "en" || !reflect.DeepEqual(r.Settings, c.Defaults)) {
			t.Errorf("Room(%q) = %+v", ext, r)
		}
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse with nothing differs from Default():\n%s\nvs\n%s", c.dump(false), Default().dump(false))
	}
}

func TestFullExample(t *testing.T) {
	c, err := Parse([]string{"--config", "testdata/full.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigFile != "testdata/full.yaml" {
		t.Errorf("ConfigFile = %q", c.ConfigFile)
	}
	if want := []Listen{{"udp", "0.0.0.0:5060"}, {"tcp", "0.0.0.0:5060"}}; !slices.Equal(c.SIP.Listen, want) {
		t.Errorf("Listen = %v", c.SIP.Listen)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}; !slices.Equal(c.SIP.Trusted, want) {
		t.Errorf("Trusted = %v", c.SIP.Trusted)
	}
	if c.SIP.IsTrusted(netip.MustParseAddr("127.0.0.1")) {
		t.Error("loopback still trusted after sip.trusted replaced the default")
	}
	if c.SIP.IsAllowed(netip.MustParseAddr("2001:db8::1")) {
		t.Error("IPv6 allowed although sip.allow lists only 0.0.0.0/0")
	}
	if c.Media.IP != netip.MustParseAddr("192.0.2.10") {
		t.Errorf("Media.IP = %v", c.Media.IP)
	}
	if len(c.API.Tokens) != 2 || c.API.Tokens[0] != (Token{"ops", "s3cr3t-operator-token", "operator"}) || c.API.Tokens[1].Role != "viewer" {
		t.Errorf("Tokens = %#v", c.API.Tokens)
	}
	if c.Mail.SMTP != "smtp://user:pass@mail.example.org:587" || c.Mail.From != "Konferanse <brygga@example.org>" ||
		c.Mail.Listen != "127.0.0.1:2525" || c.Mail.Address != "brygga@example.org" {
		t.Errorf("Mail = %#v", c.Mail)
	}
	if c.Voicemail.SIPProxy != "sip:pbx.example.org" {
		t.Errorf("Voicemail = %+v", c.Voicemail)
	}
	if c.Store.URL != "postgres://brygga:pass@db.example.org:5432/brygga?sslmode=verify-full" {
		t.Errorf("Store = %+v", c.Store)
	}
	r, ok := c.Room("4711")
	want := Room{
		Extension: "4711", Name: "Kari Nordmann", Email: "kari.nordmann@example.org",
		Voicemail: "sip:4711@vm.example.org", PIN: "2468", HostPIN: "97531",
		Settings: RoomSettings{Language: "nb", MaxMinutes: 60, WarnMinutes: []int{5, 1}, EarlyJoinMinutes: 10, Names: true, NamesMaxRoom: 10},
	}
	if !ok || !reflect.DeepEqual(r, want) {
		t.Errorf("Room(4711) = %+v, %v; want %+v", r, ok, want)
	}
}

func TestPrecedence(t *testing.T) {
	const file = `
data: /srv/file
log_level: warn
store: {url: "sqlite:/srv/file.db"}
sip: {listen: ["udp:192.0.2.1:5070"]}
media: {ip: 192.0.2.1, ports: 30000-30099}
api: {listen: "192.0.2.1:9000"}
`
	env := map[string]string{
		"BRYGGA_DATA":      "/srv/env",
		"BRYGGA_STORE":     "postgres://env.example.org/brygga",
		"BRYGGA_LOG_LEVEL": "error",
		"BRYGGA_SIP":       "tcp:192.0.2.2:5080",
		"BRYGGA_MEDIA_IP":  "192.0.2.2",
		"BRYGGA_RTP_PORTS": "40000-40099",
		"BRYGGA_API":       "192.0.2.2:9001",
	}
	flags := []string{
		"--data", "/srv/flag",
		"--store", "postgresql://flag.example.org/brygga",
		"--log-level", "debug",
		"--sip", "192.0.2.3:5090",
		"--media-ip", "192.0.2.3",
		"--rtp-ports", "50000-50099",
		"--api", "192.0.2.3:9002",
	}
	type view struct {
		Data, LogLevel, API string
		Listen              []Listen
		IP                  netip.Addr
		Lo, Hi              int
		Store               string
	}
	get := func(c *Config) view {
		return view{c.Data, c.LogLevel, c.API.Listen, c.SIP.Listen, c.Media.IP, c.Media.PortLo, c.Media.PortHi, c.Store.URL}
	}
	d := Default()
	cases := []struct {
		name  string
		file  string
		env   map[string]string
		flags []string
		want  view
	}{
		{"default", "", nil, nil, get(d)},
		{"file beats default", file, nil, nil, view{"/srv/file", "warn", "192.0.2.1:9000", []Listen{{"udp", "192.0.2.1:5070"}}, netip.MustParseAddr("192.0.2.1"), 30000, 30099, "sqlite:/srv/file.db"}},
		{"env beats file", file, env, nil, view{"/srv/env", "error", "192.0.2.2:9001", []Listen{{"tcp", "192.0.2.2:5080"}}, netip.MustParseAddr("192.0.2.2"), 40000, 40099, "postgres://env.example.org/brygga"}},
		{"env beats default", "", env, nil, view{"/srv/env", "error", "192.0.2.2:9001", []Listen{{"tcp", "192.0.2.2:5080"}}, netip.MustParseAddr("192.0.2.2"), 40000, 40099, "postgres://env.example.org/brygga"}},
		{"flag beats env and file", file, env, flags, view{"/srv/flag", "debug", "192.0.2.3:9002", []Listen{{"udp", "192.0.2.3:5090"}, {"tcp", "192.0.2.3:5090"}}, netip.MustParseAddr("192.0.2.3"), 50000, 50099, "postgresql://flag.example.org/brygga"}},
		{"flag beats default", "", nil, flags, view{"/srv/flag", "debug", "192.0.2.3:9002", []Listen{{"udp", "192.0.2.3:5090"}, {"tcp", "192.0.2.3:5090"}}, netip.MustParseAddr("192.0.2.3"), 50000, 50099, "postgresql://flag.example.org/brygga"}},
		{"empty env var is unset", file, map[string]string{"BRYGGA_DATA": ""}, nil, view{"/srv/file", "warn", "192.0.2.1:9000", []Listen{{"udp", "192.0.2.1:5070"}}, netip.MustParseAddr("192.0.2.1"), 30000, 30099, "sqlite:/srv/file.db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := get(mustParse(t, tc.file, tc.env, tc.flags...))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestConfigFileSources(t *testing.T) {
	read := func(name string) ([]byte, error) {
		switch name {
		case "env.yaml":
			return []byte("data: /from/env-file\n"), nil
		case "flag.yaml":
			return []byte("data: /from/flag-file\n"), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	env := func(k string) string {
		if k == "BRYGGA_CONFIG" {
			return "env.yaml"
		}
		return ""
	}
	for _, tc := range []struct {
		args     []string
		data     string
		fileName string
	}{
		{nil, "/from/env-file", "env.yaml"},
		{[]string{"--config", "flag.yaml"}, "/from/flag-file", "flag.yaml"},
		{[]string{"--config="}, "./brygga-data", ""}, // --config "" reads no file at all
	} {
		c, err := parse(tc.args, env, read)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if c.Data != tc.data || c.ConfigFile != tc.fileName {
			t.Errorf("%v: Data, ConfigFile = %q, %q; want %q, %q", tc.args, c.Data, c.ConfigFile, tc.data, tc.fileName)
		}
	}
	// A bad variable that a flag overrides is never looked at.
	if _, err := parseWith("", map[string]string{"BRYGGA_RTP_PORTS": "nonsense"}, "--rtp-ports", "20000-20099"); err != nil {
		t.Errorf("overridden bad env var: %v", err)
	}
}

func TestOpenRooms(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		src        string
		room       map[string]bool
	}{
		{"absent key in a file turns off", "defaults: {language: sv}\n", "", map[string]bool{"123": false, "12": false}},
		{"explicit default", "open_rooms: \"^[0-9]{3,6}$\"\n", DefaultOpenRooms, map[string]bool{"123": true, "12": false}},
		{"empty string turns off", "open_rooms: \"\"\n", "", map[string]bool{"123": false, "4711": false}},
		{"null turns off", "open_rooms: ~\n", "", map[string]bool{"123": false}},
		{"bare key turns off", "open_rooms:\n", "", map[string]bool{"123": false}},
		{"pattern is anchored", "open_rooms: \"8[0-9]{2}\"\n", "8[0-9]{2}", map[string]bool{"812": true, "8123": false, "1812": false}},
		{"alternation is anchored as a whole", "open_rooms: \"1|22\"\n", "1|22", map[string]bool{"1": true, "22": true, "122": false, "221": false}},
		{"non-digits never rooms", "open_rooms: \".*\"\n", ".*", map[string]bool{"5": true, "abc": false, "1 2": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.file, nil)
			if c.OpenRooms != tc.src || (c.OpenRoomsRE == nil) != (tc.src == "") {
				t.Fatalf("OpenRooms = %q (RE %v), want %q", c.OpenRooms, c.OpenRoomsRE, tc.src)
			}
			for ext, want := range tc.room {
				if _, ok := c.Room(ext); ok != want {
					t.Errorf("Room(%q) = %v, want %v", ext, ok, want)
				}
			}
		})
	}
}

func TestRoomLookup(t *testing.T) {
	c := mustParse(t, `
defaults:
  language: sv
  max_minutes: 45
  record: true
directory:
  - extension: 4711
    pin: 0246
    max_minutes: 90
    warn_minutes: [10, 15, 1]
    lobby: true
  - extension: "0800"
    name: Open Line
  - extension: 5000
    sensitive: true
    pin: "123456"
open_rooms: "9[0-9]{3}"
`, nil)
	r, ok := c.Room("4711")
	want := Room{Extension: "4711", PIN: "0246", Settings: RoomSettings{
		Language: "sv", MaxMinutes: 90, WarnMinutes: []int{15, 10, 1}, EarlyJoinMinutes: 10,
		Names: true, NamesMaxRoom: 10, Lobby: true, Record: true,
	}}
	if !ok || !reflect.DeepEqual(r, want) {
		t.Errorf("Room(4711) = %+v, %v\nwant %+v", r, ok, want)
	}
	// Leading zeros survive: extensions and PINs are text, not numbers.
	if r, ok := c.Room("0800"); !ok || r.Name != "Open Line" || r.Settings.MaxMinutes != 45 || r.Settings.Language != "sv" {
		t.Errorf("Room(0800) = %+v, %v", r, ok)
	}
	// A sensitive room is never recorded, even when the defaults say so.
	if r, ok := c.Room("5000"); !ok || !r.Sensitive || r.Settings.Record {
		t.Errorf("Room(5000) = %+v, %v", r, ok)
	}
	if r, ok := c.Room("9123"); !ok || r.PIN != "" || r.Name != "" || !reflect.DeepEqual(r.Settings, c.Defaults) {
		t.Errorf("open Room(9123) = %+v, %v", r, ok)
	}
	// The directory wins over the pattern, and nothing else is a room.
	c.OpenRooms, c.OpenRoomsRE = "", nil
	if _, ok := c.Room("9123"); ok {
		t.Error("Room(9123) found with open rooms off")
	}
	if _, ok := c.Room("4712"); ok {
		t.Error("Room(4712) found but not in the directory")
	}
	// The result is a copy.
	r, _ = c.Room("4711")
	r.Settings.WarnMinutes[0] = 99
	r.PIN = "9999"
	if again, _ := c.Room("4711"); again.Settings.WarnMinutes[0] != 15 || again.PIN != "0246" {
		t.Errorf("changing a returned room changed the config: %+v", again)
	}
	open, _ := mustParse(t, "", nil).Room("123")
	open.Settings.WarnMinutes[0] = 99
	if c.Defaults.WarnMinutes[0] != 5 {
		t.Error("changing an open room changed the defaults")
	}
}

func TestNullsAndEmpties(t *testing.T) {
	c := mustParse(t, `
sip:
  trusted: []
media:
api:
mail: {smtp: "", from: "", listen: "", address: ""}
voicemail: {sip_proxy: ""}
prompts_dir: ""
directory:
`, nil)
	if len(c.SIP.Trusted) != 0 || c.SIP.IsTrusted(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("trusted: [] should trust nobody, got %v", c.SIP.Trusted)
	}
	if c.Media != Default().Media || c.API.Listen != "127.0.0.1:8080" {
		t.Errorf("empty mappings changed defaults: %+v %+v", c.Media, c.API)
	}
	// A file holding only comments, or nothing, is all defaults but for
	// open rooms, which only the no-file case has.
	want := Default()
	want.OpenRooms, want.OpenRoomsRE = "", nil
	for _, src := range []string{"# nothing here\n", "---\n", "~\n"} {
		if c := mustParse(t, src, nil); c.dump(false) != want.dump(false) {
			t.Errorf("%q is not all defaults", src)
		}
	}
}

func TestListenSyntax(t *testing.T) {
	c := mustParse(t, "", nil, "--sip", "udp:[::1]:5060, tcp:example.org:5061,:5062,UDP:10.0.0.1:0")
	want := []Listen{{"udp", "[::1]:5060"}, {"tcp", "example.org:5061"}, {"udp", ":5062"}, {"tcp", ":5062"}, {"udp", "10.0.0.1:0"}}
	if !slices.Equal(c.SIP.Listen, want) {
		t.Errorf("Listen = %v\nwant     %v", c.SIP.Listen, want)
	}
}

func TestHelpAndFlagErrors(t *testing.T) {
	for _, h := range []string{"-h", "--help", "-help"} {
		if _, err := parseWith("", nil, h); err != flag.ErrHelp {
			t.Errorf("%s: err = %v, want flag.ErrHelp itself", h, err)
		}
	}
	if u := Usage(); !strings.Contains(u, "--rtp-ports LO-HI") || !strings.Contains(u, "BRYGGA_RTP_PORTS") {
		t.Errorf("Usage lacks flags or variables:\n%s", u)
	}
	_, err := parseWith("", nil, "--bogus")
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "flags" || !strings.Contains(ce.Msg, "-bogus") || !strings.Contains(ce.Msg, "Usage: brygga serve") {
		t.Errorf("unknown flag: %#v", err)
	}
	if _, err := parseWith("", nil, "--data", "x", "extra"); !errors.As(err, &ce) || ce.Key != "flags" || !strings.Contains(ce.Msg, `"extra"`) {
		t.Errorf("stray argument: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	c, err := Parse([]string{"--config", "testdata/full.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Directory = append(c.Directory, Room{Extension: "5000", PIN: "8642", HostPIN: "75319", Sensitive: true, Settings: c.Defaults})
	secrets := []string{"s3cr3t-operator-token", "9f86d081884c7d", "2468", "97531", "8642", "75319", "pass@", ":pass"}
	for name, out := range map[string]string{"Redacted": c.Redacted(), "String": c.String()} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the secret %q:\n%s", name, s, out)
			}
		}
		for _, s := range []string{"token: '***'", "pin: '***'", "host_pin: '***'", "smtp://user:***@mail.example.org:587", "name: ops", "extension: \"4711\""} {
			if !strings.Contains(out, s) {
				t.Errorf("%s lacks %q:\n%s", name, s, out)
			}
		}
	}
	for _, v := range []any{c.API.Tokens[0], c.Directory[0], c.Mail} {
		s := stringOf(v)
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("%T prints the secret %q: %s", v, secret, s)
			}
		}
	}
}

func stringOf(v any) string { return v.(interface{ String() string }).String() }

// The unredacted dump is a config file that reads back to the same config,
// so the dump and the reader agree on every key.
func TestDumpRoundTrip(t *testing.T) {
	c, err := Parse([]string{"--config", "testdata/full.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rooms := mustParse(t, `
defaults: {language: sv, warn_minutes: [], record: true, lobby: true}
open_rooms: "9[0-9]{3}"
directory:
  - {extension: 1, language: nb, max_minutes: 20, warn_minutes: [2], early_join_minutes: 0,
     names: false, names_max_room: 3, lobby: false, wait_for_host: true, record: false}
  - {extension: 2, name: "Ærlig: \"Øyvind\" #1", voicemail: "spool:/var/spool/vm/2"}
  - {extension: 3, sensitive: true, pin: "0012", host_pin: "0013", email: a@example.org}
`, nil)
	for _, c := range []*Config{c, rooms, Default()} {
		c2 := mustParse(t, c.dump(false), nil)
		c2.ConfigFile = c.ConfigFile
		if !reflect.DeepEqual(c, c2) {
			t.Errorf("round trip differs:\n%s\nvs\n%s", c.dump(false), c2.dump(false))
		}
	}
	// Redacted output is valid YAML with the same shape.
	red := strings.Replace(c.Redacted(), "user:***@", "user:x@", 1)
	for i := 0; strings.Contains(red, "'***'"); i++ {
		red = strings.Replace(red, "'***'", fmt.Sprintf(`"%d"`, 1000+i), 1)
	}
	if d := mustParse(t, red, nil); len(d.Directory) != 1 || len(d.API.Tokens) != 2 {
		t.Errorf("redacted dump reads back as %+v", d)
	}
}

func TestTokenMatch(t *testing.T) {
	plain := Token{Name: "ops", Token: "s3cr3t", Role: "operator"}
	// sha256("test")
	hashed := Token{Name: "wall", Token: "sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", Role: "viewer"}
	for _, tc := range []struct {
		tok    Token
		bearer string
		want   bool
	}{
		{plain, "s3cr3t", true},
		{plain, "s3cr3", false},
		{plain, "s3cr3t ", false},
		{plain, "", false},
		{hashed, "test", true},
		{hashed, "tesT", false},
		{hashed, hashed.Token, false}, // the hash itself is not the token
		{Token{Token: ""}, "", false},
		{Token{Token: "sha256:zz"}, "test", false},
	} {
		if got := tc.tok.Match(tc.bearer); got != tc.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tc.tok.Token, tc.bearer, got, tc.want)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	for lvl, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		c := mustParse(t, "", nil, "--log-level", strings.ToUpper(lvl))
		if c.LogLevel != lvl || c.SlogLevel().String() != want {
			t.Errorf("%s: LogLevel %q, slog %v", lvl, c.LogLevel, c.SlogLevel())
		}
	}
}

func TestRoomValidate(t *testing.T) {
	good := Room{Extension: "4711", PIN: "1234", HostPIN: "98765", Voicemail: "mailto:kari@example.org", Settings: Default().Defaults}
	if err := good.Validate(); err != nil {
		t.Fatalf("good room: %v", err)
	}
	for key, mutate := range map[string]func(*Room){
		"extension":          func(r *Room) { r.Extension = "47x1" },
		"name":               func(r *Room) { r.Name = "Kari\r\nX-Evil: 1" },
		"email":              func(r *Room) { r.Email = "kari" },
		"delegates[1]":       func(r *Room) { r.Email, r.Delegates = "kari@example.org", []string{"a@example.org", "A@example.org"} },
		"delegates[0]":       func(r *Room) { r.Email, r.Delegates = "kari@example.org", []string{"a"} },
		"delegates":          func(r *Room) { r.Delegates = []string{"a@example.org"} },
		"voicemail":          func(r *Room) { r.Voicemail = "http://example.org" },
		"pin":                func(r *Room) { r.PIN = "12" },
		"host_pin":           func(r *Room) { r.HostPIN = r.PIN },
		"language":           func(r *Room) { r.Settings.Language = "de" },
		"max_minutes":        func(r *Room) { r.Settings.MaxMinutes = 0 },
		"early_join_minutes": func(r *Room) { r.Settings.EarlyJoinMinutes = -1 },
		"names_max_room":     func(r *Room) { r.Settings.NamesMaxRoom = 0 },
		"warn_minutes[1]":    func(r *Room) { r.Settings.WarnMinutes = []int{5, 60} },
		"record":             func(r *Room) { r.Sensitive, r.Settings.Record = true, true },
	} {
		r := good
		r.Settings = good.Settings.clone()
		mutate(&r)
		var ce *Error
		if err := r.Validate(); !errors.As(err, &ce) || ce.Key != key {
			t.Errorf("%s: got %v", key, err)
		}
	}
	r := good
	r.Sensitive, r.PIN = true, ""
	var ce *Error
	if err := r.Validate(); !errors.As(err, &ce) || ce.Key != "pin" {
		t.Errorf("sensitive without PIN: %v", err)
	}
}

// The complete file in docs/config.md is what operators copy; it must parse
// and mean what the page says.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete file\n\n```yaml\n")
	src, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/config.md has no complete YAML example")
	}
	c := mustParse(t, src, nil)
	if c.OpenRoomsRE != nil {
		t.Error("the example turns open rooms off")
	}
	if _, ok := c.Room("4713"); ok {
		t.Error("4713 is a room although open rooms are off")
	}
	r, ok := c.Room("4712")
	if !ok || !r.Sensitive || !r.Settings.Lobby || r.Settings.Language != "sv" || r.Settings.Record {
		t.Errorf("Room(4712) = %+v", r)
	}
	if r, _ := c.Room("4711"); r.Settings.Language != "nb" || !slices.Equal(r.Delegates, []string{"assistent@example.org"}) {
		t.Errorf("Room(4711) does not inherit language nb or lacks its delegate: %+v", r)
	}
	if c.Cluster != (Cluster{Heartbeat: 2 * time.Second}) {
		t.Errorf("Cluster = %+v, want no cluster and a 2s heartbeat", c.Cluster)
	}
	if c.Mail.AuthservID != "mx.example.org" {
		t.Errorf("mail.authserv_id = %q", c.Mail.AuthservID)
	}
	if !c.API.Tokens[0].Match("test") {
		t.Error("the sha256 token in the example is not sha256(\"test\")")
	}
	if !slices.Equal(c.API.Hosts, []string{"brygga.example.org", "2001:db8::10"}) {
		t.Errorf("API.Hosts = %q", c.API.Hosts)
	}
}

func TestPrefixes(t *testing.T) {
	c := mustParse(t, `sip: {trusted: [192.0.2.7, "2001:db8::/32", "10.1.2.3/8"]}`, nil)
	want := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.0.0.0/8"), // masked, so it prints as what it matches
	}
	if !slices.Equal(c.SIP.Trusted, want) {
		t.Errorf("Trusted = %v, want %v", c.SIP.Trusted, want)
	}
	if !c.SIP.IsTrusted(netip.MustParseAddr("::ffff:10.200.0.1")) || c.SIP.IsTrusted(netip.MustParseAddr("192.0.2.8")) {
		t.Error("IsTrusted matches the wrong addresses")
	}
	var ce *Error
	if _, err := parseWith(`sip: {trusted: ["::ffff:10.0.0.0/104"]}`, nil); !errors.As(err, &ce) || ce.Key != "sip.trusted[0]" {
		t.Errorf("IPv4-mapped prefix: %v", err)
	}
}
