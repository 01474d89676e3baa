package store

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A write the database refuses is passed to OnError once; an unknown ID
// is not a store failure and is not.
func TestOnErrorCountsFailedWrites(t *testing.T) { eachBackend(t, testOnErrorCountsFailedWrites) }

func testOnErrorCountsFailedWrites(t *testing.T, b backend) {
	db := open(t, b.new(t))
	var n atomic.Int32
	db.OnError(func(error) { n.Add(1) })
	if err := db.FinishRecording("nope", time.Now(), 0, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown recording: %v", err)
	}
	if err := db.CreateRecording(Recording{ID: "r1", Room: "4711", Path: "/x.wav", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 0 {
		t.Fatalf("OnError told %d times of writes that worked or found nothing", n.Load())
	}
	db.Close() // as if the disk went away under the bridge
	if err := db.CreateRecording(Recording{ID: "r2", Room: "4711", Path: "/y.wav", Started: time.Now()}); err == nil {
		t.Fatal("create on a closed store succeeded")
	}
	if err := db.FinishRecording("r1", time.Now(), 8000, 16044); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("finish on a closed store: %v", err)
	}
	if n.Load() != 2 {
		t.Fatalf("OnError told %d times, want 2 (one per failed write)", n.Load())
	}
}
