package sip

import (
	"container/list"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"brygga/config"
)

// verdict is what the limiter says about one request.
type verdict int

const (
	pass      verdict = iota
	refuse            // 503 Service Unavailable with Retry-After
	drop              // no answer at all
	dropStart         // no answer; the source has just started a cool-down (log it)
)

// maxSources bounds the limiter's memory: beyond it the source seen
// longest ago is forgotten (it starts afresh with full buckets).
const maxSources = 65536

// limiter holds a token bucket per source for INVITEs and one for all
// requests. A request that finds its bucket empty is refused and still
// counted: the bucket goes into debt, so a source that keeps sending
// while told to wait digs itself deeper. Once the debt reaches twice the
// burst (three times the burst sent beyond the rate) the source is
// silently dropped for the cool-down: answering a flood costs more than
// ignoring it, and a response tells a scanner there is a SIP server here.
type limiter struct {
	now     func() time.Time
	invite  rate
	all     rate
	dropFor time.Duration
	max     int

	mu      sync.Mutex
	sources map[netip.Addr]*list.Element // of *source, most recent first
	lru     *list.List
}

type rate struct {
	perSecond float64 // 0: no limit
	burst     float64
}

type source struct {
	addr         netip.Addr
	invite, all  bucket
	droppedUntil time.Time
}

type bucket struct {
	tokens float64 // may go below zero: the debt of refused requests
	at     time.Time
}

func newLimiter(c config.RateLimit, now func() time.Time) *limiter {
	if now == nil {
		now = time.Now
	}
	drop := c.DropFor
	if drop <= 0 {
		drop = time.Minute
	}
	return &limiter{
		now:     now,
		invite:  rate{float64(c.InvitesPerSecond), float64(max(c.InviteBurst, 1))},
		all:     rate{float64(c.RequestsPerSecond), float64(max(c.RequestBurst, 1))},
		dropFor: drop,
		max:     maxSources,
		sources: make(map[netip.Addr]*list.Element),
		lru:     list.New(),
	}
}

// off reports whether the limiter limits nothing.
func (l *limiter) off() bool { return l.invite.perSecond <= 0 && l.all.perSecond <= 0 }

// check counts one request from src (invite: a new INVITE) and says what to
// do with it; for refuse, also how long the source should wait.
func (l *limiter) check(src netip.Addr, invite bool) (verdict, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.source(src)
	if now.Before(s.droppedUntil) {
		return drop, 0
	}
	v, wait := s.all.take(l.all, now)
	if v == pass && invite {
		v, wait = s.invite.take(l.invite, now)
	}
	if v == drop {
		s.droppedUntil = now.Add(l.dropFor)
		// The debt is forgiven: after the cool-down the source starts
		// with the burst it would have had, not with a hole to dig out of.
		s.all, s.invite = bucket{}, bucket{}
		return dropStart, 0
	}
	return v, wait
}

// block starts a cool-down for src at once (a scanner); it reports whether
// the source was not in one already.
func (l *limiter) block(src netip.Addr) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.source(src)
	started := !now.Before(s.droppedUntil)
	s.droppedUntil = now.Add(l.dropFor)
	return started
}

// source finds or makes src's record and marks it the most recent.
func (l *limiter) source(src netip.Addr) *source {
	if e, ok := l.sources[src]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*source)
	}
	if l.lru.Len() >= l.max {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.sources, old.Value.(*source).addr)
	}
	s := &source{addr: src}
	l.sources[src] = l.lru.PushFront(s)
	return s
}

// take spends one token. A zero bucket is a new one and starts full.
func (b *bucket) take(r rate, now time.Time) (verdict, time.Duration) {
	if r.perSecond <= 0 {
		return pass, 0
	}
	if b.at.IsZero() {
		b.tokens = r.burst
	} else if d := now.Sub(b.at); d > 0 {
		b.tokens = min(r.burst, b.tokens+d.Seconds()*r.perSecond)
	}
	b.at = now
	b.tokens--
	switch {
	case b.tokens >= 0:
		return pass, 0
	case b.tokens <= -2*r.burst:
		return drop, 0
	}
	// Until the bucket holds a whole token again.
	return refuse, time.Duration(math.Ceil((1 - b.tokens) / r.perSecond * float64(time.Second)))
}

// scannerAgents are User-Agent fragments of SIP scanners and toll-fraud
// tools (SIPVicious and its renamed copies, sipcli, VaxSIP, sundayddr,
// pplsip, iWar, SiVuS, sip-scan, SIP Army Knife). They get no answer: it
// costs nothing and tells the scanner nothing, where even a 403 confirms
// that a SIP server listens here and invites the next tool.
var scannerAgents = []string{
	"friendly-scanner",
	"friendly-request",
	"sipvicious",
	"sipcli",
	"vaxsipuseragent",
	"vaxipuseragent",
	"sundayddr",
	"pplsip",
	"iwar",
	"sivus",
	"sip-scan",
	"siparmyknife",
}

// isScanner reports whether a User-Agent is a known scanner's.
func isScanner(ua string) bool {
	if ua == "" {
		return false
	}
	ua = strings.ToLower(ua)
	for _, s := range scannerAgents {
		if strings.Contains(ua, s) {
			return true
		}
	}
	return false
}
