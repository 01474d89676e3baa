package conference

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"brygga/events"
	"brygga/prompts"
	"brygga/prompts/prompttest"
	"brygga/recordings"
	"brygga/store"
)

// recordingBridge is a meeting bridge whose rooms record into a real store
// and folder.
func recordingBridge(t *testing.T) (*Bridge, *events.Subscription, *store.DB) {
	t.Helper()
	db := openDB(t)
	rec := &recordings.Recorder{Dir: t.TempDir(), DB: db, Logger: slogDiscard()}
	b, sub := meetingBridge(t, func(o *Options) { o.Recorder = rec })
	return b, sub, db
}

// openDB is a store of its own for one test, closed after it.
func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "brygga.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// say makes c talk freq until listener has heard it, then stops.
func sayTone(t *testing.T, c, listener *fakeCall, freq float64) {
	t.Helper()
	mark := listener.heardLen()
	c.talk(t, freq)
	waitUntil(t, listener.id+" hears "+c.id, func() bool { return heardAt(listener, mark, freq) })
	time.Sleep(300 * time.Millisecond)
	c.talk(t, 0)
	time.Sleep(200 * time.Millisecond)
}

func hangUpAll(t *testing.T, b *Bridge, calls ...*fakeCall) {
	t.Helper()
	for _, c := range calls {
		c.Hangup()
	}
	waitUntil(t, "the room closed", func() bool { return b.live("4711") == nil })
}

// The host records with *9 while three callers talk in turn: the file holds
// the announcement and all three, and nothing said before *9 or after the
// second *9; the meeting's end queues it for the owner's voicemail.
func TestRecordingHoldsTheRoomWhileOn(t *testing.T) {
	b, sub, db := recordingBridge(t)
	rc := room4711
	rc.Name, rc.Voicemail = "Kari Nordmann", "spool:/var/spool/asterisk/voicemail/default/4711"
	h := enter(t, b, rc, "h", "", "97531#")
	p := enter(t, b, rc, "p", "", "2468#")
	q := enter(t, b, rc, "q", "", "2468#")

	sayTone(t, p, h, 350) // before recording: must not be in the file

	mark := q.heardLen()
	h.press("*9")
	nextEvent(t, sub, events.RecordingStarted, "h")
	hears(t, q, mark, prompts.NowRecording)
	sayTone(t, h, p, 440)
	sayTone(t, p, h, 600)
	sayTone(t, q, h, 800)
	h.press("*9")
	nextEvent(t, sub, events.RecordingStopped, "h")
	time.Sleep(500 * time.Millisecond)
	sayTone(t, q, h, 550) // after: not in the file

	// A second stretch goes on in the same file.
	h.press("*9")
	nextEvent(t, sub, events.RecordingStarted, "h")
	sayTone(t, p, h, 1000)
	hangUpAll(t, b, h, p, q)

	recs, err := db.Recordings()
	if err != nil || len(recs) != 1 {
		t.Fatalf("recordings in the store: %d, %v", len(recs), err)
	}
	r := recs[0]
	if r.State != store.RecordingPending || r.Room != "4711" || r.Owner != "Kari Nordmann" || r.Target != rc.Voicemail || r.Language != "en" {
		t.Fatalf("row: %+v", r)
	}
	pcm, err := recordings.ReadWAV(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(pcm)) != r.Samples {
		t.Fatalf("file holds %d samples, row says %d", len(pcm), r.Samples)
	}
	for _, f := range []float64{440, 600, 800, 1000, prompttest.Tone(prompts.NowRecording)} {
		if !prompttest.HeardTone(pcm, f) {
			t.Errorf("%.0f Hz missing from the recording", f)
		}
	}
	for _, f := range []float64{350, 550, prompttest.Tone(prompts.RecordingStopped)} {
		if prompttest.HeardTone(pcm, f) {
			t.Errorf("%.0f Hz (said while not recording) is in the recording", f)
		}
	}
	// Order: the announcement, then the three talkers, then the second stretch.
	at := func(f float64) int {
		for i := 0; i+1600 <= len(pcm); i += 400 {
			if prompttest.HeardTone(pcm[i:i+1600], f) {
				return i
			}
		}
		return -1
	}
	seq := []int{at(prompttest.Tone(prompts.NowRecording)), at(440), at(600), at(800), at(1000)}
	for i := 1; i < len(seq); i++ {
		if seq[i] <= seq[i-1] {
			t.Fatalf("recorded out of order: positions %v", seq)
		}
	}
	// Private prompts are not in the room's recording: the joiners heard
	// nothing private here, but *9's own confirmation is the announcement.
	if r.Samples < 3*8000 || r.Samples > 60*8000 {
		t.Fatalf("recording of %.1f s for about 5 s of recorded talk", float64(r.Samples)/8000)
	}
}

// A caller who comes in while recording runs is told privately; the room
// does not hear it again.
func TestLateJoinerIsToldOfRecording(t *testing.T) {
	b, _, _ := recordingBridge(t)
	h := enter(t, b, room4711, "h", "", "97531#")
	p := enter(t, b, room4711, "p", "", "2468#")
	h.press("*9")
	hears(t, p, 0, prompts.NowRecording)
	time.Sleep(time.Second)
	hmark := h.heardLen()
	q := newFakeCall(t, "q", "")
	serve(b, q, room4711, "")
	q.press("2468#")
	hears(t, q, 0, prompts.NowRecording)
	waitUntil(t, "q in the room", func() bool { return joined(b, "4711", "q") })
	time.Sleep(500 * time.Millisecond)
	notHeard(t, h, hmark, prompts.NowRecording)
	hangUpAll(t, b, h, p, q)
}

// `record: true` records from the first caller in; each caller is told.
func TestRoomThatRecordsAutomatically(t *testing.T) {
	b, sub, db := recordingBridge(t)
	rc := room4711
	rc.Settings.Record = true
	rc.Email = "kari@example.org"
	h := enter(t, b, rc, "h", "", "97531#")
	hears(t, h, 0, prompts.NowRecording)
	e := nextEvent(t, sub, events.RecordingStarted, "")
	if e.Data["automatic"] != true {
		t.Fatalf("event %+v", e)
	}
	p := enter(t, b, rc, "p", "", "2468#")
	hears(t, p, 0, prompts.NowRecording)
	sayTone(t, p, h, 700)
	hangUpAll(t, b, h, p)
	recs, _ := db.Recordings()
	if len(recs) != 1 || recs[0].Target != "mailto:kari@example.org" {
		t.Fatalf("recordings %+v: want one, to the owner's email (no voicemail set)", recs)
	}
	pcm, _ := recordings.ReadWAV(recs[0].Path)
	if !prompttest.HeardTone(pcm, 700) {
		t.Fatal("automatic recording does not hold the talk")
	}
}

// A sensitive room never records, not even with `record: true`.
func TestSensitiveRoomNeverRecords(t *testing.T) {
	b, _, db := recordingBridge(t)
	rc := room4711
	rc.Sensitive, rc.Settings.Record = true, true
	h := enter(t, b, rc, "h", "", "97531#")
	mark := h.heardLen()
	h.press("*9")
	hears(t, h, mark, prompts.RecordingRefused)
	if err := b.SetRecording("4711", true); !errors.Is(err, ErrConflict) {
		t.Fatalf("API start in a sensitive room: %v", err)
	}
	hangUpAll(t, b, h)
	if recs, _ := db.Recordings(); len(recs) != 0 {
		t.Fatalf("a sensitive room left %d recordings", len(recs))
	}
}

// When the disk refuses a write, recording stops: the hosts are told, an
// event says why, the meeting goes on, and a later *9 starts a new file.
func TestFullDiskStopsRecordingNotTheMeeting(t *testing.T) {
	b, sub, db := recordingBridge(t)
	rc := room4711
	rc.Voicemail = "sip:4711@vm.example.org"
	h := enter(t, b, rc, "h", "", "97531#")
	p := enter(t, b, rc, "p", "", "2468#")
	h.press("*9")
	nextEvent(t, sub, events.RecordingStarted, "h")
	sayTone(t, p, h, 600)

	r := b.live("4711")
	hmark, pmark := h.heardLen(), p.heardLen()
	r.writeFailed(syscall.ENOSPC) // what the session's writer calls on a full disk
	hears(t, h, hmark, prompts.RecordingFailed)
	e := nextEvent(t, sub, events.RecordingFailed, "")
	if e.Data["stage"] != "write" || e.Data["error"] == "" {
		t.Fatalf("event %+v", e)
	}
	if ri, _ := b.Room("4711"); ri.Recording {
		t.Fatal("room still shown as recording")
	}
	sayTone(t, p, h, 700) // the meeting goes on
	notHeard(t, p, pmark, prompts.RecordingFailed)

	h.press("*9")
	nextEvent(t, sub, events.RecordingStarted, "h")
	sayTone(t, p, h, 800)
	hangUpAll(t, b, h, p)
	recs, _ := db.Recordings()
	if len(recs) != 2 {
		t.Fatalf("%d recordings, want the one cut short and the new one", len(recs))
	}
	for _, rec := range recs {
		if rec.State != store.RecordingPending || rec.Samples == 0 {
			t.Fatalf("recording %s is %s with %d samples, want pending delivery of what was recorded", rec.ID, rec.State, rec.Samples)
		}
	}
}
