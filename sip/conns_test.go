package sip

import (
	"crypto/tls"
	goio "io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brygga/internal/connlimit"
	"brygga/internal/testcert"
)

// cuts records why connections were cut.
type cuts struct {
	mu      sync.Mutex
	reasons []string
}

func (c *cuts) add(r string) {
	c.mu.Lock()
	c.reasons = append(c.reasons, r)
	c.mu.Unlock()
}

func (c *cuts) last() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reasons...)
}

// TestStreamDeadlines: over TCP and TLS, a connection that says nothing,
// one byte, or trickles a message that never ends is cut by the message
// deadline, however steadily the bytes come; one that sent a message may
// be quiet until the idle deadline, and a ping does not count as activity;
// a connection that carries a call is never cut for being idle.
func TestStreamDeadlines(t *testing.T) {
	const message, idle = 300 * time.Millisecond, 900 * time.Millisecond
	cert := testcert.New(t)
	for _, tc := range []struct {
		name string
		srv  *tls.Config
	}{{"tcp", nil}, {"tls", cert.Server}} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var got cuts
			var busy atomic.Value // remote address that carries a "call"
			busy.Store("")
			lim := &streamLimits{
				message: message, idle: idle,
				busy:      func(remote string) bool { return remote == busy.Load().(string) },
				onTimeout: got.add,
				log:       slog.New(slog.DiscardHandler),
			}
			l := streamListener{Listener: connlimit.Wrap(ln, connlimit.Limits{}), tls: tc.srv, lim: lim}
			defer l.Close()
			// Each connection is read as sipgo reads it: until an error,
			// then closed. ended gets what the read loop ended with.
			ended := make(chan error, 8)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						buf := make([]byte, 512)
						for {
							if _, err := c.Read(buf); err != nil {
								ended <- err
								return
							}
						}
					}()
				}
			}()
			dial := func() net.Conn {
				t.Helper()
				var c net.Conn
				var err error
				if tc.srv != nil {
					c, err = tls.Dial("tcp", ln.Addr().String(), cert.Client)
				} else {
					c, err = net.Dial("tcp", ln.Addr().String())
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			// cut waits for the server to end a connection and checks why.
			cut := func(what, reason string) {
				t.Helper()
				select {
				case err := <-ended:
					if err != goio.EOF {
						t.Fatalf("%s: the read loop ended with %v, want EOF", what, err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: not cut", what)
				}
				if r := got.last(); len(r) == 0 || r[len(r)-1] != reason {
					t.Fatalf("%s: cut for %v, want %s last", what, r, reason)
				}
			}
			notCut := func(what string, d time.Duration) {
				t.Helper()
				select {
				case err := <-ended:
					t.Fatalf("%s: cut (%v, reasons %v)", what, err, got.last())
				case <-time.After(d):
				}
			}

			// Raw TCP, no handshake: nothing at all.
			if tc.srv == nil {
				dial()
				cut("silent", cutMessage)
				c := dial()
				goio.WriteString(c, "O")
				cut("one byte", cutMessage)
			} else {
				raw, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				raw.Write([]byte{0x16}) // a handshake record's first byte
				cut("one byte of a handshake", cutMessage)
			}

			// A message that never ends, a byte per third of the deadline.
			c := dial()
			stop := make(chan struct{})
			trickled := make(chan int, 1)
			go func() {
				n := 0
				defer func() { trickled <- n }()
				for _, b := range []byte(optionsMsg[:len(optionsMsg)-2]) {
					select {
					case <-stop:
						return
					case <-time.After(message / 3):
					}
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					n++
				}
			}()
			cut("trickle", cutMessage)
			close(stop)
			// Bounded in count, not time: three bytes per deadline, and
			// a generous allowance for a slow machine.
			if n := <-trickled; n > 30 {
				t.Fatalf("the trickle got %d bytes in before it was cut", n)
			}

			// A whole message, then quiet: cut at the idle deadline, not
			// the message one; a ping in between earns nothing.
			c = dial()
			goio.WriteString(c, optionsMsg)
			notCut("quiet after a message", 2*message)
			goio.WriteString(c, "\r\n\r\n")
			cut("idle after a message and a ping", cutIdle)

			// The same with a call on it: kept past three idle deadlines,
			// cut once the call is over.
			c = dial()
			goio.WriteString(c, optionsMsg)
			busy.Store(c.LocalAddr().String())
			notCut("a connection with a call", 3*idle)
			busy.Store("")
			cut("idle once the call is over", cutIdle)
		})
	}
}

// TestStreamWriteDeadline: a peer that stops reading holds a write for
// message_timeout at most; the connection is then closed and the cut
// counted.
func TestStreamWriteDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var got cuts
	lim := &streamLimits{message: 300 * time.Millisecond, idle: time.Minute, onTimeout: got.add, log: slog.New(slog.DiscardHandler)}
	l := streamListener{Listener: connlimit.Wrap(ln, connlimit.Limits{}), lim: lim}
	defer l.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close() // and never read from
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		// More than any socket buffer holds.
		_, err := c.Write(make([]byte, 64<<20))
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a write to a peer that does not read was never given up")
	}
	if !isTimeout(err) {
		t.Fatalf("write ended with %v, want a timeout", err)
	}
	if r := got.last(); len(r) != 1 || r[0] != cutWrite {
		t.Fatalf("cuts %v, want one for the write", r)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection was left open after the write timed out")
	}
}

// BenchmarkStreamConnRead reads a long message body a kilobyte at a time,
// as a large INVITE or a stream of TLS records comes: the deadline is the
// same for every read of one message.
func BenchmarkStreamConnRead(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	lim := &streamLimits{message: time.Minute, idle: time.Minute, log: slog.New(slog.DiscardHandler)}
	l := streamListener{Listener: connlimit.Wrap(ln, connlimit.Limits{}), lim: lim}
	defer l.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	c, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() {
		head := "MESSAGE sip:x SIP/2.0\r\nContent-Length: 4000000000\r\n\r\n"
		if _, err := peer.Write([]byte(head)); err != nil {
			return
		}
		_, _ = goio.Copy(peer, zeros{})
	}()
	buf := make([]byte, 1024)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := goio.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
