package interop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/prompts/prompttest"
	"brygga/recordings"
)

// TestRecordingSurvivesKill9: the bridge is killed (SIGKILL) while a
// meeting is being recorded. The next start repairs the file and delivers
// it to the voicemail spool; a third start delivers nothing more.
func TestRecordingSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	mailbox := filepath.Join(dir, "spool", "default", "4712")
	if err := os.MkdirAll(filepath.Dir(filepath.Dir(mailbox)), 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := RecordingConfig(mailbox)
	b := StartBridgeIn(t, dir, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	DialIn(ctx, t, b, "4712", "interop", RoomPIN+"#", 700)
	// In the room and recorded for a few seconds: the recording's row is
	// there and its file is growing.
	id := RecordingUnderway(t, b, dir, 3)
	b.Kill(t)
	if n := len(SpoolMessages(t, mailbox)); n != 0 {
		t.Fatalf("%d messages before the restart", n)
	}

	b2 := StartBridgeIn(t, dir, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for len(SpoolMessages(t, mailbox)) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	msgs := SpoolMessages(t, mailbox)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the spool after the restart, want 1", len(msgs))
	}
	pcm, err := recordings.ReadWAV(strings.TrimSuffix(msgs[0], ".txt") + ".wav")
	if err != nil {
		t.Fatalf("delivered message: %v", err)
	}
	if len(pcm) < 3*SampleRate || !prompttest.HeardTone(pcm, 700) {
		t.Fatalf("delivered message: %.1f s, 700 Hz heard %v", float64(len(pcm))/SampleRate, prompttest.HeardTone(pcm, 700))
	}
	info, _ := os.ReadFile(msgs[0])
	if !strings.Contains(string(info), "origmailbox=4712") {
		t.Errorf("message info:\n%s", info)
	}
	var rec map[string]any
	if code := APICall(t, b2, OpsToken, "GET", "/api/v1/recordings/"+id, "", &rec); code != 200 || rec["state"] != "delivered" {
		t.Fatalf("after the restart: %d %v", code, rec)
	}
	if !strings.Contains(b2.Log(), "repaired") {
		t.Error("the log does not say the recording was repaired")
	}
	if err := b2.Stop(); err != nil {
		t.Fatal(err)
	}

	b3 := StartBridgeIn(t, dir, cfg)
	time.Sleep(3 * time.Second)
	if n := len(SpoolMessages(t, mailbox)); n != 1 {
		t.Fatalf("%d messages after a second restart: delivered more than once", n)
	}
	_ = b3
}
