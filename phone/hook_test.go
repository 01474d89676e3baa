package phone

import (
	"context"
	"sync"
	"testing"
	"time"

	"brygga/media/tone"
)

// TestReceiveHookSeesEveryPacket: the hook gets each packet the call
// accounts for, with the decoded audio, and nothing after Hangup returns.
func TestReceiveHookSeesEveryPacket(t *testing.T) {
	eachMedia(t, Config{RecordLimit: -1}, func(t *testing.T, cfg Config) {
		u := newUAS(t)
		p := newPhone(t, cfg)
		var (
			mu      sync.Mutex
			packets int
			audio   int
			ssrcs   = map[uint32]bool{}
			loud    int
			last    time.Time
			ordered = true
		)
		hook := func(pk Packet) {
			mu.Lock()
			defer mu.Unlock()
			packets++
			ssrcs[pk.SSRC] = true
			if pk.Arrival.Before(last) {
				ordered = false
			}
			last = pk.Arrival
			if pk.Audio != nil {
				audio++
				if len(pk.Audio) == 160 && tone.Power(pk.Audio, 1000, 8000) > -10 {
					loud++
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := p.Dial(ctx, u.target("room", "udp"), WithReceiveHook(hook))
		if err != nil {
			t.Fatal(err)
		}
		<-u.answered
		c.SetSource(sine(1000))
		eventually(t, 5*time.Second, "50 packets through the hook", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return loud >= 50
		})
		hangup(t, c)

		mu.Lock()
		defer mu.Unlock()
		st := c.Stats()
		if uint64(packets) != st.PacketsReceived {
			t.Errorf("hook saw %d packets, the call received %d", packets, st.PacketsReceived)
		}
		if audio != packets {
			t.Errorf("%d of %d packets had no audio: the UAS echoes only audio", packets-audio, packets)
		}
		if len(ssrcs) != 1 || !ssrcs[0x5eed] {
			t.Errorf("SSRCs %v, want only the UAS's 5eed", ssrcs)
		}
		if !ordered {
			t.Error("arrival times went backwards")
		}
		if m := c.Mark(); m == 0 {
			t.Error("a call that keeps no recording still counts positions")
		} else if got := len(c.Received()); got != 0 {
			t.Errorf("RecordLimit -1 kept %d samples", got)
		}
		n := packets
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		if packets != n {
			t.Errorf("hook called %d times after Hangup returned", packets-n)
		}
	})
}
