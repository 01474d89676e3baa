package recordings

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"brygga/events"
	"brygga/store"
)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "brygga.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fakeDeliverer records what it is asked to deliver and answers from a
// script of errors (nil once the script is used up).
type fakeDeliverer struct {
	mu     sync.Mutex
	got    []Message
	script []error
}

func (f *fakeDeliverer) Deliver(ctx context.Context, m Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, m)
	if len(f.script) == 0 {
		return nil
	}
	err := f.script[0]
	f.script = f.script[1:]
	return err
}

func (f *fakeDeliverer) calls() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.got...)
}

// record makes a finished recording of n frames through a real Session.
func record(t *testing.T, rec *Recorder, room Room, n int) *Session {
	t.Helper()
	s, err := rec.Start(room, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		s.Frame(frames(1, int16(i))[:sampleRate/50])
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionWritesEveryFrameAndQueuesDelivery(t *testing.T) {
	db := openDB(t)
	rec := &Recorder{Dir: t.TempDir(), DB: db}
	s := record(t, rec, Room{Extension: "4711", Owner: "Kari", Language: "nb", Target: "spool:/x"}, 100)
	r, err := db.Recording(s.ID())
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.RecordingPending || r.Samples != 100*sampleRate/50 || r.Room != "4711" || r.Owner != "Kari" {
		t.Fatalf("row after finish: %+v", r)
	}
	pcm, err := ReadWAV(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != 100*sampleRate/50 {
		t.Fatalf("file holds %d samples, want %d", len(pcm), 100*sampleRate/50)
	}
	for i := range 100 {
		if want := frames(1, int16(i))[0]; pcm[i*sampleRate/50] != want {
			t.Fatalf("frame %d starts with %d, want %d: frames out of order or lost", i, pcm[i*sampleRate/50], want)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatalf("second Finish: %v", err)
	}
}

func TestRoomWithoutVoicemailIsKeptUndelivered(t *testing.T) {
	db := openDB(t)
	rec := &Recorder{Dir: t.TempDir(), DB: db}
	s := record(t, rec, Room{Extension: "4711", Target: Target("", "")}, 5)
	if r, _ := db.Recording(s.ID()); r.State != store.RecordingUndelivered {
		t.Fatalf("state %q, want %q", r.State, store.RecordingUndelivered)
	}
	if Target("", "kari@example.org") != "mailto:kari@example.org" || Target("sip:4711@vm", "k@x") != "sip:4711@vm" {
		t.Fatal("Target does not prefer voicemail, then email")
	}
}

// recordUnfinished starts a recording, gives it n frames and waits until
// they are written, as it would be on disk when the bridge is killed.
func recordUnfinished(t *testing.T, rec *Recorder, room Room, n int) *Session {
	t.Helper()
	s, err := rec.Start(room, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		s.Frame(frames(1, int16(i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.written.Load() < int64(n*sampleRate/50) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

// A crash (no Finish) leaves a row marked recording and a file whose
// header may not count its last samples; Recover repairs and queues it.
func TestRecoverAfterCrash(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	rec := &Recorder{Dir: dir, DB: db}
	s := recordUnfinished(t, rec, Room{Extension: "4711", Target: "spool:/x"}, 30)
	// Tear the file as a crash mid-write would: half a frame past what
	// the header counts.
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, bytesPerFrame+bytesPerFrame/2))
	f.Close()

	fresh := &Recorder{Dir: dir, DB: db}
	n, err := fresh.Recover()
	if err != nil || n != 1 {
		t.Fatalf("Recover: %d, %v", n, err)
	}
	r, _ := db.Recording(s.ID())
	if r.State != store.RecordingPending || r.Samples != 31*sampleRate/50 {
		t.Fatalf("after recovery: state %q, %d samples (want pending, %d)", r.State, r.Samples, 31*sampleRate/50)
	}
	if pcm, err := ReadWAV(r.Path); err != nil || len(pcm) != 31*sampleRate/50 {
		t.Fatalf("repaired file: %d samples, %v", len(pcm), err)
	}
	if n, _ := fresh.Recover(); n != 0 {
		t.Fatalf("second Recover repaired %d again", n)
	}
}

func TestRecoverReportsALostFile(t *testing.T) {
	db := openDB(t)
	rec := &Recorder{Dir: t.TempDir(), DB: db}
	s, err := rec.Start(Room{Extension: "4711", Target: "spool:/x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(s.path)
	if n, _ := (&Recorder{Dir: rec.Dir, DB: db}).Recover(); n != 0 {
		t.Fatalf("recovered %d from a missing file", n)
	}
	if r, _ := db.Recording(s.ID()); r.State != store.RecordingFailed || r.LastError == "" {
		t.Fatalf("missing file: state %q, error %q", r.State, r.LastError)
	}
}

// fillingDisk is a file whose disk fills up when full is set.
type fillingDisk struct {
	*os.File
	full *atomic.Bool
}

func (f fillingDisk) WriteAt(b []byte, off int64) (int, error) {
	if f.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.WriteAt(b, off)
}

// A full disk stops the recording, once, with the error; what was written
// before stays deliverable.
func TestDiskFullStopsRecording(t *testing.T) {
	db := openDB(t)
	var full atomic.Bool
	rec := &Recorder{Dir: t.TempDir(), DB: db, create: func(path string) (*WAVWriter, error) {
		w, err := CreateWAV(path)
		if err == nil {
			w.f = fillingDisk{w.f.(*os.File), &full}
		}
		return w, err
	}}
	errs := make(chan error, 10)
	s, err := rec.Start(Room{Extension: "4711", Target: "spool:/x"}, func(err error) { errs <- err })
	if err != nil {
		t.Fatal(err)
	}
	s.Frame(frames(1, 1))
	deadline := time.Now().Add(10 * time.Second)
	for s.written.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	full.Store(true)
	for range 5 {
		s.Frame(frames(1, 2))
	}
	select {
	case err := <-errs:
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("onError got %v, want ENOSPC", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write on a full disk was not reported")
	}
	if !s.Failed() {
		t.Fatal("session not marked failed")
	}
	full.Store(false)
	s.Frame(frames(1, 3))
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 0 {
		t.Fatal("onError called more than once")
	}
	r, _ := db.Recording(s.ID())
	if r.State != store.RecordingPending || r.Samples != sampleRate/50 {
		t.Fatalf("after a full disk: state %q with %d samples, want pending with the one frame written before", r.State, r.Samples)
	}
	if pcm, err := ReadWAV(r.Path); err != nil || len(pcm) != sampleRate/50 {
		t.Fatalf("file after a full disk: %d samples, %v", len(pcm), err)
	}
}

func newQueue(t *testing.T, db *store.DB, d Deliverer) (*Queue, *clockwork.FakeClock, *events.Subscription) {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC))
	bus := events.New(0, clock.Now)
	_, _, sub := bus.Subscribe(0, "")
	q := &Queue{DB: db, Deliverers: map[string]Deliverer{"spool": d, "sip": d}, KeepDays: 30, Events: bus, Clock: clock}
	return q, clock, sub
}

func nextEvent(t *testing.T, sub *events.Subscription) events.Event {
	t.Helper()
	select {
	case e := <-sub.C:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return events.Event{}
}

func TestQueueRetriesWithBackoffUntilDelivered(t *testing.T) {
	db := openDB(t)
	d := &fakeDeliverer{script: []error{errors.New("486 busy"), errors.New("timeout")}}
	q, clock, sub := newQueue(t, db, d)
	rec := &Recorder{Dir: t.TempDir(), DB: db, Now: clock.Now}
	s := record(t, rec, Room{Extension: "4711", Owner: "Kari", Language: "sv", Target: "sip:4711@vm"}, 50)

	if n := q.RunOnce(context.Background()); n != 0 {
		t.Fatalf("first attempt delivered %d despite the error", n)
	}
	r, _ := db.Recording(s.ID())
	if r.State != store.RecordingPending || r.Attempts != 1 || r.LastError != "486 busy" || !r.NextAttempt.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("after a failed attempt: %+v", r)
	}
	if e := nextEvent(t, sub); e.Type != events.RecordingFailed || e.Data["permanent"] != false {
		t.Fatalf("event %+v", e)
	}
	if n := q.RunOnce(context.Background()); n != 0 || len(d.calls()) != 1 {
		t.Fatal("retried before the back-off had passed")
	}
	clock.Advance(time.Minute)
	q.RunOnce(context.Background()) // second failure: next in 2 minutes
	if r, _ := db.Recording(s.ID()); !r.NextAttempt.Equal(clock.Now().Add(2 * time.Minute)) {
		t.Fatalf("second back-off: next at %v, want +2m", r.NextAttempt.Sub(clock.Now()))
	}
	nextEvent(t, sub)
	clock.Advance(2 * time.Minute)
	if n := q.RunOnce(context.Background()); n != 1 {
		t.Fatal("third attempt not delivered")
	}
	if e := nextEvent(t, sub); e.Type != events.RecordingDone || e.Data["attempts"] != 3 {
		t.Fatalf("event %+v", e)
	}
	got := d.calls()
	m := got[len(got)-1]
	if m.ID != s.ID() || m.Room != "4711" || m.Owner != "Kari" || m.Language != "sv" || m.Length != time.Second ||
		m.Size != int64(headerSize+2*50*sampleRate/50) || m.Target != "sip:4711@vm" {
		t.Fatalf("message %+v", m)
	}
	if q.RunOnce(context.Background()) != 0 || len(d.calls()) != 3 {
		t.Fatal("a delivered recording was delivered again")
	}

	// Retention: the file stays 30 days after delivery, then goes.
	clock.Advance(29 * 24 * time.Hour)
	q.Sweep()
	if _, err := os.Stat(m.Path); err != nil {
		t.Fatal("file removed before keep_days")
	}
	clock.Advance(48 * time.Hour)
	q.Sweep()
	if _, err := os.Stat(m.Path); !os.IsNotExist(err) {
		t.Fatal("file kept after keep_days")
	}
	if r, _ := db.Recording(s.ID()); r.State != store.RecordingExpired {
		t.Fatalf("state %q after retention", r.State)
	}
}

func TestQueueGivesUpOnPermanentErrors(t *testing.T) {
	db := openDB(t)
	d := &fakeDeliverer{script: []error{Permanent(errors.New("404 no such mailbox"))}}
	q, clock, sub := newQueue(t, db, d)
	rec := &Recorder{Dir: t.TempDir(), DB: db, Now: clock.Now}
	s := record(t, rec, Room{Extension: "4711", Target: "sip:4711@vm"}, 5)
	unknown := record(t, rec, Room{Extension: "4712", Target: "fax:123"}, 5)
	q.RunOnce(context.Background())
	for _, id := range []string{s.ID(), unknown.ID()} {
		r, _ := db.Recording(id)
		if r.State != store.RecordingFailed || r.LastError == "" {
			t.Fatalf("%s: state %q error %q, want failed with a reason", id, r.State, r.LastError)
		}
		if _, err := os.Stat(r.Path); err != nil {
			t.Fatal("the file of a failed delivery was removed")
		}
	}
	if e := nextEvent(t, sub); e.Type != events.RecordingFailed || e.Data["permanent"] != true {
		t.Fatalf("event %+v", e)
	}
	clock.Advance(48 * time.Hour)
	if q.RunOnce(context.Background()) != 0 || len(d.calls()) != 1 {
		t.Fatal("a permanent failure was retried")
	}
	// An operator fixes the mailbox and asks again.
	if err := db.RetryRecording(s.ID(), "", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if q.RunOnce(context.Background()) != 1 {
		t.Fatal("retry after the operator's request not delivered")
	}
}

// Run wakes for a finished recording at once and for a retry when due.
func TestQueueRunWakesOnFinish(t *testing.T) {
	db := openDB(t)
	d := &fakeDeliverer{}
	q, _, sub := newQueue(t, db, d)
	q.Clock = clockwork.NewRealClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q.Prepare()
	go q.Run(ctx)
	rec := &Recorder{Dir: t.TempDir(), DB: db, Queue: q}
	s := record(t, rec, Room{Extension: "4711", Target: "spool:/x"}, 5)
	e := nextEvent(t, sub)
	if e.Type != events.RecordingDone || e.Data["id"] != s.ID() {
		t.Fatalf("event %+v", e)
	}
}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := DefaultBackoff(i + 1); got != w {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}
