package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"brygga/internal/pgtest"
	"brygga/interop"
	"brygga/phone"
)

// failoverNodeConfig is a node behind the proxy in a cluster on the
// database at url: room 4711 with its PINs, 50xx open.
func failoverNodeConfig(url, node string) string {
	return kamailioNodeConfig() + `directory:
  - {extension: "` + interop.RoomExt + `", name: "Test Room", pin: "` + interop.RoomPIN + `", host_pin: "` + interop.RoomHostPIN + `"}
` + memberConfig(url, node, 500*time.Millisecond)
}

// waitRoom polls a node's API until ok accepts the room's view.
func waitRoom(t *testing.T, b *interop.Bridge, room, what string, ok func(interop.Conference) bool) interop.Conference {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, code := interop.GetConference(t, b, interop.OpsToken, room)
		if code == 200 && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: room %s on %s within 20 s: last %d %+v", what, room, b.SIP, code, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// silenced waits until c has received nothing for gap (its node is gone)
// and returns when the silence began.
func silenced(t *testing.T, c *phone.Call, gap time.Duration) time.Time {
	t.Helper()
	last, since := len(c.Received()), time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for time.Since(since) < gap {
		if time.Now().After(deadline) {
			t.Errorf("call %s never fell silent for %v", c.CallID(), gap)
			return since
		}
		time.Sleep(50 * time.Millisecond)
		if n := len(c.Received()); n != last {
			last, since = n, time.Now()
		}
	}
	return since
}

// redial dials target as user again until a node answers: a refusal (the
// dead node's lease still stands, and the proxy finds no node to take the
// call yet) is tried again after 250 ms.
func redial(ctx context.Context, t *testing.T, user, target string, say float64) *phone.Call {
	t.Helper()
	ph := interop.NewPhone(ctx, t, phone.Config{User: user})
	for attempt := 0; ; attempt++ {
		if attempt == 40 {
			t.Errorf("%s: no node took the call to %s within 40 attempts", user, target)
			return nil
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := ph.Dial(dctx, target)
		cancel()
		var se *phone.StatusError
		switch {
		case err == nil:
			c.SetSource(interop.Sine(say))
			t.Logf("%s: answered at attempt %d", user, attempt+1)
			return c
		case errors.As(err, &se):
			t.Logf("%s: attempt %d refused: %d", user, attempt+1, se.Code)
			time.Sleep(250 * time.Millisecond)
		default:
			t.Errorf("%s redialling %s: %v", user, target, err)
			return nil
		}
	}
}

// bothHear waits until a hears sayB and b hears sayA (two windows in a
// row) and returns when; zero if not within limit.
func bothHear(a, b *phone.Call, sayA, sayB float64, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if interop.FirstHeard(interop.AnalyseLevels(a.Received(), sayB, sayA)) >= 0 &&
			interop.FirstHeard(interop.AnalyseLevels(b.Received(), sayA, sayB)) >= 0 {
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}
}

// TestClusterFailoverKeepsTheMeeting: two nodes (127.0.0.11-12) on one
// PostgreSQL (a heartbeat of 500 ms: a lease of 1.5 s) behind Kamailio
// with the shipped config (probes every second), every call through the
// proxy. Room 4711 runs on one node, node a, with its host (host PIN)
// and a participant; the host locks it (*7) and starts recording (*9).
// Another room runs on node b. Node a is killed (SIGKILL). Each caller of
// 4711 redials through the proxy once it has heard nothing for 2 s, as
// the test phones are to, and:
//   - they hear each other again within 5 s of the later redial;
//   - the meeting's end is the one it had on node a, it is still locked
//     and recording, and the host is a host;
//   - a stranger with the room's PIN is refused at the lock;
//   - the callers of the room on node b heard each other throughout.
func TestClusterFailoverKeepsTheMeeting(t *testing.T) {
	kamailio := interop.RequirePeer(t, "kamailio", "kamailio")
	modules := kamailioModulePath(t)
	ctx := context.Background()
	url := pgtest.URL(t)
	nodes := startNodes(t, clusterNodeIPs[:2], failoverNodeConfig(url, "a"), failoverNodeConfig(url, "b"))
	k := startKamailio(t, kamailio, modules, kamailioSite{Nodes: sipAddrs(nodes), Transport: "udp", ProbeInterval: 1})
	const room = interop.RoomExt
	const sayHost, sayGuest, sayC1, sayC2 = 600.0, 1300.0, 700.0, 1500.0
	hostURI := "sip:" + room + "*" + interop.RoomHostPIN + "@" + k.Addr
	guestURI := "sip:" + room + "*" + interop.RoomPIN + "@" + k.Addr

	host := interop.DialPhone(ctx, t, hostURI, "alice", sayHost, "")
	guest := interop.DialPhone(ctx, t, guestURI, "bob", sayGuest, "")
	at := waitPlaced(t, nodes, map[string]int{room: 2})[room]
	a, b := nodes[at], nodes[1-at]
	// Another room, on the other node: the first of 5001… the hash puts
	// there.
	var other string
	var c1, c2 *phone.Call
	for i := range 10 {
		r := fmt.Sprint(5001 + i)
		c := interop.DialPhone(ctx, t, "sip:"+r+"@"+k.Addr, "carol", sayC1, "")
		if waitPlaced(t, nodes, map[string]int{r: 1})[r] == 1-at {
			other, c1 = r, c
			break
		}
		hangUp(ctx, t, c)
	}
	if other == "" {
		t.Fatal("none of rooms 5001-5010 hashed to the node without room " + room)
	}
	c2 = interop.DialPhone(ctx, t, "sip:"+other+"@"+k.Addr, "dave", sayC2, "")
	waitPlaced(t, nodes, map[string]int{other: 2})
	hearEachOther(t, "room "+room+" on node a", host, guest, sayHost, sayGuest)
	hearEachOther(t, "room "+other+" on node b", c1, c2, sayC1, sayC2)
	if err := host.SendDigits("*7"); err != nil {
		t.Fatal(err)
	}
	waitRoom(t, a, room, "locked by the host", func(v interop.Conference) bool { return v.Locked })
	if err := host.SendDigits("*9"); err != nil {
		t.Fatal(err)
	}
	before := waitRoom(t, a, room, "recording", func(v interop.Conference) bool { return v.Recording && v.EndsAt != nil })
	if before.Role("alice") != "host" {
		t.Fatalf("alice is %q on node a, want host", before.Role("alice"))
	}
	// The state reaches the database on its own goroutine.
	time.Sleep(300 * time.Millisecond)

	markC1, markC2 := len(c1.Received()), len(c2.Received())
	a.Kill(t)
	killed := time.Now()

	var wg sync.WaitGroup
	var host2, guest2 *phone.Call
	var redialled [2]time.Time
	for i, who := range []struct {
		old    *phone.Call
		user   string
		target string
		say    float64
		call   **phone.Call
	}{{host, "alice", hostURI, sayHost, &host2}, {guest, "bob", guestURI, sayGuest, &guest2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			silenced(t, who.old, 2*time.Second)
			redialled[i] = time.Now()
			*who.call = redial(ctx, t, who.user, who.target, who.say)
		}()
	}
	wg.Wait()
	if host2 == nil || guest2 == nil {
		t.FailNow()
	}
	last := redialled[0]
	if redialled[1].After(last) {
		last = redialled[1]
	}
	mixed := bothHear(host2, guest2, sayHost, sayGuest, 15*time.Second)
	if mixed.IsZero() {
		t.Fatal("the redialled callers did not hear each other within 15 s")
	}
	t.Logf("node a killed; silence noticed after %.1f/%.1f s; mixed again on node b %.1f s after the kill, %.1f s after the later redial",
		redialled[0].Sub(killed).Seconds(), redialled[1].Sub(killed).Seconds(), mixed.Sub(killed).Seconds(), mixed.Sub(last).Seconds())
	if d := mixed.Sub(last); d > 5*time.Second {
		t.Errorf("the callers heard each other %.1f s after redialling, want within 5 s", d.Seconds())
	}
	hearEachOther(t, "room "+room+" taken over by node b", host2, guest2, sayHost, sayGuest)

	after := waitRoom(t, b, room, "both callers back", func(v interop.Conference) bool { return len(v.Members) == 2 })
	if after.EndsAt == nil || !after.EndsAt.Equal(*before.EndsAt) {
		t.Errorf("the meeting ends at %v on node b, want %v as on node a", after.EndsAt, before.EndsAt)
	}
	if !after.Locked || !after.Recording {
		t.Errorf("on node b the room is locked %v, recording %v; want both as on node a", after.Locked, after.Recording)
	}
	if r := after.Role("alice"); r != "host" {
		t.Errorf("alice is %q on node b, want host", r)
	}
	stranger := interop.DialPhone(ctx, t, guestURI, "eve", 0, "")
	interop.WaitEnded(t, stranger, "a stranger calling the locked room")
	if v, _ := interop.GetConference(t, b, interop.OpsToken, room); v.Role("eve") != "" || len(v.Members) != 2 {
		t.Errorf("after the stranger's call the room has %+v, want alice and bob only", v.Members)
	}

	// Room 5001 on node b: from before the kill until now, each of its
	// callers heard the other in every 200 ms window.
	for _, h := range []struct {
		who       string
		pcm       []int16
		want, own float64
	}{{"carol", c1.ReceivedSince(markC1), sayC2, sayC1}, {"dave", c2.ReceivedSince(markC2), sayC1, sayC2}} {
		span := time.Duration(len(h.pcm))*time.Second/interop.SampleRate - 400*time.Millisecond
		if sum, err := interop.CheckHears(h.pcm, h.want, h.own, 0, span); err != nil {
			t.Errorf("room %s on node b while node a died, %s: %v", other, h.who, err)
		} else {
			t.Logf("room %s, %s, %.1f s from the kill on: %s", other, h.who, span.Seconds(), sum)
		}
	}
	hangUp(ctx, t, host2, guest2, c1, c2)
}
