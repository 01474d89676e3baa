//go:build linux && !386

package media

import (
	"testing"
	"time"

	"brygga/media/codec"
)

// Packets are read up to a tick after they arrive, all at once; the
// jitter estimate must use the kernel's arrival times, not the read time,
// or a steady sender would look 20 ms jittery.
func TestSessionJitterFromKernelStamps(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: true})
	frame := make([]int16, 160)
	next := time.Now()
	for range 20 {
		p.sendAudio(s.LocalAddr(), frame)
		next = next.Add(20 * time.Millisecond)
		time.Sleep(time.Until(next))
	}
	s.Start()
	st := s.Stats()
	if st.PacketsIn != 20 {
		t.Fatalf("%d packets", st.PacketsIn)
	}
	// Read together, the arrivals would give about 15 ms.
	if st.Jitter > 6*time.Millisecond {
		t.Errorf("jitter %v for a steady sender", st.Jitter)
	}
	if age := time.Since(s.LastReceived()); age < 15*time.Millisecond || age > 10*time.Second {
		t.Errorf("last packet received %v ago, want the time it arrived (about 20 ms ago)", age)
	}
}
