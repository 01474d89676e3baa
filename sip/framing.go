package sip

import (
	"math"
	"time"
)

// framing follows SIP message boundaries on a TCP or TLS byte stream, as
// RFC 3261 §7.5 and §18.3 frame them: a message runs from its first byte
// other than CR or LF to the empty line that ends its header fields, plus
// Content-Length bytes of body. CRs and LFs between messages are RFC 5626
// keep-alives (CRLF, or the CRLFCRLF ping) and belong to no message.
//
// It reads a stream as sipgo's parser does wherever sipgo accepts it (a
// fuzz test holds it to that); a stream sipgo refuses is closed by sipgo
// anyway. Were the two ever to differ, the connection would still meet a
// deadline, only perhaps the other one. It keeps a few bytes per
// connection and never looks back.
type framing struct {
	state  frameState
	field  fieldScan // the current header field, folded lines joined
	cr     bool      // the last byte was a CR
	start  bool      // the current line is the start-line
	line   int       // bytes of the current line before its CR
	length int64     // the message's Content-Length so far (the last one counts, as in sipgo)
	body   int64     // body bytes still to come
	done   int       // messages completed, for tests
}

type frameState uint8

const (
	between frameState = iota // no message in progress
	head                      // start-line and header fields
	body                      // Content-Length bytes after the empty line
)

// inMessage reports whether a message has begun and not yet ended.
func (f *framing) inMessage() bool { return f.state != between }

// feed moves f over the next bytes of the stream. begun reports that a
// message started in b and is still in progress at its end; ended that at
// least one message was completed in b.
func (f *framing) feed(b []byte) (begun, ended bool) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch f.state {
		case between:
			if c == '\r' || c == '\n' {
				continue
			}
			*f = framing{state: head, start: true, done: f.done}
			begun = true
			i-- // this byte is the start-line's first
		case head:
			f.headByte(c)
			if f.state == between {
				f.done++
				ended, begun = true, false
			}
		case body:
			take := int(min(f.body, int64(len(b)-i)))
			f.body -= int64(take)
			i += take - 1
			if f.body == 0 {
				f.state = between
				f.done++
				ended, begun = true, false
			}
		}
	}
	return begun, ended
}

// headByte takes one byte of the start-line or header fields.
func (f *framing) headByte(c byte) {
	if f.cr && c == '\n' {
		f.cr = false
		if f.line == 0 {
			// The empty line: the last field is complete, the body follows.
			f.endField()
			f.state, f.body = between, f.length
			if f.length > 0 {
				f.state = body
			}
			return
		}
		f.line = 0
		f.start = false
		return
	}
	if f.cr {
		// A CR not followed by LF is part of the line (sipgo refuses the
		// message; the deadline still runs).
		f.field.take('\r')
		f.line++
	}
	f.cr = c == '\r'
	if f.cr {
		return
	}
	if f.line == 0 && !f.start {
		if c == ' ' || c == '\t' {
			// A folded line continues the field before it, joined by
			// whitespace as sipgo joins it.
			f.field.take(' ')
			f.line++
			return
		}
		f.endField()
	}
	f.line++
	if !f.start {
		f.field.take(c)
	}
}

// endField notes a complete header field if it is a Content-Length.
func (f *framing) endField() {
	if n, ok := f.field.contentLength(); ok {
		f.length = n
	}
	f.field = fieldScan{}
}

// fieldScan reads one header field a byte at a time, keeping only what
// tells a Content-Length (RFC 3261 §20.14, compact form "l") and its value:
// the name up to nameKeep bytes, surrounding whitespace trimmed, and the
// value as a number, exactly as sipgo reads them (strconv.ParseUint of the
// trimmed value, 32 bits).
type fieldScan struct {
	name   [nameKeep]byte
	n      int  // name bytes taken, possibly more than nameKeep
	space  bool // whitespace after the name's last byte so far
	colon  bool // in the value
	digits int  // 0 before the value's digits, 1 in them, 2 after them
	bad    bool // the value is not a number
	value  int64
}

const nameKeep = len("content-length")

func (s *fieldScan) take(c byte) {
	ws := c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n'
	if !s.colon {
		switch {
		case c == ':':
			s.colon = true
		case ws:
			s.space = s.n > 0
		default:
			if s.space {
				s.keep(' ')
				s.space = false
			}
			s.keep(c)
		}
		return
	}
	switch {
	case ws:
		if s.digits == 1 {
			s.digits = 2
		}
	case c >= '0' && c <= '9' && s.digits < 2:
		s.digits = 1
		if s.value = s.value*10 + int64(c-'0'); s.value > math.MaxUint32 {
			s.bad = true
			s.value = 0
		}
	default:
		s.bad = true
	}
}

func (s *fieldScan) keep(c byte) {
	if s.n < nameKeep {
		s.name[s.n] = lower(c)
	}
	s.n++
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (s *fieldScan) contentLength() (int64, bool) {
	if !s.colon || s.bad || s.digits == 0 || s.n > nameKeep {
		return 0, false
	}
	name := string(s.name[:s.n])
	if name != "content-length" && name != "l" {
		return 0, false
	}
	return s.value, true
}

// connClock is when a connection's next read must arrive by: a message in
// progress must be complete within the message timeout of its first byte,
// and a connection between messages may stay quiet for the idle timeout
// from the end of the last one. A new connection counts as in a message
// from its accept: whatever it says first (the TLS handshake included)
// must be a complete message within the message timeout. Keep-alives
// between messages do not count as activity: a connection that only pings
// is idle.
type connClock struct {
	framing
	first bool      // the first message has not yet ended
	since time.Time // when the current message began, or the last one ended
}

func newConnClock(accepted time.Time) connClock {
	return connClock{first: true, since: accepted}
}

// read takes bytes read at now.
func (c *connClock) read(b []byte, now time.Time) {
	begun, ended := c.feed(b)
	switch {
	case ended:
		c.first = false
		c.since = now
	case begun && !c.first:
		c.since = now
	}
}

// inMessage reports whether the message timeout applies.
func (c *connClock) inMessage() bool { return c.first || c.framing.inMessage() }

// deadline is when the connection is cut unless a read completes first.
func (c *connClock) deadline(message, idle time.Duration) time.Time {
	if c.inMessage() {
		return c.since.Add(message)
	}
	return c.since.Add(idle)
}

// rest starts the idle time afresh at now (a connection kept for a call).
func (c *connClock) rest(now time.Time) {
	if !c.inMessage() {
		c.since = now
	}
}
