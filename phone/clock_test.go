package phone

import (
	"context"
	"runtime"
	"testing"
	"time"

	"brygga/mixer"
)

// TestClockedCallsShareGoroutines: on a clocked Phone the calls' media
// runs on the clock's few shard goroutines, not on two goroutines per
// call, and every call still sends and hears 50 packets a second.
func TestClockedCallsShareGoroutines(t *testing.T) {
	if !clockedSockets {
		t.Skip("no clocked sockets on this system")
	}
	const calls = 24
	clock := mixer.NewClock(mixer.ClockConfig{Shards: 4, CatchUp: -1})
	u := newUAS(t)
	p := newPhone(t, Config{Clock: clock})

	var cs []*Call
	for range calls {
		c, _ := dial(t, p, u, "udp")
		c.SetSource(sine(600))
		cs = append(cs, c)
	}
	eventually(t, 5*time.Second, "every call hearing its echo", func() bool {
		for _, c := range cs {
			if c.Stats().PacketsReceived < 25 {
				return false
			}
		}
		return true
	})
	if n := clock.Len(); n != calls {
		t.Errorf("clock ticks %d streams, want %d", n, calls)
	}
	// The UAS echoes each call on a goroutine of its own, and sipgo keeps
	// a few; the phone's media adds the clock's 4 shards. With a sender
	// and a receiver per call it would add 2 per call (measured: 33
	// goroutines here against 77).
	if g := runtime.NumGoroutine(); g > calls+4+20 {
		t.Errorf("%d goroutines for %d clocked calls", g, calls)
	}
	for _, c := range cs {
		st := c.Stats()
		if st.SeqGaps != 0 || st.Unknown != 0 || st.SendErrors != 0 {
			t.Errorf("stats %+v", st)
		}
	}
	before := make([]uint64, len(cs))
	for i, c := range cs {
		before[i] = c.Stats().PacketsReceived
	}
	time.Sleep(time.Second)
	for i, c := range cs {
		st := c.Stats()
		// 50 a second less what a loaded test machine may delay.
		if got := st.PacketsReceived - before[i]; got < 35 || got > 65 {
			t.Errorf("call %d heard %d packets in a second (late ticks %d)", i, got, st.LateTicks)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range cs {
		if err := c.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := clock.Len(); n != 0 {
		t.Errorf("%d streams still on the clock after every call ended", n)
	}
}
