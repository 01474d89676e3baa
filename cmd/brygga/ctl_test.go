package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCtlAgainstServe runs `brygga ctl` as an operator would: the built
// binary against a real `brygga serve`, both as processes, the server
// with a config file holding an operator token and one directory room.
func TestCtlAgainstServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a bridge")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "brygga")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const token = "ctl-test-operator-token"
	cfg := filepath.Join(dir, "brygga.yaml")
	yaml := `api:
  tokens:
    - {name: ops, token: "` + token + `", role: operator}
directory:
  - extension: "4711"
    name: "Kari Nordmann"
    pin: "2468"
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// Port 0 and the address serve prints, rather than a port picked
	// beforehand that another test could take in between.
	srv := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"),
		"--sip", "127.0.0.1:0", "--api", "127.0.0.1:0", "--rtp-ports", "31200-31219", "--log-level", "warn")
	srv.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve after SIGINT: %v; stderr:\n%s", err, srvErr.String())
			}
		case <-time.After(15 * time.Second):
			srv.Process.Kill()
			t.Error("serve did not stop")
		}
	})
	apiAt := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`api listening on (http://\S+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				apiAt <- m[1]
			}
		}
		exited <- srv.Wait()
	}()
	var api string
	select {
	case api = <-apiAt:
	case err := <-exited:
		exited <- err
		t.Fatalf("serve exited: %v\n%s", err, srvErr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not report its API listener; stderr:\n%s", srvErr.String())
	}

	ctl := func(tok string, args ...string) (code int, out, errOut string) {
		t.Helper()
		c := exec.Command(bin, append([]string{"ctl"}, args...)...)
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "BRYGGA_API=" + api, "BRYGGA_TOKEN=" + tok}
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatalf("ctl %v: %v", args, err)
		}
		return code, o.String(), e.String()
	}

	code, out, errOut := ctl(token, "rooms")
	if code != 0 || !regexp.MustCompile(`(?m)^4711\s+Kari Nordmann\s+yes\s+no\s`).MatchString(out) {
		t.Errorf("ctl rooms: exit %d, stderr %q\n%s", code, errOut, out)
	}

	code, _, errOut = ctl(token, "room", "set", "4711", "--lobby", "on", "--host-pin", "97531")
	if code != 0 {
		t.Errorf("ctl room set: exit %d, %s", code, errOut)
	}
	code, out, errOut = ctl(token, "room", "4711")
	for _, want := range []string{`(?m)^name\s+Kari Nordmann$`, `(?m)^pin\s+set$`, `(?m)^host-pin\s+set$`, `(?m)^lobby\s+on$`} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("ctl room 4711: exit %d, stderr %q; no %s in\n%s", code, errOut, want, out)
		}
	}

	code, out, _ = ctl(token, "conferences")
	if code != 0 || out != "no live conferences\n" {
		t.Errorf("ctl conferences: exit %d, %q", code, out)
	}
	code, out, _ = ctl(token, "conferences", "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("ctl conferences --json: exit %d, %q", code, out)
	}

	// serve hands its PIN lockout to the API (without it: 501).
	code, out, errOut = ctl(token, "lockouts")
	if code != 0 || out != "no PIN lockouts\n" {
		t.Errorf("ctl lockouts: exit %d, %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = ctl(token, "lift", "room", "4711")
	if code != 1 || errOut != "brygga ctl: no such lockout in force\n" {
		t.Errorf("ctl lift: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut = ctl("not-the-token", "conferences")
	if code != 1 || errOut != "brygga ctl: invalid bearer token\n" || out != "" {
		t.Errorf("bad token: exit %d, stderr %q, stdout %q", code, errOut, out)
	}

	code, _, errOut = ctl(token, "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
}
