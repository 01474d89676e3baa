package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brygga/internal/pgtest"
	"brygga/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const beat = 100 * time.Millisecond

// flaky is the shared database, or none at all while down is set.
type flaky struct {
	Leases
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (f *flaky) ClaimRoom(ctx context.Context, room, node string, ttl time.Duration) (store.Lease, error) {
	if f.down.Load() {
		return store.Lease{}, errDown
	}
	return f.Leases.ClaimRoom(ctx, room, node, ttl)
}

func (f *flaky) Heartbeat(ctx context.Context, node, advertise string, ttl time.Duration, live []string) ([]string, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Leases.Heartbeat(ctx, node, advertise, ttl, live)
}

func sharedStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type counts struct {
	redirects atomic.Int64
	errors    sync.Map // op → *atomic.Int64
}

func (c *counts) errorsOf(op string) int64 {
	v, ok := c.errors.Load(op)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// startNode starts node id (advertised as 127.0.0.<id>:5060) on leases.
func startNode(t *testing.T, leases Leases, id string) (*Node, *counts) {
	t.Helper()
	c := &counts{}
	n, err := Start(Options{
		Leases: leases, ID: id, Advertise: "127.0.0." + id + ":5060", Heartbeat: beat,
		OnRedirect: func() { c.redirects.Add(1) },
		OnError: func(op string) {
			v, _ := c.errors.LoadOrStore(op, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.halt() })
	return n, c
}

// halt stops the heartbeat without leaving the cluster, as a node that
// dies does.
func (n *Node) halt() {
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	<-n.done
}

// claimHere claims room on n and fails unless it is mixed there.
func claimHere(t *testing.T, n *Node, room string) func() {
	t.Helper()
	elsewhere, release, err := n.Claim(context.Background(), room)
	if err != nil || elsewhere != "" || release == nil {
		t.Fatalf("node %s, room %s: elsewhere %q, err %v; want it here", n.o.ID, room, elsewhere, err)
	}
	return release
}

// sentTo claims room on n and fails unless the caller is sent to want.
func sentTo(t *testing.T, n *Node, room, want string) {
	t.Helper()
	elsewhere, release, err := n.Claim(context.Background(), room)
	if err != nil || elsewhere != want || release != nil {
		t.Fatalf("node %s, room %s: elsewhere %q, err %v; want %s", n.o.ID, room, elsewhere, err, want)
	}
}

// A room with calls on one node sends the other node's callers there for
// as long as it has calls, many leases long; once its calls have ended a
// heartbeat releases it and the other node may take it.
func TestOneRoomOneNode(t *testing.T) {
	db := sharedStore(t)
	a, _ := startNode(t, db, "11")
	b, cb := startNode(t, db, "12")

	release := claimHere(t, a, "4711")
	second := claimHere(t, a, "4711")
	sentTo(t, b, "4711", "127.0.0.11:5060")
	time.Sleep(3 * LeaseBeats * beat) // three leases: renewed by the heartbeats
	sentTo(t, b, "4711", "127.0.0.11:5060")
	if a.Leases() != 1 || b.Leases() != 0 {
		t.Fatalf("leases: a %d, b %d", a.Leases(), b.Leases())
	}
	release()
	release() // a second call of release is no second call ending
	time.Sleep(3 * beat)
	sentTo(t, b, "4711", "127.0.0.11:5060")
	second()
	deadline := time.Now().Add(5 * time.Second)
	for {
		elsewhere, rel, err := b.Claim(context.Background(), "4711")
		if err == nil && elsewhere == "" {
			rel()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("4711 not released by a after its calls ended: %q %v", elsewhere, err)
		}
		time.Sleep(beat / 2)
	}
	if got := cb.redirects.Load(); got < 3 {
		t.Fatalf("%d redirects counted, want 3 at least", got)
	}
	sentTo(t, a, "4711", "127.0.0.12:5060")
}

// A node that dies leaves its rooms to the others once their leases have
// run out, not before.
func TestDeadNodesRoomsMove(t *testing.T) {
	db := sharedStore(t)
	a, _ := startNode(t, db, "11")
	b, _ := startNode(t, db, "12")
	claimHere(t, a, "4711")
	a.halt()
	sentTo(t, b, "4711", "127.0.0.11:5060")
	time.Sleep(2 * LeaseBeats * beat)
	claimHere(t, b, "4711")()
	if a.Leases() != 0 {
		t.Fatalf("a dead node still counts %d leases as held", a.Leases())
	}
}

// A node that leaves frees its rooms at once.
func TestLeaveCluster(t *testing.T) {
	db := sharedStore(t)
	a, _ := startNode(t, db, "11")
	b, _ := startNode(t, db, "12")
	claimHere(t, a, "4711")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	claimHere(t, b, "4711")()
}

// Without the database a node takes new callers only of the rooms whose
// lease it still holds, and only until that lease would have run out;
// every other caller gets an error. When the database is back, so is the
// node.
func TestDatabaseAway(t *testing.T) {
	f := &flaky{Leases: sharedStore(t)}
	a, ca := startNode(t, f, "11")
	defer claimHere(t, a, "4711")()

	f.down.Store(true)
	claimHere(t, a, "4711")() // the lease stands
	if _, _, err := a.Claim(context.Background(), "4712"); !errors.Is(err, errDown) {
		t.Fatalf("a room not held: %v, want the database's error", err)
	}
	time.Sleep(2 * LeaseBeats * beat)
	if _, _, err := a.Claim(context.Background(), "4711"); !errors.Is(err, errDown) {
		t.Fatalf("after the lease ran out: %v, want the database's error", err)
	}
	if ca.errorsOf("claim") != 3 || ca.errorsOf("heartbeat") < 2 {
		t.Fatalf("errors counted: claim %d, heartbeat %d", ca.errorsOf("claim"), ca.errorsOf("heartbeat"))
	}
	if a.Leases() != 0 {
		t.Fatalf("%d leases counted as held without the database", a.Leases())
	}

	f.down.Store(false)
	time.Sleep(3 * beat)
	defer claimHere(t, a, "4712")()
	if a.Leases() != 2 {
		t.Fatalf("%d leases after the database came back, want 2", a.Leases())
	}
}

// A room taken by another node while this one could not renew its lease
// keeps its calls here, but new callers go to the other node.
func TestRoomLostWhileAway(t *testing.T) {
	db := sharedStore(t)
	f := &flaky{Leases: db}
	a, _ := startNode(t, f, "11")
	b, _ := startNode(t, db, "12")
	defer claimHere(t, a, "4711")()
	f.down.Store(true)
	time.Sleep(2 * LeaseBeats * beat)
	claimHere(t, b, "4711")
	f.down.Store(false)
	time.Sleep(3 * beat)
	sentTo(t, a, "4711", "127.0.0.12:5060")
	if a.Leases() != 0 || b.Leases() != 1 {
		t.Fatalf("leases: a %d, b %d", a.Leases(), b.Leases())
	}
}

// A node never sends a caller to its own address, even when another node
// claims it (a copied config): that would loop through the proxy.
func TestSameAdvertiseIsNoRedirect(t *testing.T) {
	db := sharedStore(t)
	a, _ := startNode(t, db, "11")
	twin, err := Start(Options{Leases: db, ID: "twin", Advertise: a.o.Advertise, Heartbeat: beat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { twin.halt() })
	claimHere(t, twin, "4711")
	if elsewhere, _, err := a.Claim(context.Background(), "4711"); err == nil {
		t.Fatalf("sent to %q, want an error", elsewhere)
	}
}

// Callers of new rooms reaching two nodes at the same instant end on one.
func TestClaimRaceTwoNodes(t *testing.T) {
	db := sharedStore(t)
	a, _ := startNode(t, db, "11")
	b, _ := startNode(t, db, "12")
	for i := range 20 {
		room := fmt.Sprint(5000 + i)
		start := make(chan struct{})
		var wg sync.WaitGroup
		where := make([]string, 2)
		for j, n := range []*Node{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				elsewhere, _, err := n.Claim(context.Background(), room)
				if err != nil {
					t.Error(err)
				}
				where[j] = elsewhere
				if elsewhere == "" {
					where[j] = n.o.Advertise
				}
			}()
		}
		close(start)
		wg.Wait()
		if where[0] != where[1] {
			t.Fatalf("room %s mixed on two nodes: %v", room, where)
		}
	}
}
