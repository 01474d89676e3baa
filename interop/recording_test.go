package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/prompts/prompttest"
	"brygga/recordings"
)

// recordingConfig has one room that records from its first caller and
// delivers to an Asterisk voicemail spool in the test's folder.
func recordingConfig(spool string) string {
	return fmt.Sprintf(`open_rooms: ""
defaults:
  names: false
api:
  tokens:
    - {name: interop-ops, token: "%s", role: operator}
directory:
  - {extension: "4712", name: "Kari Nordmann", pin: "%s", host_pin: "%s", record: true, voicemail: "spool:%s"}
`, opsToken, roomPIN, roomHostPIN, spool)
}

// spoolMessages lists the messages in a spool mailbox's INBOX.
func spoolMessages(t *testing.T, mailbox string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(mailbox, "INBOX", "msg*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecordingSurvivesKill9: the bridge is killed (SIGKILL) while a
// meeting is being recorded. The next start repairs the file and delivers
// it to the voicemail spool; a third start delivers nothing more.
func TestRecordingSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	mailbox := filepath.Join(dir, "spool", "default", "4712")
	if err := os.MkdirAll(filepath.Dir(filepath.Dir(mailbox)), 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := recordingConfig(mailbox)
	b := startBridgeIn(t, dir, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dialIn(ctx, t, b, "4712", "interop", roomPIN+"#", 700)
	// In the room and recorded for a few seconds: the recording's row is
	// there and its file is growing.
	id := recordingUnderway(t, b, dir, 3)
	b.Kill(t)
	if n := len(spoolMessages(t, mailbox)); n != 0 {
		t.Fatalf("%d messages before the restart", n)
	}

	b2 := startBridgeIn(t, dir, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for len(spoolMessages(t, mailbox)) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	msgs := spoolMessages(t, mailbox)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the spool after the restart, want 1", len(msgs))
	}
	pcm, err := recordings.ReadWAV(strings.TrimSuffix(msgs[0], ".txt") + ".wav")
	if err != nil {
		t.Fatalf("delivered message: %v", err)
	}
	if len(pcm) < 3*rate || !prompttest.HeardTone(pcm, 700) {
		t.Fatalf("delivered message: %.1f s, 700 Hz heard %v", float64(len(pcm))/rate, prompttest.HeardTone(pcm, 700))
	}
	info, _ := os.ReadFile(msgs[0])
	if !strings.Contains(string(info), "origmailbox=4712") {
		t.Errorf("message info:\n%s", info)
	}
	var rec map[string]any
	if code := apiCall(t, b2, opsToken, "GET", "/api/v1/recordings/"+id, "", &rec); code != 200 || rec["state"] != "delivered" {
		t.Fatalf("after the restart: %d %v", code, rec)
	}
	if !strings.Contains(b2.Log(), "repaired") {
		t.Error("the log does not say the recording was repaired")
	}
	if err := b2.Stop(); err != nil {
		t.Fatal(err)
	}

	b3 := startBridgeIn(t, dir, cfg)
	time.Sleep(3 * time.Second)
	if n := len(spoolMessages(t, mailbox)); n != 1 {
		t.Fatalf("%d messages after a second restart: delivered more than once", n)
	}
	_ = b3
}

// recordingUnderway waits for the bridge's one recording to be listed as
// recording and for its file (under dir's data) to hold more than seconds
// of audio, and returns its ID.
func recordingUnderway(t *testing.T, b *bridge, dir string, seconds int) string {
	t.Helper()
	var recs []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if apiCall(t, b, opsToken, "GET", "/api/v1/recordings", "", &recs) == 200 && len(recs) == 1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(recs) != 1 || recs[0]["state"] != "recording" {
		t.Fatalf("recordings while the meeting runs: %v", recs)
	}
	id := recs[0]["id"].(string)
	wav := filepath.Join(dir, "data", "recordings", id+".wav")
	for time.Now().Before(deadline) {
		if st, err := os.Stat(wav); err == nil && st.Size() > int64(44+seconds*16000) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return id
}
