package recordings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"brygga/store"
)

// ErrBusy is returned for a change that the recording's state does not
// allow now: deleting one still being written, retrying one delivered and
// already removed.
var ErrBusy = errors.New("not possible in the recording's present state")

// Archive is the operators' view of recordings: the rows with their
// delivery state, the files, and the two things an operator may do with
// them (delete, deliver again).
type Archive struct {
	DB    *store.DB
	Queue *Queue // woken by Retry; may be nil
	Now   func() time.Time
}

// List returns every recording, newest first.
func (a *Archive) List() ([]store.Recording, error) { return a.DB.Recordings() }

// Get returns one recording; store.ErrNotFound when there is none.
func (a *Archive) Get(id string) (store.Recording, error) { return a.DB.Recording(id) }

// Delete removes a recording's file, then its row. A recording still being
// written cannot be deleted (stop it first); a delivery under way may
// still complete with its open file.
func (a *Archive) Delete(id string) error {
	r, err := a.DB.Recording(id)
	if err != nil {
		return err
	}
	if r.State == store.RecordingActive {
		return fmt.Errorf("recording %s is still being written; stop it or end the meeting first: %w", id, ErrBusy)
	}
	if a.Queue != nil && !a.Queue.mine(r) {
		// Its file is on another node's disk: removing the row here
		// would leave the file there, known to nobody.
		return fmt.Errorf("recording %s is on the disk of node %s; delete it through that node: %w", id, r.Node, ErrBusy)
	}
	if err := os.Remove(r.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recordings: removing %s: %w", r.Path, err)
	}
	return a.DB.DeleteRecording(id)
}

// Retry queues a recording for delivery now: one that failed for good,
// had nowhere to go, waits for its next attempt, or was delivered and
// should be delivered again (the owner deleted the message).
func (a *Archive) Retry(id string) (store.Recording, error) {
	r, err := a.DB.Recording(id)
	if err != nil {
		return r, err
	}
	switch {
	case r.State == store.RecordingActive:
		return r, fmt.Errorf("recording %s is still being written; it is delivered when the meeting ends: %w", id, ErrBusy)
	case r.State == store.RecordingExpired:
		return r, fmt.Errorf("recording %s was removed after its retention: %w", id, ErrBusy)
	case r.Target == "":
		return r, fmt.Errorf("recording %s has nowhere to go: the room has no voicemail or email: %w", id, ErrBusy)
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if err := a.DB.RetryRecording(id, "", now); err != nil {
		return r, err
	}
	if a.Queue != nil {
		a.Queue.Wake()
	}
	return a.DB.Recording(id)
}
