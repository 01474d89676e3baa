package interop

import (
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

// SendSignal sends sig to the bridge and takes over Stop's part: the test
// waits for the exit itself (exited), so the cleanup expects nothing more.
func (b *Bridge) SendSignal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	b.stopOnce.Do(func() {})
	if err := b.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v to brygga: %v", sig, err)
	}
}

// ExitedOK waits up to limit for the bridge to exit after a signal, and
// fails unless it exited 0 without a data race.
func (b *Bridge) ExitedOK(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-b.exited:
	case <-time.After(limit):
		_ = b.cmd.Process.Kill()
		<-b.exited
		t.Fatalf("brygga did not exit within %v (killed)", limit)
	}
	if b.err != nil {
		t.Fatalf("brygga exited with %v, want status 0", b.err)
	}
	if strings.Contains(b.Log(), "WARNING: DATA RACE") {
		t.Fatal("brygga reported a data race (see its log)")
	}
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

// WaitRoomMembers waits until the API lists n members in room.
func WaitRoomMembers(t *testing.T, b *Bridge, room string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var conf struct{ Members []struct{ ID string } }
		if APICall(t, b, OpsToken, "GET", "/api/v1/conferences/"+room, "", &conf) == 200 && len(conf.Members) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s: %d members, want %d", room, len(conf.Members), n)
		}
		time.Sleep(200 * time.Millisecond)
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
