package phone

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestKernelArrivalStamp: a datagram that waited in the socket while no
// one read carries the time it arrived, not the time it was read.
func TestKernelArrivalStamp(t *testing.T) {
	conn, err := listenRTP(netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	sent := time.Now()
	if _, err := tx.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the packet waits, as for a busy receiver
	buf, oob := make([]byte, 16), make([]byte, oobSize)
	_, oobn, _, _, err := conn.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	read := time.Now()
	at, ok := stampOf(oob[:oobn], read)
	if !ok {
		t.Fatal("no kernel timestamp on the datagram")
	}
	if at.Before(sent.Add(-time.Millisecond)) || at.After(sent.Add(100*time.Millisecond)) {
		t.Errorf("stamped %v after sending, read %v after: want the arrival, not the read", at.Sub(sent), read.Sub(sent))
	}
	// The stamp keeps a monotonic reading: it subtracts from a monotonic
	// time like any time.Now.
	if d := read.Sub(at); d < 100*time.Millisecond {
		t.Errorf("read %v after the stamp, slept 200ms", d)
	}
	if _, ok := stampOf(oob[:oobn], read.Add(time.Hour)); ok {
		t.Error("a stamp an hour old (a stepped clock) was believed")
	}
	if _, ok := stampOf(nil, read); ok {
		t.Error("no control message, yet a stamp")
	}
}
