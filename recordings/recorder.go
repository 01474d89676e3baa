package recordings

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"brygga/store"
)

// Recorder starts recordings: a row in the store, then a WAV file in Dir.
type Recorder struct {
	Dir    string
	DB     *store.DB
	Queue  *Queue // woken when a recording is finished; may be nil
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	// Node is this node's name, written on its recordings: their files
	// are on its disk. "": a single node. See Queue.Node.
	Node string

	create func(path string) (*WAVWriter, error) // CreateWAV; tests fill the disk
}

// Room says whose meeting is recorded and where it goes afterwards.
type Room struct {
	Extension string
	Owner     string // the owner's name
	Language  string
	Target    string // the owner's voicemail (sip:, mailto:, spool:); "" keeps it undelivered
}

// Target is where a room's recordings go: the owner's voicemail, else an
// email to the owner, else nowhere ("").
func Target(voicemail, email string) string {
	switch {
	case voicemail != "":
		return voicemail
	case email != "":
		return "mailto:" + email
	}
	return ""
}

// queueFrames is how far the writer may fall behind the mixer: 10 s of
// audio, far more than a disk stall the page cache does not absorb.
const queueFrames = 500

// syncEvery is how often samples are flushed to the disk itself.
const syncEvery = 5 * time.Second

// Session is one meeting's recording: the mixer's tap hands it frames,
// a goroutine of its own writes them, and Finish closes it and queues its
// delivery. Recording may pause and resume (the tap removed and set
// again); the file holds the recorded stretches back to back.
type Session struct {
	id, path string
	rec      *Recorder
	log      *slog.Logger
	w        *WAVWriter
	frames   chan []int16
	free     sync.Pool
	done     chan struct{}
	finished sync.Once
	dropped  atomic.Int64
	written  atomic.Int64 // samples in the file, for tests watching the writer
	failed   atomic.Bool
	onError  func(error)
	closed   bool       // Finish has closed frames; guarded by mu
	mu       sync.Mutex // guards sending on frames against Finish closing it
}

func (r *Recorder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Recorder) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// private makes the recordings' folder, or narrows one that others can
// reach (left by an older brygga): recordings are meetings.
func (r *Recorder) private() error {
	t, err := store.PrivateDir(r.Dir)
	if t != nil {
		t.Log(r.logger())
	}
	return err
}

// Start begins a recording of room. onError is called once, from the
// writer's goroutine, if writing fails (disk full): the recording has
// stopped then, and what was written so far will still be delivered.
func (r *Recorder) Start(room Room, onError func(error)) (*Session, error) {
	now := r.now()
	id := fmt.Sprintf("%s-%s-%s", room.Extension, now.UTC().Format("20060102T150405Z"), randomHex(2))
	if err := r.private(); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	path := filepath.Join(r.Dir, id+".wav")
	if err := r.DB.CreateRecording(store.Recording{
		ID: id, Room: room.Extension, Owner: room.Owner, Language: room.Language,
		Target: room.Target, Path: path, Started: now, Node: r.Node,
	}); err != nil {
		return nil, err
	}
	create := r.create
	if create == nil {
		create = CreateWAV
	}
	w, err := create(path)
	if err != nil {
		// The row stays, marked failed, so the operator sees the attempt.
		_ = r.DB.FinishRecording(id, now, 0, 0)
		_ = r.DB.RecordingAttemptFailed(id, "recording could not start: "+err.Error(), now, true)
		return nil, fmt.Errorf("recordings: %w", err)
	}
	s := &Session{
		id: id, path: path, rec: r, w: w,
		log:     r.logger().With("recording", id, "room", room.Extension),
		frames:  make(chan []int16, queueFrames),
		done:    make(chan struct{}),
		free:    sync.Pool{New: func() any { return make([]int16, 0, sampleRate/50) }},
		onError: onError,
	}
	go s.write()
	s.log.Info("recording started", "path", path, "target", room.Target)
	return s, nil
}

// ID is the recording's ID in the store and the API.
func (s *Session) ID() string { return s.id }

// Failed reports whether writing has failed; the session then drops what
// it is given until it is finished.
func (s *Session) Failed() bool { return s.failed.Load() }

// Frame takes one frame of the room's mix. It runs in the mixer's tick, so
// it copies and hands over without waiting: if the writer is 10 s behind,
// the frame is dropped and counted rather than the room stalled.
func (s *Session) Frame(pcm []int16) {
	if s.failed.Load() {
		return
	}
	buf := s.free.Get().([]int16)
	buf = append(buf[:0], pcm...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.frames <- buf:
	default:
		s.dropped.Add(1)
	}
}

// write is the session's writer: it batches whatever frames are waiting
// into one write, so a slow disk costs fewer, larger writes.
func (s *Session) write() {
	defer close(s.done)
	batch := make([]int16, 0, 50*sampleRate/50)
	lastSync := time.Now()
	for buf := range s.frames {
		batch = append(batch[:0], buf...)
		s.free.Put(buf)
	more:
		for len(batch) < cap(batch) {
			select {
			case buf, ok := <-s.frames:
				if !ok {
					break more
				}
				batch = append(batch, buf...)
				s.free.Put(buf)
			default:
				break more
			}
		}
		if s.failed.Load() {
			continue
		}
		err := s.w.Write(batch)
		s.written.Store(s.w.Samples())
		if err == nil && time.Since(lastSync) >= syncEvery {
			err, lastSync = s.w.Sync(), time.Now()
		}
		if err != nil {
			s.failed.Store(true)
			s.log.Error("recording stopped: cannot write", "err", err, "path", s.path)
			if s.onError != nil {
				s.onError(err)
			}
		}
	}
}

// Finish ends the recording: the file is closed and its delivery queued.
// Safe to call more than once; later calls do nothing.
func (s *Session) Finish() error {
	var err error
	s.finished.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.frames)
		s.mu.Unlock()
		<-s.done
		samples := s.w.Samples()
		if cerr := s.w.Close(); cerr != nil && !s.failed.Load() {
			s.log.Error("recording: closing the file", "err", cerr)
		}
		bytes := headerSize + 2*samples
		err = s.rec.DB.FinishRecording(s.id, s.rec.now(), samples, bytes)
		s.log.Info("recording finished", "seconds", float64(samples)/sampleRate,
			"dropped_frames", s.dropped.Load(), "write_failed", s.failed.Load())
		if s.rec.Queue != nil {
			s.rec.Queue.Wake()
		}
	})
	return err
}

// Recover finishes the recordings a crash left unfinished: each file is
// repaired (its header counts every whole frame on disk) and its delivery
// queued, as if the meeting had ended when the file was last written.
// It returns how many it repaired.
func (r *Recorder) Recover() (int, error) {
	if err := r.private(); err != nil {
		return 0, fmt.Errorf("recordings: %w", err)
	}
	if r.Node != "" {
		have := func(path string) bool { _, err := os.Stat(path); return err == nil }
		if n, err := r.DB.AdoptRecordings(r.Node, have); err != nil {
			return 0, err
		} else if n > 0 {
			r.logger().Info("recordings made before this node had a name are now its own", "count", n, "node", r.Node)
		}
	}
	// Only this node's: another node's are being written on its disk.
	active, err := r.DB.ActiveRecordings(r.Node)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, rec := range active {
		log := r.logger().With("recording", rec.ID, "room", rec.Room)
		samples, err := Repair(rec.Path)
		if err != nil {
			why := "after a crash the file could not be repaired: " + err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				why = "after a crash the file was missing"
			}
			log.Error("recording lost", "err", err, "path", rec.Path)
			errs = append(errs, r.DB.FinishRecording(rec.ID, rec.Started, 0, 0),
				r.DB.RecordingAttemptFailed(rec.ID, why, r.now(), true))
			continue
		}
		ended := rec.Started
		if st, err := os.Stat(rec.Path); err == nil && st.ModTime().After(ended) {
			ended = st.ModTime()
		}
		if err := r.DB.FinishRecording(rec.ID, ended, samples, headerSize+2*samples); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		log.Warn("recording repaired after a crash and queued for delivery",
			"seconds", float64(samples)/sampleRate, "path", rec.Path)
	}
	if n > 0 && r.Queue != nil {
		r.Queue.Wake()
	}
	return n, errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
