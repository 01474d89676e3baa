package interop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"brygga/media/tone"
	"brygga/phone"
)

// sippCall is one run of SIPp placing a single call (or request) from a
// scenario in testdata/.
type sippCall struct {
	scenario  string        // file in testdata/
	service   string        // -s: the Request-URI user
	transport string        // -t: "u1" (default) or "t1"
	pause     time.Duration // -d: the length of <pause/> without milliseconds
	keys      map[string]string
	limit     time.Duration // SIPp's own -timeout; the process is killed a little after
	args      []string      // more SIPp arguments (-au, -ap)
}

// requireRawSocket skips (fails in CI) when SIPp's play_dtmf cannot open
// its raw socket.
func requireRawSocket(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if ciMode() {
		t.Fatal("SIPp's play_dtmf sends RFC 4733 events through a raw socket and needs root (or CAP_NET_RAW); CI=true runs as root")
	}
	t.Skip("SIPp's play_dtmf sends RFC 4733 events through a raw socket: run as root (or give sipp CAP_NET_RAW) to run this test")
}

// runSIPp runs SIPp against the bridge and returns nil when SIPp exits 0,
// that is when its call followed the scenario. The error carries SIPp's SIP
// message trace, unexpected messages and final screen.
// With -interop.logs the trace is logged on success too.
func runSIPp(ctx context.Context, t *testing.T, sipp string, b *bridge, dir string, c sippCall) error {
	scenario, err := filepath.Abs(filepath.Join("testdata", c.scenario))
	if err != nil {
		return err
	}
	if c.transport == "" {
		c.transport = "u1"
	}
	if c.limit == 0 {
		c.limit = 60 * time.Second
	}
	name := strings.TrimSuffix(c.scenario, ".xml")
	msgs := filepath.Join(dir, name+"-messages.log")
	errs := filepath.Join(dir, name+"-errors.log")
	screen := filepath.Join(dir, name+"-screen.log")
	stdout := filepath.Join(dir, name+"-stdout.log")
	// SIPp's own clock stops it first; the context is the backstop.
	ctx, cancel := context.WithTimeout(ctx, c.limit+15*time.Second)
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
		"-s", c.service,
		"-t", c.transport,
		"-i", "127.0.0.1",
		"-p", strconv.Itoa(sipPort),
		"-mi", "127.0.0.1",
		"-mp", strconv.Itoa(mediaPort),
		"-m", "1",
		"-nostdin",
		"-aa",
		"-d", strconv.FormatInt(c.pause.Milliseconds(), 10),
		"-timeout", strconv.Itoa(int(c.limit/time.Second)) + "s",
		"-timeout_error",
		"-trace_msg", "-message_file", msgs,
		"-trace_err", "-error_file", errs,
		"-trace_screen", "-screen_file", screen,
	}
	for k, v := range c.keys {
		args = append(args, "-key", k, v)
	}
	args = append(args, c.args...)
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
		if *showLogs {
			t.Logf("sipp %s: SIP messages:\n%s", c.scenario, tail(msgs, 300))
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
		c.scenario, c.transport, why, time.Since(start).Round(100*time.Millisecond),
		tail(msgs, 300), tail(errs, 100), tail(screen, 60), tail(stdout, 30))
}

// startSIPp runs SIPp in the background. The test's cleanup stops it if it
// still runs and waits for it, so nothing writes into the test's folders
// after they are removed (cleanups run before the bridge's, registered
// earlier, stops the bridge).
func startSIPp(t *testing.T, sipp string, b *bridge, dir string, c sippCall) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- runSIPp(ctx, t, sipp, b, dir, c)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return done
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

// TestSIPpOptions is a PBX's health check over both transports the bridge
// listens on.
func TestSIPpOptions(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	b := startBridge(t)
	for _, tr := range []struct{ name, mode string }{{"udp", "u1"}, {"tcp", "t1"}} {
		t.Run(tr.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			err := runSIPp(ctx, t, sipp, b, t.TempDir(), sippCall{
				scenario: "sipp_options.xml", service: roomExt, transport: tr.mode, limit: 20 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}

// TestSIPpUnknownExtension dials an extension that is neither in the
// directory nor an open room (open_rooms is off).
func TestSIPpUnknownExtension(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	b := startBridge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	err := runSIPp(ctx, t, sipp, b, t.TempDir(), sippCall{
		scenario: "sipp_unknown.xml", service: "9999", limit: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}

// TestSIPpWrongPIN keys a wrong PIN three times as RFC 4733 events; the
// bridge must hang up (the scenario bounds when, see its comment).
func TestSIPpWrongPIN(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := startBridge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	err := runSIPp(ctx, t, sipp, b, t.TempDir(), sippCall{
		scenario: "sipp_pin_wrong.xml", service: roomExt, limit: 60 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the bridge hung up %.1f s after the call started", time.Since(start).Seconds())
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}

// TestSIPpCallerInRoom: SIPp dials the room, keys the PIN as RFC 4733
// events and streams 1400 Hz; a brygga/phone caller saying 700 Hz joins
// while SIPp is in the room. The phone must hear SIPp's tone and not its
// own, and SIPp's call must end cleanly with its own BYE.
func TestSIPpCallerInRoom(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := startBridge(t)
	dir := t.TempDir()
	stream := filepath.Join(dir, "tone1400.ulaw")
	if err := writeULaw(stream, 1400, 4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// SIPp: answered at once, PIN from 1 s, stream from 4 s, then in the
	// room for sippStay; the phone has joined and listened well before.
	const sippStay = 18 * time.Second
	sippDone := startSIPp(t, sipp, b, dir, sippCall{
		scenario: "sipp_pin_ok.xml",
		service:  roomExt,
		pause:    sippStay,
		keys:     map[string]string{"tone_stream": stream + ",-1,0"},
		limit:    60 * time.Second,
	})
	select {
	case err := <-sippDone:
		t.Fatalf("SIPp ended before the phone joined: %v", err)
	case <-time.After(5 * time.Second):
	}

	heard := joinAndListen(ctx, t, b, 700, 1400)
	if err := <-sippDone; err != nil {
		t.Error(err)
	}
	if sum, err := checkHears(heard, 1400, 700, settle, listenSpan); err != nil {
		t.Errorf("the phone in the room with SIPp: %v", err)
	} else {
		t.Logf("the phone: %s", sum)
	}
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}

// TestSIPpHungUpOnStop: two SIPp callers, one over UDP and one over TCP,
// join with the PIN in the Request-URI (one-step dial-in). When the bridge
// gets SIGTERM it must hang up both with a BYE and then exit 0.
func TestSIPpHungUpOnStop(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	b := startBridge(t)
	var callers []<-chan error
	for _, mode := range []string{"u1", "t1"} {
		callers = append(callers, startSIPp(t, sipp, b, t.TempDir(), sippCall{
			scenario: "sipp_until_bye.xml", service: roomExt + "*" + roomPIN, transport: mode, limit: 60 * time.Second,
		}))
	}
	// Admitted without a prompt, then "you are the only person", then in.
	time.Sleep(6 * time.Second)
	for _, c := range callers {
		select {
		case err := <-c:
			t.Fatalf("SIPp ended before the bridge was stopped: %v", err)
		default:
		}
	}
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
	for _, c := range callers {
		if err := <-c; err != nil {
			t.Errorf("a caller was not hung up cleanly when the bridge stopped: %v", err)
		}
	}
}

// TestSIPpMutesFromKeypad: SIPp joins and talks (1400 Hz), then presses *6
// as RFC 4733 events while its stream goes on. A Go phone in the room must
// hear SIPp, and then stop hearing it for as long as SIPp stays muted; the
// bridge logs the participant.muted event.
func TestSIPpMutesFromKeypad(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := startBridge(t)
	dir := t.TempDir()
	stream := filepath.Join(dir, "tone1400.ulaw")
	if err := writeULaw(stream, 1400, 4); err != nil {
		t.Fatal(err)
	}
	// SIPp: PIN from 1 s, talking from 4 s, *6 at 20 s, in the room until
	// 32 s. The phone dials at 2 s and is in the room well before 20 s.
	sippDone := startSIPp(t, sipp, b, dir, sippCall{
		scenario: "sipp_keypad.xml",
		service:  roomExt,
		pause:    12 * time.Second,
		keys:     map[string]string{"tone_stream": stream + ",-1,0"},
		limit:    90 * time.Second,
	})
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ph, err := phone.New(ctx, phone.Config{User: "interop", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	call, err := ph.Dial(ctx, "sip:"+roomExt+"@"+b.SIP)
	if err != nil {
		t.Fatalf("phone dialling: %v", err)
	}
	var phase float64
	call.SetSource(func(pcm []int16) { tone.Sine(pcm, 700, rate, toneAmp, &phase) })
	if err := call.SendDigits(roomPIN + "#"); err != nil {
		t.Fatal(err)
	}
	var sippErr error
	select {
	case sippErr = <-sippDone:
	case <-call.Done():
		t.Fatal("the bridge hung up on the phone")
	}
	heard := call.Received()
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	_ = call.Hangup(hctx)
	if sippErr != nil {
		t.Fatalf("SIPp: %v", sippErr)
	}

	// SIPp's BYE ends the recording: the last windows are its muted time.
	ls := analyse(heard, 1400, 700)
	first := firstHeard(ls)
	if first < 0 {
		t.Fatalf("the phone never heard SIPp\n%s", table(ls))
	}
	last := first
	for i, l := range ls {
		if l.want >= presentMin {
			last = i
		}
	}
	talked := time.Duration(last-first+1) * window * time.Second / rate
	mutedFor := time.Duration(len(ls)-1-last) * window * time.Second / rate
	if talked < 2*time.Second || mutedFor < 6*time.Second {
		t.Fatalf("SIPp heard for %v, then silent for %v before its BYE: want at least 2 s heard, then 6 s muted\n%s", talked, mutedFor, table(ls))
	}
	for _, l := range ls[last+1:] {
		if l.want > absentMax {
			t.Fatalf("SIPp's tone at %.1f dBFS after it muted itself\n%s", l.want, table(ls))
		}
	}
	log, _ := os.ReadFile(b.log)
	if !strings.Contains(string(log), "type=participant.muted") {
		t.Error("the bridge logged no participant.muted event")
	}
	t.Logf("SIPp heard for %v, muted for %v before its BYE", talked, mutedFor)
}

// TestSIPpKeypadEveryCommand: SIPp callers press every command of
// docs/keypad.md as RFC 4733 events, first as a participant, then as a host who
// ends the meeting with *0 *0; a Go phone stays in the room throughout and
// is hung up at the end. The bridge's log must show each command read from
// the keys with the caller's role, and the events each one causes. (What
// each command says back is checked by ear in sip/meeting_test.go and
// conference/meeting_test.go, with prompts made of tones.)
func TestSIPpKeypadEveryCommand(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := startBridge(t)
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ph, err := phone.New(ctx, phone.Config{User: "interop", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	call, err := ph.Dial(ctx, "sip:"+roomExt+"@"+b.SIP)
	if err != nil {
		t.Fatalf("phone dialling: %v", err)
	}
	if err := call.SendDigits(roomPIN + "#"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)

	participant := <-startSIPp(t, sipp, b, dir, sippCall{
		scenario: "sipp_keys.xml",
		service:  roomExt,
		pause:    12 * time.Second, // play_dtmf goes on in the background: 7.6 s of keys
		keys:     map[string]string{"pin": roomPIN, "keys": "*1*2*3*5*5*6*6*7*0"},
		limit:    90 * time.Second,
	})
	if participant != nil {
		t.Fatalf("SIPp participant: %v", participant)
	}
	host := <-startSIPp(t, sipp, b, dir, sippCall{
		scenario: "sipp_keys_end.xml",
		service:  roomExt,
		keys:     map[string]string{"pin": roomHostPIN, "keys": "*1*2*3*4*5*4*6*6*7*7*8*9*9*0*0"},
		limit:    90 * time.Second,
	})
	if host != nil {
		t.Fatalf("SIPp host (expects the bridge's BYE after *0 *0): %v", host)
	}
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the phone was not hung up when the host ended the meeting")
	}

	raw, err := os.ReadFile(b.log)
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	events := map[string]int{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := logFields(line)
		switch f["msg"] {
		case "keypad":
			commands = append(commands, f["role"]+":"+f["command"])
		case "event":
			events[f["type"]]++
		}
	}
	want := []string{
		"participant:help", "participant:roll-call", "participant:count", "participant:hand", "participant:hand",
		"participant:mute", "participant:mute", "participant:lock", "participant:end-ask",
		"host:help", "host:roll-call", "host:count", "host:lecture", "host:hand", "host:lecture",
		"host:mute", "host:mute", "host:lock", "host:lock", "host:admit", "host:record", "host:record",
		"host:end-ask", "host:end",
	}
	if strings.Join(commands, " ") != strings.Join(want, " ") {
		t.Errorf("commands read from SIPp's keys:\n got %v\nwant %v", commands, want)
	}
	for typ, n := range map[string]int{
		"participant.hand": 2, "participant.muted": 2, "participant.unmuted": 2,
		"conference.lecture": 2, "conference.locked": 2, "recording.started": 1,
		"recording.stopped": 1, "conference.ended": 1,
	} {
		if events[typ] != n {
			t.Errorf("%d %s events, want %d", events[typ], typ, n)
		}
	}
}

// logFields splits one slog text line into its keys and values.
func logFields(line string) map[string]string {
	f := map[string]string{}
	for len(line) > 0 {
		line = strings.TrimLeft(line, " ")
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			break
		}
		key := line[:eq]
		line = line[eq+1:]
		var val string
		if strings.HasPrefix(line, `"`) {
			if s, err := strconv.QuotedPrefix(line); err == nil {
				val, _ = strconv.Unquote(s)
				line = line[len(s):]
			}
		} else {
			end := strings.IndexByte(line, ' ')
			if end < 0 {
				end = len(line)
			}
			val, line = line[:end], line[end:]
		}
		f[key] = val
	}
	return f
}
