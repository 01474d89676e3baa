package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestShutdownGrace(t *testing.T) {
	if c := mustParse(t, "log_level: info\n", nil); c.ShutdownGrace != 0 {
		t.Errorf("default shutdown_grace %v, want 0 (hang up at once)", c.ShutdownGrace)
	}
	c := mustParse(t, "shutdown_grace: 5m\n", nil)
	if c.ShutdownGrace != 5*time.Minute {
		t.Errorf("shutdown_grace %v, want 5m", c.ShutdownGrace)
	}
	if d := c.Redacted(); !strings.Contains(d, "shutdown_grace: 5m\n") {
		t.Errorf("dump lacks shutdown_grace:\n%s", d)
	}
	for _, bad := range []string{"shutdown_grace: soon", "shutdown_grace: -1s", "shutdown_grace: 25h", "shutdown_grace: [1]"} {
		_, err := parseWith(bad+"\n", nil)
		var ce *Error
		if err == nil || !errors.As(err, &ce) || ce.Key != "shutdown_grace" {
			t.Errorf("%q: err %v, want one naming shutdown_grace", bad, err)
		}
	}
}
