package sip_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	ssip "github.com/emiago/sipgo/sip"

	"brygga/media/codec"
	"brygga/phone"
	"brygga/sip"
)

// homes is a cluster as one node's SIP layer sees it: rooms held by other
// nodes, a database that may be away, and the claims of this node's calls.
type homes struct {
	mu        sync.Mutex
	elsewhere map[string]string // room → HOST:PORT of its node
	err       error
	claims    int
	leaves    int
}

func (h *homes) Claim(_ context.Context, room string) (string, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return "", nil, h.err
	}
	if n := h.elsewhere[room]; n != "" {
		return n, nil, nil
	}
	h.claims++
	return "", func() {
		h.mu.Lock()
		h.leaves++
		h.mu.Unlock()
	}, nil
}

func (h *homes) counts() (claims, leaves int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.claims, h.leaves
}

func withHomes(h sip.Homes) option {
	return withSIP(func(o *sip.Options) { o.Homes = h })
}

// A caller of a room another node mixes gets a 302 to that node, with the
// user as dialled (the PIN too), and no media port here; a caller that
// follows it joins the room there. Each call answered here ends its claim
// once.
func TestRedirectToTheRoomsNode(t *testing.T) {
	ha := &homes{}
	a := startBridge(t, roomYAML, withHomes(ha))
	aAddr := strings.TrimPrefix(a.target(""), "sip:@")
	hb := &homes{elsewhere: map[string]string{"4711": aAddr}}
	b := startBridge(t, roomYAML, withHomes(hb))

	host := dial(t, newPhone(t, "host", codec.PCMU), a.target("4711*97531"))
	waitFor(t, "the host in the room", 15*time.Second, func() bool { return participants(a, "4711") == 1 })

	guest := newPhone(t, "guest", codec.PCMU)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := guest.Dial(ctx, b.target("4711*2468"))
	var se *phone.StatusError
	if want := "sip:4711*2468@" + aAddr; !errors.As(err, &se) || se.Code != 302 || se.Contact != want {
		t.Fatalf("dial of node b: %v (contact %q), want 302 to %s", err, se.Contact, want)
	}
	if n := b.ports.InUse(); n != 0 {
		t.Errorf("node b holds %d media ports for a caller it redirected", n)
	}
	c, err := guest.Dial(ctx, b.target("4711*2468"), phone.WithRedirects(1))
	if err != nil {
		t.Fatalf("dial following the redirect: %v", err)
	}
	if c.Target() != "sip:4711*2468@"+aAddr {
		t.Errorf("the call ended up at %s", c.Target())
	}
	waitFor(t, "the guest in the room on node a", 15*time.Second, func() bool { return participants(a, "4711") == 2 })
	if n := participants(b, "4711"); n != 0 {
		t.Errorf("%d in 4711 on node b", n)
	}
	hangup(t, c)
	hangup(t, host)
	waitFor(t, "both calls' claims ended", 10*time.Second, func() bool {
		claims, leaves := ha.counts()
		return claims == 2 && leaves == 2
	})
	if claims, leaves := hb.counts(); claims != 0 || leaves != 0 {
		t.Errorf("node b: %d claims, %d ends, want none", claims, leaves)
	}
	checkIdle(t, a)
	checkIdle(t, b)
}

// When the cluster cannot say where a room is mixed, its callers get 503
// with Retry-After and no media port; a refused INVITE ends its claim.
func TestRoomNotPlaced(t *testing.T) {
	h := &homes{err: errors.New("connection refused")}
	b := startBridge(t, roomYAML, withHomes(h))
	raw := newRawUA(t)
	const offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	res := raw.request(t, ssip.INVITE, b.target("4711"), "application/sdp", []byte(offer))
	if ra := res.GetHeader("Retry-After"); res.StatusCode != 503 || ra == nil || ra.Value() != "5" {
		t.Fatalf("%d %s (Retry-After %v), want 503 with Retry-After: 5", res.StatusCode, res.Reason, ra)
	}
	if n := b.ports.InUse(); n != 0 {
		t.Errorf("%d media ports held", n)
	}
	// A room that does not exist, or an offer the bridge cannot take,
	// claims nothing.
	h.mu.Lock()
	h.err = nil
	h.mu.Unlock()
	if res := raw.request(t, ssip.INVITE, b.target("9999"), "application/sdp", []byte(offer)); res.StatusCode != 404 {
		t.Errorf("unknown room: %d", res.StatusCode)
	}
	if res := raw.request(t, ssip.INVITE, b.target("4711"), "application/sdp", []byte(strings.ReplaceAll(offer, "RTP/AVP 0\r\na=rtpmap:0 PCMU", "RTP/AVP 18\r\na=rtpmap:18 G729"))); res.StatusCode != 488 {
		t.Errorf("G.729 only: %d", res.StatusCode)
	}
	if claims, _ := h.counts(); claims != 0 {
		t.Errorf("%d claims for refused INVITEs", claims)
	}
	checkIdle(t, b)
}
