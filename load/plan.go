package load

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"brygga/media/tone"
)

// The talkers' tones: a grid of 100 Hz steps inside the telephone band,
// away from the 50 Hz bin edges of a 20 ms frame. Room r's talker t gets
// grid slot (r mod groups)·T + t, so up to 30/T rooms have tone sets of
// their own and can be told apart by ear; rooms beyond that reuse the sets
// (a leak between two rooms with the same set cannot be heard).
const (
	gridLow  = 400.0
	gridStep = 100.0
	gridSize = 30 // 400 … 3300 Hz
)

// Levels of the talkers' tones and the thresholds the listeners judge by.
const (
	talkAmplitude = 0.2   // of full scale: -14 dBFS, loud enough for any talk detector, 4 at once do not clip
	talkDB        = -14.0 // the same in dBFS
	onDB          = talkDB - 10
	offDB         = talkDB - 20
	// A tone that is not expected is a leak when it reaches this level for
	// leakFrames frames in a row: a real leak is a talker's whole burst at
	// its full level, G.711 intermodulation of the expected tones stays
	// some 40 dB under them, and the edge of a burst lasts one frame.
	leakDB     = talkDB - 20
	leakFrames = 3
	// A frame carrying this much power beyond the expected tones is
	// scanned for the other rooms' tones.
	residualDB = talkDB - 20
)

// toneGrid is the talkers' tones to choose from, in slot order.
type toneGrid []float64

// fullGrid is every slot of the grid.
var fullGrid = makeGrid(nil)

// The bridge's join and leave tones (prompts.JoinTone, LeaveTone: D5 and
// A5). Under churn they play into every room all the time, so the churn
// grid leaves out the slots inside their Hann main lobe (two 50 Hz bins,
// 100 Hz either side): 500, 600, 800 and 900 Hz, where they would read as
// a talker's onset or as a leak from another room.
var announceTones = []float64{587.33, 880}

// churnGrid is the grid of a churn run: fullGrid without the slots next
// to announceTones (26 slots).
var churnGrid = makeGrid(announceTones)

func makeGrid(avoid []float64) toneGrid {
	var g toneGrid
	for slot := range gridSize {
		f := gridLow + gridStep*float64(slot)
		ok := true
		for _, a := range avoid {
			if math.Abs(f-a) < gridStep {
				ok = false
			}
		}
		if ok {
			g = append(g, f)
		}
	}
	return g
}

// groups is how many rooms have a tone set of their own.
func (g toneGrid) groups(talkers int) int {
	return max(1, len(g)/max(talkers, 1))
}

// tone is the frequency of room's talker.
func (g toneGrid) tone(room, talker, talkers int) float64 {
	slot := (room%g.groups(talkers))*talkers + talker
	return g[slot%len(g)]
}

// toneGroups is how many rooms have a tone set of their own on the full
// grid.
func toneGroups(talkers int) int { return fullGrid.groups(talkers) }

// toneFor is the frequency of room's talker on the full grid.
func toneFor(room, talker, talkers int) float64 { return fullGrid.tone(room, talker, talkers) }

// burstPlan is how every talker speaks: tone for Burst, silence for Pause,
// talker t of T starting t/T of a period later than talker 0 so that the
// talkers of a room take turns. Pause 0 is a tone without end.
type burstPlan struct {
	Burst, Pause time.Duration
	Rate         int
}

func (b burstPlan) period() time.Duration { return b.Burst + b.Pause }

// matchWithin is how long after a burst began its onset may be heard and
// still be taken as that burst's: half a period, at most a second.
func (b burstPlan) matchWithin() time.Duration {
	if b.Pause <= 0 {
		return time.Second
	}
	return min(time.Second, b.period()/2)
}

// talker is one talking caller: its tone and the send times of its bursts.
type talker struct {
	freq   float64
	offset time.Duration
	plan   burstPlan
	clock  func() time.Duration // since the run began, monotonic

	// The call's sender's state (its tick).
	phase float64
	wasOn bool

	started atomic.Bool // the call is answered and talking
	ring    onsetRing

	mu     sync.Mutex
	onsets []time.Duration // every burst's first frame, when it was sent
	spans  []span          // churn: when its calls were in the room, one span per call
}

// span is [from, to) on the run's clock; to is openEnd while the call is
// up.
type span struct{ from, to time.Duration }

const openEnd = time.Duration(math.MaxInt64)

func newTalker(freq float64, index, talkers int, plan burstPlan, clock func() time.Duration) *talker {
	return &talker{
		freq:   freq,
		offset: plan.period() * time.Duration(index) / time.Duration(max(talkers, 1)),
		plan:   plan,
		clock:  clock,
	}
}

// frame is the call's source: one frame of tone or silence. The burst
// schedule follows the run's clock, not a frame count, so talkers keep
// their turns whatever their start; a burst starts at phase 0 on a frame.
func (t *talker) frame(pcm []int16) {
	now := t.clock()
	on := t.plan.Pause <= 0 || (now+t.offset)%t.plan.period() < t.plan.Burst
	if !on {
		t.wasOn = false
		clear(pcm)
		return
	}
	if !t.wasOn {
		t.wasOn = true
		t.phase = 0
		t.onset(now)
	}
	tone.Sine(pcm, t.freq, t.plan.Rate, talkAmplitude, &t.phase)
}

func (t *talker) onset(at time.Duration) {
	t.ring.add(at)
	t.mu.Lock()
	t.onsets = append(t.onsets, at)
	t.mu.Unlock()
}

// onsetsBetween counts bursts that began in [from, to).
func (t *talker) onsetsBetween(from, to time.Duration) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, at := range t.onsets {
		if at >= from && at < to {
			n++
		}
	}
	return n
}

// onsetRing keeps the newest burst onsets for the listeners, who look them
// up on every onset they hear; one writer (the talker's sender), any
// number of readers.
type onsetRing struct {
	n  atomic.Uint64
	at [16]atomic.Int64
}

func (r *onsetRing) add(t time.Duration) {
	i := r.n.Load()
	r.at[i%uint64(len(r.at))].Store(int64(t))
	r.n.Store(i + 1)
}

// latest is the newest onset at or before t and not more than within
// earlier.
func (r *onsetRing) latest(t, within time.Duration) (time.Duration, bool) {
	n := r.n.Load()
	for k := uint64(0); k < min(n, uint64(len(r.at))); k++ {
		at := time.Duration(r.at[(n-1-k)%uint64(len(r.at))].Load())
		if at > t {
			continue
		}
		if t-at <= within {
			return at, true
		}
		return 0, false
	}
	return 0, false
}

// reset readies the talker for a new call of its seat (churn): the next
// frame in a burst is an onset. No call of the seat may be sending.
func (t *talker) reset() {
	t.wasOn = false
	t.phase = 0
}

// openSpan notes that the seat's new call is in the room from from on.
func (t *talker) openSpan(from time.Duration) {
	t.mu.Lock()
	t.spans = append(t.spans, span{from: from, to: openEnd})
	t.mu.Unlock()
}

// closeSpan ends the span openSpan began.
func (t *talker) closeSpan(at time.Duration) {
	t.mu.Lock()
	if n := len(t.spans); n > 0 && t.spans[n-1].to == openEnd {
		t.spans[n-1].to = max(at, t.spans[n-1].from)
	}
	t.mu.Unlock()
}

// inSpan is whether a burst sent at o was sent while one of the seat's
// calls was in the room, early enough (within before its end) to be
// heard before it left.
func inSpan(spans []span, o, within time.Duration) bool {
	for _, s := range spans {
		if o >= s.from && o < s.to-within {
			return true
		}
	}
	return false
}

// churnBursts is what one listener call of [from, to) could hear of this
// talker under churn: expected counts the bursts sent in [from,
// to-within) while one of the talker's calls was in the room (and not in
// its last within), heard how many of the listener's matched onsets
// (sent, the send times of the bursts it heard) fall in the same set.
func (t *talker) churnBursts(from, to, within time.Duration, sent []time.Duration) (expected, heard int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return countBursts(t.onsets, t.spans, sent, from, to, within)
}

// countBursts is churnBursts without the talker: pure, for the tests.
func countBursts(onsets []time.Duration, spans []span, sent []time.Duration, from, to, within time.Duration) (expected, heard int) {
	ok := func(o time.Duration) bool { return o >= from && o < to-within && inSpan(spans, o, within) }
	for _, o := range onsets {
		if ok(o) {
			expected++
		}
	}
	for _, o := range sent {
		if ok(o) {
			heard++
		}
	}
	return expected, heard
}
