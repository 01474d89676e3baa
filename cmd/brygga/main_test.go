package main

import (
	"brygga/internal/logtest"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestBadConfigExitsTwoNamingTheKey(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		yaml string
		args []string
		key  string
	}{
		{"unknown key", "media:\n  symetric: auto\n", nil, "media.symetric"},
		{"bad ports", "media:\n  ports: 3000-2000\n", nil, "media.ports"},
		{"bad pin", "directory:\n  - extension: \"4711\"\n    pin: abc\n", nil, "directory[0].pin"},
		{"bad flag value", "", []string{"--rtp-ports", "x"}, "rtp-ports"},
		{"cluster on SQLite", "cluster: {node_id: a, advertise: \"127.0.0.1:5060\"}\n", nil, "cluster.node_id"},
		{"cluster node without advertise", "store: {url: \"postgres://db.example.org/brygga\"}\ncluster: {node_id: a}\n", nil, "cluster.advertise"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.yaml != "" {
				f := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
				if err := os.WriteFile(f, []byte(c.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append([]string{"--config", f}, args...)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"serve"}, args...), noEnv, &out, &errb)
			if code != exitConfig {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitConfig, errb.String())
			}
			if !strings.Contains(errb.String(), c.key) {
				t.Errorf("stderr %q does not name %q", errb.String(), c.key)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, noEnv, &out, &errb); code != exitConfig {
		t.Fatalf("exit %d", code)
	}
	if code := run(context.Background(), []string{"version"}, noEnv, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "brygga ") {
		t.Fatalf("version: exit %d, %q", code, out.String())
	}
}

// TestServeStopsCleanly starts the real serve path on free ports and stops
// it the way SIGTERM does (the context), expecting exit 0.
func TestServeStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := new(logtest.Buffer), new(logtest.Buffer)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--sip", "127.0.0.1:0", "--api", "127.0.0.1:0", "--rtp-ports", "31000-31099", "--data", filepath.Join(dir, "data"), "--log-level", "warn"}, noEnv, out, errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "sip listening on tcp:") {
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not report its listeners")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after stop; stderr: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("data folder not created: %v", err)
	}
}
