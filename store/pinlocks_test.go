package store

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"brygga/internal/logtest"
	"brygga/pin"
)

// logged is how many log lines have msg as their message.
func logged(log *logtest.Buffer, msg string) int {
	return log.Count(fmt.Sprintf("msg=%q", msg))
}

// cluster is n nodes' PIN lockouts over one database, logging to log. On
// PostgreSQL each node has its own connection pool, as separate processes
// would; a SQLite file has one process, so there they share one.
func cluster(t *testing.T, b backend, n int, rules *pin.Lockout, log *logtest.Buffer) []*pin.Lockout {
	t.Helper()
	location := b.new(t)
	// An error means a node fell back to counting in memory, which
	// would make these tests prove nothing about the shared counts.
	t.Cleanup(func() {
		if n := log.Count("level=ERROR"); n > 0 {
			t.Errorf("errors logged:\n%s", log.String())
		}
	})
	var nodes []*pin.Lockout
	db := open(t, location)
	for range n {
		if b.dialect == dialectPostgres {
			db = open(t, location)
		}
		l := &pin.Lockout{
			Failures: rules.Failures, RoomFailures: rules.RoomFailures, Window: rules.Window, Lock: rules.Lock,
			Exempt: rules.Exempt, OnLockout: rules.OnLockout,
			Logger: slog.New(slog.NewTextHandler(log, nil)),
			Shared: db.PINTallies(),
		}
		nodes = append(nodes, l)
	}
	return nodes
}

func try(src, room string) pin.Attempt {
	return pin.Attempt{Source: netip.MustParseAddr(src), Room: room}
}

func allowedOn(nodes []*pin.Lockout, a pin.Attempt) (n int) {
	for _, l := range nodes {
		if l.Allow(a) {
			n++
		}
	}
	return n
}

// failAtOnce makes n failed tries of a at the same moment, spread over
// the nodes in turn.
func failAtOnce(nodes []*pin.Lockout, a pin.Attempt, n int) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { nodes[i%len(nodes)].Failed(a) })
	}
	wg.Wait()
}

// A guesser spreading its tries over three nodes is locked out after as
// many as on one, the lock holds on every node and is logged once, a lift
// on one node lifts it on all, and a right PIN starts the count afresh.
func TestPINLockoutSpreadOverNodes(t *testing.T) { eachBackend(t, testPINLockoutSpreadOverNodes) }

func testPINLockoutSpreadOverNodes(t *testing.T, b backend) {
	var log logtest.Buffer
	var mu sync.Mutex
	var told []string
	nodes := cluster(t, b, 3, &pin.Lockout{Failures: 5, RoomFailures: 100, Window: time.Minute, Lock: time.Minute,
		OnLockout: func(scope, source, room string) {
			mu.Lock()
			told = append(told, scope+" "+source+" "+room)
			mu.Unlock()
		}}, &log)
	guess := try("192.0.2.7", "4711")
	for i := range 4 {
		nodes[i%3].Failed(guess)
	}
	if n := allowedOn(nodes, guess); n != 3 {
		t.Fatalf("after 4 of 5 failures %d of 3 nodes allow a try", n)
	}
	nodes[1].Failed(guess) // the 5th, on the node after the 4th
	if n := allowedOn(nodes, guess); n != 0 {
		t.Fatalf("after 5 failures over three nodes %d nodes still allow a try", n)
	}
	if n := allowedOn(nodes, try("::ffff:192.0.2.7", "5000")); n != 0 {
		t.Errorf("the locked source, as a mapped address at another room, is allowed on %d nodes", n)
	}
	if n := allowedOn(nodes, try("192.0.2.8", "4711")); n != 3 {
		t.Errorf("another source is allowed on %d of 3 nodes", n)
	}
	if got := logged(&log, pin.LockoutLogMsg); got != 1 {
		t.Errorf("%d lockout log lines, want 1:\n%s", got, log.String())
	}
	if fmt.Sprint(told) != "[source 192.0.2.7 4711]" {
		t.Errorf("OnLockout calls %v", told)
	}
	for i, l := range nodes {
		locks := l.Locks()
		if len(locks) != 1 || locks[0].Scope != pin.ScopeSource || locks[0].Key != "192.0.2.7" || locks[0].Failures != 5 {
			t.Errorf("node %d lists %+v", i, locks)
		}
		if len(locks) == 1 && (locks[0].Until.Before(time.Now().Add(50*time.Second)) || locks[0].Until.After(time.Now().Add(70*time.Second))) {
			t.Errorf("node %d: lock until %v, not about a minute from now", i, locks[0].Until)
		}
	}
	// Tries during the lock are not counted: after the lift the source
	// has a full five again.
	nodes[0].Failed(guess)
	if !nodes[2].Lift(pin.ScopeSource, "::ffff:192.0.2.7") {
		t.Fatal("lift of the source's lock reported none")
	}
	if nodes[0].Lift(pin.ScopeSource, "192.0.2.7") {
		t.Error("a second lift on another node found the lock still in force")
	}
	if n := allowedOn(nodes, guess); n != 3 {
		t.Fatalf("after the lift %d of 3 nodes allow a try", n)
	}
	for i := range 4 {
		nodes[i%3].Failed(guess)
	}
	if n := allowedOn(nodes, guess); n != 3 {
		t.Fatalf("4 failures after the lift lock: the lift kept failures (%d nodes allow)", n)
	}
	nodes[2].Succeeded(guess)
	for i := range 4 {
		nodes[i%3].Failed(guess)
	}
	if n := allowedOn(nodes, guess); n != 3 {
		t.Fatalf("a right PIN did not start the count afresh (%d nodes allow)", n)
	}
	nodes[0].Failed(guess)
	if n := allowedOn(nodes, guess); n != 0 {
		t.Fatalf("the 5th failure after a right PIN did not lock (%d nodes allow)", n)
	}
}

// Many sources guessing at one room over three nodes lock the room at its
// own count; a source the PBX is (exempt) counts only there.
func TestPINLockoutRoomOverNodes(t *testing.T) { eachBackend(t, testPINLockoutRoomOverNodes) }

func testPINLockoutRoomOverNodes(t *testing.T, b backend) {
	var log logtest.Buffer
	pbx := netip.MustParseAddr("192.0.2.1")
	nodes := cluster(t, b, 3, &pin.Lockout{Failures: 5, RoomFailures: 12, Window: time.Minute, Lock: time.Minute,
		Exempt: func(a netip.Addr) bool { return a.Unmap() == pbx }}, &log)
	for i := range 11 {
		src := "192.0.2.1"
		if i%2 == 1 {
			src = fmt.Sprintf("198.51.100.%d", i)
		}
		nodes[i%3].Failed(try(src, "4711"))
	}
	if n := allowedOn(nodes, try("203.0.113.9", "4711")); n != 3 {
		t.Fatalf("room locked before its 12th failure (%d nodes allow)", n)
	}
	nodes[2].Failed(try("192.0.2.1", "4711"))
	if n := allowedOn(nodes, try("203.0.113.9", "4711")); n != 0 {
		t.Fatalf("room not locked after 12 failures (%d nodes allow)", n)
	}
	if n := allowedOn(nodes, try("192.0.2.1", "5000")); n != 3 {
		t.Errorf("the exempt PBX is refused at another room on %d nodes", n)
	}
	locks := nodes[0].Locks()
	if len(locks) != 1 || locks[0].Scope != pin.ScopeRoom || locks[0].Key != "4711" || locks[0].Failures != 12 {
		t.Errorf("locks %+v", locks)
	}
	if got := logged(&log, pin.LockoutLogMsg); got != 1 {
		t.Errorf("%d lockout log lines, want 1", got)
	}
	if !nodes[1].Lift(pin.ScopeRoom, "4711") || allowedOn(nodes, try("203.0.113.9", "4711")) != 3 {
		t.Error("lifting the room on one node did not open it on all")
	}
}

// Failures arriving at three nodes at the same moment are each counted
// once and start exactly one lock, logged once.
func TestPINLockoutConcurrentNodes(t *testing.T) { eachBackend(t, testPINLockoutConcurrentNodes) }

func testPINLockoutConcurrentNodes(t *testing.T, b backend) {
	var log logtest.Buffer
	nodes := cluster(t, b, 3, &pin.Lockout{Failures: 10, RoomFailures: 1000, Window: time.Minute, Lock: time.Minute}, &log)
	guess := try("192.0.2.7", "4711")
	failAtOnce(nodes, guess, 9)
	if n := allowedOn(nodes, guess); n != 3 {
		t.Fatalf("9 concurrent failures of 10 locked (%d nodes allow)", n)
	}
	failAtOnce(nodes, guess, 30)
	if n := allowedOn(nodes, guess); n != 0 {
		t.Fatalf("not locked (%d nodes allow)", n)
	}
	if got := logged(&log, pin.LockoutLogMsg); got != 1 {
		t.Errorf("%d lockout log lines, want 1:\n%s", got, log.String())
	}
	if l := nodes[2].Locks(); len(l) != 1 || l[0].Failures != 10 {
		t.Errorf("locks %+v", l)
	}
}

// The window is measured by the database's clock: failures older than it
// are forgotten, and the sweep leaves no rows of them behind.
func TestPINLockoutWindowAndSweep(t *testing.T) { eachBackend(t, testPINLockoutWindowAndSweep) }

func testPINLockoutWindowAndSweep(t *testing.T, b backend) {
	var log logtest.Buffer
	const window = 300 * time.Millisecond
	nodes := cluster(t, b, 2, &pin.Lockout{Failures: 3, RoomFailures: 1000, Window: window, Lock: window}, &log)
	guess := try("192.0.2.7", "4711")
	nodes[0].Failed(guess)
	nodes[1].Failed(guess)
	time.Sleep(window + 100*time.Millisecond)
	nodes[0].Failed(guess)
	if allowedOn(nodes, guess) != 2 {
		t.Fatal("failures older than the window were counted")
	}
	nodes[1].Failed(guess)
	nodes[0].Failed(guess)
	if allowedOn(nodes, guess) != 0 {
		t.Fatal("3 failures within the window did not lock")
	}
	time.Sleep(window + 100*time.Millisecond)
	if allowedOn(nodes, guess) != 2 {
		t.Fatal("the lock outlasted its time")
	}
	// Another key's failure sweeps this one's old rows and its lock.
	nodes[1].Failed(try("198.51.100.1", "5000"))
	db := nodes[0].Shared.(*PINTallies).db
	var failures, locks int
	if err := db.sql.QueryRow(`SELECT COUNT(*) FROM pin_failures`).Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if err := db.sql.QueryRow(`SELECT COUNT(*) FROM pin_locks`).Scan(&locks); err != nil {
		t.Fatal(err)
	}
	if failures != 2 || locks != 0 { // the new failure at source and at room
		t.Errorf("%d failure rows and %d lock rows left after the sweep, want 2 and 0", failures, locks)
	}
}
