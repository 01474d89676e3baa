package sip_test

// The RTP watchdog end to end: a phone whose RTP stops without a BYE is
// hung up on and leaves its room; a held phone is not. Linux only: the
// silent phone runs its RTP on a mixer.Clock (on other systems the phone
// ignores Config.Clock), and the test stops that clock.

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"brygga/media"
	"brygga/media/codec"
	"brygga/mixer"
	"brygga/phone"
	"brygga/sip"
	"brygga/sip/sdp"
)

// rtpGate is a Ticker that, once shut, blocks its clock's one shard: every
// call on that clock stops sending and reading RTP while its SIP goes on,
// as for a phone whose network dropped only the media, or a process that
// hangs in its audio path.
type rtpGate struct {
	once sync.Once
	shut chan struct{}
	open chan struct{}
}

func newRTPGate() *rtpGate {
	return &rtpGate{shut: make(chan struct{}), open: make(chan struct{})}
}

func (g *rtpGate) Tick() {
	select {
	case <-g.shut:
		<-g.open
	default:
	}
}

func (g *rtpGate) close()   { close(g.shut) }
func (g *rtpGate) release() { g.once.Do(func() { close(g.open) }) }

// silentPhone is a phone whose RTP runs on a one-shard clock the returned
// gate can stop.
func silentPhone(t *testing.T, user string) (*phone.Phone, *rtpGate) {
	t.Helper()
	clock := mixer.NewClock(mixer.ClockConfig{Shards: 1, CatchUp: -1})
	g := newRTPGate()
	p := newPhoneWith(t, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.1"), User: user, Codec: codec.PCMU, Clock: clock})
	clock.Add(g)
	t.Cleanup(g.release) // runs before the phone's Close
	return p, g
}

func withRTPTimeouts(to media.Timeouts) option {
	return withSIP(func(so *sip.Options) { so.Ports.SetTimeouts(to) })
}

// roomWithGate starts a bridge with RTP timeout and puts two callers in
// room 5000: other, an ordinary phone, and gated, whose RTP gate stops.
func roomWithGate(t *testing.T, timeout time.Duration) (b *bridge, other, gated *phone.Call, gate *rtpGate) {
	t.Helper()
	b = startBridge(t, roomYAML, withRTPTimeouts(media.Timeouts{RTP: timeout}))
	other = dial(t, newPhone(t, "other", codec.PCMU), b.target("5000"))
	gp, gate := silentPhone(t, "gated")
	gated = dial(t, gp, b.target("5000"))
	waitFor(t, "two participants", 20*time.Second, func() bool { return participants(b, "5000") == 2 })
	return b, other, gated, gate
}

func TestRTPTimeoutHangsUpOnSilentCaller(t *testing.T) {
	const timeout = 2 * time.Second
	b, other, ghost, gate := roomWithGate(t, timeout)

	gate.close() // no more RTP from the ghost, and no BYE either
	expectTimedOut(t, b, timeout, ghost, other)
	if s := other.Stats(); s.PacketsReceived == 0 {
		t.Error("the other caller heard nothing from the bridge")
	}
}

func TestRTPTimeoutSparesHeldCaller(t *testing.T) {
	const timeout = time.Second
	b, other, held, gate := roomWithGate(t, timeout)

	reinvite := func(dir sdp.Direction) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := held.Reinvite(ctx, phone.ReinviteOptions{Direction: dir}); err != nil {
			t.Fatalf("re-INVITE %s: %v", dir, err)
		}
	}
	reinvite(sdp.SendOnly)
	gate.close() // held, and silent with it

	// Several timeouts on hold: the call stays (the hold timeout is off).
	// Nothing is timed here; a wrongful hang-up shows as Done.
	select {
	case <-held.Done():
		t.Fatal("a held call was dropped for want of RTP")
	case <-time.After(4 * timeout):
	}
	if n := participants(b, "5000"); n != 2 {
		t.Fatalf("%d participants while one holds, want 2", n)
	}

	// Resumed and still silent: now the timeout applies again.
	reinvite(sdp.SendRecv)
	expectTimedOut(t, b, timeout, held, other)
}

// expectTimedOut waits for the bridge's BYE to silent, within the timeout
// and some slack, and for the room to see it leave while other stays.
func expectTimedOut(t *testing.T, b *bridge, timeout time.Duration, silent, other *phone.Call) {
	t.Helper()
	select {
	case <-silent.Done():
	case <-time.After(timeout + 10*time.Second):
		t.Fatal("the bridge did not hang up on a caller whose RTP stopped")
	}
	if !silent.EndedByRemote() {
		t.Error("the call should have ended by the bridge's BYE")
	}
	waitFor(t, "the silent caller to leave the room", 10*time.Second, func() bool { return participants(b, "5000") == 1 })
	select {
	case <-other.Done():
		t.Fatal("the caller still sending RTP was dropped too")
	default:
	}
}
