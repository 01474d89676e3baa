package conference

import (
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"brygga/events"
	"brygga/internal/logtest"
	"brygga/prompts"
	"brygga/recordings"
	"brygga/store"
)

// EndAll is the end of a shutdown's grace: a running meeting hears that
// the conference has ended before its BYEs, its recording is finished and
// queued; a caller still at the PIN prompt is hung up without it.
func TestEndAllEndsMeetingsWithNotice(t *testing.T) {
	b, sub, db := recordingBridge(t)
	rc := room4711
	rc.Voicemail = "spool:/var/spool/asterisk/voicemail/default/4711"
	h := enter(t, b, rc, "h", "", "97531#")
	p := enter(t, b, rc, "p", "", "2468#")
	h.press("*9")
	nextEvent(t, sub, events.RecordingStarted, "h")
	sayTone(t, p, h, 600)
	q := newFakeCall(t, "q", "")
	serve(b, q, rc, "") // at the PIN prompt
	waitUntil(t, "three calls", func() bool { return b.Calls() == 3 })

	hmark, pmark, qmark := h.heardLen(), p.heardLen(), q.heardLen()
	if !b.EndAll(30 * time.Second) {
		t.Fatalf("EndAll timed out with %d calls left", b.Calls())
	}
	for _, c := range []*fakeCall{h, p, q} {
		if !c.hungUp.Load() {
			t.Errorf("%s not hung up", c.id)
		}
	}
	hears(t, h, hmark, prompts.ConfEnd)
	hears(t, p, pmark, prompts.ConfEnd)
	notHeard(t, q, qmark, prompts.ConfEnd)
	nextEvent(t, sub, events.ConferenceEnded, "")
	if b.Calls() != 0 || len(b.Rooms()) != 0 {
		t.Fatalf("calls %d rooms %d after EndAll", b.Calls(), len(b.Rooms()))
	}
	recs, err := db.Recordings()
	if err != nil || len(recs) != 1 || recs[0].State != store.RecordingPending || recs[0].Samples == 0 {
		t.Fatalf("recordings after EndAll: %+v, %v; want one pending delivery", recs, err)
	}
}

// logLines is a concurrency-safe log sink for counting what was logged.
type logLines struct{ logtest.Buffer }

// count is how many lines at level hold msg.
func (l *logLines) count(level, msg string) int {
	n := 0
	for _, line := range l.Lines() {
		if strings.Contains(line, "level="+level) && strings.Contains(line, msg) {
			n++
		}
	}
	return n
}

// storeBridge is recordingBridge with its log kept and the store's
// refused writes counted, as serve counts them in brygga_store_errors_total.
func storeBridge(t *testing.T) (*Bridge, *events.Subscription, *store.DB, string, *logLines, *atomic.Int32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "brygga.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	failed := new(atomic.Int32)
	db.OnError(func(error) { failed.Add(1) })
	logs := new(logLines)
	log := slog.New(slog.NewTextHandler(logs, nil))
	rec := &recordings.Recorder{Dir: t.TempDir(), DB: db, Logger: log}
	b, sub := meetingBridge(t, func(o *Options) { o.Recorder = rec; o.Logger = log })
	return b, sub, db, path, logs, failed
}

// The store fails (here: closed under the bridge) before a host starts
// recording: the host is told recording failed, the error is logged once
// and counted once, and the meeting goes on.
func TestStoreFailureAtRecordingStartLeavesTheCall(t *testing.T) {
	b, sub, db, _, logs, failed := storeBridge(t)
	rc := room4711
	rc.Voicemail = "sip:4711@vm.example.org"
	h := enter(t, b, rc, "h", "", "97531#")
	p := enter(t, b, rc, "p", "", "2468#")
	sayTone(t, p, h, 600)

	db.Close()
	hmark := h.heardLen()
	h.press("*9")
	hears(t, h, hmark, prompts.RecordingFailed)
	if e := nextEvent(t, sub, events.RecordingFailed, ""); e.Data["error"] == "" {
		t.Fatalf("event %+v", e)
	}
	// The meeting goes on, both ways, for a while after the failure.
	for _, f := range []float64{700, 800} {
		sayTone(t, p, h, f)
		sayTone(t, h, p, f+50)
	}
	if ri, ok := b.Room("4711"); !ok || ri.Participants != 2 || ri.Recording {
		t.Fatalf("room after the store failed: %+v", ri)
	}
	if n := logs.count("ERROR", "recording could not start"); n != 1 {
		t.Errorf("logged %d times at ERROR, want once", n)
	}
	if n := failed.Load(); n != 1 {
		t.Errorf("%d store errors counted, want 1", n)
	}
	hangUpAll(t, b, h, p)
}

// The store fails while a recording runs: the meeting and the recording
// go on (frames go to the file, not the store); at the meeting's end the
// row cannot be finished, which is logged once and counted once, and the
// file is whole, so the next start repairs it and queues its delivery.
func TestStoreFailureDuringRecordingLosesNothing(t *testing.T) {
	b, sub, db, path, logs, failed := storeBridge(t)
	rc := room4711
	rc.Voicemail = "sip:4711@vm.example.org"
	h := enter(t, b, rc, "h", "", "97531#")
	p := enter(t, b, rc, "p", "", "2468#")
	h.press("*9")
	nextEvent(t, sub, events.RecordingStarted, "h")
	sayTone(t, p, h, 600)
	recs, err := db.Recordings()
	if err != nil || len(recs) != 1 {
		t.Fatalf("recordings: %v, %v", recs, err)
	}
	wav := recs[0].Path

	db.Close()
	sayTone(t, p, h, 700)
	sayTone(t, h, p, 800)
	if ri, ok := b.Room("4711"); !ok || ri.Participants != 2 || !ri.Recording {
		t.Fatalf("room after the store failed: %+v", ri)
	}
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d store errors counted while only audio flowed, want none", n)
	}
	hangUpAll(t, b, h, p)
	if n := logs.count("ERROR", "recording: finishing"); n != 1 {
		t.Errorf("finishing logged %d times at ERROR, want once", n)
	}
	if n := failed.Load(); n != 1 {
		t.Errorf("%d store errors counted, want 1", n)
	}
	pcm, err := recordings.ReadWAV(wav)
	if err != nil || len(pcm) < 8000 {
		t.Fatalf("the recording's file after the store failed: %d samples, %v", len(pcm), err)
	}

	// The next start: the row is still "recording", the file is repaired
	// and its delivery queued.
	db2, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	n, err := (&recordings.Recorder{Dir: filepath.Dir(wav), DB: db2}).Recover()
	if err != nil || n != 1 {
		t.Fatalf("Recover: %d, %v", n, err)
	}
	r, err := db2.Recording(recs[0].ID)
	if err != nil || r.State != store.RecordingPending || r.Samples != int64(len(pcm)) {
		t.Fatalf("after restart: %+v, %v; want pending with the file's %d samples", r, err, len(pcm))
	}
}
