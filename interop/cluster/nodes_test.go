package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"brygga/api"
	"brygga/internal/pgtest"
	"brygga/interop"
	"brygga/phone"
)

// What the tests of this package share: a cluster's nodes, started on
// one database and on the cluster's loopback addresses, where its rooms
// are, and whether their callers hear each other.

// clusterNodeIPs are the loopback addresses of the test cluster's nodes:
// those of scripts/cluster.sh, on free ports, so a running demo (port 5060
// there) is not in the way.
var clusterNodeIPs = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}

// clusterConfig is testConfig for a node of a cluster on the database at
// url; rooms 5000-5099 are open (no PIN) for the race.
func clusterConfig(url, node string, heartbeat time.Duration) string {
	return strings.Replace(interop.BridgeConfig, `open_rooms: ""`, `open_rooms: "50[0-9]{2}"`, 1) + memberConfig(url, node, heartbeat)
}

// memberConfig makes a bridge node of a cluster on the database at url.
func memberConfig(url, node string, heartbeat time.Duration) string {
	return `store: {url: "` + url + `"}
cluster: {node_id: ` + node + `, advertise: "{{SIP}}", heartbeat: ` + heartbeat.String() + `}
`
}

// startNodes starts a bridge for each of configs, each in a folder of its
// own, on ips[i] where ips has an address for it (else 127.0.0.1).
func startNodes(t *testing.T, ips []string, configs ...string) []*interop.Bridge {
	t.Helper()
	var nodes []*interop.Bridge
	for i, cfg := range configs {
		at := interop.BridgeAt{Dir: t.TempDir(), Config: cfg}
		if i < len(ips) {
			at.IP = ips[i]
			// Two ports a call: room for most of the calls on one node.
			at.RTPLo, at.RTPHi = interop.PortBlock(t, 100)
		}
		nodes = append(nodes, interop.StartBridgeAt(t, at))
	}
	return nodes
}

// startPair starts two real brygga processes, nodes a and b, sharing one
// throw-away PostgreSQL database.
func startPair(t *testing.T, heartbeat time.Duration) (a, b *interop.Bridge) {
	t.Helper()
	url := pgtest.URL(t)
	nodes := startNodes(t, nil, clusterConfig(url, "a", heartbeat), clusterConfig(url, "b", heartbeat))
	return nodes[0], nodes[1]
}

func sipAddrs(nodes []*interop.Bridge) []string {
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.SIP)
	}
	return addrs
}

// liveRooms is GET /api/v1/conferences of a node: participants by room.
func liveRooms(t *testing.T, b *interop.Bridge) map[string]int {
	t.Helper()
	var confs []struct {
		Room         string
		Participants int
	}
	// The node's own meetings: a cluster node's list gathers every
	// node's, except for a request that says it comes from a node.
	req, err := http.NewRequest("GET", b.API+"/api/v1/conferences", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+interop.OpsToken)
	req.Header.Set(api.ViaHeader, "interop-test")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/conferences on %s: %v", b.SIP, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/v1/conferences on %s: %d", b.SIP, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&confs); err != nil {
		t.Fatalf("GET /api/v1/conferences on %s: %v", b.SIP, err)
	}
	rooms := map[string]int{}
	for _, c := range confs {
		rooms[c.Room] = c.Participants
	}
	return rooms
}

// waitPlaced waits until the rooms of want have their participants (by
// room; 0: any, the room is live) in the mix, and returns the node each
// room is on. It fails when a
// room is live on more than one node: its callers were split.
func waitPlaced(t *testing.T, nodes []*interop.Bridge, want map[string]int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		placed := map[string]int{}
		done := true
		var split []string
		live := make([]map[string]int, len(nodes))
		for i, n := range nodes {
			live[i] = liveRooms(t, n)
		}
		for room, count := range want {
			var on []int
			for i := range nodes {
				if _, ok := live[i][room]; ok {
					on = append(on, i)
				}
			}
			switch {
			case len(on) > 1:
				split = append(split, fmt.Sprintf("%s on %v", room, on))
			case len(on) == 1 && (count == 0 || live[on[0]][room] == count):
				placed[room] = on[0]
			default:
				done = false
			}
		}
		if len(split) > 0 {
			t.Fatalf("rooms live on more than one node: %s", strings.Join(split, ", "))
		}
		if done {
			return placed
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every room has its callers on one node within 30 s: placed %v of %v; live %v", placed, want, live)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// hangUp ends calls from the caller's side.
func hangUp(ctx context.Context, t *testing.T, calls ...*phone.Call) {
	t.Helper()
	for _, c := range calls {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := c.Hangup(hctx); err != nil {
			t.Errorf("hanging up %s: %v", c.CallID(), err)
		}
		cancel()
	}
}

// hearEachOther checks that a (saying sayA) and b (saying sayB) hear each
// other and not themselves.
func hearEachOther(t *testing.T, what string, a, b *phone.Call, sayA, sayB float64) {
	t.Helper()
	deadline := time.Now().Add(interop.JoinWait)
	for !interop.HeardEnough(a.Received(), sayB, sayA) || !interop.HeardEnough(b.Received(), sayA, sayB) {
		if time.Now().After(deadline) {
			break // CheckHears says what is missing
		}
		select {
		case <-a.Done():
			t.Fatalf("%s: the bridge hung up on the first caller", what)
		case <-b.Done():
			t.Fatalf("%s: the bridge hung up on the second caller", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, h := range []struct {
		who       string
		call      *phone.Call
		want, own float64
	}{{"first caller", a, sayB, sayA}, {"second caller", b, sayA, sayB}} {
		if sum, err := interop.CheckHears(h.call.Received(), h.want, h.own, interop.Settle, interop.ListenSpan); err != nil {
			t.Errorf("%s, %s: %v", what, h.who, err)
		} else {
			t.Logf("%s, %s: %s", what, h.who, sum)
		}
	}
}
