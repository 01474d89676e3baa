package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// RecordingConfig has one room that records from its first caller and
// delivers to an Asterisk voicemail spool in the test's folder.
func RecordingConfig(spool string) string {
	return opsConfig + fmt.Sprintf(`directory:
  - {extension: "4712", name: "Kari Nordmann", pin: "%s", host_pin: "%s", record: true, voicemail: "spool:%s"}
`, RoomPIN, RoomHostPIN, spool)
}

// SpoolMessages lists the messages in a spool mailbox's INBOX.
func SpoolMessages(t *testing.T, mailbox string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(mailbox, "INBOX", "msg*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// RecordingUnderway waits for the bridge's one recording to be listed as
// recording and for its file (under dir's data) to hold more than seconds
// of audio, and returns its ID.
func RecordingUnderway(t *testing.T, b *Bridge, dir string, seconds int) string {
	t.Helper()
	var recs []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if APICall(t, b, OpsToken, "GET", "/api/v1/recordings", "", &recs) == 200 && len(recs) == 1 {
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

// WaitDelivered polls the API until the recording is delivered.
func WaitDelivered(t *testing.T, b *Bridge, id string) map[string]any {
	t.Helper()
	var rec map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		rec = nil
		APICall(t, b, OpsToken, "GET", "/api/v1/recordings/"+id, "", &rec)
		if rec["state"] == "delivered" || rec["state"] == "failed" {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if rec["state"] != "delivered" {
		t.Fatalf("recording not delivered: %v", rec)
	}
	return rec
}
