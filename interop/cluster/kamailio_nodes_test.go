package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"brygga/interop"
	"brygga/phone"
)

// kamailioNodeConfig is a node's config: every four-digit extension an open
// room, the proxy trusted, a drain that waits for the meetings.
func kamailioNodeConfig() string {
	return `# brygga interop cluster node: open rooms, behind Kamailio.
open_rooms: "^[0-9]{4}$"
shutdown_grace: 30s
defaults:
  names: false
api:
  tokens:
    - {name: interop-ops, token: "` + interop.OpsToken + `", role: operator}
sip:
  trusted: ["` + proxyIP + `/32"]
`
}

// startCluster starts a node behind the proxy on each of ips.
func startCluster(t *testing.T, ips ...string) []*interop.Bridge {
	t.Helper()
	configs := make([]string, len(ips))
	for i := range configs {
		configs[i] = kamailioNodeConfig()
	}
	return startNodes(t, ips, configs...)
}

// TestKamailioCluster runs the shipped Kamailio config in front of three
// nodes (127.0.0.11-13, dispatcher set 1, probed every second):
//   - 30 rooms with two callers each, all through the proxy: both callers
//     of every room are on one node (membership checked in all 30 by each
//     node's API), every node has some of the rooms, and in one room on
//     each node the two callers hear each other (tones: audio is checked
//     in 3 rooms, not 30, for the two shared cores);
//   - kill -9 of a node: a new caller of one of its rooms lands on another
//     node, and once the probes have taken the node out, a caller of
//     another of its rooms goes straight to another node, the dead one not
//     tried; started again, the node is probed back in and gets its rooms
//     again (the hash is unchanged);
//   - SIGTERM of a node with shutdown_grace while a meeting runs on it: it
//     answers 503 (INVITE and OPTIONS), so new callers of its rooms land on
//     other nodes while its meeting goes on;
//   - the callers' BYEs, and the draining node's when the operator ends
//     its meeting, take the recorded route: counted in Kamailio's log.
func TestKamailioCluster(t *testing.T) {
	kamailio := interop.RequirePeer(t, "kamailio", "kamailio")
	modules := kamailioModulePath(t)
	nodes := startCluster(t, clusterNodeIPs...)
	k := startKamailio(t, kamailio, modules, kamailioSite{Nodes: sipAddrs(nodes), Transport: "udp", ProbeInterval: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dial := func(room, user string) *phone.Call {
		t.Helper()
		return interop.DialPhone(ctx, t, "sip:"+room+"@"+k.Addr, user, 0, "")
	}

	const rooms = 30
	want := map[string]int{}
	calls := map[string][2]*phone.Call{}
	for i := range rooms {
		room := fmt.Sprint(7001 + i)
		calls[room] = [2]*phone.Call{dial(room, "a"+room), dial(room, "b"+room)}
		want[room] = 2
	}
	placed := waitPlaced(t, nodes, want)
	byNode := make([][]string, len(nodes))
	for room, i := range placed {
		byNode[i] = append(byNode[i], room)
	}
	for i := range byNode {
		slices.Sort(byNode[i])
		t.Logf("node %s: %d rooms %v", nodes[i].SIP, len(byNode[i]), byNode[i])
		// The hash of these 30 rooms is fixed; an even spread is 10.
		if len(byNode[i]) < 3 {
			t.Errorf("node %s has %d of %d rooms, want at least 3: the rooms are not spread", nodes[i].SIP, len(byNode[i]), rooms)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Audio in the first room of each node, all three at once.
	const sayA, sayB = 500.0, 1100.0
	for i := range nodes {
		room := byNode[i][0]
		calls[room][0].SetSource(interop.Sine(sayA))
		calls[room][1].SetSource(interop.Sine(sayB))
	}
	for i := range nodes {
		room := byNode[i][0]
		hearEachOther(t, "room "+room+" on "+nodes[i].SIP, calls[room][0], calls[room][1], sayA, sayB)
	}

	// Everyone hangs up but the callers of one room of the node that will
	// drain: the callers' BYEs by the recorded route.
	drain, dead := 1, 0
	kept := byNode[drain][0]
	for room, cs := range calls {
		if room != kept {
			hangUp(ctx, t, cs[0], cs[1])
		}
	}
	for room, cs := range calls {
		if room != kept {
			k.waitRouted(t, cs[0].CallID(), "BYE", "sip:brygga@", "udp", 1)
			k.waitRouted(t, cs[1].CallID(), "BYE", "sip:brygga@", "udp", 1)
		}
	}

	// kill -9 of a node: a new caller of its first room is placed on
	// another node, by the failure route (no answer: 408, next node) or,
	// if the probes were quicker, by the hash skipping it.
	deadRoom, deadRoom2 := byNode[dead][0], byNode[dead][1]
	nodes[dead].Kill(t)
	c1 := dial(deadRoom, "after-kill")
	on := waitPlaced(t, nodes[dead+1:], map[string]int{deadRoom: 0})[deadRoom] + dead + 1
	t.Logf("room %s of the killed node %s: now on %s (failure route: %d lines)", deadRoom, nodes[dead].SIP, nodes[on].SIP,
		k.logged("node sip:"+nodes[dead].SIP, "failed (408)", " call-id "+c1.CallID()))
	// The probes (or the failed call) take the dead node out: a caller of
	// its second room is sent to another node at once, the dead one not
	// tried.
	k.waitDown(t, nodes[dead])
	if st := k.nodeStates(t); !strings.HasPrefix(st[nodes[dead].SIP], "I") {
		t.Errorf("kamcmd dispatcher.list after the kill: %v, want %s inactive", st, nodes[dead].SIP)
	}
	c2 := dial(deadRoom2, "probed-out")
	waitPlaced(t, nodes[dead+1:], map[string]int{deadRoom2: 0})
	if n := k.logged("initial INVITE", " to sip:"+nodes[dead].SIP+";", " call-id "+c2.CallID()); n != 0 {
		t.Errorf("the caller of %s after the probes took %s out was sent there %d times", deadRoom2, nodes[dead].SIP, n)
	}
	hangUp(ctx, t, c1, c2)

	// Started again where it was, the node is probed back in and its
	// rooms hash to it again.
	nodes[dead] = interop.StartBridgeAt(t, nodes[dead].At)
	k.waitLogged(t, 1, "node up sip:"+nodes[dead].SIP+";")
	if st := k.nodeStates(t); !strings.HasPrefix(st[nodes[dead].SIP], "A") {
		t.Errorf("kamcmd dispatcher.list after the restart: %v, want %s active", st, nodes[dead].SIP)
	}
	c4 := dial(deadRoom, "back")
	if got := waitPlaced(t, nodes, map[string]int{deadRoom: 0})[deadRoom]; got != dead {
		t.Errorf("room %s is on %s after its node %s came back, want there", deadRoom, nodes[got].SIP, nodes[dead].SIP)
	}
	hangUp(ctx, t, c4)

	// SIGTERM with shutdown_grace: the node keeps its meeting and answers
	// new calls with 503; a new caller of another of its rooms lands
	// elsewhere, and its meeting goes on.
	nodes[drain].SendSignal(t, syscall.SIGTERM)
	waitOptions(t, nodes[drain], 503)
	other := byNode[drain][1]
	c3 := dial(other, "while-draining")
	others := append(append([]*interop.Bridge{}, nodes[:drain]...), nodes[drain+1:]...)
	waitPlaced(t, others, map[string]int{other: 0})
	t.Logf("room %s of the draining node: failure route %d lines (503), probe otherwise",
		other, k.logged("node sip:"+nodes[drain].SIP, "failed (503)", " call-id "+c3.CallID()))
	if got := liveRooms(t, nodes[drain])[kept]; got != 2 {
		t.Errorf("the draining node's meeting in %s has %d callers, want 2", kept, got)
	}
	hangUp(ctx, t, c3)
	// The operator ends the draining node's meeting: its BYEs to the
	// callers take the recorded route from the node's own address, and
	// the drained node exits.
	if code := interop.APICall(t, nodes[drain], interop.OpsToken, "POST", "/api/v1/conferences/"+kept+"/end", "", nil); code/100 != 2 {
		t.Fatalf("end the meeting in %s: %d", kept, code)
	}
	for i, c := range calls[kept] {
		interop.WaitEnded(t, c, fmt.Sprintf("caller %d of %s at the meeting's end", i+1, kept))
	}
	k.waitRouted(t, calls[kept][0].CallID(), "BYE", "sip:a"+kept+"@", "udp", 1)
	k.waitRouted(t, calls[kept][1].CallID(), "BYE", "sip:b"+kept+"@", "udp", 1)
	nodes[drain].ExitedOK(t, 20*time.Second)
}

// waitDown waits until Kamailio has taken node out of the set: a probe
// without 200 (node down) or a call it did not answer in time (marked
// down), whichever came first.
func (k *kamailioProc) waitDown(t *testing.T, node *interop.Bridge) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for k.logged("node down sip:"+node.SIP+";") == 0 && k.logged("node sip:"+node.SIP+";", "marked down") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("kamailio did not take %s out within 15 s", node.SIP)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeStates is what kamcmd dispatcher.list says of each node (by
// HOST:PORT): its flags, "A…" active, "I…" inactive, "…P" probing.
func (k *kamailioProc) nodeStates(t *testing.T) map[string]string {
	t.Helper()
	kamcmd := interop.RequirePeer(t, "kamcmd", "kamailio")
	out, err := exec.Command(kamcmd, "-s", "unix:"+k.ctl, "dispatcher.list").CombinedOutput()
	if err != nil {
		t.Fatalf("kamcmd dispatcher.list: %v\n%s", err, out)
	}
	states := map[string]string{}
	var uri string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "URI:":
			uri, _, _ = strings.Cut(strings.TrimPrefix(f[1], "sip:"), ";")
		case len(f) == 2 && f[0] == "FLAGS:" && uri != "":
			states[uri] = f[1]
		}
	}
	return states
}

// waitOptions waits until b answers OPTIONS with code.
func waitOptions(t *testing.T, b *interop.Bridge, code int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := interop.SIPOptions(b.SIP, 300*time.Millisecond)
		if err == nil && got == code {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answers OPTIONS %d (%v), want %d", b.SIP, got, err, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fakeNode is a SIP node of the test's own on UDP: it answers OPTIONS 200,
// so the probes keep it in the set, and each INVITE as answer says.
type fakeNode struct {
	Addr string // IP:port
	conn *net.UDPConn

	mu      sync.Mutex
	answer  func(user string) (code int, contact string) // code 0: no answer at all
	invites map[string]int                               // by Call-ID, retransmissions not counted
	seen    map[string]bool                              // top Via branches
}

func startFakeNode(t *testing.T, ip string) *fakeNode {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{
		Addr:    conn.LocalAddr().String(),
		conn:    conn,
		answer:  func(string) (int, string) { return 486, "" },
		invites: map[string]int{},
		seen:    map[string]bool{},
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if res := f.handle(string(buf[:n])); res != "" {
				_, _ = conn.WriteToUDP([]byte(res), from)
			}
		}
	}()
	return f
}

func (f *fakeNode) setAnswer(a func(user string) (int, string)) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

// invitesOf is the INVITEs of one call the node got, retransmissions not
// counted.
func (f *fakeNode) invitesOf(callID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.invites[callID]
}

func (f *fakeNode) allInvites() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.invites {
		n += c
	}
	return n
}

// handle answers one request; responses and ACKs get nothing.
func (f *fakeNode) handle(msg string) string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	start := strings.Fields(lines[0])
	if len(start) != 3 || start[2] != "SIP/2.0" {
		return ""
	}
	method := start[0]
	var vias, keep []string
	var callID, branch string
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v":
			vias = append(vias, l)
			if branch == "" {
				_, b, _ := strings.Cut(value, "branch=")
				branch, _, _ = strings.Cut(b, ";")
			}
		case "from", "f", "cseq":
			keep = append(keep, l)
		case "to", "t":
			keep = append(keep, l+";tag=fake")
		case "call-id", "i":
			keep = append(keep, l)
			callID = strings.TrimSpace(value)
		}
	}
	code, reason, contact := 200, "OK", ""
	switch method {
	case "OPTIONS":
	case "INVITE":
		user, _, _ := strings.Cut(strings.TrimPrefix(start[1], "sip:"), "@")
		f.mu.Lock()
		if !f.seen[branch] {
			f.seen[branch] = true
			f.invites[callID]++
		}
		answer := f.answer
		f.mu.Unlock()
		code, contact = answer(user)
		reason = map[int]string{302: "Moved Temporarily", 486: "Busy Here", 503: "Service Unavailable"}[code]
		if code == 0 {
			return ""
		}
	default:
		return ""
	}
	res := []string{fmt.Sprintf("SIP/2.0 %d %s", code, reason)}
	res = append(res, vias...)
	res = append(res, keep...)
	if contact != "" {
		res = append(res, "Contact: <"+contact+">")
	}
	res = append(res, "Content-Length: 0", "", "")
	return strings.Join(res, "\r\n")
}

// TestKamailioFailureRoute puts a fake node of the test's own first in
// front of two real ones (dispatcher set 1: the fake on 127.0.0.14 and
// nodes on 127.0.0.11 and .12) and has it answer a room's INVITE in turn:
//   - 302 to a host outside the set (127.0.0.66, listening): not followed,
//     nothing reaches that host, the call goes to the next node;
//   - 302 to the other real node: followed there, the room's Request-URI
//     kept;
//   - 302 to itself, again and again: followed once, then the next node;
//   - no answer: 408 after NODE_TIMEOUT, the next node;
//   - 503 (a draining node): the next node;
//
// The caller never sees a 302 and its call is up on the node named. Then,
// in front of the fake and a busy node (486) of the test's own, the
// caller gets the busy node's 486 after a followed and after a refused
// redirect, not the 302, and 502 when both redirect outside the set.
func TestKamailioFailureRoute(t *testing.T) {
	kamailio := interop.RequirePeer(t, "kamailio", "kamailio")
	modules := kamailioModulePath(t)
	nodes := startCluster(t, clusterNodeIPs[:2]...)
	fake := startFakeNode(t, "127.0.0.14")
	evil := startFakeNode(t, "127.0.0.66")
	k := startKamailio(t, kamailio, modules, kamailioSite{Nodes: append([]string{fake.Addr}, sipAddrs(nodes)...), Transport: "udp", ProbeInterval: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dial := func(room, user string) *phone.Call {
		t.Helper()
		return interop.DialPhone(ctx, t, "sip:"+room+"@"+k.Addr, user, 0, "")
	}
	redirectTo := func(addr string) func(string) (int, string) {
		return func(user string) (int, string) { return 302, "sip:" + user + "@" + addr }
	}

	// A room the hash gives the fake: the first whose INVITE it gets.
	fake.setAnswer(redirectTo(evil.Addr))
	var room string
	var c *phone.Call
	for i := range 20 {
		r := fmt.Sprint(8001 + i)
		before := fake.allInvites()
		c = dial(r, "probe"+r)
		if fake.allInvites() > before {
			room = r
			break
		}
		hangUp(ctx, t, c)
	}
	if room == "" {
		t.Fatal("none of 20 rooms hashed to the fake node")
	}
	// 302 outside the set: refused, the next node takes the call.
	next := waitPlaced(t, nodes, map[string]int{room: 0})[room]
	if n := evil.allInvites(); n != 0 {
		t.Errorf("the host outside the set got %d INVITEs: the proxy followed a redirect there", n)
	}
	k.waitLogged(t, 1, "node sip:"+fake.Addr, "redirected "+room+" to sip:"+room+"@"+evil.Addr, "not a node: refused", " call-id "+c.CallID())
	t.Logf("room %s hashes to the fake node; next is %s", room, nodes[next].SIP)
	hangUp(ctx, t, c)
	waitGone(t, nodes[next], room)

	// 302 to the other node: followed.
	other := 1 - next
	fake.setAnswer(redirectTo(nodes[other].SIP))
	c = dial(room, "redirected")
	if got := waitPlaced(t, nodes, map[string]int{room: 0})[room]; got != other {
		t.Errorf("redirected to %s, the call is on %s", nodes[other].SIP, nodes[got].SIP)
	}
	k.waitLogged(t, 1, "node sip:"+fake.Addr, "redirected "+room+" to sip:"+room+"@"+nodes[other].SIP+": followed", " call-id "+c.CallID())
	if n := fake.invitesOf(c.CallID()); n != 1 {
		t.Errorf("the fake node got %d INVITEs of the redirected call, want 1", n)
	}
	hangUp(ctx, t, c)
	waitGone(t, nodes[other], room)

	// 302 to itself, every time: followed once, then the next node.
	fake.setAnswer(redirectTo(fake.Addr))
	c = dial(room, "looped")
	if got := waitPlaced(t, nodes, map[string]int{room: 0})[room]; got != next {
		t.Errorf("after a redirect loop the call is on %s, want the next node %s", nodes[got].SIP, nodes[next].SIP)
	}
	if n := fake.invitesOf(c.CallID()); n != 2 {
		t.Errorf("the fake node redirecting to itself got %d INVITEs of the call, want 2 (followed once)", n)
	}
	k.waitLogged(t, 1, "node sip:"+room+"@"+fake.Addr, "redirected "+room+" again, to sip:"+room+"@"+fake.Addr+": refused", " call-id "+c.CallID())
	hangUp(ctx, t, c)
	waitGone(t, nodes[next], room)

	// No answer, then 503: each marks the fake down, so each waits until
	// a probe has found it up again (it answers OPTIONS 200).
	for i, tc := range []struct {
		code int
		log  string
	}{{0, "failed (408)"}, {503, "failed (503)"}} {
		fake.setAnswer(func(string) (int, string) { return tc.code, "" })
		c = dial(room, fmt.Sprint("answer", tc.code))
		if got := waitPlaced(t, nodes, map[string]int{room: 0})[room]; got != next {
			t.Errorf("after %d from the fake node the call is on %s, want the next node %s", tc.code, nodes[got].SIP, nodes[next].SIP)
		}
		if n := fake.invitesOf(c.CallID()); n != 1 {
			t.Errorf("the fake node answering %d got %d INVITEs of the call, want 1", tc.code, n)
		}
		k.waitLogged(t, 1, "node sip:"+fake.Addr, tc.log, "marked down", " call-id "+c.CallID())
		hangUp(ctx, t, c)
		waitGone(t, nodes[next], room)
		k.waitLogged(t, i+1, "node up sip:"+fake.Addr+";")
	}

	// The caller never gets a 302, whatever comes after it: a proxy in
	// front of the fake and a node of the test's own that is busy.
	busy := startFakeNode(t, "127.0.0.15")
	alone := startKamailio(t, kamailio, modules, kamailioSite{Nodes: []string{fake.Addr, busy.Addr}, Transport: "udp"})
	busy.setAnswer(func(string) (int, string) { return 486, "" })
	fake.setAnswer(redirectTo(busy.Addr))
	ph := interop.NewPhone(ctx, t, phone.Config{User: "alone"})
	status := func(room string) int {
		t.Helper()
		dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
		defer dcancel()
		_, err := ph.Dial(dctx, "sip:"+room+"@"+alone.Addr)
		if se := (*phone.StatusError)(nil); errors.As(err, &se) {
			return se.Code
		}
		t.Fatalf("calling %s through the proxy in front of the fake and the busy node: %v, want a status", room, err)
		return 0
	}
	// A room the hash gives the fake here; followed to the busy node,
	// whose 486 the caller gets.
	room = ""
	for i := range 20 {
		r := fmt.Sprint(9001 + i)
		before := fake.allInvites()
		code := status(r)
		if code != 486 {
			t.Errorf("room %s, the fake redirecting to the busy node: %d, want its 486", r, code)
		}
		if fake.allInvites() > before {
			room = r
			break
		}
	}
	if room == "" {
		t.Fatal("none of 20 rooms hashed to the fake node in front of the busy one")
	}
	// Refused, then the busy node: its 486.
	fake.setAnswer(redirectTo(evil.Addr))
	if code := status(room); code != 486 {
		t.Errorf("a refused redirect, then a busy node: %d, want 486", code)
	}
	// Both redirect outside the set: nothing left to try, 502.
	busy.setAnswer(redirectTo(evil.Addr))
	if code := status(room); code != 502 {
		t.Errorf("every node redirecting outside the set: %d, want 502 from the proxy", code)
	}
	if n := evil.allInvites(); n != 0 {
		t.Errorf("the host outside the set got %d INVITEs", n)
	}
}

// waitGone waits until room is no longer live on b.
func waitGone(t *testing.T, b *interop.Bridge, room string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for liveRooms(t, b)[room] > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("room %s still live on %s 15 s after its caller hung up", room, b.SIP)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestKamailioShippedConfig: the files in deploy/kamailio as operators get
// them. Kamailio parses the config with every site setting at its shipped
// value (kamailio -c), and the dispatcher list is set 1 of the three nodes
// of scripts/cluster.sh, in order. (The other Kamailio tests run the same
// config with the test's own values and a list in the same format.)
func TestKamailioShippedConfig(t *testing.T) {
	kamailio := interop.RequirePeer(t, "kamailio", "kamailio")
	modules := kamailioModulePath(t)
	dir := t.TempDir()
	cmd := exec.Command(kamailio, "-c", "-f", shippedKamailio, "-L", modules, "-Y", dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "config file ok") {
		t.Fatalf("kamailio -c %s: %v\n%s", shippedKamailio, err, out)
	}
	for _, want := range []string{"udp: 127.0.0.1", "tcp: 127.0.0.1", ":5470"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kamailio -c does not list %q among its listeners:\n%s", want, out)
		}
	}

	data, err := os.ReadFile(filepath.Join(filepath.Dir(shippedKamailio), "dispatcher.list"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	var want []string
	for _, ip := range clusterNodeIPs {
		want = append(want, "1 sip:"+ip+":5060")
	}
	if !slices.Equal(got, want) {
		t.Errorf("dispatcher.list has %q, want %q", got, want)
	}
}
