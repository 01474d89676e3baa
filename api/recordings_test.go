package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/store"
)

// recordingStore is a real store with two recordings: r1 finished and
// delivered, r2 still being written.
func recordingStore(t *testing.T) (*store.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "brygga.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	for _, id := range []string{"r1", "r2"} {
		path := filepath.Join(dir, id+".wav")
		wav := append([]byte("RIFF\x24\x06\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x06\x00\x00"), make([]byte, 1536)...)
		if err := os.WriteFile(path, wav, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateRecording(store.Recording{ID: id, Room: "4711", Owner: "Kari", Language: "nb",
			Target: "sip:4711@vm.example.org", Path: path, Started: start}); err != nil {
			t.Fatal(err)
		}
		start = start.Add(time.Hour)
	}
	if err := db.FinishRecording("r1", time.Date(2026, 11, 22, 14, 30, 0, 0, time.UTC), 768, 1580); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordingDelivered("r1", time.Date(2026, 11, 22, 14, 31, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return db, dir
}

func TestRecordingsListAndShow(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/api/v1/recordings", viewSecret, "")
	want(t, r, 200)
	l := r.list(t)
	if len(l) != 2 || l[0]["id"] != "r2" || l[1]["id"] != "r1" {
		t.Fatalf("list (newest first): %s", r.body)
	}
	r1 := l[1]
	if r1["state"] != "delivered" || r1["room"] != "4711" || r1["owner"] != "Kari" || r1["seconds"] != 0.096 ||
		r1["target"] != "sip:4711@vm.example.org" || r1["audio"] != "/api/v1/recordings/r1/audio" ||
		r1["delivered"] != "2026-11-22T14:31:00Z" || r1["attempts"] != 1.0 {
		t.Fatalf("r1: %v", r1)
	}
	if l[0]["state"] != "recording" || l[0]["ended"] != nil {
		t.Fatalf("r2: %v", l[0])
	}
	r = e.do(t, "GET", "/api/v1/recordings/r1", viewSecret, "")
	want(t, r, 200)
	if r.json(t)["id"] != "r1" {
		t.Fatalf("show: %s", r.body)
	}
	want(t, e.do(t, "GET", "/api/v1/recordings/nope", viewSecret, ""), 404)
}

func TestRecordingAudio(t *testing.T) {
	e := newEnv(t, nil)
	file, _ := os.ReadFile(filepath.Join(e.recDir, "r1.wav"))
	want(t, e.do(t, "GET", "/api/v1/recordings/r1/audio", viewSecret, ""), 403)
	r := e.do(t, "GET", "/api/v1/recordings/r1/audio", opSecret, "")
	want(t, r, 200)
	if r.hdr.Get("Content-Type") != "audio/wav" || string(r.body) != string(file) ||
		!strings.Contains(r.hdr.Get("Content-Disposition"), `filename="r1.wav"`) {
		t.Fatalf("audio: %d bytes, %v", len(r.body), r.hdr)
	}
	if !strings.Contains(e.log.String(), `"action":"recording.download"`) {
		t.Errorf("download not audited: %s", e.log)
	}
	os.Remove(filepath.Join(e.recDir, "r1.wav"))
	want(t, e.do(t, "GET", "/api/v1/recordings/r1/audio", opSecret, ""), 410)
	want(t, e.do(t, "GET", "/api/v1/recordings/nope/audio", opSecret, ""), 404)
}

func TestRecordingAudioRange(t *testing.T) {
	e := newEnv(t, nil)
	file, _ := os.ReadFile(filepath.Join(e.recDir, "r1.wav"))
	r := e.doHeader(t, "GET", "/api/v1/recordings/r1/audio", opSecret, "Range", "bytes=44-99")
	want(t, r, 206)
	if string(r.body) != string(file[44:100]) {
		t.Fatalf("range: %d bytes", len(r.body))
	}
}

func TestRecordingDeleteAndRetry(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "DELETE", "/api/v1/recordings/r2", opSecret, "")
	want(t, r, 409)
	if !strings.Contains(string(r.body), "still being written") {
		t.Errorf("409 without the reason: %s", r.body)
	}
	want(t, e.do(t, "POST", "/api/v1/recordings/r2/retry", opSecret, ""), 409)

	r = e.do(t, "POST", "/api/v1/recordings/r1/retry", opSecret, "")
	want(t, r, 200)
	if m := r.json(t); m["state"] != "pending" || m["attempts"] != 0.0 || m["next_attempt"] == nil {
		t.Fatalf("retry of a delivered recording: %s", r.body)
	}
	want(t, e.do(t, "POST", "/api/v1/recordings/r1/retry", opSecret, `{"target": "x"}`), 400)

	r = e.do(t, "DELETE", "/api/v1/recordings/r1", opSecret, "")
	if r.code != 204 || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	if _, err := os.Stat(filepath.Join(e.recDir, "r1.wav")); !os.IsNotExist(err) {
		t.Fatal("file kept after delete")
	}
	want(t, e.do(t, "GET", "/api/v1/recordings/r1", viewSecret, ""), 404)
	want(t, e.do(t, "DELETE", "/api/v1/recordings/r1", opSecret, ""), 404)

	none := newEnv(t, func(o *Options) { o.Recordings = nil })
	want(t, none.do(t, "GET", "/api/v1/recordings", viewSecret, ""), 501)
}
