// Package connlimit caps how many connections a stream listener holds
// open, in total and per source address. Every connection costs a file
// descriptor and at least one goroutine, and the descriptor limit is shared
// with everything else the process does (RTP sockets, the store), so a
// single host that opens connections and keeps them must not be able to
// use it up. A connection over a cap is closed at once after accept,
// before any handshake or read: refusing costs one accept and one close.
package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Reasons a connection is refused, as OnRefuse gets them.
const (
	Total  = "total"  // the listener holds Max connections already
	Source = "source" // the source holds PerSource connections already
)

// Limits are the caps of one listener. Zero values mean no cap.
type Limits struct {
	Max       int // connections open at once, from every source together
	PerSource int // connections open at once from one address

	// Exempt sources are counted but never refused (the PBX of a SIP
	// listener carries everyone's calls). Nil: none.
	Exempt func(netip.Addr) bool

	// OnRefuse is told of every connection closed for a cap, with its
	// source and Total or Source; first is true for the first refusal
	// of a source since it last had no connection open, so a log line
	// per episode rather than per connection is easy. Nil: not told.
	OnRefuse func(src netip.Addr, reason string, first bool)
}

// Limiter counts the connections of one or more listeners against one set
// of Limits: a SIP server's TCP and TLS listeners share their total.
type Limiter struct {
	lim Limits

	mu      sync.Mutex
	open    int
	sources map[netip.Addr]*source
}

type source struct {
	open    int
	refused bool // refused since its count was last zero
}

// New makes a Limiter; Wrap puts listeners under it.
func New(lim Limits) *Limiter {
	return &Limiter{lim: lim, sources: make(map[netip.Addr]*source)}
}

// Wrap applies lim to l alone.
func Wrap(l net.Listener, lim Limits) *Listener { return New(lim).Wrap(l) }

// Wrap puts l under the limiter's caps.
func (lm *Limiter) Wrap(l net.Listener) *Listener { return &Listener{Listener: l, lm: lm} }

// Open is the number of connections accepted and not yet closed.
func (lm *Limiter) Open() int {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	return lm.open
}

// Listener is a listener under a Limiter.
type Listener struct {
	net.Listener
	lm *Limiter
}

// Open is the number of connections open under the listener's Limiter.
func (l *Listener) Open() int { return l.lm.Open() }

// maxAcceptDelay bounds the pause after a failed accept (too many open
// files): long enough not to spin, short enough that service resumes as
// soon as descriptors are free again.
const maxAcceptDelay = time.Second

// Accept returns the next connection within the caps. A connection over a
// cap is closed and Accept goes on waiting. A temporary failure, such as
// running out of descriptors, is waited out rather than returned: sipgo
// stops serving a listener for good on the first error Accept returns.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne interface{ Temporary() bool }
			if errors.As(err, &ne) && ne.Temporary() && !errors.Is(err, net.ErrClosed) {
				delay = min(max(2*delay, 5*time.Millisecond), maxAcceptDelay)
				time.Sleep(delay)
				continue
			}
			return nil, err
		}
		delay = 0
		src := addrOf(c.RemoteAddr())
		if reason, first := l.lm.admit(src); reason != "" {
			c.Close()
			if l.lm.lim.OnRefuse != nil {
				l.lm.lim.OnRefuse(src, reason, first)
			}
			continue
		}
		return &conn{Conn: c, lm: l.lm, src: src}, nil
	}
}

// admit counts a new connection from src, or says why it is refused. A
// source without an address (a unix socket's peer) is only counted.
func (lm *Limiter) admit(src netip.Addr) (reason string, first bool) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	exempt := !src.IsValid() || (lm.lim.Exempt != nil && lm.lim.Exempt(src))
	s := lm.sources[src]
	switch {
	case exempt:
	case lm.lim.Max > 0 && lm.open >= lm.lim.Max:
		reason = Total
	case lm.lim.PerSource > 0 && s != nil && s.open >= lm.lim.PerSource:
		reason = Source
	}
	if reason != "" {
		if s == nil {
			// Refused for the total with nothing open of its own: no
			// entry to remember the episode by, so every one is first.
			return reason, true
		}
		first = !s.refused
		s.refused = true
		return reason, first
	}
	lm.open++
	if s == nil {
		s = &source{}
		lm.sources[src] = s
	}
	s.open++
	return "", false
}

func (lm *Limiter) release(src netip.Addr) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	lm.open--
	if s := lm.sources[src]; s != nil {
		if s.open--; s.open <= 0 {
			delete(lm.sources, src)
		}
	}
}

// addrOf is a connection's source address, IPv4 seen through a dual-stack
// socket as IPv4; invalid when the peer has no IP address.
func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return ap.Addr().Unmap().WithZone("")
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}

// conn gives its place back when closed (once, however often Close is
// called).
type conn struct {
	net.Conn
	lm   *Limiter
	src  netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.lm.release(c.src) })
	return err
}
