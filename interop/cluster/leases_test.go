package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"brygga/interop"
	"brygga/phone"
)

// redirectOf dials target once without following a redirect and returns
// where the 302 sends the caller ("" and the error when there is none).
func redirectOf(ctx context.Context, t *testing.T, target string) (string, error) {
	t.Helper()
	ph, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.1"), User: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := ph.Dial(dctx, target)
	if err == nil {
		hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
		defer hcancel()
		_ = c.Hangup(hctx)
		return "", errors.New("answered")
	}
	var se *phone.StatusError
	if !errors.As(err, &se) || se.Code != 302 {
		return "", err
	}
	return se.Contact, nil
}

// A caller of a room live on node a who reaches node b is sent to a (302
// with a's address and the PIN as dialled) and ends in a's mix: the two
// callers hear each other.
func TestClusterRedirectsToTheRoomsNode(t *testing.T) {
	ctx := context.Background()
	a, b := startPair(t, 500*time.Millisecond)

	var wg sync.WaitGroup
	var heardOnA, heardViaB []int16
	wg.Add(1)
	go func() {
		defer wg.Done()
		heardOnA = interop.JoinAndListenAs(ctx, t, phone.Config{User: "on-a"}, "sip:"+interop.RoomExt+"@"+a.SIP, 600, 1300)
	}()
	// The room is a's from its caller's INVITE on, before the PIN.
	deadline := time.Now().Add(20 * time.Second)
	for interop.MetricValue(t, a, "brygga_cluster_leases", "") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("node a never held the room's lease")
		}
		time.Sleep(100 * time.Millisecond)
	}
	contact, err := redirectOf(ctx, t, "sip:"+interop.RoomExt+"*"+interop.RoomPIN+"@"+b.SIP)
	if want := "sip:" + interop.RoomExt + "*" + interop.RoomPIN + "@" + a.SIP; err != nil || contact != want {
		t.Fatalf("node b answered a caller of a's room with %q (%v), want a 302 to %s", contact, err, want)
	}
	heardViaB = interop.JoinAndListenAs(ctx, t, phone.Config{User: "via-b"}, "sip:"+interop.RoomExt+"@"+b.SIP, 1300, 600, phone.WithRedirects(1))
	wg.Wait()
	for _, h := range []struct {
		who        string
		pcm        []int16
		want, self float64
	}{{"the caller on a", heardOnA, 1300, 600}, {"the caller via b", heardViaB, 600, 1300}} {
		summary, err := interop.CheckHears(h.pcm, h.want, h.self, interop.Settle, interop.ListenSpan)
		if err != nil {
			t.Errorf("%s: %v", h.who, err)
			continue
		}
		t.Logf("%s: %s", h.who, summary)
	}
	if n := interop.MetricValue(t, b, "brygga_cluster_redirects_total", ""); n != 2 {
		t.Errorf("node b counted %v redirects, want 2", n)
	}
	if n := interop.MetricValue(t, a, "brygga_cluster_redirects_total", ""); n != 0 {
		t.Errorf("node a counted %v redirects, want 0", n)
	}
}

// Two callers of a new room sent to the two nodes at the same instant end
// in one room, every time.
func TestClusterRaceForANewRoom(t *testing.T) {
	ctx := context.Background()
	a, b := startPair(t, 500*time.Millisecond)
	nodes := map[string]*interop.Bridge{a.SIP: a, b.SIP: b}
	mixedOn := map[string]int{}
	for i := range 10 {
		room := fmt.Sprint(5000 + i)
		start := make(chan struct{})
		var wg sync.WaitGroup
		calls := make([]*phone.Call, 2)
		for j, n := range []*interop.Bridge{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ph, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.1"), User: fmt.Sprintf("caller-%d", j)})
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(func() { ph.Close() })
				<-start
				dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				defer cancel()
				c, err := ph.Dial(dctx, "sip:"+room+"@"+n.SIP, phone.WithRedirects(1))
				if err != nil {
					t.Errorf("room %s via %s: %v", room, n.SIP, err)
					return
				}
				calls[j] = c
			}()
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}
		var where []string
		for _, c := range calls {
			where = append(where, strings.TrimPrefix(c.Target(), "sip:"+room+"@"))
		}
		if where[0] != where[1] {
			t.Fatalf("room %s: the callers ended on two nodes: %v", room, where)
		}
		mixedOn[where[0]]++
		interop.WaitRoomMembers(t, nodes[where[0]], room, 2)
		for _, c := range calls {
			hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := c.Hangup(hctx); err != nil {
				t.Errorf("hang up: %v", err)
			}
			cancel()
		}
	}
	t.Logf("rooms mixed per node: %v; redirects: a %v, b %v", mixedOn,
		interop.MetricValue(t, a, "brygga_cluster_redirects_total", ""), interop.MetricValue(t, b, "brygga_cluster_redirects_total", ""))
	if r := interop.MetricValue(t, a, "brygga_cluster_redirects_total", "") + interop.MetricValue(t, b, "brygga_cluster_redirects_total", ""); r != 10 {
		t.Errorf("%v redirects in all, want one per room (10)", r)
	}
}

// When node a is killed (SIGKILL: no hang-ups, no leaving the cluster),
// its room's callers are sent to it until its lease expires (three
// heartbeats), and then a caller reaching node b is taken there.
func TestClusterDeadNodesRoomMoves(t *testing.T) {
	ctx := context.Background()
	heartbeat := time.Second
	a, b := startPair(t, heartbeat)
	interop.DialPhoneFrom(ctx, t, "sip:"+interop.RoomExt+"*"+interop.RoomPIN+"@"+a.SIP, "127.0.0.1", "on-a")
	interop.WaitRoomMembers(t, a, interop.RoomExt, 1)
	a.Kill(t)
	killed := time.Now()
	if contact, err := redirectOf(ctx, t, "sip:"+interop.RoomExt+"*"+interop.RoomPIN+"@"+b.SIP); err != nil || contact != "sip:"+interop.RoomExt+"*"+interop.RoomPIN+"@"+a.SIP {
		t.Fatalf("right after the kill node b answered %q (%v), want a 302 to the room's node a (its lease stands)", contact, err)
	}
	var taken *phone.Call
	for attempt := 0; taken == nil; attempt++ {
		if attempt == 40 {
			t.Fatal("the room did not move to node b within 40 attempts")
		}
		time.Sleep(250 * time.Millisecond)
		ph, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.1"), User: "on-b"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ph.Close() })
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := ph.Dial(dctx, "sip:"+interop.RoomExt+"*"+interop.RoomPIN+"@"+b.SIP)
		cancel()
		var se *phone.StatusError
		switch {
		case err == nil:
			taken = c
		case errors.As(err, &se) && se.Code == 302:
		default:
			t.Fatalf("dialling node b after the kill: %v", err)
		}
	}
	moved := time.Since(killed)
	interop.WaitRoomMembers(t, b, interop.RoomExt, 1)
	t.Logf("the room moved to node b %.1f s after node a was killed", moved.Seconds())
	if moved < heartbeat {
		t.Errorf("the room moved %v after the kill: before even one heartbeat, so before the lease could have expired", moved)
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := taken.Hangup(hctx); err != nil {
		t.Error(err)
	}
}
