package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Churn: callers join and leave all the time. Every seat of the run (rooms
// × per-room) is taken by one call after another: a call hangs up after a
// random hold from its answer and the seat dials again at once, so about
// rooms × per-room callers stay connected while the bridge sees a steady
// stream of joins and leaves. The seats are dialled for the first time at
// the ramp's rate; the window opens Settle after the last of those first
// dials and lasts Duration, and the calls up when it closes are hung up
// then.
//
// A seat keeps its room, its talker role and its tone from call to call.
// Each call is measured on its own, from Settle after its answer (the
// bridge's greeting and join prompts are over) to its hang-up, inside the
// window, and added up when it ends, so a run of hours keeps only the
// calls that are up. A listener call and a talker's seat make a pair when
// the talker sent a burst while both were in the room (and not in the
// talker's last matchWithin: it may leave before the burst arrives); the
// pair is heard when the listener heard one of those bursts.

// HoldRange is how long a churning call stays up from its answer: a time
// drawn uniformly from [Min, Max].
type HoldRange struct {
	Min, Max time.Duration
}

// minHold keeps a churning seat from redialling in a loop.
const minHold = 100 * time.Millisecond

// retryPause is how long a seat waits after a call was not answered before
// it dials again.
const retryPause = time.Second

func (h HoldRange) String() string {
	if h.Min == h.Max {
		return h.Min.String()
	}
	return h.Min.String() + ".." + h.Max.String()
}

// ParseHold reads "MIN..MAX" (e.g. "20s..90s") or one duration (every
// call holds as long).
func ParseHold(s string) (HoldRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "..")
	a, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return HoldRange{}, fmt.Errorf("%q: want MIN..MAX, e.g. 20s..90s", s)
	}
	b := a
	if isRange {
		if b, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return HoldRange{}, fmt.Errorf("%q: want MIN..MAX, e.g. 20s..90s", s)
		}
	}
	h := HoldRange{Min: a, Max: b}
	if a < minHold || b < a {
		return HoldRange{}, fmt.Errorf("%q: want %s ≤ MIN ≤ MAX", s, minHold)
	}
	return h, nil
}

// pick is the hold for u in [0, 1).
func (h HoldRange) pick(u float64) time.Duration {
	return h.Min + time.Duration(u*float64(h.Max-h.Min))
}

// churn is one churning run's shared state.
type churn struct {
	r            *runner
	stop         context.Context // done when the window closes (or the run's deadline passes)
	wStart, wEnd time.Duration
	within       time.Duration

	up      atomic.Int64 // calls answered and not yet ended
	placed  atomic.Int64
	mu      sync.Mutex // guards the fields below
	rng     *rand.Rand
	rep     *Report
	acc     *acc
	last    []*participant // calls up when the window closed
	endLate uint64         // late sender ticks of the calls that ended
	firstOK bool           // a call was answered
}

// runChurn is Run with Config.Hold set.
func runChurn(ctx context.Context, cfg Config) (*Report, error) {
	n := len(cfg.Rooms) * cfg.PerRoom
	wStart := cfg.rampTime() + cfg.Settle
	wEnd := wStart + cfg.Duration
	deadline := cfg.Deadline
	if deadline == 0 {
		deadline = wEnd + cfg.SetupTimeout + hangupGrace + 10*time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()

	r, err := startRunner(ctx, cfg, churnGrid)
	if err != nil {
		return nil, err
	}
	defer r.ph.Close()
	r.win.set(wStart, wEnd)

	rep := r.newReport()
	rep.WindowStart, rep.Window = Millis(wStart), Millis(wEnd-wStart)
	rep.Churn = &Churn{HoldMin: Millis(cfg.Hold.Min), HoldMax: Millis(cfg.Hold.Max), Seats: n}
	stop, stopCancel := context.WithDeadline(ctx, r.start.Add(wEnd))
	defer stopCancel()
	c := &churn{
		r: r, stop: stop, wStart: wStart, wEnd: wEnd, within: r.plan.matchWithin(),
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(n))),
		rep: rep, acc: r.newAcc(rep),
	}
	r.progress("churn: %d seats at %s, first dials at %g/s, each call holding %s; window %s after %s",
		n, cfg.Target, cfg.Ramp, cfg.Hold, cfg.Duration, fmtSeconds(wStart))
	var seats sync.WaitGroup
	for i, p := range r.parts {
		seats.Go(func() { c.seat(ctx, i, p) })
	}

	var (
		cpu          *cpuWindow
		late0, late1 uint64
		conn         connected
	)
	complete := r.sleepUntil(ctx, wStart)
	if complete {
		cpu = startCPU(cfg.CPUPID)
		late0 = c.lateTicks()
		placed0 := c.placed.Load()
		done := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Go(func() { c.sample(done, &conn) })
		complete = r.sleepUntil(ctx, wEnd)
		close(done)
		sampler.Wait()
		rep.Churn.PlacedInWindow = int(c.placed.Load() - placed0)
	}
	if cpu != nil {
		cpu.stop()
		late1 = c.lateTicks()
	}
	stopCancel()
	r.progress("window closed; waiting for the seats, then hanging up")
	seats.Wait()
	c.hangupLast()
	r.ph.Close()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.acc.finish()
	ch := rep.Churn
	ch.ConnectedMin, ch.ConnectedMax = conn.min, conn.max
	if conn.n > 0 {
		ch.ConnectedMean = roundTo(float64(conn.sum)/float64(conn.n), 1)
	}
	if cpu != nil {
		rep.Server = cpu.server(int(ch.ConnectedMean + 0.5))
		g := &rep.Generator
		g.CPUSeconds = roundTo(cpu.self.Seconds(), 3)
		g.Cores = roundTo(cpu.self.Seconds()/cpu.wall.Seconds(), 4)
		if ch.ConnectedMean > 0 {
			g.PerParticipantMinute = roundTo(cpu.self.Seconds()/(ch.ConnectedMean*cpu.wall.Minutes()), 5)
		}
		g.LateTicksInWindow = late1 - late0
	}
	var fails []string
	if !complete {
		cause := context.Cause(ctx)
		if errors.Is(cause, context.DeadlineExceeded) {
			cause = fmt.Errorf("the run's deadline of %s passed", deadline)
		}
		fails = append(fails, fmt.Sprintf("the run stopped before its window ended: %v", cause))
	}
	if !c.firstOK {
		fails = append(fails, "no call was answered")
	}
	fails = append(fails, rep.check(cfg.Limits)...)
	if ch.ByeFailed > 0 && cfg.Limits.MaxFailed >= 0 && rep.Calls.Failed+rep.Calls.PINFailed+rep.Calls.Dropped+ch.ByeFailed > cfg.Limits.MaxFailed {
		fails = append(fails, fmt.Sprintf("%d hang-ups failed (BYE not answered with 2xx)", ch.ByeFailed))
	}
	rep.Failures = fails
	rep.OK = len(fails) == 0
	if rep.Failures == nil {
		rep.Failures = []string{}
	}
	return rep, nil
}

// seat is one seat's life: dial, hold, hang up, dial again, until the
// window closes; the call up then is left for hangupLast.
func (c *churn) seat(ctx context.Context, i int, seat *participant) {
	r := c.r
	if !r.sleepUntil(ctx, time.Duration(float64(i)/r.cfg.Ramp*float64(time.Second))) {
		return
	}
	for c.stop.Err() == nil {
		p := &participant{room: seat.room, seat: seat.seat, talker: seat.talker}
		p.lis = r.listenerFor(p, newWindow())
		if p.talker != nil {
			p.talker.reset()
		}
		c.placed.Add(1)
		r.setup(ctx, p)
		if p.call == nil {
			c.fold(p, false)
			sleepCtx(c.stop, retryPause)
			continue
		}
		c.up.Add(1)
		p.lis.win.set(max(p.answer+r.cfg.Settle, c.wStart), c.wEnd)
		if p.talker != nil {
			p.talker.openSpan(p.answer + r.cfg.Settle)
		}
		if c.stop.Err() != nil {
			c.keep(p) // answered as the window closed
			return
		}
		if p.pinFail {
			c.end(p)
			continue
		}
		c.mu.Lock()
		hold := r.cfg.Hold.pick(c.rng.Float64())
		c.mu.Unlock()
		t := time.NewTimer(p.answer + hold - r.clock())
		select {
		case <-t.C:
			c.end(p)
			continue
		case <-p.call.Done():
			t.Stop()
			c.end(p)
			continue
		case <-c.stop.Done():
			t.Stop()
		}
		c.keep(p)
		return
	}
}

// keep leaves a call up when the window closed for hangupLast.
func (c *churn) keep(p *participant) {
	c.mu.Lock()
	c.last = append(c.last, p)
	c.mu.Unlock()
}

// end hangs p's call up now (or notes that the bridge did) and adds it up.
func (c *churn) end(p *participant) {
	at := c.r.clock()
	dropped := false
	select {
	case <-p.call.Done():
		dropped = !p.pinFail
	default:
	}
	from, _ := p.lis.win.bounds()
	p.lis.win.set(from, min(at, c.wEnd))
	if p.talker != nil {
		p.talker.closeSpan(at)
	}
	byeFailed := false
	if !dropped {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		byeFailed = p.call.Hangup(ctx) != nil
		cancel()
	}
	c.up.Add(-1)
	c.fold(p, dropped)
	if byeFailed || !dropped && !p.pinFail {
		c.mu.Lock()
		if byeFailed {
			c.rep.Churn.ByeFailed++
		} else {
			c.rep.Churn.HungUp++
		}
		c.mu.Unlock()
	}
}

// hangupLast ends the calls that were up when the window closed, a few
// dozen at a time.
func (c *churn) hangupLast() {
	c.mu.Lock()
	last := c.last
	c.last = nil
	c.mu.Unlock()
	calls := make(chan *participant)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for p := range calls {
				c.end(p)
			}
		})
	}
	for _, p := range last {
		calls <- p
	}
	close(calls)
	wg.Wait()
}

// fold adds one call that is over to the report: its outcome, and what it
// heard while it was measured.
func (c *churn) fold(p *participant, dropped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := &c.rep.Calls
	cs.Attempted++
	if p.call == nil {
		cs.Failed++
		cs.ByStatus[p.failure]++
		return
	}
	c.firstOK = true
	cs.Answered++
	c.acc.setups = append(c.acc.setups, p.setup)
	switch {
	case p.pinFail:
		cs.PINFailed++
	case dropped:
		cs.Dropped++
	}
	st := p.call.Stats()
	c.rep.Generator.LateTicks += st.LateTicks
	c.rep.Generator.SendErrors += st.SendErrors
	c.endLate += st.LateTicks
	if p.pinFail {
		return
	}
	l := p.lis
	l.mu.Lock()
	defer l.mu.Unlock()
	from, to := l.win.bounds()
	if from >= to {
		return // not in the room within the window
	}
	cs.InWindow++
	c.acc.listener(l)
	sep := &c.rep.Separation
	for _, h := range l.expect {
		exp, heard := h.src.churnBursts(from, to, c.within, h.sent)
		if exp == 0 {
			continue
		}
		sep.Pairs++
		if heard > 0 {
			sep.PairsHeard++
		}
		sep.BurstsExpected += exp
		sep.BurstsHeard += heard
	}
}

// lateTicks is how many sender ticks of the run's calls so far were late.
func (c *churn) lateTicks() uint64 {
	c.mu.Lock()
	n := c.endLate
	c.mu.Unlock()
	for _, call := range c.r.ph.Calls() {
		n += call.Stats().LateTicks
	}
	return n
}

// connected is how many calls were up, sampled once a second in the
// window.
type connected struct {
	min, max int
	sum, n   int64
}

func (k *connected) add(v int) {
	if k.n == 0 || v < k.min {
		k.min = v
	}
	k.max = max(k.max, v)
	k.sum += int64(v)
	k.n++
}

// sample counts the calls up every second, and says how the run goes
// every minute, until done.
func (c *churn) sample(done <-chan struct{}, k *connected) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-done:
			return
		case <-t.C:
		}
		k.add(int(c.up.Load()))
		if i%60 == 0 {
			c.mu.Lock()
			cs := c.rep.Calls
			c.mu.Unlock()
			c.r.progress("churn: %d connected; %d calls placed, %d ended: %d answered, %d failed, %d dropped",
				c.up.Load(), c.placed.Load(), cs.Attempted, cs.Answered, cs.Failed, cs.Dropped)
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
