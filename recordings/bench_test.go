package recordings

import (
	"path/filepath"
	"testing"

	"brygga/store"
)

// BenchmarkSessionFrame is what recording costs the mixer's tick: one
// frame handed to the writer (the writer's disk work is on its own
// goroutine). A tight loop outruns the writer, so most frames here are
// dropped at the full queue and the pool runs dry (the allocation); at
// 50 frames a second every buffer comes back.
func BenchmarkSessionFrame(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "brygga.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rec := &Recorder{Dir: b.TempDir(), DB: db}
	s, err := rec.Start(Room{Extension: "4711", Target: "spool:/x"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Finish()
	pcm := frames(1, 3)
	b.ReportAllocs()
	for b.Loop() {
		s.Frame(pcm)
	}
}
