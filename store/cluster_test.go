package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"brygga/internal/pgtest"
)

// sharedDB opens a new, empty PostgreSQL database (skipped without
// PostgreSQL, as pgtest does).
func sharedDB(t *testing.T) *DB {
	t.Helper()
	return open(t, pgtest.URL(t))
}

// dbNow is the database's clock.
func dbNow(t *testing.T, db *DB) time.Time {
	t.Helper()
	var now time.Time
	if err := db.sql.QueryRow(`SELECT now()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// twoNodes is a new database with the nodes n11 and n12 registered.
func twoNodes(t *testing.T) *DB {
	t.Helper()
	db := sharedDB(t)
	heartbeat(t, db, "n11", time.Minute)
	heartbeat(t, db, "n12", time.Minute)
	return db
}

// holds checks that node's claim of room finds it held by want.
func holds(t *testing.T, db *DB, room, node, want, why string) {
	t.Helper()
	if l := claim(t, db, room, node, time.Minute); l.Node != want {
		t.Fatalf("%s: %s's claim of %s found %+v, want it held by %s", why, node, room, l, want)
	}
}

func claim(t *testing.T, db *DB, room, node string, ttl time.Duration) Lease {
	t.Helper()
	l, err := db.ClaimRoom(context.Background(), room, node, ttl)
	if err != nil {
		t.Fatalf("%s claims %s: %v", node, room, err)
	}
	return l
}

func heartbeat(t *testing.T, db *DB, node string, ttl time.Duration, live ...string) []string {
	t.Helper()
	held, err := db.Heartbeat(context.Background(), node, "127.0.0."+node[1:]+":5060", ttl, live)
	if err != nil {
		t.Fatalf("heartbeat of %s: %v", node, err)
	}
	slices.Sort(held)
	return held
}

func TestClusterNeedsPostgres(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "brygga.db"))
	if db.Shared() {
		t.Fatal("SQLite reported as shared")
	}
	if _, err := db.ClaimRoom(context.Background(), "4711", "n1", time.Second); !errors.Is(err, ErrNotShared) {
		t.Fatalf("claim on SQLite: %v, want ErrNotShared", err)
	}
	if _, err := db.Heartbeat(context.Background(), "n1", "127.0.0.1:5060", time.Second, nil); !errors.Is(err, ErrNotShared) {
		t.Fatalf("heartbeat on SQLite: %v, want ErrNotShared", err)
	}
}

// A free room goes to the first node that claims it; the holder renews
// it by claiming again; another node is told the holder and its address.
func TestClaimRoom(t *testing.T) {
	db := twoNodes(t)
	if !db.Shared() {
		t.Fatal("PostgreSQL not reported as shared")
	}
	first := claim(t, db, "4711", "n11", time.Minute)
	if first.Node != "n11" {
		t.Fatalf("a free room went to %q", first.Node)
	}
	again := claim(t, db, "4711", "n11", time.Hour)
	if again.Node != "n11" || !again.Expires.After(first.Expires.Add(50*time.Minute)) {
		t.Fatalf("renewal: %+v after %+v", again, first)
	}
	other := claim(t, db, "4711", "n12", time.Minute)
	if other.Node != "n11" || other.Advertise != "127.0.0.11:5060" || !other.Expires.Equal(again.Expires) {
		t.Fatalf("n12 was told %+v, want n11 at 127.0.0.11:5060 until %v", other, again.Expires)
	}
	holds(t, db, "4712", "n12", "n12", "another room")
	// A holder with no row in cluster_nodes has no address to send
	// callers to: an error, not a redirect to nowhere.
	claim(t, db, "4713", "n13", time.Minute)
	if l, err := db.ClaimRoom(context.Background(), "4713", "n12", time.Minute); !errors.Is(err, ErrNoOwner) || l.Node != "n13" {
		t.Fatalf("a room held by an unregistered node: %+v, %v; want ErrNoOwner", l, err)
	}
}

// A lease's expiry is the database's now() plus the lease time, and
// whether it has expired is judged by the database's clock alone: the
// store is given no time of the node's.
func TestLeaseClockIsTheDatabases(t *testing.T) {
	db := twoNodes(t)
	before := dbNow(t, db)
	l := claim(t, db, "4711", "n11", time.Hour)
	after := dbNow(t, db)
	if l.Expires.Before(before.Add(time.Hour)) || l.Expires.After(after.Add(time.Hour)) {
		t.Fatalf("expires %v, want the database's now() + 1h, between %v and %v", l.Expires, before.Add(time.Hour), after.Add(time.Hour))
	}
	// One microsecond ago by the database's clock: expired, whatever this
	// process' clock says.
	if _, err := db.sql.Exec(`UPDATE room_leases SET expires = now() - interval '1 microsecond'`); err != nil {
		t.Fatal(err)
	}
	holds(t, db, "4711", "n12", "n12", "a lease expired by the database's clock was not taken over")
	if _, err := db.sql.Exec(`UPDATE room_leases SET expires = now() + interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	holds(t, db, "4711", "n11", "n12", "a lease a second from expiry was taken over")
}

// A lease that is not renewed expires after its time, and then another
// node takes the room.
func TestLeaseExpiryTakeover(t *testing.T) {
	db := twoNodes(t)
	ttl := 300 * time.Millisecond
	claim(t, db, "4711", "n11", ttl)
	holds(t, db, "4711", "n12", "n11", "taken over before expiry")
	time.Sleep(2 * ttl)
	holds(t, db, "4711", "n12", "n12", "not taken over after expiry")
	holds(t, db, "4711", "n11", "n12", "the old holder took it back")
}

// The heartbeat renews the live rooms' leases, releases the others, takes
// a live room whose lease expired, and leaves out a live room another
// node took meanwhile.
func TestHeartbeat(t *testing.T) {
	db := sharedDB(t)
	heartbeat(t, db, "n12", time.Minute)
	short := 200 * time.Millisecond
	claim(t, db, "4711", "n11", short) // renewed by the heartbeat
	claim(t, db, "4712", "n11", time.Minute)
	claim(t, db, "4713", "n11", short) // expired, then taken by n12
	claim(t, db, "4714", "n11", short) // expired, nobody took it
	time.Sleep(2 * short)
	claim(t, db, "4713", "n12", time.Minute)

	held := heartbeat(t, db, "n11", time.Minute, "4711", "4713", "4714")
	if want := []string{"4711", "4714"}; !slices.Equal(held, want) {
		t.Fatalf("held %v, want %v", held, want)
	}
	for room, want := range map[string]string{"4711": "n11", "4712": "n12", "4713": "n12", "4714": "n11"} {
		if l := claim(t, db, room, "n12", time.Minute); l.Node != want {
			t.Errorf("room %s: %+v, want held by %s", room, l, want)
		}
	}
	nodes, err := db.Nodes(context.Background(), time.Minute)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "n11" || nodes[0].Leases != 2 || nodes[1].Leases != 2 {
		t.Fatalf("nodes %+v (%v)", nodes, err)
	}

	if err := db.LeaveCluster(context.Background(), "n11"); err != nil {
		t.Fatal(err)
	}
	holds(t, db, "4711", "n12", "n12", "a left node's room")
	if nodes, err := db.Nodes(context.Background(), time.Minute); err != nil || len(nodes) != 1 || nodes[0].ID != "n12" {
		t.Fatalf("after n11 left: %+v (%v)", nodes, err)
	}
}

// Nodes claiming the same new rooms at the same instant all agree on one
// holder per room.
func TestClaimRace(t *testing.T) {
	db := sharedDB(t)
	nodes := []string{"n11", "n12", "n13", "n14"}
	for _, n := range nodes {
		heartbeat(t, db, n, time.Minute)
	}
	for i := range 20 {
		room := fmt.Sprint(5000 + i)
		start := make(chan struct{})
		got := make([]Lease, len(nodes))
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for j, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[j], errs[j] = db.ClaimRoom(context.Background(), room, n, time.Minute)
			}()
		}
		close(start)
		wg.Wait()
		for j := range nodes {
			if errs[j] != nil {
				t.Fatalf("room %s, %s: %v", room, nodes[j], errs[j])
			}
			if got[j].Node != got[0].Node {
				t.Fatalf("room %s has two holders: %+v", room, got)
			}
		}
	}
}

// A node's API address survives its heartbeats, and a room's lease names
// the node (and its API) that holds it, only while the lease stands.
func TestPeersAndRoomPeer(t *testing.T) {
	db := sharedDB(t)
	ctx := context.Background()
	heartbeat(t, db, "n1", time.Minute)
	heartbeat(t, db, "n2", time.Minute)
	if err := db.SetNodeAPI(ctx, "n1", "http://127.0.0.1:8081"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetNodeAPI(ctx, "n9", "http://127.0.0.9:8081"); err == nil {
		t.Fatal("the API address of an unregistered node was accepted")
	}
	heartbeat(t, db, "n1", time.Minute, "4711")
	peers, err := db.Peers(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []Peer{{ID: "n1", API: "http://127.0.0.1:8081"}, {ID: "n2"}}
	if !slices.Equal(peers, want) {
		t.Fatalf("peers %+v, want %+v", peers, want)
	}
	p, ok, err := db.RoomPeer(ctx, "4711")
	if err != nil || !ok || p != want[0] {
		t.Fatalf("room 4711's node: %+v %v %v, want %+v", p, ok, err, want[0])
	}
	if _, ok, err := db.RoomPeer(ctx, "4712"); ok || err != nil {
		t.Fatalf("room without a lease: ok %v, err %v", ok, err)
	}
	heartbeat(t, db, "n1", time.Minute) // the room has emptied
	if _, ok, err := db.RoomPeer(ctx, "4711"); ok || err != nil {
		t.Fatalf("released room: ok %v, err %v", ok, err)
	}
}
