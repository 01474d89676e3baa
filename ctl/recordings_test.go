package ctl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"brygga/recordings"
)

// recorded makes a real finished recording in the bridge's store.
func recorded(t *testing.T, b *bridge) string {
	t.Helper()
	rec := &recordings.Recorder{Dir: t.TempDir(), DB: b.db}
	s, err := rec.Start(recordings.Room{Extension: "4711", Owner: "Kari Nordmann", Target: "sip:4711@vm.example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	for i := range 100 {
		pcm[0] = int16(i)
		s.Frame(pcm)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	return s.ID()
}

func TestRecordingsCommands(t *testing.T) {
	b := newBridge(t)
	id := recorded(t, b)

	r := ctl(t, opEnv(b), "recordings")
	if r.code != ExitOK || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "0:02") || !strings.Contains(r.stdout, "pending") {
		t.Fatalf("recordings: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = ctl(t, opEnv(b), "recording", id)
	if r.code != ExitOK || !strings.Contains(r.stdout, "sip:4711@vm.example.org") {
		t.Fatalf("recording: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = ctl(t, opEnv(b), "--json", "recording", id)
	var m map[string]any
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &m) != nil || m["id"] != id {
		t.Fatalf("--json: %q", r.stdout)
	}

	out := filepath.Join(t.TempDir(), "got.wav")
	r = ctl(t, opEnv(b), "recording", "audio", id, "-o", out)
	if r.code != ExitOK {
		t.Fatalf("audio: exit %d %s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(out)
	rec, _ := b.db.Recording(id)
	want, _ := os.ReadFile(rec.Path)
	if len(got) != 44+2*160*100 || string(got) != string(want) {
		t.Fatalf("downloaded %d bytes, the file has %d", len(got), len(want))
	}
	r = ctl(t, map[string]string{"BRYGGA_API": b.srv.URL, "BRYGGA_TOKEN": viewerToken}, "recording", "audio", id, "-o", out)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "may only read") {
		t.Errorf("viewer download: exit %d %q", r.code, r.stderr)
	}

	r = ctl(t, opEnv(b), "recording", "retry", id)
	if r.code != ExitOK || !strings.Contains(r.stdout, "queued") {
		t.Fatalf("retry: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	r = ctl(t, opEnv(b), "recording", "delete", id)
	if r.code != ExitOK || !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("delete: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	r = ctl(t, opEnv(b), "recording", id)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "no such recording") {
		t.Errorf("after delete: exit %d %q", r.code, r.stderr)
	}
	r = ctl(t, opEnv(b), "recording", "play", id)
	if r.code != ExitUsage {
		t.Errorf("unknown subcommand: exit %d", r.code)
	}
}
