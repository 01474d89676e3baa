package sip

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// firstMessageTimeout is how long a new TCP or TLS connection may take to
// finish its handshake and send its first bytes. Real peers connect
// because they have a request to send; a connection that says nothing
// only holds a socket and a goroutine (sipgo sets no read deadline), and
// a few thousand of them are a cheap denial of service. After the first
// bytes there is no limit: a PBX trunk or a caller's connection may rightly
// stay quiet for the whole of a meeting. A variable for tests.
var firstMessageTimeout = 10 * time.Second

// quietLimit wraps a listener so that each connection must deliver its
// first bytes within firstMessageTimeout or be closed.
type quietLimit struct {
	net.Listener
	tls *tls.Config // nil: plain TCP
}

func (l quietLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.tls != nil {
		c = tls.Server(c, l.tls)
	}
	if err := c.SetReadDeadline(time.Now().Add(firstMessageTimeout)); err != nil {
		c.Close()
		return l.Accept()
	}
	return &firstRead{Conn: c}, nil
}

// firstRead lifts the read deadline once the first bytes have come (for
// TLS, once the handshake is done and the first record read).
type firstRead struct {
	net.Conn
	once sync.Once
}

func (c *firstRead) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.once.Do(func() { _ = c.Conn.SetReadDeadline(time.Time{}) })
	}
	return n, err
}
