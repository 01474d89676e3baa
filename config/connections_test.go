package config

import (
	"strings"
	"testing"
	"time"
)

func TestConnectionKeys(t *testing.T) {
	d := Default()
	if d.SIP.Connections != (Connections{10 * time.Second, 2 * time.Minute, 1000, 32}) ||
		d.API.MaxConnectionsPerSource != 32 || d.Mail.MaxConnectionsPerSource != 32 {
		t.Errorf("defaults: sip %+v, api %d, mail %d", d.SIP.Connections, d.API.MaxConnectionsPerSource, d.Mail.MaxConnectionsPerSource)
	}
	c := mustParse(t, `
sip:
  message_timeout: 3s
  idle_timeout: 1h30m
  max_connections: 0
  max_connections_per_source: 4
api:
  max_connections_per_source: 0
mail:
  max_connections_per_source: 5
`, nil)
	if c.SIP.Connections != (Connections{3 * time.Second, 90 * time.Minute, 0, 4}) ||
		c.API.MaxConnectionsPerSource != 0 || c.Mail.MaxConnectionsPerSource != 5 {
		t.Errorf("parsed: sip %+v, api %d, mail %d", c.SIP.Connections, c.API.MaxConnectionsPerSource, c.Mail.MaxConnectionsPerSource)
	}
	out := c.dump(false)
	for _, want := range []string{"message_timeout: 3s\n", "idle_timeout: 1h30m\n", "max_connections: 0\n", "max_connections_per_source: 4\n", "max_connections_per_source: 5\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	// The dump reads back as the same settings.
	back := mustParse(t, out, nil)
	if back.SIP.Connections != c.SIP.Connections || back.API.MaxConnectionsPerSource != 0 || back.Mail.MaxConnectionsPerSource != 5 {
		t.Errorf("dump read back: sip %+v, api %d, mail %d", back.SIP.Connections, back.API.MaxConnectionsPerSource, back.Mail.MaxConnectionsPerSource)
	}
}

func TestConnectionKeyErrors(t *testing.T) {
	for _, tc := range []struct{ key, src, want string }{
		{"sip.message_timeout", "sip: {message_timeout: 500ms}\n", "outside 1s..5m"},
		{"sip.message_timeout", "sip: {message_timeout: 10}\n", "not a duration"},
		{"sip.idle_timeout", "sip: {idle_timeout: 25h}\n", "outside 1s..24h"},
		{"sip.max_connections", "sip: {max_connections: -1}\n", "outside 0..1000000"},
		{"sip.max_connections_per_source", "sip: {max_connections_per_source: many}\n", ""},
		{"api.max_connections_per_source", "api: {max_connections_per_source: -2}\n", "outside 0..1000000"},
		{"mail.max_connections_per_source", "mail: {max_connections_per_source: 2000000}\n", "outside 0..1000000"},
	} {
		wantKeyError(t, tc.src, tc.key, tc.want)
	}
}
