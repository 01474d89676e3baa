package store

import (
	"testing"
	"time"
)

// finished adds a finished recording of node, due for delivery at once.
func finished(t *testing.T, db *DB, id, node, path string) {
	t.Helper()
	start := time.Now().Add(-time.Minute)
	if err := db.CreateRecording(Recording{ID: id, Room: "4711", Target: "spool:/x", Path: path, Started: start, Node: node}); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishRecording(id, start.Add(30*time.Second), 8000, 16044); err != nil {
		t.Fatal(err)
	}
}

// One queue holds a claim until it records an outcome, releases it, or
// the lease runs out; a claim gives the row as it is now.
func TestRecordingClaims(t *testing.T) { eachBackend(t, testRecordingClaims) }

func testRecordingClaims(t *testing.T, b backend) {
	loc := b.new(t)
	db, other := open(t, loc), open(t, loc)
	finished(t, db, "r1", "a", "/x/r1.wav")
	now := time.Now()
	r, ok, err := db.ClaimRecording("r1", "a", time.Hour, now)
	if !ok || err != nil || r.ID != "r1" || r.Node != "a" || r.Samples != 8000 {
		t.Fatalf("first claim: %v %v %+v", ok, err, r)
	}
	if _, ok, err := other.ClaimRecording("r1", "b", time.Hour, now); ok || err != nil {
		t.Fatalf("a second claimer got a held claim: %v %v", ok, err)
	}
	if err := db.ReleaseRecording("r1", "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := other.ClaimRecording("r1", "b", time.Hour, now); ok {
		t.Fatal("another claimer's release freed a's claim")
	}
	if err := db.ReleaseRecording("r1", "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := other.ClaimRecording("r1", "b", 300*time.Millisecond, now); !ok {
		t.Fatal("a released claim could not be taken")
	}
	if _, ok, _ := db.ClaimRecording("r1", "a", time.Hour, now); ok {
		t.Fatal("a claim was taken before its lease ran out")
	}
	time.Sleep(500 * time.Millisecond)
	if _, ok, _ := db.ClaimRecording("r1", "a", time.Hour, now); !ok {
		t.Fatal("a claim whose lease ran out could not be taken over")
	}
	// A failed attempt ends the claim; the retry is not due yet.
	if err := db.RecordingAttemptFailed("r1", "busy", now.Add(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := other.ClaimRecording("r1", "b", time.Hour, now); ok {
		t.Fatal("claimed before its next attempt was due")
	}
	if _, ok, _ := other.ClaimRecording("r1", "b", time.Hour, now.Add(2*time.Minute)); !ok {
		t.Fatal("a due retry could not be claimed after a failed attempt")
	}
	if err := other.RecordingDelivered("r1", now); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.ClaimRecording("r1", "a", time.Hour, now.Add(time.Hour)); ok {
		t.Fatal("a delivered recording was claimed")
	}
	if n, err := db.ReleaseClaims("b"); n != 0 || err != nil {
		t.Errorf("delivery left a claim: %d %v", n, err)
	}
	finished(t, db, "r2", "b", "/x/r2.wav")
	other.ClaimRecording("r2", "b", time.Hour, now)
	if n, err := other.ReleaseClaims("b"); n != 1 || err != nil {
		t.Errorf("ReleaseClaims: %d %v", n, err)
	}
	if _, ok, _ := db.ClaimRecording("r2", "a", time.Hour, now); !ok {
		t.Error("a claim released at its node's start could not be taken")
	}
}

// Each node sees its own recordings to repair, deliver and expire; ""
// sees all; recordings from before nodes go to the node with the file.
func TestRecordingsByNode(t *testing.T) { eachBackend(t, testRecordingsByNode) }

func testRecordingsByNode(t *testing.T, b backend) {
	db := open(t, b.new(t))
	finished(t, db, "a1", "a", "/a/a1.wav")
	finished(t, db, "b1", "b", "/b/b1.wav")
	finished(t, db, "old", "", "/b/old.wav")
	start := time.Now()
	db.CreateRecording(Recording{ID: "a2", Room: "4711", Path: "/a/a2.wav", Started: start, Node: "a"})
	db.CreateRecording(Recording{ID: "b2", Room: "4711", Path: "/b/b2.wav", Started: start, Node: "b"})
	ids := func(rs []Recording, err error) (out []string) {
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	later := time.Now().Add(time.Hour)
	if got := ids(db.DueRecordings("a", later)); len(got) != 1 || got[0] != "a1" {
		t.Errorf("due on a: %v", got)
	}
	if got := ids(db.DueRecordings("", later)); len(got) != 3 {
		t.Errorf("due anywhere: %v", got)
	}
	if got := ids(db.ActiveRecordings("b")); len(got) != 1 || got[0] != "b2" {
		t.Errorf("active on b: %v", got)
	}
	n, err := db.AdoptRecordings("a", func(p string) bool { return p[:3] == "/a/" })
	if n != 0 || err != nil {
		t.Errorf("a adopted %d (%v) of none of its files", n, err)
	}
	if n, err := db.AdoptRecordings("b", func(p string) bool { return p[:3] == "/b/" }); n != 1 || err != nil {
		t.Errorf("b adopted %d (%v), want the old one", n, err)
	}
	if got := ids(db.DueRecordings("b", later)); len(got) != 2 {
		t.Errorf("due on b after adopting: %v", got)
	}
	if _, ok, _ := db.NextDue("c"); ok {
		t.Error("node c has something due")
	}
	if _, ok, _ := db.NextDue("a"); !ok {
		t.Error("node a has nothing due")
	}
	db.RecordingDelivered("a1", start.Add(-48*time.Hour))
	db.RecordingDelivered("b1", start.Add(-48*time.Hour))
	if got := ids(db.ExpiredRecordings("b", start)); len(got) != 1 || got[0] != "b1" {
		t.Errorf("expired on b: %v", got)
	}
}
