package sip

import (
	"crypto/tls"
	"errors"
	goio "io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	ssip "github.com/emiago/sipgo/sip"

	"brygga/internal/connlimit"
)

// Defaults of the stream connection limits, for Options left at zero.
const (
	// defaultMessageTimeout: a real peer sends a whole SIP message (a few
	// kilobytes at most, in one or two TCP segments) well within a
	// second; ten leave room for a TLS handshake over a slow link.
	defaultMessageTimeout = 10 * time.Second
	// defaultIdleTimeout: a connection with no call on it and nothing to
	// say for two minutes is closed; its peer connects again when it has a
	// request. Connections that carry a call are never idle (streamConn).
	defaultIdleTimeout = 2 * time.Minute
)

// Reasons a stream connection is cut, for OnConnectionTimeout.
const (
	cutMessage = "message" // a message (or the first one) not complete within message_timeout
	cutIdle    = "idle"    // nothing for idle_timeout, and no call on the connection
	cutWrite   = "write"   // the peer took nothing we sent for message_timeout
)

// streamLimits are the deadlines every TCP and TLS connection meets. sipgo
// sets none: a connection that said one byte, or nothing, would hold its
// socket and goroutine for ever.
type streamLimits struct {
	message, idle time.Duration
	// busy reports whether the connection with this remote address
	// carries a live call.
	busy      func(remote string) bool
	onTimeout func(reason string)
	log       *slog.Logger
}

func (l *streamLimits) cut(reason, remote string) {
	l.log.Debug("sip connection closed", "remote", remote, "why", reason)
	if l.onTimeout != nil {
		l.onTimeout(reason)
	}
}

// streamListener accepts within the connection caps, starts TLS when tls
// is set, and gives each connection its deadlines.
type streamListener struct {
	*connlimit.Listener
	tls *tls.Config // nil: plain TCP
	lim *streamLimits
}

func (l streamListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.tls != nil {
		c = tls.Server(c, l.tls)
	}
	return &streamConn{Conn: c, lim: l.lim, remote: c.RemoteAddr().String(), clock: newConnClock(time.Now())}, nil
}

// streamConn sets the read deadline before every read from its clock:
// while a message is in progress it must be complete within message_timeout
// of its first byte; between messages the connection may be quiet for
// idle_timeout. When the idle deadline passes on a connection that carries
// a live call, the idle time starts afresh instead: the bridge sends its
// BYE back on the caller's connection (RFC 5923), and a PBX trunk may
// rightly say nothing for a whole meeting. A cut connection reads as EOF,
// so sipgo closes it as if the peer had.
type streamConn struct {
	net.Conn
	lim    *streamLimits
	remote string
	clock  connClock // only Read touches it: sipgo reads a connection from one goroutine
	// armed is the read deadline last set. Reads within one message, and
	// keep-alives between messages, keep the same deadline, and setting it
	// again would reset the poller's timer for nothing.
	armed time.Time
}

func (c *streamConn) Read(b []byte) (int, error) {
	for {
		if d := c.clock.deadline(c.lim.message, c.lim.idle); !d.Equal(c.armed) {
			if err := c.Conn.SetReadDeadline(d); err != nil {
				return 0, err
			}
			c.armed = d
		}
		n, err := c.Conn.Read(b)
		if n > 0 {
			c.clock.read(b[:n], time.Now())
			return n, err
		}
		if !isTimeout(err) {
			return n, err
		}
		if !c.clock.inMessage() && c.lim.busy != nil && c.lim.busy(c.remote) {
			c.clock.rest(time.Now())
			continue
		}
		reason := cutIdle
		if c.clock.inMessage() {
			reason = cutMessage
		}
		c.lim.cut(reason, c.remote)
		c.Conn.Close()
		return 0, goio.EOF
	}
}

// Write gives every write message_timeout: a peer that stops reading must
// not hold the goroutine that answers it. A timed-out write leaves a TLS
// connection unusable, so the connection is closed.
func (c *streamConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.lim.message)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	if isTimeout(err) {
		c.lim.cut(cutWrite, c.remote)
		c.Conn.Close()
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// carriesCall reports whether the TCP or TLS connection from remote
// (ip:port, as sipgo names a request's source) brought in a call that is
// still up. It scans the calls, but only when a connection has been idle
// for idle_timeout.
func (s *Server) carriesCall(remote string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if ssip.IsReliable(c.transport) && c.dlg.InviteRequest.Source() == remote {
			return true
		}
	}
	return false
}

// connectionRefused counts a connection closed for a cap and logs it: at
// WARN for an untrusted source over its own cap, once per source and
// episode (a fixed line for fail2ban), and at WARN at most once a minute
// while the total is full, since then many sources are refused at once.
func (s *Server) connectionRefused(src netip.Addr, reason string, first bool) {
	switch {
	case reason == connlimit.Source && first:
		s.log.Warn("sip connections", "source", src, "max", s.opts.Connections.MaxPerSource)
	case reason == connlimit.Total:
		now := time.Now().UnixNano()
		if last := s.fullSince.Load(); now-last >= int64(time.Minute) && s.fullSince.CompareAndSwap(last, now) {
			s.log.Warn("sip max_connections reached", "max", s.opts.Connections.Max, "source", src)
		}
	}
	if s.opts.OnConnectionRefused != nil {
		s.opts.OnConnectionRefused(reason)
	}
}
