package media

import "net/netip"

// Strict RTP where symmetric RTP applies: the bridge cannot take the
// caller's SDP address at its word (behind NAT it names an address nobody
// can reach), so it learns where the caller's packets come from. A
// learner decides that from each packet's source, SSRC and sequence
// number alone, so that a stranger who sends to the call's port is not
// heard (its RFC 4733 events are no key presses) and cannot make the
// bridge send elsewhere.
//
// The rule:
//
//   - Until a source is locked, a source becomes a candidate with its
//     first packet, and is locked once it has sent learnRun packets of one
//     SSRC with consecutive sequence numbers. Nothing is heard before the
//     lock: those few packets (60 ms of audio) are dropped.
//   - Once locked, only that address and port are heard, whatever SSRC it
//     sends (SIPp starts every play_dtmf on a new SSRC).
//   - Another source takes over (a NAT that rebinds the caller's port)
//     only after takeoverRun packets in a row that carry the SSRC last
//     heard from the locked source and continue its sequence numbers: the
//     first at most takeoverWindow past the last one heard, each next one
//     following the one before. A stranger who never saw the call's
//     packets does not know the SSRC (32 random bits) nor the sequence.
//   - Only sources on allowed addresses (the SIP source's or the SDP's IP
//     when the signalling is not trusted) are candidates at all.
const (
	learnRun       = 3
	takeoverRun    = 4
	takeoverWindow = 64
	maxCandidates  = 4
)

// verdict is what the learner makes of one packet.
type verdict uint8

const (
	drop    verdict = iota // not the call's source: a stranger
	pending                // not heard yet: a candidate on its way to lock or take over
	hear                   // from the locked source
	locked                 // hear, and the source is (newly) the call's: send there
)

// candidate is a source on its way to being locked (or taking over).
type candidate struct {
	src  netip.AddrPort
	ssrc uint32
	seq  uint16 // the last one it sent
	run  int    // packets in the run so far; 0: slot free
}

// learner is the strict-RTP state of one call. It is not safe for
// concurrent use: the session calls it under its lock.
type learner struct {
	// allow reports whether a source address may become the call's at all;
	// nil allows every address (trusted signalling).
	allow func(netip.Addr) bool

	locked bool
	source netip.AddrPort
	ssrc   uint32 // last heard from source
	seq    uint16 // highest heard from source in ssrc
	cands  [maxCandidates]candidate
}

// reset forgets everything learnt: a re-INVITE moved the media.
func (l *learner) reset() {
	allow := l.allow
	*l = learner{allow: allow}
}

// rtp judges one RTP packet (after SRTP authentication, if any).
func (l *learner) rtp(src netip.AddrPort, ssrc uint32, seq uint16) verdict {
	if l.locked && src == l.source {
		if ssrc != l.ssrc || int16(seq-l.seq) > 0 {
			l.ssrc, l.seq = ssrc, seq
		}
		return hear
	}
	if l.allow != nil && !l.allow(src.Addr()) {
		return drop
	}
	c := l.candidate(src)
	if !l.locked {
		if c.run > 0 && c.ssrc == ssrc && seq == c.seq+1 {
			c.run++
		} else {
			c.run = 1
		}
		c.ssrc, c.seq = ssrc, seq
		if c.run < learnRun {
			return pending
		}
	} else {
		switch {
		case ssrc != l.ssrc:
			c.run = 0
		case c.run > 0 && seq == c.seq+1:
			c.run++
		case seq-l.seq >= 1 && seq-l.seq <= takeoverWindow:
			c.run = 1
		default:
			c.run = 0
		}
		if c.run == 0 {
			c.src = netip.AddrPort{}
			return drop
		}
		c.seq = seq
		if c.run < takeoverRun {
			return pending
		}
	}
	l.locked, l.source, l.ssrc, l.seq = true, src, ssrc, seq
	l.cands = [maxCandidates]candidate{}
	return locked
}

// rtcp reports whether RTCP from src is heard: only from the locked source.
func (l *learner) rtcp(src netip.AddrPort) bool {
	return l.locked && src == l.source
}

// candidate returns src's slot, taking a free one or else the one with the
// shortest run: a stranger spraying from many ports can only push out
// sources no further along than its own.
func (l *learner) candidate(src netip.AddrPort) *candidate {
	var pick *candidate
	for i := range l.cands {
		c := &l.cands[i]
		if c.run > 0 && c.src == src {
			return c
		}
		if pick == nil || c.run < pick.run {
			pick = c
		}
	}
	*pick = candidate{src: src}
	return pick
}
