package config

import (
	"strings"
	"testing"
	"time"
)

func TestMediaTimeouts(t *testing.T) {
	c := mustParse(t, "media:\n  ports: 20000-20099\n", nil)
	if c.Media.RTPTimeout != 30*time.Second || c.Media.HoldTimeout != 0 {
		t.Errorf("defaults rtp %v hold %v, want 30s and 0", c.Media.RTPTimeout, c.Media.HoldTimeout)
	}
	c = mustParse(t, "media:\n  rtp_timeout: 0\n  hold_timeout: 2h\n", nil)
	if c.Media.RTPTimeout != 0 || c.Media.HoldTimeout != 2*time.Hour {
		t.Errorf("rtp %v hold %v, want 0 and 2h", c.Media.RTPTimeout, c.Media.HoldTimeout)
	}
	if d := c.Redacted(); !strings.Contains(d, "rtp_timeout: 0s") || !strings.Contains(d, "hold_timeout: 2h") {
		t.Errorf("dump lacks the timeouts:\n%s", d)
	}
	for _, bad := range []string{"rtp_timeout: soon", "rtp_timeout: -5s", "hold_timeout: 30d", "rtp_timeout: 48h"} {
		if _, err := parseWith("media:\n  "+bad+"\n", nil); err == nil || !strings.Contains(err.Error(), "media.") {
			t.Errorf("%q: err %v, want one naming the key", bad, err)
		}
	}
}
