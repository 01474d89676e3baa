package sipp

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"brygga/interop"
	"brygga/phone"
)

// requireRawSocket skips (fails in CI) when SIPp's play_dtmf cannot open
// its raw socket.
func requireRawSocket(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if interop.CIMode() {
		t.Fatal("SIPp's play_dtmf sends RFC 4733 events through a raw socket and needs root (or CAP_NET_RAW); CI=true runs as root")
	}
	t.Skip("SIPp's play_dtmf sends RFC 4733 events through a raw socket: run as root (or give sipp CAP_NET_RAW) to run this test")
}

// startSIPp runs SIPp in the background. The test's cleanup stops it if it
// still runs and waits for it, so nothing writes into the test's folders
// after they are removed (cleanups run before the bridge's, registered
// earlier, stops the bridge).
func startSIPp(t *testing.T, sipp string, b *interop.Bridge, dir string, c interop.SIPpCall) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- interop.RunSIPp(ctx, t, sipp, b, dir, c)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return done
}

// runSIPp runs one SIPp call within a bound of its own and fails the test
// when the call did not follow the scenario.
func runSIPp(t *testing.T, sipp string, b *interop.Bridge, dir string, within time.Duration, c interop.SIPpCall) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := interop.RunSIPp(ctx, t, sipp, b, dir, c); err != nil {
		t.Fatal(err)
	}
}

// TestSIPpOptions is a PBX's health check over both transports the bridge
// listens on.
func TestSIPpOptions(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	for _, tr := range []struct{ name, mode string }{{"udp", "u1"}, {"tcp", "t1"}} {
		t.Run(tr.name, func(t *testing.T) {
			runSIPp(t, sipp, b, t.TempDir(), 40*time.Second, interop.SIPpCall{
				Scenario: "sipp_options.xml", Service: interop.RoomExt, Transport: tr.mode, Limit: 20 * time.Second,
			})
		})
	}
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}

// TestSIPpUnknownExtension dials an extension that is neither in the
// directory nor an open room (open_rooms is off).
func TestSIPpUnknownExtension(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	runSIPp(t, sipp, b, t.TempDir(), 40*time.Second, interop.SIPpCall{
		Scenario: "sipp_unknown.xml", Service: "9999", Limit: 20 * time.Second,
	})
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}

// TestSIPpWrongPIN keys a wrong PIN three times as RFC 4733 events; the
// bridge must hang up (the scenario bounds when, see its comment).
func TestSIPpWrongPIN(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := interop.StartBridge(t)
	start := time.Now()
	runSIPp(t, sipp, b, t.TempDir(), 90*time.Second, interop.SIPpCall{
		Scenario: "sipp_pin_wrong.xml", Service: interop.RoomExt, Limit: 60 * time.Second,
	})
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
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := interop.StartBridge(t)
	dir := t.TempDir()
	stream := filepath.Join(dir, "tone1400.ulaw")
	if err := interop.WriteULaw(stream, 1400, 4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// SIPp: answered at once, PIN from 1 s, stream from 4 s, then in the
	// room for sippStay; the phone has joined and listened well before.
	const sippStay = 18 * time.Second
	sippDone := startSIPp(t, sipp, b, dir, interop.SIPpCall{
		Scenario: "sipp_pin_ok.xml",
		Service:  interop.RoomExt,
		Pause:    sippStay,
		Keys:     map[string]string{"tone_stream": stream + ",-1,0"},
		Limit:    60 * time.Second,
	})
	select {
	case err := <-sippDone:
		t.Fatalf("SIPp ended before the phone joined: %v", err)
	case <-time.After(5 * time.Second):
	}

	heard := interop.JoinAndListen(ctx, t, b, 700, 1400)
	if err := <-sippDone; err != nil {
		t.Error(err)
	}
	if sum, err := interop.CheckHears(heard, 1400, 700, interop.Settle, interop.ListenSpan); err != nil {
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
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	var callers []<-chan error
	for _, mode := range []string{"u1", "t1"} {
		callers = append(callers, startSIPp(t, sipp, b, t.TempDir(), interop.SIPpCall{
			Scenario: "sipp_until_bye.xml", Service: interop.RoomExt + "*" + interop.RoomPIN, Transport: mode, Limit: 60 * time.Second,
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
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := interop.StartBridge(t)
	dir := t.TempDir()
	stream := filepath.Join(dir, "tone1400.ulaw")
	if err := interop.WriteULaw(stream, 1400, 4); err != nil {
		t.Fatal(err)
	}
	// SIPp: PIN from 1 s, talking from 4 s, *6 at 20 s, in the room until
	// 32 s. The phone dials at 2 s and is in the room well before 20 s.
	sippDone := startSIPp(t, sipp, b, dir, interop.SIPpCall{
		Scenario: "sipp_keypad.xml",
		Service:  interop.RoomExt,
		Pause:    12 * time.Second,
		Keys:     map[string]string{"tone_stream": stream + ",-1,0"},
		Limit:    90 * time.Second,
	})
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ph, err := phone.New(ctx, phone.Config{User: "interop", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	call, err := ph.Dial(ctx, "sip:"+interop.RoomExt+"@"+b.SIP)
	if err != nil {
		t.Fatalf("phone dialling: %v", err)
	}
	call.SetSource(interop.Sine(700))
	if err := call.SendDigits(interop.RoomPIN + "#"); err != nil {
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
	ls := interop.AnalyseLevels(heard, 1400, 700)
	first := interop.FirstHeard(ls)
	if first < 0 {
		t.Fatalf("the phone never heard SIPp\n%s", interop.LevelTable(ls))
	}
	last := first
	for i, l := range ls {
		if l.Want >= interop.PresentMin {
			last = i
		}
	}
	talked := time.Duration(last-first+1) * interop.AnalysisWindow * time.Second / interop.SampleRate
	mutedFor := time.Duration(len(ls)-1-last) * interop.AnalysisWindow * time.Second / interop.SampleRate
	if talked < 2*time.Second || mutedFor < 6*time.Second {
		t.Fatalf("SIPp heard for %v, then silent for %v before its BYE: want at least 2 s heard, then 6 s muted\n%s", talked, mutedFor, interop.LevelTable(ls))
	}
	for _, l := range ls[last+1:] {
		if l.Want > interop.AbsentMax {
			t.Fatalf("SIPp's tone at %.1f dBFS after it muted itself\n%s", l.Want, interop.LevelTable(ls))
		}
	}
	if !strings.Contains(b.Log(), "type=participant.muted") {
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
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	requireRawSocket(t)
	b := interop.StartBridge(t)
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ph, err := phone.New(ctx, phone.Config{User: "interop", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	call, err := ph.Dial(ctx, "sip:"+interop.RoomExt+"@"+b.SIP)
	if err != nil {
		t.Fatalf("phone dialling: %v", err)
	}
	if err := call.SendDigits(interop.RoomPIN + "#"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)

	participant := <-startSIPp(t, sipp, b, dir, interop.SIPpCall{
		Scenario: "sipp_keys.xml",
		Service:  interop.RoomExt,
		Pause:    12 * time.Second, // play_dtmf goes on in the background: 7.6 s of keys
		Keys:     map[string]string{"pin": interop.RoomPIN, "keys": "*1*2*3*5*5*6*6*7*0"},
		Limit:    90 * time.Second,
	})
	if participant != nil {
		t.Fatalf("SIPp participant: %v", participant)
	}
	host := <-startSIPp(t, sipp, b, dir, interop.SIPpCall{
		Scenario: "sipp_keys_end.xml",
		Service:  interop.RoomExt,
		Keys:     map[string]string{"pin": interop.RoomHostPIN, "keys": "*1*2*3*4*5*4*6*6*7*7*8*9*9*0*0"},
		Limit:    90 * time.Second,
	})
	if host != nil {
		t.Fatalf("SIPp host (expects the bridge's BYE after *0 *0): %v", host)
	}
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the phone was not hung up when the host ended the meeting")
	}

	raw, err := os.ReadFile(b.LogFile)
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
