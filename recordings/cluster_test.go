package recordings

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"testing"
	"time"

	"brygga/internal/pgtest"
	"brygga/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// sink counts deliveries per recording across nodes, like a voicemail
// box that keeps every message it is given.
type sink struct {
	mu  sync.Mutex
	got map[string][]string // recording ID: the nodes that delivered it
}

func (s *sink) deliverer(node string, hold time.Duration) Deliverer {
	return deliverFunc(func(ctx context.Context, m Message) error {
		// A delivery takes a while, so that the nodes' attempts overlap.
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.got[m.ID] = append(s.got[m.ID], node)
		return nil
	})
}

type deliverFunc func(context.Context, Message) error

func (f deliverFunc) Deliver(ctx context.Context, m Message) error { return f(ctx, m) }

// node is one bridge of a cluster: its own connections to the shared
// database, its own disk for recordings, its own queue.
type node struct {
	name  string
	url   string
	db    *store.DB
	rec   *Recorder
	queue *Queue
}

func newNode(t *testing.T, url, name string, s *sink, anyNode bool) *node {
	t.Helper()
	db, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q := &Queue{DB: db, Node: name, AnyNode: anyNode,
		Deliverers: map[string]Deliverer{"spool": s.deliverer(name, 5*time.Millisecond)}}
	q.Prepare()
	return &node{name: name, url: url, db: db, queue: q, rec: &Recorder{Dir: t.TempDir(), DB: db, Node: name, Queue: q}}
}

func cluster(t *testing.T, anyNode bool) ([]*node, *sink) {
	url := pgtest.URL(t)
	s := &sink{got: map[string][]string{}}
	var nodes []*node
	for _, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, newNode(t, url, name, s, anyNode))
	}
	return nodes, s
}

// deliverAll runs every node's queue at once, round after round, until a
// round delivers nothing; bounded in rounds.
func deliverAll(t *testing.T, nodes []*node) {
	t.Helper()
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := n.queue.RunOnce(context.Background())
				mu.Lock()
				total += k
				mu.Unlock()
			}()
		}
		wg.Wait()
		if total == 0 {
			return
		}
	}
	t.Fatal("the queues were still delivering after 20 rounds")
}

// checkOnce fails unless each of ids was delivered exactly once, by its
// own node when own is set.
func checkOnce(t *testing.T, s *sink, ids map[string]string, own bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != len(ids) {
		t.Errorf("%d recordings delivered, want %d", len(s.got), len(ids))
	}
	for id, recorder := range ids {
		by := s.got[id]
		switch {
		case len(by) != 1:
			t.Errorf("recording %s of node %s delivered %d times (by %v)", id, recorder, len(by), by)
		case own && by[0] != recorder:
			t.Errorf("recording %s of node %s delivered by node %s, which has not the file", id, recorder, by[0])
		}
	}
}

// recordOn makes n finished recordings on each node and returns their IDs
// with the node that made each.
func recordOn(t *testing.T, nodes []*node, n int) map[string]string {
	ids := map[string]string{}
	for _, nd := range nodes {
		for i := range n {
			s := record(t, nd.rec, Room{Extension: fmt.Sprint(4700 + i), Target: "spool:/x"}, 5)
			ids[s.ID()] = nd.name
		}
	}
	return ids
}

// With three nodes on one database, each node delivers the recordings on
// its own disk, each exactly once.
func TestClusterEachRecordingDeliveredOnceByItsNode(t *testing.T) {
	nodes, s := cluster(t, false)
	ids := recordOn(t, nodes, 12)
	deliverAll(t, nodes)
	checkOnce(t, s, ids, true)
	for _, n := range nodes {
		if due, _ := n.db.DueRecordings("", time.Now().Add(time.Hour)); len(due) != 0 {
			t.Errorf("%d still pending", len(due))
		}
	}
}

// With a folder every node reads (AnyNode), all three queues go for every
// recording at once; the claims let each through exactly once.
func TestClusterSharedFolderEachRecordingDeliveredOnce(t *testing.T) {
	nodes, s := cluster(t, true)
	ids := recordOn(t, nodes, 12)
	deliverAll(t, nodes)
	checkOnce(t, s, ids, false)
	s.mu.Lock()
	by := map[string]int{}
	for _, nodes := range s.got {
		by[nodes[0]]++
	}
	s.mu.Unlock()
	t.Logf("deliveries by node: %v", by)
}

// A node that dies holding a claim (a shared folder) keeps the others off
// the recording until the claim runs out; then one of them delivers it,
// once.
func TestClusterDeadNodesClaimIsTakenOver(t *testing.T) {
	nodes, s := cluster(t, true)
	ids := recordOn(t, nodes[:1], 1)
	var id string
	for id = range ids {
	}
	const lease = 500 * time.Millisecond
	// What node a leaves when it dies in the middle of the attempt.
	if _, ok, err := nodes[0].db.ClaimRecording(id, "a", lease, time.Now()); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	deliverAll(t, nodes[1:])
	if len(s.got) != 0 {
		t.Fatalf("delivered %v while node a's claim held", s.got)
	}
	time.Sleep(lease + 200*time.Millisecond)
	deliverAll(t, nodes[1:])
	checkOnce(t, s, ids, false)
}

// A node killed while recording, and while delivering another recording,
// leaves both to itself: the other nodes neither repair the file being
// written on its disk nor deliver either. Started again, it repairs the
// one, drops its old claim on the other, and delivers each exactly once.
func TestClusterKilledNodeDeliversAfterRestart(t *testing.T) {
	nodes, s := cluster(t, false)
	a := nodes[0]
	claimed := recordOn(t, nodes[:1], 1)
	var claimedID string
	for claimedID = range claimed {
	}
	if _, ok, err := a.db.ClaimRecording(claimedID, "a", time.Hour, time.Now()); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	running := recordUnfinished(t, a.rec, Room{Extension: "4711", Target: "spool:/x"}, 20)
	// Killed: neither Finish nor an end to the claim.

	for _, n := range nodes[1:] {
		if k, err := n.rec.Recover(); k != 0 || err != nil {
			t.Errorf("node %s repaired %d of node a's recordings (%v)", n.name, k, err)
		}
	}
	deliverAll(t, nodes[1:])
	if r, _ := a.db.Recording(running.ID()); r.State != store.RecordingActive {
		t.Fatalf("node a's recording in progress is %q after the other nodes' start", r.State)
	}
	if len(s.got) != 0 {
		t.Fatalf("other nodes delivered %v", s.got)
	}

	// Node a starts again: the same name and disk, new process.
	again := newNode(t, a.url, "a", s, false)
	again.rec.Dir = a.rec.Dir
	if k, err := again.rec.Recover(); k != 1 || err != nil {
		t.Fatalf("restarted node repaired %d (%v), want 1", k, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { again.queue.Run(ctx); close(done) }()
	want := map[string]string{claimedID: "a", running.ID(): "a"}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.got)
		s.mu.Unlock()
		if n >= len(want) {
			break
		}
	}
	deliverAll(t, []*node{again, nodes[1], nodes[2]}) // nothing more for anyone
	cancel()
	<-done
	checkOnce(t, s, want, true)
}

// An operator deleting through a node that has not the file is told to
// use the node that has it, and the row stays, so the file is not left
// behind unknown.
func TestClusterDeleteOnlyWhereTheFileIs(t *testing.T) {
	nodes, _ := cluster(t, false)
	ids := recordOn(t, nodes[:1], 1)
	for id := range ids {
		b := &Archive{DB: nodes[1].db, Queue: nodes[1].queue}
		if err := b.Delete(id); !errors.Is(err, ErrBusy) {
			t.Fatalf("delete on another node: %v, want ErrBusy", err)
		}
		a := &Archive{DB: nodes[0].db, Queue: nodes[0].queue}
		r, _ := a.Get(id)
		if err := a.Delete(id); err != nil {
			t.Fatalf("delete on the recording node: %v", err)
		}
		if _, err := os.Stat(r.Path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("file left: %v", err)
		}
	}
}
