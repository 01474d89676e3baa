package interop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RunSIPp runs SIPp against the bridge and returns nil when SIPp exits 0,
// that is when its call followed the scenario. The error carries SIPp's SIP
// message trace, unexpected messages and final screen.
// With -interop.logs the trace is logged on success too.
func RunSIPp(ctx context.Context, t *testing.T, sipp string, b *Bridge, dir string, c SIPpCall) error {
	scenario, err := filepath.Abs(filepath.Join(ModuleRoot, "interop", "testdata", c.Scenario))
	if err != nil {
		return err
	}
	if c.Transport == "" {
		c.Transport = "u1"
	}
	if c.Limit == 0 {
		c.Limit = 60 * time.Second
	}
	name := strings.TrimSuffix(c.Scenario, ".xml")
	msgs := filepath.Join(dir, name+"-messages.log")
	errs := filepath.Join(dir, name+"-errors.log")
	screen := filepath.Join(dir, name+"-screen.log")
	stdout := filepath.Join(dir, name+"-stdout.log")
	// SIPp's own clock stops it first; the context is the backstop.
	ctx, cancel := context.WithTimeout(ctx, c.Limit+15*time.Second)
	defer cancel()
	// -mp is SIPp's RTP port; its echo and video use the ones after it.
	mediaPort, _, err := findPortBlock(4)
	if err != nil {
		return err
	}
	sipPort, err := findPort()
	if err != nil {
		return err
	}
	args := []string{b.SIP,
		"-sf", scenario,
		"-s", c.Service,
		"-t", c.Transport,
		"-i", "127.0.0.1",
		"-p", strconv.Itoa(sipPort),
		"-mi", "127.0.0.1",
		"-mp", strconv.Itoa(mediaPort),
		"-m", "1",
		"-nostdin",
		"-aa",
		"-d", strconv.FormatInt(c.Pause.Milliseconds(), 10),
		"-timeout", strconv.Itoa(int(c.Limit/time.Second)) + "s",
		"-timeout_error",
		"-trace_msg", "-message_file", msgs,
		"-trace_err", "-error_file", errs,
		"-trace_screen", "-screen_file", screen,
	}
	for k, v := range c.Keys {
		args = append(args, "-key", k, v)
	}
	args = append(args, c.Args...)
	out, err := os.Create(stdout)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, sipp, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	if runErr == nil {
		if *ShowLogs {
			t.Logf("sipp %s: SIP messages:\n%s", c.Scenario, TailLines(msgs, 300))
		}
		return nil
	}
	var why string
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		why = fmt.Sprintf("killed after %s", time.Since(start).Round(time.Second))
	case errors.As(runErr, &exit):
		why = fmt.Sprintf("exit status %d (%s)", exit.ExitCode(), sippStatus(exit.ExitCode()))
	default:
		why = runErr.Error()
	}
	return fmt.Errorf("sipp %s -t %s: %s after %s\nSIP messages:\n%s\nunexpected messages:\n%s\nscreen:\n%s\nstdout/stderr:\n%s",
		c.Scenario, c.Transport, why, time.Since(start).Round(100*time.Millisecond),
		TailLines(msgs, 300), TailLines(errs, 100), TailLines(screen, 60), TailLines(stdout, 30))
}

// SIPpCall is one run of SIPp placing a single call (or request) from a
// scenario in testdata/.
type SIPpCall struct {
	Scenario  string        // file in testdata/
	Service   string        // -s: the Request-URI user
	Transport string        // -t: "u1" (default) or "t1"
	Pause     time.Duration // -d: the length of <pause/> without milliseconds
	Keys      map[string]string
	Limit     time.Duration // SIPp's own -timeout; the process is killed a little after
	Args      []string      // more SIPp arguments (-au, -ap)
}

func sippStatus(code int) string {
	switch code {
	case 1:
		return "the call failed"
	case 97:
		return "stopped by an internal command"
	case 99:
		return "no call was processed"
	case 255:
		return "fatal error, or -timeout ran out"
	case 254:
		return "could not bind a socket"
	}
	return "unknown"
}
