package sip

import (
	"sync"
	"time"

	ssip "github.com/emiago/sipgo/sip"

	"brygga/media"
)

// rtpTimeoutReason is the Reason (RFC 3326) on the BYE to a caller whose
// media stopped: 408, as for a request that timed out.
const rtpTimeoutReason = `SIP;cause=408;text="RTP timeout"`

// minRTPCheck keeps the watchdog from spinning on a deadline a hair away.
const minRTPCheck = 20 * time.Millisecond

// watchRTP hangs up, with a BYE carrying rtpTimeoutReason, on a caller
// that has sent no valid RTP (or RTCP) for the media session's timeout: a
// phone that lost power or network never sends BYE, and without this it
// would sit in its room until the meeting's time runs out. The conference
// sees Done close and lets the room hear the leave, as for a hang-up.
//
// While the caller holds (sendonly or inactive) or says it sends nothing
// (recvonly) the hold timeout applies instead, by default none: a held
// phone rightly sends nothing, for as long as the hold lasts, and the
// dialog itself stays alive (its re-INVITEs, our BYE if the room ends).
// Hold, resume and a new address start the count afresh.
//
// It costs one timer per call, woken about once per timeout: the packet
// path only stores a timestamp. The returned func stops it.
func (c *call) watchRTP() (stop func()) {
	t := c.sess.Timeouts()
	if t.RTP <= 0 && t.Hold <= 0 {
		return func() {}
	}
	w := &rtpWatch{c: c, t: t, poll: max(t.RTP, t.Hold)}
	if t.RTP > 0 && t.Hold > 0 {
		w.poll = min(t.RTP, t.Hold)
	}
	first := t.RTP
	if first <= 0 {
		first = w.poll
	}
	w.mu.Lock()
	w.timer = time.AfterFunc(first, w.check)
	w.mu.Unlock()
	return w.stop
}

// rtpWatch is one call's RTP watchdog.
type rtpWatch struct {
	c *call
	t media.Timeouts
	// poll: a check with the timeout off in the caller's state (held, no
	// hold timeout) looks again this much later, in case it resumes.
	poll time.Duration

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func (w *rtpWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

func (w *rtpWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.c
	if w.stopped || c.ended() {
		return
	}
	silent, held := c.sess.Silence()
	limit := w.t.RTP
	if held {
		limit = w.t.Hold
	}
	switch {
	case limit <= 0:
		w.timer.Reset(w.poll)
	case silent >= limit:
		st := c.sess.Stats()
		c.srv.log.Info("rtp timeout: hanging up", "call", c.id, "silent", silent.Round(time.Millisecond),
			"timeout", limit, "held", held, "packets_in", st.PacketsIn, "ignored", st.Ignored)
		c.hangupWith(ssip.NewHeader("Reason", rtpTimeoutReason))
	default:
		w.timer.Reset(max(limit-silent, minRTPCheck))
	}
}
