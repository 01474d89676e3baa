package api

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"time"

	"brygga/store"
)

// Recordings is the bridge's recordings; *recordings.Archive is one.
type Recordings interface {
	List() ([]store.Recording, error)
	Get(id string) (store.Recording, error)
	Delete(id string) error
	Retry(id string) (store.Recording, error)
}

// recordingJSON is a recording and its delivery as operators see them.
type recordingJSON struct {
	ID          string     `json:"id"`
	Room        string     `json:"room"`
	Owner       string     `json:"owner"`
	Language    string     `json:"language"`
	Target      string     `json:"target"`
	Started     time.Time  `json:"started"`
	Ended       *time.Time `json:"ended,omitempty"`
	Seconds     float64    `json:"seconds"`
	Bytes       int64      `json:"bytes"`
	State       string     `json:"state"` // recording, pending, delivered, failed, undeliverable, expired
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Delivered   *time.Time `json:"delivered,omitempty"`
	Audio       string     `json:"audio"`
}

func recordingOf(r store.Recording) recordingJSON {
	out := recordingJSON{
		ID: r.ID, Room: r.Room, Owner: r.Owner, Language: r.Language, Target: r.Target,
		Started: r.Started, Ended: timePtr(r.Ended), Seconds: float64(r.Samples) / 8000,
		Bytes: r.Bytes, State: r.State, Attempts: r.Attempts, LastError: r.LastError,
		Delivered: timePtr(r.Delivered), Audio: "/api/v1/recordings/" + r.ID + "/audio",
	}
	if r.State == store.RecordingPending {
		out.NextAttempt = timePtr(r.NextAttempt)
	}
	return out
}

// recording is the recording the path names; false when the answer (404,
// or 500) has been written.
func (s *server) recording(w http.ResponseWriter, r *http.Request) (store.Recording, bool) {
	rec, err := s.o.Recordings.Get(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return rec, false
	}
	return rec, true
}

func (s *server) listRecordings(w http.ResponseWriter, r *http.Request) {
	recs, err := s.o.Recordings.List()
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]recordingJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, recordingOf(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getRecording(w http.ResponseWriter, r *http.Request) {
	if rec, ok := s.recording(w, r); ok {
		writeJSON(w, http.StatusOK, recordingOf(rec))
	}
}

// recordingAudio serves the WAV with range requests, so a player can seek
// in a long meeting. A recording still being written can be fetched: its
// header is valid at every moment.
func (s *server) recordingAudio(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.recording(w, r)
	if !ok {
		return
	}
	f, err := os.Open(rec.Path)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusGone, "the recording's file was removed ("+rec.State+")")
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+rec.ID+`.wav"`)
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func (s *server) deleteRecording(w http.ResponseWriter, r *http.Request) {
	if err := s.o.Recordings.Delete(r.PathValue("id")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) retryRecording(w http.ResponseWriter, r *http.Request) {
	if !decode(w, r, &noBody{}, true) {
		return
	}
	rec, err := s.o.Recordings.Retry(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, recordingOf(rec))
}
