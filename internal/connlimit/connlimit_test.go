package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address src (any 127.x
// address is local on Linux).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer reports whether the server closed c: a read sees EOF (or a
// reset) within a few seconds rather than the read timing out.
func closedByPeer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

type refusal struct {
	src    netip.Addr
	reason string
	first  bool
}

// serve accepts on a capped listener and holds every connection open
// until the test ends; accepted receives each one.
func serve(t *testing.T, lim Limits) (*Listener, chan net.Conn, *[]refusal, *sync.Mutex) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []refusal
	lim.OnRefuse = func(src netip.Addr, reason string, first bool) {
		mu.Lock()
		refused = append(refused, refusal{src, reason, first})
		mu.Unlock()
	}
	l := Wrap(ln, lim)
	accepted := make(chan net.Conn, 100)
	go acceptAll(l, accepted)
	t.Cleanup(func() {
		l.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	return l, accepted, &refused, &mu
}

// acceptAll hands every connection l accepts to accepted until l closes.
func acceptAll(l *Listener, accepted chan<- net.Conn) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		accepted <- c
	}
}

func take(t *testing.T, accepted chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-accepted:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("a connection within the caps was not accepted")
		return nil
	}
}

// TestPerSourceCap: a source at its cap has its next connection closed at
// once, while another source still gets in; closing one frees its place.
func TestPerSourceCap(t *testing.T) {
	l, accepted, refused, mu := serve(t, Limits{PerSource: 3})
	addr := l.Addr().String()
	var held []net.Conn
	for range 3 {
		dialFrom(t, "127.0.0.66", addr)
		held = append(held, take(t, accepted))
	}
	over := dialFrom(t, "127.0.0.66", addr)
	if !closedByPeer(over) {
		t.Fatal("a fourth connection from 127.0.0.66 was not closed")
	}
	again := dialFrom(t, "127.0.0.66", addr)
	if !closedByPeer(again) {
		t.Fatal("a fifth connection from 127.0.0.66 was not closed")
	}
	other := dialFrom(t, "127.0.0.67", addr)
	take(t, accepted)
	if closedByPeer(other) {
		t.Fatal("127.0.0.67 was refused for 127.0.0.66's connections")
	}
	if n := l.Open(); n != 4 {
		t.Fatalf("Open %d, want 4", n)
	}
	mu.Lock()
	got := append([]refusal(nil), *refused...)
	mu.Unlock()
	want := netip.MustParseAddr("127.0.0.66")
	if len(got) != 2 || got[0] != (refusal{want, Source, true}) || got[1] != (refusal{want, Source, false}) {
		t.Fatalf("refusals %+v, want two for 127.0.0.66, the first marked first", got)
	}

	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("Open %d after a close, want 3", l.Open())
		}
		time.Sleep(10 * time.Millisecond)
	}
	dialFrom(t, "127.0.0.66", addr)
	take(t, accepted)
}

// TestTotalCapAndExempt: past the total cap every source is refused but an
// exempt one, which no cap applies to.
func TestTotalCapAndExempt(t *testing.T) {
	trusted := netip.MustParseAddr("127.0.0.1")
	l, accepted, refused, mu := serve(t, Limits{Max: 2, PerSource: 1, Exempt: func(a netip.Addr) bool { return a == trusted }})
	addr := l.Addr().String()
	dialFrom(t, "127.0.0.66", addr)
	take(t, accepted)
	dialFrom(t, "127.0.0.67", addr)
	take(t, accepted)
	if c := dialFrom(t, "127.0.0.68", addr); !closedByPeer(c) {
		t.Fatal("a third source past the total cap of 2 was let in")
	}
	for range 3 {
		dialFrom(t, "127.0.0.1", addr)
		take(t, accepted)
	}
	if n := l.Open(); n != 5 {
		t.Fatalf("Open %d, want 5 (exempt connections are counted)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(*refused) != 1 || (*refused)[0].reason != Total {
		t.Fatalf("refusals %+v, want one for the total", *refused)
	}
}

// TestCloseReleasesOnce: closing a connection twice gives back one place.
func TestCloseReleasesOnce(t *testing.T) {
	l, accepted, _, _ := serve(t, Limits{PerSource: 2})
	dialFrom(t, "127.0.0.66", l.Addr().String())
	c := take(t, accepted)
	dialFrom(t, "127.0.0.66", l.Addr().String())
	take(t, accepted)
	c.Close()
	c.Close()
	if n := l.Open(); n != 1 {
		t.Fatalf("Open %d after closing one of two twice, want 1", n)
	}
}

// TestSharedTotal: listeners under one Limiter count against one total, as
// a SIP server's TCP and TLS listeners do.
func TestSharedTotal(t *testing.T) {
	lm := New(Limits{Max: 2})
	var ls []*Listener
	accepted := make(chan net.Conn, 4)
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := lm.Wrap(ln)
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
		go acceptAll(l, accepted)
	}
	t.Cleanup(func() {
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	})
	dialFrom(t, "127.0.0.66", ls[0].Addr().String())
	take(t, accepted)
	dialFrom(t, "127.0.0.67", ls[1].Addr().String())
	take(t, accepted)
	if c := dialFrom(t, "127.0.0.68", ls[1].Addr().String()); !closedByPeer(c) {
		t.Fatal("the second listener let in a third connection past the shared total of 2")
	}
	if n := ls[0].Open(); n != 2 {
		t.Fatalf("Open %d, want 2 across both listeners", n)
	}
}
