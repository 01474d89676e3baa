package media

import "time"

// Timeouts is how long a call's media may stay silent before the caller is
// taken for gone (a phone that lost power or network sends no BYE). The
// media session only keeps the times; the SIP call runs the watchdog and
// hangs up.
type Timeouts struct {
	// RTP: no valid RTP (nor RTCP multiplexed on the RTP port) from the
	// caller for this long ends the call. 0 = never.
	RTP time.Duration
	// Hold is the same while the caller holds (its SDP says sendonly or
	// inactive) or says it sends nothing (recvonly): a held phone may
	// rightly send no RTP for as long as the hold lasts. 0 = never.
	Hold time.Duration
}

// DefaultTimeouts drops a caller after 30 s without RTP, and never while
// the caller holds.
var DefaultTimeouts = Timeouts{RTP: 30 * time.Second}

// SetTimeouts sets the timeouts of the sessions the pool hands out from
// now on (and of the live ones: they ask the pool).
func (p *PortPool) SetTimeouts(t Timeouts) {
	p.timeouts.Store(&t)
}

// Timeouts returns what SetTimeouts set, else DefaultTimeouts.
func (p *PortPool) Timeouts() Timeouts {
	if p == nil {
		return DefaultTimeouts
	}
	if t := p.timeouts.Load(); t != nil {
		return *t
	}
	return DefaultTimeouts
}

// Timeouts returns the timeouts that apply to this session: its pool's,
// or DefaultTimeouts without one.
func (s *Session) Timeouts() Timeouts { return s.cfg.Pool.Timeouts() }

// Silence reads what waits on the socket (after Start), as ReadFrame
// does, then reports how long the caller has sent nothing valid, counted
// from the later of the last valid packet and the last change of hold or
// address (Start counts as one), and whether the caller holds or says it
// sends nothing. Before Start it reports 0. It is meant for a watchdog
// that looks once per timeout, not per packet.
func (s *Session) Silence() (silent time.Duration, held bool) {
	s.play.Lock()
	s.receive()
	s.play.Unlock()
	s.mu.Lock()
	held = !s.remote.Send || s.remote.Silent
	s.mu.Unlock()
	if !s.started.Load() {
		return 0, held
	}
	from := max(s.heard.Load(), s.quietFrom.Load())
	return max(0, time.Since(s.epoch)-time.Duration(from)), held
}

// restartSilence starts the silence count afresh (Start, hold, resume, a
// new address): the caller gets a whole timeout to be heard.
func (s *Session) restartSilence() {
	s.quietFrom.Store(int64(time.Since(s.epoch)))
}
