package sip

import (
	"crypto/tls"
	"errors"
	goio "io"
	"net"
	"os"
	"testing"
	"time"

	"brygga/internal/testcert"
)

// TestQuietConnectionsClosed: a TCP or TLS connection that sends nothing
// (not even a handshake) is closed after firstMessageTimeout; one that
// sent its first message may then stay quiet past it.
func TestQuietConnectionsClosed(t *testing.T) {
	old := firstMessageTimeout
	firstMessageTimeout = 200 * time.Millisecond
	t.Cleanup(func() { firstMessageTimeout = old })
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
			defer ln.Close()
			l := quietLimit{Listener: ln, tls: tc.srv}
			reads := make(chan error, 2)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						buf := make([]byte, 64)
						if _, err := c.Read(buf); err != nil {
							reads <- err
							return
						}
						// The first message came: the next read may wait.
						_, err := c.Read(buf)
						reads <- err
					}()
				}
			}()

			// A connection that says nothing is cut.
			silent, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			select {
			case err := <-reads:
				if !errors.Is(err, os.ErrDeadlineExceeded) && !isTimeout(err) {
					t.Fatalf("silent connection: %v, want a timeout", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a silent connection was not closed")
			}

			// One that speaks first may then be quiet for ten timeouts.
			var talker net.Conn
			if tc.srv != nil {
				talker, err = tls.Dial("tcp", ln.Addr().String(), cert.Client)
			} else {
				talker, err = net.Dial("tcp", ln.Addr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := goio.WriteString(talker, "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-reads:
				t.Fatalf("a connection that spoke was cut: %v", err)
			case <-time.After(10 * firstMessageTimeout):
			}
			talker.Close()
			if err := <-reads; !errors.Is(err, goio.EOF) {
				t.Fatalf("after the peer closed: %v, want EOF", err)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
