package main

import (
	"brygga/internal/logtest"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// serving is an in-process `brygga serve` started by startServe.
type serving struct {
	api       string // the API's base URL as serve printed it
	out, errb *logtest.Buffer
}

// startServe runs serve with args (plus free loopback ports) and waits
// until it has started: its last start-up line (the rooms) is printed,
// which comes after every listener is up and a cluster node has
// registered its API. The test's cleanup stops it the way SIGTERM does
// and expects exit 0.
func startServe(t *testing.T, rtpPorts string, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{out: new(logtest.Buffer), errb: new(logtest.Buffer)}
	done := make(chan int, 1)
	all := append([]string{"serve", "--sip", "127.0.0.1:0", "--rtp-ports", rtpPorts, "--log-level", "info"}, args...)
	go func() { done <- run(ctx, all, noEnv, s.out, s.errb) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve exited %d; stderr:\n%s", code, s.errb.String())
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	re := regexp.MustCompile(`api listening on (https?://\S+)`)
	started := regexp.MustCompile(`(?m)^brygga \S+: (open )?rooms: `)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := s.out.String()
		if m := re.FindStringSubmatch(out); m != nil && started.MatchString(out) {
			s.api = m[1]
			return s
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited with %d: %s", code, s.errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not report its API listener; stderr:\n%s", s.errb.String())
		}
	}
}

// serveConfig runs `brygga serve` in process (startServe) with cfgYAML
// as its config file, the API on a free loopback port and a fresh data
// folder, once it listens.
func serveConfig(t *testing.T, cfgYAML string, rtpPorts string) *serving {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "brygga.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, rtpPorts, "--config", cfgFile, "--api", "127.0.0.1:0", "--data", filepath.Join(dir, "data"))
}

// call makes a request over a real connection with token (none when "")
// and, unless "", the Host header host; it returns the status and the
// body.
func call(t *testing.T, method, url, token, host, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
