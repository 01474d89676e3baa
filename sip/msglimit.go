package sip

// Limits on what one SIP message may carry, on top of what sipgo enforces
// itself (sipgo v1.7.2):
//
//   - UDP: a datagram is read into a 32 KiB buffer (sip.TransportBufferReadSize);
//     the kernel cuts a longer one short, and the rest fails to parse or
//     fails the Content-Length check below.
//   - TCP and TLS: a message may be at most 65535 bytes
//     (sip.ParseMaxMessageLength), headers and body together; a longer one
//     or any framing error closes the connection.
//   - A request without Via or CSeq gets a stateless 400 from the
//     transaction layer; one that does not parse at all gets nothing.
//
// Nothing in sipgo counts header fields or bounds a body below the message
// size, and over UDP a request whose Content-Length promises more than the
// datagram holds is silently dropped, where RFC 3261 §18.3 asks for a 400.
// That is what this file adds.

import (
	"bytes"
	"strconv"
	"strings"

	ssip "github.com/emiago/sipgo/sip"
)

const (
	// maxHeaderFields caps the header fields of a request, counting each
	// value sipgo parses separately. A real INVITE through a PBX and a
	// couple of proxies carries 15–40 (a Via and a Record-Route per hop,
	// P-Asserted-Identity, Session-Expires, Supported, Allow, …); 100 is
	// more than twice the longest seen from a real trunk, and keeps what a
	// crafted request costs (each field parsed, looked up, and the Vias
	// copied into every response) small. More: 400.
	maxHeaderFields = 100

	// maxBodySize caps a request body. An audio SDP offer is 300–800
	// bytes; one with video, ICE candidates and SRTP crypto lines stays
	// under 4 KiB, and a DTMF INFO body is a few dozen bytes. 16 KiB is
	// four times the largest real offer, so no phone is refused, while the
	// SDP parser and negotiation never see tens of kilobytes. More: 413
	// (RFC 3261 §21.4.11); an ACK, which has no response, is dropped.
	maxBodySize = 16 << 10

	// maxContentLengthDigits is the most digits a Content-Length may have in
	// the UDP check: no datagram holds more than 65535 bytes, so ten
	// digits (a value up to 9999999999) is already plainly wrong, and a
	// bound keeps the parse from overflowing.
	maxContentLengthDigits = 10
)

// malformedHeader marks a UDP request that udpReadFilter had to rewrite so
// that sipgo would parse it at all; withinLimits answers it with 400. A
// sender that puts this header in itself only earns the same 400.
const malformedHeader = "X-Brygga-Malformed"

// udpReadFilter runs on every datagram before sipgo parses it (sipgo's
// transport read filter; stream transports pass untouched, their reads are
// not messages). A request whose Content-Length is not a number, appears
// twice with different values, or promises more body than the datagram
// holds would be dropped by sipgo without a word and retransmitted by its
// sender for half a minute. RFC 3261 §18.3 and RFC 4475 §3.1.2.2 and
// §3.1.2.3 ask for 400 Bad Request: the request is rewritten to its
// headers without a body, with Content-Length: 0 and malformedHeader, so
// that it goes through the transaction layer like any other and gets its
// 400 there. A filter error would stop sipgo's UDP read loop, so this never
// returns one.
func udpReadFilter(p ssip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(p.Transport, "udp") {
		return data, nil
	}
	if out, bad := checkContentLength(data); bad {
		return out, nil
	}
	return data, nil
}

// checkContentLength looks at a datagram's header section only (a cheap
// scan: no allocation unless the request is rewritten) and reports whether
// it is a request with a Content-Length that cannot be right, with the
// rewritten request to hand on.
func checkContentLength(data []byte) ([]byte, bool) {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 || bytes.HasPrefix(data, []byte("SIP/")) {
		// No header section (sipgo drops it), or a response: a response
		// with a bad length is discarded (RFC 3261 §18.3), as sipgo does.
		return nil, false
	}
	head, body := data[:end+2], data[end+4:]
	first := bytes.Index(head, []byte("\r\n"))
	bad := false
	length := -1
	forEachField(head[first+2:], func(name, value []byte) {
		if !isContentLength(name) {
			return
		}
		n, ok := parseLength(value)
		switch {
		case !ok, length >= 0 && n != length:
			bad = true
		default:
			length = n
		}
	})
	if !bad && length <= len(body) {
		return nil, false
	}
	var b bytes.Buffer
	b.Grow(len(head) + 64)
	b.Write(head[:first+2])
	forEachLine(head[first+2:], func(field []byte) {
		if name, _, ok := bytes.Cut(field, []byte(":")); ok && isContentLength(bytes.TrimSpace(name)) {
			return
		}
		b.Write(field)
	})
	b.WriteString("Content-Length: 0\r\n" + malformedHeader + ": content-length\r\n\r\n")
	return b.Bytes(), true
}

// forEachLine calls f with each header field of head (which ends in CRLF),
// folded continuation lines included, CRLFs kept.
func forEachLine(head []byte, f func(field []byte)) {
	for len(head) > 0 {
		n := 0
		for {
			i := bytes.Index(head[n:], []byte("\r\n"))
			if i < 0 {
				n = len(head)
				break
			}
			n += i + 2
			if n >= len(head) || (head[n] != ' ' && head[n] != '\t') {
				break
			}
		}
		f(head[:n])
		head = head[n:]
	}
}

// forEachField calls f with each header field's name and value, trimmed.
func forEachField(head []byte, f func(name, value []byte)) {
	forEachLine(head, func(field []byte) {
		if name, value, ok := bytes.Cut(field, []byte(":")); ok {
			f(bytes.TrimSpace(name), bytes.TrimSpace(value))
		}
	})
}

func isContentLength(name []byte) bool {
	return bytes.EqualFold(name, []byte("Content-Length")) || bytes.EqualFold(name, []byte("l"))
}

// parseLength parses a Content-Length value: digits only (RFC 3261 §25.1,
// 1*DIGIT), leading zeros allowed, folding whitespace ignored.
func parseLength(v []byte) (int, bool) {
	v = bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, v)
	if len(v) == 0 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v = bytes.TrimLeft(v, "0")
	if len(v) == 0 {
		return 0, true
	}
	if len(v) > maxContentLengthDigits {
		return 0, false
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}

// udpMaxMessage replaces sipgo's ssip.UDPMTUSize (1500, of which sipgo
// allows 1300 bytes) for what may be sent over UDP. sipgo refuses to send
// a larger message over UDP at all, and a response copies the request's
// Via, From, To, Call-ID and Record-Route: a 200 with SDP to an INVITE
// that crossed a few proxies, or any answer to RFC 4475's longreq, goes
// past 1300 bytes and was never sent, leaving the caller retransmitting.
// RFC 3261 §18.1.1's switch to TCP is for requests only (sipgo does not
// switch anyway; our own requests, BYEs, stay small); a larger response
// over UDP is fragmented by IP, which RFC 3261 §18.2.2 allows. The bound
// is the largest UDP payload, plus the 200 bytes sipgo takes off.
const udpMaxMessage = 65507 + 200

func init() { ssip.UDPMTUSize = udpMaxMessage }

// limitFor reports what a request is refused with for its size or shape,
// or 0 when it is within the limits and well formed as far as sipgo
// leaves it to us.
func limitFor(req *ssip.Request) (code int, reason, warning string) {
	switch {
	case req.GetHeader(malformedHeader) != nil:
		return 400, "Bad Request", "Content-Length does not match the body"
	case req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Via() == nil:
		// RFC 3261 §8.1.1 makes them mandatory, RFC 4475 §3.3.1 (insuf)
		// wants 400; sipgo's transaction layer insists on Via and CSeq
		// only, and the handlers take the others for granted.
		return 400, "Bad Request", "missing mandatory header field"
	case !strings.EqualFold(req.SipVersion, "SIP/2.0"):
		// RFC 3261 §8.2 and RFC 4475 §3.1.2.16 (badvers).
		return 505, "Version Not Supported", "SIP version not supported"
	case !strings.EqualFold(req.CSeq().MethodName.String(), req.Method.String()):
		// RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.17 and §3.1.2.18
		// (mismatch01, mismatch02). Compared without case: sipgo
		// upper-cases the Request-Line's method.
		return 400, "Bad Request", "CSeq method does not match the request"
	case len(req.Headers()) > maxHeaderFields:
		return 400, "Bad Request", "too many header fields"
	case len(req.Body()) > maxBodySize:
		return 413, "Request Entity Too Large", "message body too large"
	}
	return 0, "", ""
}

// withinLimits applies limitFor in the guard, after the abuse screen (a
// flood of oversized requests is dropped there, unanswered) and for
// trusted sources too: a PBX does not send such requests, so one that
// does is broken, not privileged.
func (s *Server) withinLimits(req *ssip.Request, tx ssip.ServerTransaction) bool {
	code, reason, warning := limitFor(req)
	if code == 0 {
		return true
	}
	s.log.Info("request refused", "method", req.Method, "source", req.Source(), "code", code, "why", warning)
	if req.IsAck() { // an ACK has no response
		return false
	}
	if isNewCall(req) {
		s.result("rejected")
	}
	res := ssip.NewResponseFromRequest(req, code, reason, nil)
	res.SipVersion = "SIP/2.0" // not the request's: a 505 answers SIP/7.0
	res.AppendHeader(ssip.NewHeader("Warning", `399 brygga "`+warning+`"`))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "code", code, "err", err)
	}
	return false
}
