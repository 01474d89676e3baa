package config

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// Every bad value must be refused with the key an operator has to fix.
func TestFileErrors(t *testing.T) {
	cases := []struct {
		key  string
		src  string
		want string // part of the message
	}{
		// unknown keys, with the full path
		{"media.symetric", "media:\n  symetric: auto\n", "did you mean media.symmetric?"},
		{"directory[2].hostpin", "directory:\n  - {extension: 1}\n  - {extension: 2}\n  - {extension: 3, hostpin: 1234}\n", "did you mean directory[2].host_pin?"},
		{"api.tokens[0].secret", "api: {tokens: [{name: a, secret: x, role: viewer}]}\n", "unknown key"},
		{"recording", "recording: {keep_days: 3}\n", "did you mean recordings?"},
		{"sip.max-calls", "sip: {max-calls: 3}\n", "did you mean sip.max_calls?"},
		{"defaults.\"max minutes\"", "defaults: {\"max minutes\": 3}\n", "unknown key"},
		{"sip.listen", "sip:\n  listen: []\n  listen: []\n", "set twice"},
		{"base", "base: &b {lobby: true}\n", "unknown key"},
		{"directory[0].<<", "directory:\n  - <<: {lobby: true}\n    extension: 1\n", "merge keys"},
		{"sip", "sip: [udp]\n", "want a mapping"},
		{"sip", "sip: {[a]: 1}\n", "plain names"},

		// data and log level
		{"data", "data: \"\"\n", "must not be empty"},
		{"store.url", "store: {url: \"mysql://db/brygga\"}\n", "sqlite:PATH or a postgres:// URL"},
		{"store.url", "store: {url: \"sqlite:\"}\n", "needs the database file's path"},
		{"store.url", "store: {url: \"postgres://db:port/brygga\"}\n", "is not a URL"},
		{"store.url", "store: {url: \"postgres://db/brygga\\n\"}\n", "control character"},
		{"store.path", "store: {path: /var/lib/brygga.db}\n", "unknown key"},
		{"log_level", "log_level: verbose\n", "debug, info, warn, error"},

		// sip
		{"sip.listen[1]", "sip: {listen: [\"udp:127.0.0.1:5060\", \"sctp:127.0.0.1:5061\"]}\n", `transport "sctp"`},
		{"sip.tls.key", "sip: {tls: {cert: /nonexistent.pem}}\n", "missing"},
		{"api.tls.cert", "api: {tls: {key: /nonexistent.pem}}\n", "missing"},
		{"sip.listen[0]", "sip: {listen: [\"udp:127.0.0.1\"]}\n", "host:port"},
		{"sip.listen[0]", "sip: {listen: [\"127.0.0.1:99999\"]}\n", "0 to 65535"},
		{"sip.listen[0]", "sip: {listen: [\"udp:::1:5060\"]}\n", "host:port"},
		{"sip.listen[0]", "sip: {listen: [\"udp:bad_host!:5060\"]}\n", "neither an IP"},
		{"sip.listen[1]", "sip: {listen: [\"127.0.0.1:5060\", \"udp:127.0.0.1:5060\"]}\n", "twice"},
		{"sip.listen", "sip: {listen: []}\n", "no listeners"},
		{"sip.listen", "sip: {listen: \"udp:127.0.0.1:5060\"}\n", "want a list"},
		{"sip.listen[0]", "sip: {listen: [{udp: 1}]}\n", "single value"},
		{"sip.trusted[0]", "sip: {trusted: [\"10.0.0.0/33\"]}\n", "CIDR"},
		{"sip.trusted[1]", "sip: {trusted: [\"10.0.0.0/8\", \"10.1.0.0/8\"]}\n", "twice"},
		{"sip.allow[0]", "sip: {allow: [\"everyone\"]}\n", "CIDR"},
		{"sip.allow", "sip: {allow: []}\n", "no caller could get in"},
		{"sip.max_calls", "sip: {max_calls: 0}\n", "outside 1..1000000"},
		{"sip.max_calls", "sip: {max_calls: many}\n", "not a whole number"},
		{"sip.max_calls", "sip: {max_calls: 2.5}\n", "not a whole number"},
		{"sip.max_calls", "sip: {max_calls: ~}\n", "needs a whole number"},
		{"sip.user_agent", "sip: {user_agent: \"a\\r\\nVia: x\"}\n", "control character"},

		// media
		{"media.ip", "media: {ip: 0.0.0.0}\n", "this machine's address"},
		{"media.ip", "media: {ip: example.org}\n", "not an IP address"},
		{"media.ip", "media: {ip: \"fe80::1%eth0\"}\n", "zone"},
		{"media.ip", "media: {ip: 224.0.0.1}\n", "multicast"},
		{"media.ports", "media: {ports: 20000}\n", "LO-HI"},
		{"media.ports", "media: {ports: 30000-20001}\n", "below the last"},
		{"media.ports", "media: {ports: 1000-2001}\n", "1024-65535"},
		{"media.ports", "media: {ports: 60000-70001}\n", "1024-65535"},
		{"media.ports", "media: {ports: 20000-20000}\n", "below the last"},
		{"media.ports", "media: {ports: 20000-30000}\n", "even first port and an odd last"},
		{"media.ports", "media: {ports: 20001-30000}\n", "even first port and an odd last"},
		{"media.symmetric", "media: {symmetric: sometimes}\n", "auto, always, never"},

		// api
		{"api.listen", "api: {listen: localhost}\n", "host:port"},
		{"api.metrics", "api: {metrics: on}\n", "host:port"},
		{"api.hosts[0]", "api: {hosts: [\"brygga.example.org:8080\"]}\n", "no port"},
		{"api.hosts[0]", "api: {hosts: [\"https://brygga.example.org\"]}\n", "neither a host name"},
		{"api.hosts[0]", "api: {hosts: [\"*.example.org\"]}\n", "no wildcard"},
		{"api.hosts[0]", "api: {hosts: [\"fe80::1%eth0\"]}\n", "zone"},
		{"api.hosts[1]", "api: {hosts: [Brygga.Example.org, brygga.example.org.]}\n", "listed twice"},
		{"api.hosts", "api: {hosts: brygga.example.org}\n", "want a list"},
		{"api.tokens[0].role", "api: {tokens: [{name: a, token: x, role: admin}]}\n", "operator, viewer"},
		{"api.tokens[0].role", "api: {tokens: [{name: a, token: x}]}\n", "missing"},
		{"api.tokens[0].name", "api: {tokens: [{token: x, role: viewer}]}\n", "missing"},
		{"api.tokens[0].token", "api: {tokens: [{name: a, token: \"\", role: viewer}]}\n", "must not be empty"},
		{"api.tokens[0].token", "api: {tokens: [{name: a, token: \"two words\", role: viewer}]}\n", "spaces"},
		{"api.tokens[0].token", "api: {tokens: [{name: a, token: \"sha256:abc\", role: viewer}]}\n", "64 hex"},
		{"api.tokens[1].name", "api: {tokens: [{name: a, token: x, role: viewer}, {name: a, token: y, role: viewer}]}\n", "already"},
		{"api.tokens[1].token", "api: {tokens: [{name: a, token: x, role: viewer}, {name: b, token: x, role: operator}]}\n", "same token"},
		{"api.tokens[0]", "api: {tokens: [x]}\n", "want a mapping"},

		// mail
		{"mail.smtp", "mail: {smtp: \"http://mail.example.org\", from: a@example.org}\n", "smtp or smtps"},
		{"mail.smtp", "mail: {smtp: \"smtp://\", from: a@example.org}\n", "no host"},
		{"mail.smtp", "mail: {smtp: \"smtp://mail.example.org:99999\", from: a@example.org}\n", "port"},
		{"mail.from", "mail: {smtp: \"smtp://mail.example.org\"}\n", "required"},
		{"mail.from", "mail: {from: \"not an address\"}\n", "mail address"},
		{"mail.address", "mail: {listen: \"127.0.0.1:2525\"}\n", "required"},
		{"mail.address", "mail: {address: \"Brygga <b@example.org>\"}\n", "mail address"},
		{"mail.listen", "mail: {listen: \"lmtp:nowhere\", address: b@example.org}\n", "host:port"},
		{"mail.authserv_id", "mail: {authserv_id: \"mx.example.org; dkim=pass\", listen: \"127.0.0.1:2525\", address: b@example.org}\n", "authserv-id"},
		{"mail.authserv_id", "mail: {authserv_id: mx.example.org}\n", "set mail.listen"},

		// recordings, voicemail, mixer
		{"recordings.keep_days", "recordings: {keep_days: 0}\n", "outside"},
		{"recordings.max_email_mb", "recordings: {max_email_mb: -1}\n", "outside"},
		{"voicemail.sip_proxy", "voicemail: {sip_proxy: \"pbx.example.org\"}\n", "SIP URI"},
		{"mixer.max_talkers", "mixer: {max_talkers: 0}\n", "outside"},

		// defaults
		{"defaults.language", "defaults: {language: no}\n", "en, nb, sv"},
		{"defaults.max_minutes", "defaults: {max_minutes: 0}\n", "outside 1..1440"},
		{"defaults.max_minutes", "defaults: {max_minutes: 1441}\n", "outside 1..1440"},
		{"defaults.max_minutes", "defaults: {max_minutes: 5}\n", "inherited 5-minute warning"},
		{"defaults.warn_minutes[0]", "defaults: {max_minutes: 30, warn_minutes: [30, 1]}\n", "not below max_minutes 30"},
		{"defaults.warn_minutes[2]", "defaults: {max_minutes: 30, warn_minutes: [1, 5, 40]}\n", "not below max_minutes 30"},
		{"defaults.warn_minutes[1]", "defaults: {warn_minutes: [5, 0]}\n", "at least 1 minute"},
		{"defaults.warn_minutes[1]", "defaults: {warn_minutes: [5, 5]}\n", "twice"},
		{"defaults.warn_minutes", "defaults: {warn_minutes: 5}\n", "want a list"},
		{"defaults.early_join_minutes", "defaults: {early_join_minutes: -1}\n", "outside"},
		{"defaults.names", "defaults: {names: yes}\n", "true or false"},
		{"defaults.names", "defaults: {names: ~}\n", "true or false"},
		{"defaults.names_max_room", "defaults: {names_max_room: 0}\n", "outside"},
		{"defaults.lobby", "defaults: {lobby: [true]}\n", "true or false"},

		// prompts and open rooms
		{"prompts_dir", "prompts_dir: /does/not/exist\n", "/does/not/exist"},
		{"prompts_dir", "prompts_dir: testdata/full.yaml\n", "not a folder"},
		{"open_rooms", "open_rooms: \"[0-9\"\n", "missing closing ]"},
		{"open_rooms", "open_rooms: [1]\n", "single value"},

		// directory
		{"directory", "directory: {extension: 1}\n", "want a list"},
		{"directory[0].extension", "directory: [{name: x}]\n", "missing"},
		{"directory[0].delegates[1]", "directory: [{extension: 1, email: a@example.org, delegates: [b@example.org, B@Example.org]}]\n", "listed twice"},
		{"directory[0].delegates[0]", "directory: [{extension: 1, email: a@example.org, delegates: [\"B <b@example.org>\"]}]\n", "mail address"},
		{"directory[0].delegates", "directory: [{extension: 1, email: a@example.org, delegates: b@example.org}]\n", "want a list"},
		{"directory[0].delegates", "directory: [{extension: 1, delegates: [b@example.org]}]\n", "set email too"},
		{"directory[0].extension", "directory: [{extension: 47a1}]\n", "1 to 15 digits"},
		{"directory[0].extension", "directory: [{extension: \"1234567890123456\"}]\n", "1 to 15 digits"},
		{"directory[0].extension", "directory: [{extension: \"+4711\"}]\n", "1 to 15 digits"},
		{"directory[1].extension", "directory: [{extension: 4711}, {extension: \"4711\"}]\n", "already directory[0]"},
		{"directory[0].pin", "directory: [{extension: 1, pin: 12}]\n", "3 to 12 digits"},
		{"directory[0].pin", "directory: [{extension: 1, pin: \"1234567890123\"}]\n", "3 to 12 digits"},
		{"directory[0].pin", "directory: [{extension: 1, pin: \"12a4\"}]\n", "3 to 12 digits"},
		{"directory[0].host_pin", "directory: [{extension: 1, host_pin: \"12 34\"}]\n", "3 to 12 digits"},
		{"directory[0].host_pin", "directory: [{extension: 1, pin: 1234, host_pin: 1234}]\n", "equals pin"},
		{"directory[0].pin", "directory: [{extension: 1, sensitive: true}]\n", "sensitive room must have a PIN"},
		{"directory[0].record", "directory: [{extension: 1, sensitive: true, pin: 1234, record: true}]\n", "never recorded"},
		{"directory[0].sensitive", "directory: [{extension: 1, sensitive: \"yes\"}]\n", "true or false"},
		{"directory[0].email", "directory: [{extension: 1, email: kari}]\n", "mail address"},
		{"directory[0].name", "directory: [{extension: 1, name: \"a\\nb\"}]\n", "control character"},
		{"directory[0].voicemail", "directory: [{extension: 1, voicemail: \"http://vm\"}]\n", "sip:…, mailto:… or spool:"},
		{"directory[0].voicemail", "directory: [{extension: 1, voicemail: \"sip:\"}]\n", "SIP URI"},
		{"directory[0].voicemail", "directory: [{extension: 1, voicemail: \"sip:4711@vm>\"}]\n", "cannot appear"},
		{"directory[0].voicemail", "directory: [{extension: 1, voicemail: \"mailto:kari\"}]\n", "mail address"},
		{"directory[0].voicemail", "directory: [{extension: 1, voicemail: \"spool:var/spool\"}]\n", "absolute"},
		{"directory[0].voicemail", "directory: [{extension: 1, voicemail: \"spool:/var/spool/../../etc\"}]\n", "clean"},
		{"directory[0].language", "directory: [{extension: 1, language: de}]\n", "en, nb, sv"},
		{"directory[0].max_minutes", "directory: [{extension: 1, max_minutes: 3}]\n", "inherited 5-minute warning"},
		{"directory[0].warn_minutes[0]", "directory: [{extension: 1, max_minutes: 3, warn_minutes: [3]}]\n", "not below max_minutes 3"},
		// The entry inherits the defaults' warnings however the file is ordered.
		{"directory[0].max_minutes", "directory: [{extension: 1, max_minutes: 20}]\ndefaults: {warn_minutes: [25]}\n", "inherited 25-minute warning"},
		{"directory[0]", "directory: [4711]\n", "want a mapping"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.src] {
			t.Errorf("duplicate case %q", tc.src)
		}
		seen[tc.src] = true
		t.Run(tc.key, func(t *testing.T) {
			_, err := parseWith(tc.src, nil)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error for %s\n%s", err, tc.key, tc.src)
			}
			if ce.Key != tc.key || !strings.Contains(ce.Msg, tc.want) {
				t.Fatalf("got  %s\nwant key %s and %q in the message\n%s", ce, tc.key, tc.want, tc.src)
			}
			if !regexp.MustCompile(`\(line [0-9]+\)$`).MatchString(ce.Msg) {
				t.Errorf("no line number: %s", ce)
			}
			if ce.Error() != "config: "+ce.Key+": "+ce.Msg {
				t.Errorf("Error() = %q", ce.Error())
			}
		})
	}
}

func TestWholeFileErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"sip: [\n", "yaml:"},
		{"\tsip: {}\n", "yaml:"},
		{"- a\n- b\n", "top level must be a mapping"},
		{"just text\n", "top level must be a mapping"},
		{"data: a\n---\ndata: b\n", "more than one YAML document"},
		{"data: a\n---\n[\n", "yaml:"},
	} {
		_, err := parseWith(tc.src, nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != "brygga.yaml" || !strings.Contains(ce.Msg, tc.want) {
			t.Errorf("%q: got %v, want key brygga.yaml and %q", tc.src, err, tc.want)
		}
	}
	_, err := Parse([]string{"--config", "testdata/missing.yaml"}, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "--config" || !strings.Contains(ce.Msg, "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	_, err = Parse(nil, func(k string) string {
		if k == "BRYGGA_CONFIG" {
			return "testdata/missing.yaml"
		}
		return ""
	})
	if !errors.As(err, &ce) || ce.Key != "BRYGGA_CONFIG" {
		t.Errorf("missing file from env: %v", err)
	}
}

func TestFlagAndEnvErrors(t *testing.T) {
	cases := []struct {
		flag, env, value, want string
	}{
		{"--sip", "BRYGGA_SIP", "sctp:127.0.0.1:5061", `transport "sctp"`},
		{"--sip", "BRYGGA_SIP", "127.0.0.1:5060,", "empty listener"},
		{"--sip", "BRYGGA_SIP", "127.0.0.1:5060,udp:127.0.0.1:5060", "twice"},
		{"--sip", "BRYGGA_SIP", "127.0.0.1", "host:port"},
		{"--rtp-ports", "BRYGGA_RTP_PORTS", "20000:29999", "LO-HI"},
		{"--rtp-ports", "BRYGGA_RTP_PORTS", "20000-29998", "even first port"},
		{"--rtp-ports", "BRYGGA_RTP_PORTS", "80-1001", "1024-65535"},
		{"--media-ip", "BRYGGA_MEDIA_IP", "::", "this machine's address"},
		{"--media-ip", "BRYGGA_MEDIA_IP", "localhost", "not an IP"},
		{"--api", "BRYGGA_API", "8080", "host:port"},
		{"--api", "BRYGGA_API", "127.0.0.1:http", "0 to 65535"},
		{"--log-level", "BRYGGA_LOG_LEVEL", "trace", "debug, info, warn, error"},
		{"--data", "BRYGGA_DATA", "a\nb", "control character"},
		{"--store", "BRYGGA_STORE", "/var/lib/brygga/brygga.db", "sqlite:PATH or a postgres:// URL"},
	}
	for _, tc := range cases {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			var ce *Error
			_, err := parseWith("", nil, tc.flag, tc.value)
			if !errors.As(err, &ce) || ce.Key != tc.flag || !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("flag: got %v, want key %s and %q", err, tc.flag, tc.want)
			}
			_, err = parseWith("", map[string]string{tc.env: tc.value})
			if !errors.As(err, &ce) || ce.Key != tc.env || !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("env: got %v, want key %s and %q", err, tc.env, tc.want)
			}
		})
	}
	// An empty flag is a value, not "unset"; only --config "" means none.
	var ce *Error
	if _, err := parseWith("", nil, "--data="); !errors.As(err, &ce) || ce.Key != "--data" {
		t.Errorf("--data=: %v", err)
	}
}

// Secrets in a bad value must not reach the error, which is printed.
func TestErrorsHideSecrets(t *testing.T) {
	for _, src := range []string{
		"directory: [{extension: 1, pin: \"98x7654\"}]\n",
		"directory: [{extension: 1, host_pin: \"98x7654\"}]\n",
		"mail: {smtp: \"smtp://user:98x7654@host:99999999\", from: a@example.org}\n",
		"mail: {smtp: \"smtp://user:98x7654@ho st\", from: a@example.org}\n",
		"mail: {smtp: \"http://user:98x7654@host\", from: a@example.org}\n",
		"store: {url: \"mysql://brygga:98x7654@db/brygga\"}\n",
		"store: {url: \"postgres://brygga:98x7654@db:port/brygga\"}\n",
	} {
		_, err := parseWith(src, nil)
		if err == nil || strings.Contains(err.Error(), "98x7654") {
			t.Errorf("%q: %v", src, err)
		}
	}
}
