package mixer

import (
	"runtime"
	"sync"
	"time"
)

// Ticker is work a Clock does once a frame: a room's mix, or the prompt
// and input of a caller in the IVR.
type Ticker interface {
	Tick()
}

// ShardsPerProc is how many shards a Clock has per GOMAXPROCS by default.
//
// One shard per core, all due at the same instant, was measured to be
// worse (1,000 callers in 50 rooms, load generator on the same 2 cores):
// every 20 ms all sends went out in one burst, the generator's receivers
// all woke at once and pre-empted the two sweeping threads, and rooms
// started a tick more than a frame late about ten times as often as with
// a goroutine per room; listeners' jitter p50 was 2-4 ms instead of 0.6.
// Eight shards per core on phases spread over the frame spread that load
// as the per-room goroutines did, for some 800 wake-ups a second in all.
const ShardsPerProc = 8

// ClockConfig sets up a Clock. Zero values take the defaults.
type ClockConfig struct {
	// Shards is how many goroutines share the tickers; 0 means
	// ShardsPerProc × GOMAXPROCS.
	Shards int
	// CatchUp is how many missed ticks a Ticker that is not a Mixer gets
	// back to back after a stall (a Mixer uses its own Config.CatchUp);
	// 0 means DefaultCatchUp, negative never.
	CatchUp int
}

// Clock ticks every registered Ticker every FrameDuration from one
// monotonic schedule: shard i of n ticks at start + i×FrameDuration/n +
// k×FrameDuration, so timer jitter never adds up into drift.
//
// Tickers are dealt round-robin to shards, one goroutine each, which wake
// once a frame and tick their members in turn: a bridge with a thousand
// calls wakes a few goroutines every 20 ms, not a thousand, and their
// phases are spread over the frame so that the bridge's packets do not
// all leave in one burst. A shard with nobody registered has no
// goroutine, so an idle bridge does not tick at all.
//
// Each Ticker keeps its own place in the schedule. A tick that starts
// more than one frame after its deadline is late; after a stall (GC, an
// overloaded machine) missed ticks are made up back to back, at most
// CatchUp of them, so that listeners catch up without a burst their
// jitter buffers cannot absorb, and frames missed beyond that are skipped.
// For a Mixer all of this is counted in its Stats: lateness is measured,
// not hidden.
type Clock struct {
	start   time.Time
	catchUp int

	mu     sync.Mutex
	shards []*shard
	deal   int // next shard, round-robin
}

// Beat is one Ticker's registration with a Clock.
type Beat struct {
	t  Ticker
	m  *Mixer // t as a Mixer, whose Stats count lateness; nil for others
	sh *shard

	// mu is held while t ticks, so Remove can wait for a tick under way.
	mu      sync.Mutex
	removed bool
	p       pacer
	idx     int // in sh.beats; guarded by sh.mu
}

type shard struct {
	c       *Clock
	start   time.Time // the clock's start, shifted by the shard's phase
	mu      sync.Mutex
	beats   []*Beat
	running bool          // a goroutine runs this shard
	wake    chan struct{} // the shard emptied: stop waiting for the next tick
	sweep   []*Beat       // the shard goroutine's copy of beats
}

// NewClock makes a Clock. It starts no goroutine until a Ticker is added.
func NewClock(cfg ClockConfig) *Clock {
	if cfg.Shards <= 0 {
		cfg.Shards = ShardsPerProc * runtime.GOMAXPROCS(0)
	}
	switch {
	case cfg.CatchUp == 0:
		cfg.CatchUp = DefaultCatchUp
	case cfg.CatchUp < 0:
		cfg.CatchUp = 0
	}
	c := &Clock{start: time.Now(), catchUp: cfg.CatchUp}
	for i := range cfg.Shards {
		phase := time.Duration(i) * FrameDuration / time.Duration(cfg.Shards)
		c.shards = append(c.shards, &shard{c: c, start: c.start.Add(phase), wake: make(chan struct{}, 1)})
	}
	return c
}

// Add registers t; it ticks from the clock's next deadline on until
// Remove. A *Mixer has its late ticks counted in its Stats. Adding the
// same Ticker twice ticks it twice as often.
func (c *Clock) Add(t Ticker) *Beat {
	b := &Beat{t: t}
	catchUp := c.catchUp
	if m, ok := t.(*Mixer); ok {
		b.m = m
		catchUp = m.catchUp
	}
	c.mu.Lock()
	sh := c.shards[c.deal]
	c.deal = (c.deal + 1) % len(c.shards)
	c.mu.Unlock()

	// The first deadline not yet past: a new member joins the grid.
	now := time.Now()
	next := int64((now.Sub(sh.start) + FrameDuration - 1) / FrameDuration)
	b.p = pacer{start: sh.start, frame: FrameDuration, catchUp: catchUp, next: next}
	b.sh = sh

	sh.mu.Lock()
	b.idx = len(sh.beats)
	sh.beats = append(sh.beats, b)
	if !sh.running {
		sh.running = true
		go sh.run()
	}
	sh.mu.Unlock()
	return b
}

// Remove unregisters a Beat. It waits for a tick under way, so once it
// returns the Ticker is never called again. It must not be called from
// the Beat's own Tick. Removing twice does nothing.
func (c *Clock) Remove(b *Beat) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if b.removed {
		b.mu.Unlock()
		return
	}
	b.removed = true
	b.mu.Unlock()

	sh := b.sh
	sh.mu.Lock()
	last := len(sh.beats) - 1
	moved := sh.beats[last]
	sh.beats[b.idx] = moved
	moved.idx = b.idx
	sh.beats[last] = nil
	sh.beats = sh.beats[:last]
	empty := last == 0
	sh.mu.Unlock()
	if empty {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
}

// Len is the number of Tickers registered.
func (c *Clock) Len() int {
	n := 0
	for _, sh := range c.shards {
		sh.mu.Lock()
		n += len(sh.beats)
		sh.mu.Unlock()
	}
	return n
}

// run is a shard's goroutine: it sleeps until the earliest deadline of its
// members, ticks every member that is due, and ends when it has none.
func (sh *shard) run() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		sh.mu.Lock()
		if len(sh.beats) == 0 {
			sh.running = false
			sh.mu.Unlock()
			return
		}
		sh.sweep = append(sh.sweep[:0], sh.beats...)
		sh.mu.Unlock()

		// Members' schedules differ only after one of them fell behind
		// and skipped, so the earliest is almost always the next grid
		// point. It is read without the Beat's lock: only this
		// goroutine moves a pacer once the Beat is registered.
		due := sh.sweep[0].p.deadline()
		for _, b := range sh.sweep[1:] {
			if d := b.p.deadline(); d.Before(due) {
				due = d
			}
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-sh.wake:
				timer.Stop()
				clear(sh.sweep)
				continue
			}
		}
		for _, b := range sh.sweep {
			b.beat()
		}
		// Removed members are not kept alive by the copy.
		clear(sh.sweep)
	}
}

// beat runs b's ticks that are due: one, or after a stall up to CatchUp
// more back to back (the pacer skips what lies beyond).
func (b *Beat) beat() {
	for range b.p.catchUp + 1 {
		if !b.tick() {
			return
		}
	}
}

// tick runs one tick if it is due and b is still registered. The lock is
// taken per tick so that Remove does not wait out a whole catch-up.
func (b *Beat) tick() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.removed {
		return false
	}
	now := time.Now()
	if now.Before(b.p.deadline()) {
		return false
	}
	late, skipped := b.p.begin(now)
	if b.m != nil {
		b.m.account(late, skipped)
	}
	b.t.Tick()
	return true
}

// Run ticks the room on a clock of its own until stop is closed; a bridge
// with many rooms shares one Clock between them instead. Call Run at most
// once at a time per Mixer, and only while the room has participants: an
// empty room should not tick at all.
func (m *Mixer) Run(stop <-chan struct{}) {
	c := NewClock(ClockConfig{Shards: 1})
	b := c.Add(m)
	<-stop
	c.Remove(b)
}

func (m *Mixer) account(late time.Duration, skipped int64) {
	observeLateness(late)
	if late > FrameDuration {
		m.lateTicks.Add(1)
	}
	if skipped > 0 {
		m.skipped.Add(uint64(skipped))
		m.resyncs.Add(1)
	}
	for {
		old := m.maxLateness.Load()
		if int64(late) <= old || m.maxLateness.CompareAndSwap(old, int64(late)) {
			return
		}
	}
}

// pacer is a Ticker's place in the clock's schedule, kept apart from the
// timer so that stalls can be tested with made-up times.
type pacer struct {
	start   time.Time
	frame   time.Duration
	catchUp int
	next    int64 // index of the tick to run next
}

// deadline is when the next tick is due.
func (p *pacer) deadline() time.Time {
	return p.start.Add(time.Duration(p.next) * p.frame)
}

// begin starts the next tick at now. It returns how late the tick is
// against its own deadline and how many frames were skipped to keep the
// backlog within catchUp ticks.
func (p *pacer) begin(now time.Time) (late time.Duration, skipped int64) {
	late = now.Sub(p.deadline())
	if behind := int64(late / p.frame); behind > int64(p.catchUp) {
		skipped = behind - int64(p.catchUp)
		p.next += skipped
	}
	p.next++
	return late, skipped
}
