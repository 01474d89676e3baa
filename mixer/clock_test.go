package mixer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brygga/media/codec"
)

// The schedule with made-up times: on time, a little late, and a stall
// longer than the catch-up bound.
func TestPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	p := pacer{start: t0, frame: 20 * time.Millisecond, catchUp: 3}

	type step struct {
		now      int // ms since start when the tick begins
		deadline int // ms, the deadline the pacer reports before it
		late     int // ms
		skipped  int64
	}
	for i, s := range []step{
		{0, 0, 0, 0},
		{20, 20, 0, 0},
		{45, 40, 5, 0},    // a little late: no catch-up needed
		{60, 60, 0, 0},    // and back on the grid, no drift
		{185, 80, 105, 2}, // 5 frames behind: skip 2, then catch up 3
		{185, 140, 45, 0}, // catch-up ticks back to back
		{186, 160, 26, 0},
		{186, 180, 6, 0},
		{200, 200, 0, 0},  // on the grid again
		{300, 220, 80, 1}, // exactly 4 behind: skip 1
	} {
		if d := p.deadline(); !d.Equal(at(s.deadline)) {
			t.Fatalf("step %d: deadline %v, want %d ms", i, d.Sub(t0), s.deadline)
		}
		late, skipped := p.begin(at(s.now))
		if late != time.Duration(s.late)*time.Millisecond || skipped != s.skipped {
			t.Fatalf("step %d: late %v skipped %d, want %d ms and %d", i, late, skipped, s.late, s.skipped)
		}
	}

	// Without catch-up every missed frame is skipped.
	p = pacer{start: t0, frame: 20 * time.Millisecond}
	p.begin(at(0))
	if _, skipped := p.begin(at(70)); skipped != 2 {
		t.Fatalf("skipped %d, want 2", skipped)
	}
	if d := p.deadline(); !d.Equal(at(80)) {
		t.Fatalf("next deadline %v", d.Sub(t0))
	}
}

func TestAccount(t *testing.T) {
	m := New(Config{})
	m.account(5*time.Millisecond, 0)
	m.account(30*time.Millisecond, 0)
	m.account(90*time.Millisecond, 2)
	m.account(10*time.Millisecond, 0)
	s := m.Stats()
	if s.LateTicks != 2 || s.Skipped != 2 || s.Resyncs != 1 || s.MaxLateness != 90*time.Millisecond {
		t.Fatalf("%+v", s)
	}
}

// counter is an Output that counts frames and can stall the room once.
type counter struct {
	frames  atomic.Int64
	stallAt int64
	stall   time.Duration
}

func (c *counter) WriteFrame([]byte) {
	if n := c.frames.Add(1); n == c.stallAt {
		time.Sleep(c.stall)
	}
}

// waitFor polls until cond holds; the limit is generous because the test
// machine may be loaded, and only counts are asserted, never times.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runRoom(m *Mixer) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		m.Run(quit)
		close(done)
	}()
	return func() {
		close(quit)
		<-done
	}
}

func TestRunTicksAndStops(t *testing.T) {
	m := New(Config{})
	out := &counter{}
	m.Add(codec.PCMU, nil, out)
	stop := runRoom(m)
	waitFor(t, "5 ticks", func() bool { return out.frames.Load() >= 5 })
	stop()

	n := out.frames.Load()
	if s := m.Stats(); s.Ticks != uint64(n) {
		t.Fatalf("Stats says %d ticks, the output saw %d", s.Ticks, n)
	}
	time.Sleep(3 * FrameDuration)
	if out.frames.Load() != n {
		t.Fatal("ticks after Run returned")
	}
}

// A stall of 200 ms inside one tick puts the next one at least 180 ms
// behind: more than CatchUp frames, so some are skipped. Load on the
// machine can only make it later, so the lower bounds cannot flake.
func TestRunCatchesUpAfterStall(t *testing.T) {
	m := New(Config{})
	out := &counter{stallAt: 3, stall: 200 * time.Millisecond}
	m.Add(codec.PCMU, nil, out)
	stop := runRoom(m)
	waitFor(t, "10 ticks", func() bool { return out.frames.Load() >= 10 })
	stop()

	s := m.Stats()
	if s.LateTicks < 1 || s.Skipped < 5 || s.Resyncs < 1 || s.MaxLateness < 180*time.Millisecond {
		t.Fatalf("stall not accounted: %+v", s)
	}
	if s.Ticks != uint64(out.frames.Load()) {
		t.Fatalf("Stats says %d ticks, the output saw %d", s.Ticks, out.frames.Load())
	}
}

// Participants come and go, mute, get prompts and announcements while the
// room ticks; run with -race.
func TestConcurrentControl(t *testing.T) {
	m := New(Config{})
	stop := runRoom(m)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var mine []*Member
			// Keep going until the room has ticked a few times in between.
			for i := 0; i < 50 || m.Stats().Ticks < 5; i++ {
				c := codec.PCMU
				if (g+i)%2 == 0 {
					c = codec.PCMA
				}
				mb := m.Add(c, &toneIn{freq: 400 + 100*float64(g), amp: 0.1}, &discard{})
				mine = append(mine, mb)
				mb.SetMuted(i%3 == 0)
				mb.Play(steadyClip(100, 2))
				_ = mb.Talking() || mb.Playing() || mb.Muted() || mb.InMix()
				if i%10 == 0 {
					m.Announce(steadyClip(200, 1))
				}
				if i%2 == 1 {
					m.Remove(mine[0])
					mine = mine[1:]
				}
				_ = m.Len()
				_ = m.Stats()
				time.Sleep(time.Millisecond)
			}
			for _, mb := range mine {
				m.Remove(mb)
			}
		})
	}
	wg.Wait()
	stop()
	if m.Len() != 0 {
		t.Fatalf("%d members left", m.Len())
	}
}

// tally is a Ticker that counts its ticks and can be held inside one.
type tally struct {
	ticks atomic.Int64
	hold  chan struct{} // when set, the first Tick waits on it
	in    chan struct{} // signalled when the held Tick has begun
}

func (t *tally) Tick() {
	if t.ticks.Add(1) == 1 && t.hold != nil {
		t.in <- struct{}{}
		<-t.hold
	}
}

// running counts the shards with a goroutine.
func (c *Clock) running() int {
	n := 0
	for _, sh := range c.shards {
		sh.mu.Lock()
		if sh.running {
			n++
		}
		sh.mu.Unlock()
	}
	return n
}

// Tickers spread over the shards all tick, each at the frame rate, and a
// clock with nobody on it has no goroutine at all.
func TestClockTicksEveryoneAndIdles(t *testing.T) {
	c := NewClock(ClockConfig{Shards: 3})
	if c.running() != 0 {
		t.Fatal("a new clock runs goroutines")
	}
	var ts []*tally
	var beats []*Beat
	for range 7 {
		tk := &tally{}
		ts = append(ts, tk)
		beats = append(beats, c.Add(tk))
	}
	if c.Len() != 7 || c.running() != 3 {
		t.Fatalf("Len %d, %d shards running; want 7 and 3", c.Len(), c.running())
	}
	waitFor(t, "10 ticks each", func() bool {
		for _, tk := range ts {
			if tk.ticks.Load() < 10 {
				return false
			}
		}
		return true
	})
	for _, b := range beats {
		c.Remove(b)
		c.Remove(b) // twice does nothing
	}
	counts := make([]int64, len(ts))
	for i, tk := range ts {
		counts[i] = tk.ticks.Load()
	}
	waitFor(t, "shards to stop", func() bool { return c.running() == 0 })
	time.Sleep(3 * FrameDuration)
	for i, tk := range ts {
		if tk.ticks.Load() != counts[i] {
			t.Fatalf("ticker %d ticked after Remove", i)
		}
	}
	if c.Len() != 0 {
		t.Fatalf("Len %d after removing all", c.Len())
	}
	// And it comes back.
	tk := &tally{}
	b := c.Add(tk)
	waitFor(t, "a tick after idling", func() bool { return tk.ticks.Load() > 0 })
	c.Remove(b)
}

// Remove waits for a tick under way: once it returns, the Ticker is done
// with whatever it reads or writes.
func TestClockRemoveWaitsForTick(t *testing.T) {
	c := NewClock(ClockConfig{Shards: 1})
	tk := &tally{hold: make(chan struct{}), in: make(chan struct{})}
	b := c.Add(tk)
	<-tk.in
	removed := make(chan struct{})
	go func() { c.Remove(b); close(removed) }()
	select {
	case <-removed:
		t.Fatal("Remove returned during a tick")
	case <-time.After(50 * time.Millisecond):
	}
	close(tk.hold)
	<-removed
	n := tk.ticks.Load()
	time.Sleep(3 * FrameDuration)
	if tk.ticks.Load() != n {
		t.Fatal("ticks after Remove returned")
	}
}

// A Mixer on a shared clock gets its lateness counted in its own Stats;
// another Ticker stalling the same shard makes the room late too.
func TestClockCountsLatenessPerRoom(t *testing.T) {
	c := NewClock(ClockConfig{Shards: 1})
	calm, late := New(Config{}), New(Config{})
	calmOut, lateOut := &counter{}, &counter{stallAt: 3, stall: 200 * time.Millisecond}
	calm.Add(codec.PCMU, nil, calmOut)
	late.Add(codec.PCMU, nil, lateOut)
	bc, bl := c.Add(calm), c.Add(late)
	waitFor(t, "10 ticks", func() bool { return calmOut.frames.Load() >= 10 && lateOut.frames.Load() >= 10 })
	c.Remove(bc)
	c.Remove(bl)
	for _, m := range []*Mixer{calm, late} {
		s := m.Stats()
		if s.LateTicks < 1 || s.Skipped < 5 || s.Resyncs < 1 || s.MaxLateness < 180*time.Millisecond {
			t.Fatalf("stall not accounted: %+v", s)
		}
	}
	if s := calm.Stats(); s.Ticks != uint64(calmOut.frames.Load()) {
		t.Fatalf("Stats says %d ticks, the output saw %d", s.Ticks, calmOut.frames.Load())
	}
}

// Rooms on one clock tick on the same grid: whatever the shard, none runs
// ahead of or falls behind the others.
func TestClockKeepsRoomsInStep(t *testing.T) {
	c := NewClock(ClockConfig{Shards: 2})
	var ts []*tally
	var beats []*Beat
	for range 100 {
		tk := &tally{}
		ts = append(ts, tk)
		beats = append(beats, c.Add(tk))
	}
	waitFor(t, "ticks", func() bool { return ts[99].ticks.Load() >= 5 })
	for _, b := range beats {
		c.Remove(b)
	}
	// Counts differ by at most the sweep under way while they were added,
	// and the one while they were removed.
	lo, hi := ts[0].ticks.Load(), ts[0].ticks.Load()
	for _, tk := range ts {
		lo, hi = min(lo, tk.ticks.Load()), max(hi, tk.ticks.Load())
	}
	if hi-lo > 2 {
		t.Fatalf("tick counts from %d to %d", lo, hi)
	}
}

// Shards tick on phases spread evenly over the frame, so a bridge's
// packets do not all leave at once; members of one shard share its phase.
func TestClockShardPhases(t *testing.T) {
	c := NewClock(ClockConfig{Shards: 4})
	var beats []*Beat
	for range 8 {
		beats = append(beats, c.Add(&tally{}))
	}
	defer func() {
		for _, b := range beats {
			c.Remove(b)
		}
	}()
	for i, b := range beats {
		b.mu.Lock()
		d := b.p.deadline()
		b.mu.Unlock()
		phase := d.Sub(c.start) % FrameDuration
		if want := time.Duration(i%4) * FrameDuration / 4; phase != want {
			t.Errorf("ticker %d on phase %v, want %v", i, phase, want)
		}
	}
}

func TestLatenessHistogram(t *testing.T) {
	before, sum0, late0 := Lateness()
	m := New(Config{Rate: 8000})
	m.account(500*time.Microsecond, 0)
	m.account(30*time.Millisecond, 0)
	m.account(time.Second, 0)
	after, sum1, late1 := Lateness()
	diff := make([]uint64, len(after))
	for i := range after {
		diff[i] = after[i] - before[i]
	}
	// ≤1 ms, ≤40 ms, and above every bucket.
	want := []uint64{1, 0, 0, 0, 0, 1, 0, 0, 1}
	for i := range want {
		if diff[i] != want[i] {
			t.Fatalf("bucket counts %v, want %v", diff, want)
		}
	}
	if sum1-sum0 != 1030500*time.Microsecond || late1-late0 != 2 {
		t.Fatalf("sum %v late %d", sum1-sum0, late1-late0)
	}
}
