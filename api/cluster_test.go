package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"brygga/conference"
	"brygga/store"
)

// fakeCluster is the node registry as the store keeps it.
type fakeCluster struct {
	self   string
	mu     sync.Mutex
	peers  []store.Peer
	leases map[string]string // room → node
	down   bool              // the database does not answer
}

func (c *fakeCluster) Self() string { return c.self }

func (c *fakeCluster) Peers(context.Context) ([]store.Peer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errors.New("database away")
	}
	return c.peers, nil
}

func (c *fakeCluster) RoomPeer(_ context.Context, room string) (store.Peer, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return store.Peer{}, false, errors.New("database away")
	}
	for _, p := range c.peers {
		if p.ID == c.leases[room] {
			return p, true, nil
		}
	}
	return store.Peer{}, false, nil
}

// twoNodes is node a (rooms 4711 and 9000, as in newEnv) and node b
// (room 5000 with member x1) behind a real HTTP server, registered in one
// cluster that also lists node c, which never answers.
func twoNodes(t *testing.T) (a, b *env, reg *fakeCluster) {
	t.Helper()
	reg = &fakeCluster{self: "a", leases: map[string]string{"4711": "a", "9000": "a", "5000": "b"}}
	regB := &fakeCluster{self: "b"}
	b = newEnv(t, func(o *Options) { o.Cluster = regB })
	b.conf.rooms = map[string]*conference.RoomInfo{"5000": {Extension: "5000", Participants: 2,
		Members: []conference.MemberInfo{{ID: "x1", CallerID: "100"}, {ID: "x2", CallerID: "200"}}}}
	srvB := httptest.NewServer(b.h)
	t.Cleanup(srvB.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	reg.peers = []store.Peer{{ID: "a", API: "http://a.invalid"}, {ID: "b", API: srvB.URL}, {ID: "c", API: dead.URL}}
	regB.peers, regB.leases = reg.peers, reg.leases
	a = newEnv(t, func(o *Options) { o.Cluster = reg })
	return a, b, reg
}

// A node's list holds every live node's conferences, each naming its
// node; a node that does not answer is named in a header and the others'
// conferences are still there; a request from another node is answered
// from the node's own conferences only.
func TestClusterList(t *testing.T) {
	a, _, reg := twoNodes(t)
	r := a.do(t, "GET", "/api/v1/conferences", viewSecret, "")
	want(t, r, http.StatusOK)
	var got []string
	for _, c := range r.list(t) {
		got = append(got, c["room"].(string)+"@"+c["node"].(string))
	}
	if strings.Join(got, " ") != "4711@a 5000@b 9000@a" {
		t.Fatalf("merged list %v, want 4711@a 5000@b 9000@a", got)
	}
	if m := r.hdr.Get(MissingHeader); m != "c" {
		t.Errorf("%s = %q, want c", MissingHeader, m)
	}
	if !strings.Contains(a.log.String(), `"node":"c"`) {
		t.Errorf("the silent node is not logged:\n%s", a.log)
	}

	r = a.doHeader(t, "GET", "/api/v1/conferences", viewSecret, ViaHeader, "b")
	want(t, r, http.StatusOK)
	if l := r.list(t); len(l) != 2 || r.hdr.Get(MissingHeader) != "" {
		t.Fatalf("a request from another node was fanned out: %s", r.body)
	}

	reg.mu.Lock()
	reg.down = true
	reg.mu.Unlock()
	r = a.do(t, "GET", "/api/v1/conferences", viewSecret, "")
	want(t, r, http.StatusOK)
	if l := r.list(t); len(l) != 2 || r.hdr.Get(MissingHeader) != "*" {
		t.Fatalf("with the registry away: %s, %s %q; want this node's two and *", r.body, MissingHeader, r.hdr.Get(MissingHeader))
	}
}

// A room's routes sent to a node that does not mix the room are carried
// out by the node that does, with the caller's token checked there too,
// and audited on both: where it came in (forwarded_to) and where it was
// carried out (via).
func TestClusterForward(t *testing.T) {
	a, b, reg := twoNodes(t)
	r := a.do(t, "GET", "/api/v1/conferences/5000", viewSecret, "")
	want(t, r, http.StatusOK)
	if c := r.json(t); c["node"] != "b" || len(c["members"].([]any)) != 2 {
		t.Fatalf("room 5000 through a: %s", r.body)
	}

	r = a.do(t, "POST", "/api/v1/conferences/5000/participants/x1/mute", opSecret, "")
	want(t, r, http.StatusOK)
	if got := b.conf.lastCall(); got != "mute 5000 x1 true" {
		t.Fatalf("node b carried out %q, want the mute", got)
	}
	if got := a.conf.lastCall(); got != "" {
		t.Fatalf("node a carried out %q itself", got)
	}
	if !strings.Contains(a.log.String(), `"action":"mute","room":"5000","participant":"x1","forwarded_to":"b","status":200`) {
		t.Errorf("node a's audit line:\n%s", a.log)
	}
	if !strings.Contains(b.log.String(), `"who":"ops","action":"mute","room":"5000","participant":"x1","via":"a","status":200`) {
		t.Errorf("node b's audit line:\n%s", b.log)
	}
	if strings.Contains(a.log.String()+b.log.String(), opSecret) {
		t.Error("a token reached a log")
	}

	// b's own answers come back as they are.
	want(t, a.do(t, "POST", "/api/v1/conferences/5000/participants/nobody/mute", opSecret, ""), http.StatusNotFound)
	want(t, a.do(t, "POST", "/api/v1/conferences/5000/extend", opSecret, `{"minutes":0}`), http.StatusBadRequest)
	// A viewer is refused on a, before anything is passed on.
	want(t, a.do(t, "POST", "/api/v1/conferences/5000/lock", viewSecret, ""), http.StatusForbidden)
	// A wrong token that a would let through is still b's to refuse:
	// a request marked as forwarded is checked on b like any other.
	want(t, b.doHeader(t, "POST", "/api/v1/conferences/5000/lock", "nope", ViaHeader, "a"), http.StatusUnauthorized)

	// Rooms this node mixes and rooms nobody holds are answered here.
	want(t, a.do(t, "POST", "/api/v1/conferences/4711/lock", opSecret, ""), http.StatusOK)
	if got := a.conf.lastCall(); got != "lock 4711 true" {
		t.Fatalf("node a carried out %q", got)
	}
	want(t, a.do(t, "POST", "/api/v1/conferences/7777/lock", opSecret, ""), http.StatusNotFound)

	// A holder that does not answer, and a registry that does not.
	reg.mu.Lock()
	reg.leases["6000"] = "c"
	reg.mu.Unlock()
	want(t, a.do(t, "POST", "/api/v1/conferences/6000/lock", opSecret, ""), http.StatusBadGateway)
	reg.mu.Lock()
	reg.down = true
	reg.mu.Unlock()
	want(t, a.do(t, "POST", "/api/v1/conferences/5000/lock", opSecret, ""), http.StatusServiceUnavailable)
}
