// Package cluster puts each live room on one node when several bridges
// share one PostgreSQL: a node registers with a heartbeat, claims a room
// by a lease when a caller of it arrives, and learns where to send the
// caller when another live node holds it.
//
// A lease lasts three heartbeats. Every heartbeat renews, in one
// statement, the node's row and the leases of the rooms it has calls in
// (answered or still being answered), and releases the leases of rooms it
// has none in any more. A node that dies stops renewing; its rooms are
// free for any node once their leases expire.
//
// When the database cannot be reached, calls that are up go on. A new
// caller of a room this node holds is still taken until the node's last
// renewal of that lease has run out (by this node's own clock, counted
// from before the renewal was sent, so never later than the database's
// expiry); after that, and for rooms it does not hold, the claim fails and
// the SIP layer answers 503 with Retry-After. So a node cut off from the
// database admits nobody to a room another node may have taken meanwhile.
// If another node did take it, the calls still up here stay in their mix
// until they hang up, and new callers go to the new holder.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"brygga/store"
)

// Leases is what a node needs of the shared database (store.DB).
type Leases interface {
	ClaimRoom(ctx context.Context, room, node string, ttl time.Duration) (store.Lease, error)
	Heartbeat(ctx context.Context, node, advertise string, ttl time.Duration, live []string) ([]string, error)
	LeaveCluster(ctx context.Context, node string) error
}

// LeaseBeats is how many heartbeats a lease lasts: a node may miss two
// before its rooms are free for the others.
const LeaseBeats = 3

// Options configure a Node.
type Options struct {
	Leases    Leases
	ID        string        // cluster.node_id
	Advertise string        // cluster.advertise: HOST:PORT other nodes and the proxy reach this node's SIP at
	Heartbeat time.Duration // cluster.heartbeat
	Logger    *slog.Logger

	// OnRedirect counts callers sent to the node that holds their room.
	OnRedirect func()
	// OnError counts statements the database did not answer, by op:
	// "claim" (a caller's room) or "heartbeat".
	OnError func(op string)
}

// Node is this bridge as one node of a cluster.
type Node struct {
	o   Options
	ttl time.Duration
	// timeout bounds each statement: a database that hangs (a network
	// partition, not a refusal) fails the claim, and its caller gets 503,
	// in time for the caller not to give up.
	timeout time.Duration
	log     *slog.Logger

	// beat keeps claims (readers) apart from a heartbeat (the writer), so
	// that the heartbeat's list of live rooms includes every room claimed
	// before it and it releases no lease a claim has just taken.
	beat sync.RWMutex

	mu    sync.Mutex
	rooms map[string]*room
	down  bool // the last heartbeat failed; logged once per outage

	stop chan struct{}
	done chan struct{}
}

// room is a room this node has claimed.
type room struct {
	calls int // this node's calls in it, answered or being answered
	// until is when this node's lease on the room runs out at the
	// earliest, by the local clock; zero when another node took it.
	until time.Time
}

// Start registers the node (its first heartbeat, which also releases
// leases a previous run of the same node left) and keeps it registered
// until Close.
func Start(o Options) (*Node, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Heartbeat <= 0 {
		return nil, errors.New("cluster: no heartbeat interval")
	}
	n := &Node{
		o:       o,
		ttl:     LeaseBeats * o.Heartbeat,
		timeout: max(o.Heartbeat, time.Second),
		log:     o.Logger.With("node", o.ID),
		rooms:   make(map[string]*room),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := n.heartbeat(); err != nil {
		return nil, err
	}
	go n.run()
	return n, nil
}

func (n *Node) run() {
	defer close(n.done)
	t := time.NewTicker(n.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			_ = n.heartbeat()
		}
	}
}

// Close stops the heartbeat and leaves the cluster: the node's row and
// its leases are removed, so its rooms are free at once. Call it when
// the calls have ended.
func (n *Node) Close() error {
	close(n.stop)
	<-n.done
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	return n.o.Leases.LeaveCluster(ctx, n.o.ID)
}

// Claim places a new caller of rm. elsewhere "": the room is mixed here
// (claimed, or renewed), and release must be called when the call ends,
// answered or not. Otherwise elsewhere is the HOST:PORT of the live node
// that holds the room, where the caller belongs. An error means the
// database could not say and this node's own lease, if any, has run out.
func (n *Node) Claim(ctx context.Context, rm string) (elsewhere string, release func(), err error) {
	n.beat.RLock()
	defer n.beat.RUnlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	l, err := n.o.Leases.ClaimRoom(ctx, rm, n.o.ID, n.ttl)
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[rm]
	switch {
	case err != nil:
		n.count("claim")
		if r == nil || !time.Now().Before(r.until) {
			return "", nil, err
		}
		n.log.Warn("room claimed on a standing lease: the database did not answer", "room", rm, "err", err)
	case l.Node == n.o.ID:
		if r == nil {
			r = &room{}
			n.rooms[rm] = r
		}
		r.until = start.Add(n.ttl)
	case l.Advertise == n.o.Advertise:
		// Two nodes advertising one address: a redirect would come back
		// here, and a proxy following it would loop.
		n.log.Error("another node advertises this node's address; check cluster.advertise", "room", rm, "holder", l.Node, "advertise", l.Advertise)
		return "", nil, fmt.Errorf("cluster: room %s is held by node %s, which advertises this node's own address %s", rm, l.Node, l.Advertise)
	default:
		if r != nil && !r.until.IsZero() {
			n.log.Warn("room taken by another node; its calls here stay, new callers go there", "room", rm, "holder", l.Node, "calls", r.calls)
			r.until = time.Time{}
		}
		if n.o.OnRedirect != nil {
			n.o.OnRedirect()
		}
		return l.Advertise, nil, nil
	}
	r.calls++
	var once sync.Once
	return "", func() {
		once.Do(func() {
			n.mu.Lock()
			r.calls--
			n.mu.Unlock()
		})
	}, nil
}

// heartbeat renews the node and the leases of its rooms with calls, and
// releases the others.
func (n *Node) heartbeat() error {
	n.beat.Lock()
	defer n.beat.Unlock()
	n.mu.Lock()
	var live []string
	for name, r := range n.rooms {
		if r.calls > 0 {
			live = append(live, name)
		}
	}
	n.mu.Unlock()
	// In one order on every node, so that two heartbeats that meet on the
	// same rooms' rows lock them in the same order and never deadlock.
	slices.Sort(live)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	held, err := n.o.Leases.Heartbeat(ctx, n.o.ID, n.o.Advertise, n.ttl, live)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		n.count("heartbeat")
		if !n.down {
			n.log.Warn("cluster heartbeat failed: calls up go on; new callers only of rooms whose lease still stands", "err", err)
		}
		n.down = true
		return err
	}
	if n.down {
		n.log.Info("cluster heartbeat back")
	}
	n.down = false
	isHeld := make(map[string]bool, len(held))
	for _, h := range held {
		isHeld[h] = true
	}
	isLive := make(map[string]bool, len(live))
	for _, l := range live {
		isLive[l] = true
	}
	for name, r := range n.rooms {
		switch {
		case !isLive[name]:
			// No calls when the list was made, and no claim since
			// (beat): its lease is released.
			delete(n.rooms, name)
		case isHeld[name]:
			r.until = start.Add(n.ttl)
		case !r.until.IsZero():
			n.log.Warn("room taken by another node while this one could not renew; its calls here stay, new callers go there", "room", name, "calls", r.calls)
			r.until = time.Time{}
		}
	}
	return nil
}

// Leases is the number of rooms whose lease this node holds, as far as it
// knows.
func (n *Node) Leases() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	now, c := time.Now(), 0
	for _, r := range n.rooms {
		if now.Before(r.until) {
			c++
		}
	}
	return c
}

func (n *Node) count(op string) {
	if n.o.OnError != nil {
		n.o.OnError(op)
	}
}
