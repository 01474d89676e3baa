package interop

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"brygga/phone"
)

// DialPhone is a Go phone calling target as user, saying say Hz (0:
// silence) and keying keys (may be empty) as RFC 4733 events; opts go to
// Dial (an outbound proxy, a header). Its log is printed when the test
// fails; the phone is closed when the test ends.
func DialPhone(ctx context.Context, t *testing.T, target, user string, say float64, keys string, opts ...phone.DialOption) *phone.Call {
	t.Helper()
	ph := NewPhone(ctx, t, phone.Config{User: user})
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	call, err := ph.Dial(dctx, target, opts...)
	if err != nil {
		t.Fatalf("phone %s dialling %s: %v", user, target, err)
	}
	if say != 0 {
		call.SetSource(Sine(say))
	}
	if keys != "" {
		if err := call.SendDigits(keys); err != nil {
			t.Fatalf("phone %s keying %q: %v", user, keys, err)
		}
	}
	return call
}

// WaitEnded waits for the bridge's BYE to a call.
func WaitEnded(t *testing.T, c *phone.Call, who string) {
	t.Helper()
	select {
	case <-c.Done():
		if !c.EndedByRemote() {
			t.Errorf("%s: the call ended, but not by the bridge's BYE", who)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s: no BYE from the bridge within 20 s", who)
	}
}

// NewPhone is a Go phone with cfg whose log is printed when the test fails;
// it is closed when the test ends.
func NewPhone(ctx context.Context, t *testing.T, cfg phone.Config) *phone.Phone {
	t.Helper()
	cfg.Logger = testLogger(t, "phone-"+cfg.User+".log", "phone "+cfg.User+" log", slog.LevelDebug, 100)
	ph, err := phone.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	return ph
}

// DialIn is DialPhone to room on b.
func DialIn(ctx context.Context, t *testing.T, b *Bridge, room, user, keys string, say float64) *phone.Call {
	t.Helper()
	return DialPhone(ctx, t, "sip:"+room+"@"+b.SIP, user, say, keys)
}

// DialPhoneFrom dials target from a phone on ip, keying nothing.
func DialPhoneFrom(ctx context.Context, t *testing.T, target, ip, user string) *phone.Call {
	t.Helper()
	ph, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr(ip), User: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	call, err := ph.Dial(dctx, target)
	if err != nil {
		t.Fatalf("%s from %s: %v", user, ip, err)
	}
	return call
}

// testLogger is a logger writing to a file of the test's own, whose last
// lines are printed as what when the test fails (or with -interop.logs).
func testLogger(t *testing.T, file, what string, level slog.Level, lines int) *slog.Logger {
	t.Helper()
	path := filepath.Join(t.TempDir(), file)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() || *ShowLogs {
			t.Logf("%s:\n%s", what, TailLines(path, lines))
		}
	})
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}))
}
