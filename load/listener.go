package load

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// window is the steady state the figures describe: from when every call
// was set up and the bridge's prompts had time to end, for the run's
// duration. Before it is set nothing counts.
type window struct {
	start, end atomic.Int64 // time.Duration since the run began
}

func newWindow() *window {
	w := &window{}
	w.start.Store(math.MaxInt64)
	w.end.Store(math.MaxInt64)
	return w
}

func (w *window) set(start, end time.Duration) {
	w.end.Store(int64(end))
	w.start.Store(int64(start))
}

func (w *window) bounds() (start, end time.Duration) {
	return time.Duration(w.start.Load()), time.Duration(w.end.Load())
}

func (w *window) contains(at time.Duration) bool {
	s, e := w.bounds()
	return at >= s && at < e
}

// rtpIn is one received packet as the accounting needs it.
type rtpIn struct {
	at    time.Duration // arrival, since the run began
	ssrc  uint32
	seq   uint16
	ts    uint32
	audio []int16 // decoded; nil for a packet that is not audio
}

// heardTone is one tone a listener tracks.
type heardTone struct {
	g   goertzel
	src *talker // whose tone; nil for a leak candidate of unknown origin

	on          bool
	run         int           // frames in a row at or above leakDB
	lastMatched time.Duration // onset of the burst last matched, to count each burst once
	matchedAny  bool
	heardInWin  bool            // the tone was on in a frame inside the window
	bursts      int             // bursts heard that began inside the counted span
	sent        []time.Duration // churn: when those bursts were sent
}

// listener is the accounting of one call: what it received from the
// bridge, packet by packet, and which tones it heard when. It is fed from
// the call's tick (phone's receive hook) and read when the call is over.
type listener struct {
	win    *window
	ana    *analyser
	rate   int
	within time.Duration // onset matching, burstPlan.matchWithin

	mu      sync.Mutex
	pending []int16 // samples of a frame not yet complete

	expect  []*heardTone // tones this call should hear: its room's other talkers (or itself, against an echo)
	self    *heardTone   // its own tone, which it must not hear back from a bridge
	foreign []*heardTone // every other room's tones
	known   []goertzel   // churn: the bridge's join and leave tones, sound that is explained
	keep    bool         // churn: keep the send times of the bursts heard (heardTone.sent)

	// Loss, by RTP sequence numbers within the window, per SSRC.
	haveSeg          bool
	segSSRC          uint32
	segBase, segMax  int64
	received         uint64
	expectedClosed   uint64
	firstIn, lastIn  time.Duration
	haveTransit      bool
	transitSSRC      uint32
	lastTransit      float64
	jitter           histogram
	delays           []time.Duration
	unmatched        int // onsets of an expected tone with no burst of its talker to match
	repeated         int // a second onset within one burst (the tone broke up)
	leaks            int // episodes of another room's tone
	echoes           int // episodes of its own tone coming back
	unexplained      int // frames in the window with sound that is none of the expected tones
	leakedFrom       map[float64]int
	audioFramesInWin int
}

func newListener(win *window, ana *analyser, rate int, within time.Duration) *listener {
	return &listener{win: win, ana: ana, rate: rate, within: within}
}

func track(t *talker, rate int) *heardTone {
	return &heardTone{g: newGoertzel(t.freq, rate), src: t}
}

// packet accounts one received packet.
func (l *listener) packet(p rtpIn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	in := l.win.contains(p.at)
	if in {
		l.count(p)
		if p.audio != nil {
			l.transit(p)
		}
	} else {
		// Jitter is between packets both inside the window.
		l.haveTransit = false
	}
	if p.audio == nil {
		return
	}
	// Frames are cut from the stream as it comes, so a bridge sending 10
	// or 30 ms packets is analysed in 20 ms frames all the same; a frame
	// is heard when the packet completing it arrives.
	audio := p.audio
	for len(audio) > 0 {
		need := l.ana.n - len(l.pending)
		if len(l.pending) == 0 && len(audio) >= l.ana.n {
			l.frame(audio[:l.ana.n], p.at, in)
			audio = audio[l.ana.n:]
			continue
		}
		k := min(need, len(audio))
		l.pending = append(l.pending, audio[:k]...)
		audio = audio[k:]
		if len(l.pending) == l.ana.n {
			l.frame(l.pending, p.at, in)
			l.pending = l.pending[:0]
		}
	}
}

// count is the loss accounting: expected packets are the span of extended
// sequence numbers seen per SSRC, as RFC 3550 §6.4.1 counts them.
func (l *listener) count(p rtpIn) {
	if !l.haveSeg || p.ssrc != l.segSSRC {
		l.closeSegment()
		l.haveSeg, l.segSSRC = true, p.ssrc
		l.segBase, l.segMax = int64(p.seq), int64(p.seq)
	} else {
		ext := l.segMax + int64(int16(p.seq-uint16(l.segMax)))
		l.segMax = max(l.segMax, ext)
		l.segBase = min(l.segBase, ext)
	}
	if l.received == 0 {
		l.firstIn = p.at
	}
	l.lastIn = p.at
	l.received++
}

func (l *listener) closeSegment() {
	if l.haveSeg {
		l.expectedClosed += uint64(l.segMax - l.segBase + 1)
		l.haveSeg = false
	}
}

func (l *listener) expected() uint64 {
	e := l.expectedClosed
	if l.haveSeg {
		e += uint64(l.segMax - l.segBase + 1)
	}
	return e
}

// transit adds the packet's |D| of RFC 3550 §6.4.1, the difference of its
// transit time to the previous packet's, to the jitter histogram.
func (l *listener) transit(p rtpIn) {
	transit := p.at.Seconds()*float64(l.rate) - float64(p.ts)
	if l.haveTransit && p.ssrc == l.transitSSRC {
		// A timestamp wrap between two packets is a jump of 2^32.
		d := math.Abs(math.Remainder(transit-l.lastTransit, 1<<32))
		l.jitter.add(time.Duration(d / float64(l.rate) * float64(time.Second)))
	}
	l.haveTransit, l.transitSSRC, l.lastTransit = true, p.ssrc, transit
}

// frame judges one 20 ms frame: onsets of the expected tones, its own tone
// coming back, and, when there is sound the expected tones do not explain,
// the other rooms' tones.
func (l *listener) frame(pcm []int16, at time.Duration, in bool) {
	all := total(pcm)
	if all < quietLin {
		l.quiet(in)
		return
	}
	explained := 0.0
	for _, h := range l.expect {
		pw := l.ana.power(pcm, h.g)
		explained += pw
		switch {
		case !h.on && pw >= onLin:
			h.on = true
			l.onset(h, at, in)
		case h.on && pw < offLin:
			h.on = false
		}
		if h.on && in {
			h.heardInWin = true
		}
	}
	if l.self != nil {
		pw := l.ana.power(pcm, l.self.g)
		explained += pw
		if l.episode(l.self, pw >= leakLin) && in {
			l.echoes++
		}
	}
	for _, g := range l.known {
		explained += l.ana.power(pcm, g)
	}
	if in {
		l.audioFramesInWin++
	}
	if all-explained < residualLin {
		for _, h := range l.foreign {
			h.run = 0
		}
		return
	}
	if in {
		l.unexplained++
	}
	for _, h := range l.foreign {
		if l.episode(h, l.ana.power(pcm, h.g) >= leakLin) && in {
			l.leaks++
			if l.leakedFrom == nil {
				l.leakedFrom = make(map[float64]int)
			}
			l.leakedFrom[h.g.freq]++
		}
	}
}

// The thresholds of frame, in the analyser's linear units.
var (
	onLin, offLin, leakLin, residualLin = linear(onDB), linear(offDB), linear(leakDB), linear(residualDB)
	// A frame quieter than this has no tone at any threshold: the
	// Hann-windowed Goertzel power of a frame is at most 3 times its
	// total power (Cauchy-Schwarz, with Σw² = 3n/8 and Σw = n/2; a real
	// frame reaches about half that), and a quarter of the lowest
	// threshold leaves room for rounding. Many of the frames a listener
	// hears are the pauses between bursts, and this spares them every
	// filter.
	quietLin = min(offLin, leakLin, residualLin) / 4
)

// quiet is frame for a frame below quietLin: what frame would conclude
// with every tone's power under every threshold.
func (l *listener) quiet(in bool) {
	for _, h := range l.expect {
		h.on = false
	}
	if l.self != nil {
		l.self.run = 0
	}
	if in {
		l.audioFramesInWin++
	}
	for _, h := range l.foreign {
		h.run = 0
	}
}

// episode counts frames in a row with a tone present and reports true once
// per episode, when it has lasted leakFrames.
func (l *listener) episode(h *heardTone, present bool) bool {
	if !present {
		h.run = 0
		return false
	}
	h.run++
	return h.run == leakFrames
}

// onset matches a heard onset to the burst of h's talker that caused it.
func (l *listener) onset(h *heardTone, at time.Duration, in bool) {
	sent, ok := h.src.ring.latest(at, l.within)
	if !ok {
		if in {
			l.unmatched++
		}
		return
	}
	if h.matchedAny && sent == h.lastMatched {
		if in {
			l.repeated++
		}
		return
	}
	h.matchedAny, h.lastMatched = true, sent
	start, end := l.win.bounds()
	if sent >= start && sent < end-l.within {
		h.bursts++
		if l.keep {
			h.sent = append(h.sent, sent)
		}
		l.delays = append(l.delays, at-sent)
	}
}
