package interop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"brygga/phone"
	"brygga/prompts/prompttest"
	"brygga/recordings"
)

// TestDrainGraceKeepsMeetingsThenEnds: SIGTERM with shutdown_grace. New
// calls get 503 (INVITE and OPTIONS), /readyz fails, while the two callers
// already in the room go on hearing each other. When the grace runs out
// the room is ended (BYE to both) and the bridge exits 0.
func TestDrainGraceKeepsMeetingsThenEnds(t *testing.T) {
	b := StartBridgeIn(t, t.TempDir(), BridgeConfig+fmt.Sprintf("shutdown_grace: %ds\n", graceSeconds))
	if code := readyzCode(t, b); code != 200 {
		t.Fatalf("/readyz before SIGTERM: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := DialIn(ctx, t, b, RoomExt, "alice", RoomPIN+"#", 500)
	c := DialIn(ctx, t, b, RoomExt, "carl", RoomPIN+"#", 900)
	WaitRoomMembers(t, b, RoomExt, 2)
	hearsToneAfter(t, a, 0, 900, "before SIGTERM, alice hears carl")

	b.SendSignal(t, syscall.SIGTERM)
	line := b.waitLogLine(t, 20*time.Second, "msg=draining")
	if !strings.Contains(line, "calls=2") || !strings.Contains(line, fmt.Sprintf("grace=%ds", graceSeconds)) {
		t.Errorf("draining line %q: want calls=2 and the grace", line)
	}

	// No new calls: a health check and a caller are both told 503.
	if code, err := SIPOptions(b.SIP, 2*time.Second); err != nil || code != 503 {
		t.Errorf("OPTIONS while draining: %d, %v; want 503", code, err)
	}
	ph, err := phone.New(ctx, phone.Config{User: "late"})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	late, err := ph.Dial(dctx, "sip:"+RoomExt+"@"+b.SIP)
	dcancel()
	var se *phone.StatusError
	if !errors.As(err, &se) || se.Code != 503 {
		if late != nil {
			late.Hangup(ctx)
		}
		t.Errorf("INVITE while draining: %v; want 503", err)
	}
	if code := readyzCode(t, b); code != 503 {
		t.Errorf("/readyz while draining: %d, want 503", code)
	}

	// The meeting goes on: both still listed, both still hear each other.
	WaitRoomMembers(t, b, RoomExt, 2)
	hearsToneAfter(t, a, a.Mark(), 900, "during the grace, alice hears carl")
	hearsToneAfter(t, c, c.Mark(), 500, "during the grace, carl hears alice")
	for _, call := range []*phone.Call{a, c} {
		select {
		case <-call.Done():
			t.Fatal("a call ended during the grace; the checks above took longer than the grace?")
		default:
		}
	}

	// The grace runs out: the room is ended, BYE to both, exit 0.
	for name, call := range map[string]*phone.Call{"alice": a, "carl": c} {
		select {
		case <-call.Done():
		case <-time.After(2*graceSeconds*time.Second + 60*time.Second):
			t.Fatalf("%s still in the call long after the grace", name)
		}
		if !call.EndedByRemote() {
			t.Errorf("%s's call was not ended by the bridge's BYE", name)
		}
	}
	b.ExitedOK(t, 60*time.Second)
	log := b.Log()
	for _, want := range []string{"shutdown grace over: ending the meetings", "type=conference.ended", "msg=drained"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestDrainSecondSignalEndsAtOnce: a second SIGTERM during a long grace
// hangs up every call at once and the bridge exits 0.
func TestDrainSecondSignalEndsAtOnce(t *testing.T) {
	b := StartBridgeIn(t, t.TempDir(), BridgeConfig+"shutdown_grace: 1h\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := DialIn(ctx, t, b, RoomExt, "alice", RoomPIN+"#", 500)
	WaitRoomMembers(t, b, RoomExt, 1)

	b.SendSignal(t, syscall.SIGTERM)
	b.waitLogLine(t, 20*time.Second, "msg=draining", "calls=1", "grace=1h")
	select {
	case <-a.Done():
		t.Fatal("the call ended at the first SIGTERM despite the grace")
	default:
	}
	WaitRoomMembers(t, b, RoomExt, 1)
	b.SendSignal(t, syscall.SIGTERM)
	select {
	case <-a.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the call was not hung up after the second SIGTERM")
	}
	if !a.EndedByRemote() {
		t.Error("the call was not ended by the bridge's BYE")
	}
	b.ExitedOK(t, 60*time.Second)
	if !strings.Contains(b.Log(), "second signal") {
		t.Error("the log does not say the second signal ended the calls")
	}
}

// TestDrainFinishesRecording: a meeting being recorded at SIGTERM goes on
// through the grace; its end closes the recording and queues it, and it
// reaches the owner's voicemail spool exactly once: before the exit, or at
// the next start.
func TestDrainFinishesRecording(t *testing.T) {
	dir := t.TempDir()
	mailbox := filepath.Join(dir, "spool", "default", "4712")
	if err := os.MkdirAll(filepath.Dir(filepath.Dir(mailbox)), 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := RecordingConfig(mailbox) + "shutdown_grace: 5s\n"
	b := StartBridgeIn(t, dir, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	call := DialIn(ctx, t, b, "4712", "interop", RoomPIN+"#", 700)
	id := RecordingUnderway(t, b, dir, 2)

	b.SendSignal(t, syscall.SIGTERM)
	select {
	case <-call.Done():
	case <-time.After(90 * time.Second):
		t.Fatal("the call was not ended after the grace")
	}
	b.ExitedOK(t, 60*time.Second)
	if !strings.Contains(b.Log(), "recording finished") {
		t.Error("the recording was not finished at the meeting's end")
	}
	if strings.Contains(b.Log(), "repaired") {
		t.Error("the recording needed a repair: the drain did not close it")
	}

	// Delivered before the exit, or due at the next start: either way
	// once, with the caller's 700 Hz in it.
	b2 := StartBridgeIn(t, dir, cfg)
	rec := WaitDelivered(t, b2, id)
	if rec["attempts"].(float64) < 1 {
		t.Errorf("recording %v", rec)
	}
	msgs := SpoolMessages(t, mailbox)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the spool, want 1", len(msgs))
	}
	data, err := os.ReadFile(strings.TrimSuffix(msgs[0], ".txt") + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	checkHas700(t, data)
}

// waitLogLine waits until the bridge's log holds every one of parts on one line.
func (b *Bridge) waitLogLine(t *testing.T, limit time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, line := range strings.Split(b.Log(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %v", parts, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hearsToneAfter waits until call hears freq in what came after mark.
func hearsToneAfter(t *testing.T, c *phone.Call, mark int, freq float64, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !prompttest.HeardTone(c.ReceivedSince(mark), freq) {
		select {
		case <-c.Done():
			t.Fatalf("%s: the call ended before %.0f Hz was heard", what, freq)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %.0f Hz not heard", what, freq)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readyzCode(t *testing.T, b *Bridge) int {
	t.Helper()
	res, err := http.Get(b.API + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// graceSeconds is the drain tests' shutdown_grace: long enough for the
// checks made during it on a slow, shared machine.
const graceSeconds = 25

// checkHas700 checks that a delivered WAV holds the caller's 700 Hz.
func checkHas700(t *testing.T, wav []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "got.wav")
	if err := os.WriteFile(path, wav, 0o600); err != nil {
		t.Fatal(err)
	}
	pcm, err := recordings.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) < 2*SampleRate || !prompttest.HeardTone(pcm, 700) {
		t.Fatalf("delivered %.1f s, 700 Hz heard %v", float64(len(pcm))/SampleRate, prompttest.HeardTone(pcm, 700))
	}
}
