package config

import (
	"strings"
	"testing"
	"time"
)

func TestAbuseKeys(t *testing.T) {
	d := Default().SIP
	if d.MaxCallsPerSource != 20 || d.RateLimit != (RateLimit{5, 10, 50, 100, time.Minute}) ||
		d.PINLockout != (PINLockout{10, 30, 10 * time.Minute, 15 * time.Minute}) {
		t.Errorf("defaults %+v", d)
	}
	c := mustParse(t, `
sip:
  max_calls_per_source: 0
  rate_limit: {invites_per_second: 0, invite_burst: 1, requests_per_second: 200, request_burst: 400, drop_for: 5m}
  pin_lockout: {failures: 5, room_failures: 5, window: 1h30m, lock: 90s}
`, nil)
	s := c.SIP
	if s.MaxCallsPerSource != 0 || s.RateLimit != (RateLimit{0, 1, 200, 400, 5 * time.Minute}) ||
		s.PINLockout != (PINLockout{5, 5, 90 * time.Minute, 90 * time.Second}) {
		t.Errorf("parsed %+v", s)
	}
	if out := c.dump(false); !strings.Contains(out, "window: 1h30m\n") || !strings.Contains(out, "drop_for: 5m\n") {
		t.Errorf("dump:\n%s", out)
	}
}

func TestAbuseKeyErrors(t *testing.T) {
	for _, tc := range []struct{ key, src, want string }{
		{"sip.max_calls_per_source", "sip: {max_calls_per_source: -1}\n", "outside 0..1000000"},
		{"sip.rate_limit.invite_burst", "sip: {rate_limit: {invite_burst: 0}}\n", "outside 1..1000000"},
		{"sip.rate_limit.drop_for", "sip: {rate_limit: {drop_for: 10}}\n", "not a duration"},
		{"sip.rate_limit.drop_for", "sip: {rate_limit: {drop_for: 2ms}}\n", "outside 1s..24h"},
		{"sip.rate_limit.burst", "sip: {rate_limit: {burst: 3}}\n", "unknown key"},
		{"sip.pin_lockout.lock", "sip: {pin_lockout: {lock: 8d}}\n", "not a duration"},
		{"sip.pin_lockout.room_failures", "sip: {pin_lockout: {failures: 10, room_failures: 5}}\n", "below failures"},
		{"sip.pin_lockout.room_failures", "sip: {pin_lockout: {failures: 40}}\n", "below failures"},
	} {
		wantKeyError(t, tc.src, tc.key, tc.want)
	}
}
