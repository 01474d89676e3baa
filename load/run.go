// Package load is brygga's load generator and its floor: Run places real
// SIP calls (INVITE, PIN as RFC 4733 events, BYE) to a conference bridge,
// some callers talking in tone bursts and the rest silent, and measures
// what the bridge sends back: loss, jitter, the delay it adds, and whether
// every listener heard its own room and no other. The Reflector is the
// floor to compare a bridge with: a SIP callee that does nothing but echo
// each caller's packets.
//
// It works against any bridge at a SIP address, not only brygga. The
// accounting (listener.go, hist.go, detect.go, plan.go) is pure and tested
// on synthetic streams; Run only wires it to brygga/phone calls.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"brygga/media/codec"
	"brygga/mixer"
	"brygga/phone"
)

// Config is one run. Zero values take the defaults of Defaults.
type Config struct {
	Target    string     // the bridge's SIP address, host:port
	Transport string     // "udp" or "tcp"
	LocalIP   netip.Addr // the callers' address; zero: 127.0.0.1 for a loopback target, else the one routing to it
	Rooms     []string   // extensions dialled, one room each
	PerRoom   int        // callers per room
	Talkers   int        // of them talking, per room
	Duration  time.Duration
	Settle    time.Duration // after the last call was set up, before the window opens: the bridge's prompts end
	Ramp      float64       // new calls per second
	PIN       string        // keyed after answer (or put in the Request-URI), "" for rooms without one
	PINInURI  bool          // dial ext*PIN instead of keying it
	Codec     codec.Codec
	Burst     time.Duration // a talker's tone
	Pause     time.Duration // and the silence after it; negative talks without pause
	Echo      bool          // the target echoes each caller to itself (the Reflector, an echo test) instead of mixing rooms
	CPUPID    int           // the bridge's process, for CPU and memory over the window; 0 for none
	// Hold makes the run churn (churn.go): every call hangs up after a
	// random hold in [Min, Max] from its answer and a new call takes its
	// seat, so rooms × per-room callers stay connected, joining and
	// leaving all the time. Zero: every call stays up for the whole run.
	Hold HoldRange

	SetupTimeout time.Duration // per call: INVITE to answer
	Deadline     time.Duration // the whole run; 0 is computed from the others with a margin
	Limits       Limits

	Progress io.Writer    // a line per phase; nil for none
	Logger   *slog.Logger // the phone's SIP log; nil discards
}

// Defaults is what a zero field of Config means.
var Defaults = Config{
	Target:    "127.0.0.1:5060",
	Transport: "udp",
	Rooms:     []string{"4711"},
	PerRoom:   10,
	Talkers:   2,
	Duration:  30 * time.Second,
	// A bridge's joining is over some seconds after the answer (brygga:
	// a greeting and "you will now be placed into the conference", ~6 s,
	// then a join tone to the room). Five seconds let those join tones and
	// the first callers' hold music into the window, where they counted
	// as leaks from other rooms (587/880 Hz land on the 600/900 Hz tones).
	Settle:       10 * time.Second,
	Ramp:         20,
	Codec:        codec.PCMU,
	Burst:        600 * time.Millisecond,
	Pause:        1400 * time.Millisecond,
	SetupTimeout: 10 * time.Second,
	Limits:       NoLimits,
}

// hangupGrace bounds the BYEs at the end.
const hangupGrace = 10 * time.Second

func (c *Config) fill() {
	d := Defaults
	if c.Target == "" {
		c.Target = d.Target
	}
	if c.Transport == "" {
		c.Transport = d.Transport
	}
	if len(c.Rooms) == 0 {
		c.Rooms = d.Rooms
	}
	if c.PerRoom == 0 {
		c.PerRoom = d.PerRoom
	}
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if c.Ramp == 0 {
		c.Ramp = d.Ramp
	}
	if c.Codec == nil {
		c.Codec = d.Codec
	}
	if c.Burst == 0 {
		c.Burst = d.Burst
	}
	if c.Pause == 0 {
		c.Pause = d.Pause
	}
	if c.SetupTimeout == 0 {
		c.SetupTimeout = d.SetupTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

func (c *Config) validate() error {
	switch {
	case c.Transport != "udp" && c.Transport != "tcp":
		return fmt.Errorf("load: transport %q: want udp or tcp", c.Transport)
	case c.PerRoom < 1:
		return fmt.Errorf("load: %d callers per room", c.PerRoom)
	case c.Talkers < 0 || c.Talkers > c.PerRoom:
		return fmt.Errorf("load: %d talkers in rooms of %d", c.Talkers, c.PerRoom)
	case c.Duration < time.Second:
		return fmt.Errorf("load: duration %s: at least 1s", c.Duration)
	case c.Settle < 0:
		return fmt.Errorf("load: settle %s is negative", c.Settle)
	case c.Ramp <= 0:
		return fmt.Errorf("load: ramp %g calls per second", c.Ramp)
	case c.Burst < 40*time.Millisecond || (c.Pause > 0 && c.Pause < 40*time.Millisecond):
		return fmt.Errorf("load: bursts of %s with pauses of %s: both at least 40ms (or no pause)", c.Burst, c.Pause)
	case c.Codec.ClockRate()%50 != 0:
		return fmt.Errorf("load: codec %s at %d Hz has no 20 ms frame", c.Codec.Name(), c.Codec.ClockRate())
	case c.PINInURI && c.PIN == "":
		return errors.New("load: PIN in the URI without a PIN")
	case c.Hold != HoldRange{} && (c.Hold.Min < minHold || c.Hold.Max < c.Hold.Min):
		return fmt.Errorf("load: hold %s: want MIN..MAX with %s ≤ MIN ≤ MAX", c.Hold, minHold)
	}
	for _, d := range c.PIN {
		if !strings.ContainsRune("0123456789*#", d) {
			return fmt.Errorf("load: PIN %q: digits, * and # only", c.PIN)
		}
	}
	for _, r := range c.Rooms {
		if r == "" || strings.ContainsAny(r, "@:; ") {
			return fmt.Errorf("load: room %q is not an extension", r)
		}
	}
	if _, _, err := net.SplitHostPort(c.Target); err != nil {
		return fmt.Errorf("load: target %q: %v", c.Target, err)
	}
	return nil
}

// participant is one caller of the run.
type participant struct {
	room    int
	seat    int
	talker  *talker // nil for a silent caller
	lis     *listener
	call    *phone.Call
	setup   time.Duration
	answer  time.Duration // on the run's clock, when the dial returned answered
	failure string        // why the call was not answered
	pinFail bool
	up      bool // answered, PIN keyed, not ended before the window closed
}

// rampTime is how long the first dials of every caller take at cfg.Ramp.
func (cfg Config) rampTime() time.Duration {
	n := len(cfg.Rooms) * cfg.PerRoom
	return time.Duration(float64(n-1) / cfg.Ramp * float64(time.Second))
}

// startRunner makes the run's phone and its callers' plan; the caller
// closes r.ph.
func startRunner(ctx context.Context, cfg Config, grid toneGrid) (*runner, error) {
	r := &runner{
		cfg:   cfg,
		start: time.Now(),
		win:   newWindow(),
		plan:  burstPlan{Burst: cfg.Burst, Pause: cfg.Pause, Rate: cfg.Codec.ClockRate()},
		grid:  grid,
	}
	ph, err := newPhone(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.ph = ph
	r.build()
	return r, nil
}

type runner struct {
	cfg     Config
	start   time.Time
	ph      *phone.Phone
	parts   []*participant
	win     *window
	plan    burstPlan
	grid    toneGrid
	ana     *analyser
	talkers [][]*talker // by room
}

func (r *runner) clock() time.Duration { return time.Since(r.start) }

func (r *runner) progress(format string, a ...any) {
	fmt.Fprintf(r.cfg.Progress, "load: %5.1fs  %s\n", r.clock().Seconds(), fmt.Sprintf(format, a...))
}

// Run places the calls, measures the window and hangs up. Its error is for
// a run that could not start (a bad Config, no socket); a run that went
// wrong on the way, or broke a limit, returns a Report whose OK is false.
// Every goroutine it starts has ended when it returns, at the latest at the
// deadline plus the hang-up grace.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if !cfg.LocalIP.IsValid() {
		ip, err := localIPFor(cfg.Target)
		if err != nil {
			return nil, err
		}
		cfg.LocalIP = ip
	}
	if cfg.Hold != (HoldRange{}) {
		return runChurn(ctx, cfg)
	}
	deadline := cfg.Deadline
	if deadline == 0 {
		deadline = cfg.rampTime() + cfg.SetupTimeout + 10*time.Second + cfg.Settle + cfg.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()

	r, err := startRunner(ctx, cfg, fullGrid)
	if err != nil {
		return nil, err
	}
	defer r.ph.Close()

	// Every caller's RTP runs on one sharded clock, as the bridge's rooms
	// do: a goroutine and a timer per caller to send, and another
	// goroutine woken per packet to receive, made the generator late by
	// thousands of ticks at 1,000 callers on two cores, and its lateness
	// then showed up as the bridge's jitter and delay. The callers catch
	// up after a stall by themselves (phone's own schedule), so the clock
	// does not.
	rep := r.newReport()
	r.progress("placing %d calls to %s at %g/s", len(cfg.Rooms)*cfg.PerRoom, cfg.Target, cfg.Ramp)
	attempted := r.ramp(ctx)
	rep.Calls.Attempted = attempted
	setupDone := r.clock()
	answered := 0
	for _, p := range r.parts[:attempted] {
		if p.call != nil {
			answered++
		}
	}
	wStart := setupDone + cfg.Settle
	wEnd := wStart + cfg.Duration
	r.win.set(wStart, wEnd)
	r.progress("%d of %d calls answered; measuring %s after %s of settling", answered, attempted, cfg.Duration, cfg.Settle)

	var (
		cpu          *cpuWindow
		late0, late1 uint64
	)
	complete := r.sleepUntil(ctx, wStart)
	if complete {
		cpu = startCPU(cfg.CPUPID)
		late0 = r.lateTicks(attempted)
		complete = r.sleepUntil(ctx, wEnd)
	}
	if cpu != nil {
		cpu.stop()
		late1 = r.lateTicks(attempted)
	}
	for _, p := range r.parts[:attempted] {
		if p.call == nil || p.pinFail {
			continue
		}
		select {
		case <-p.call.Done():
		default:
			p.up = true
		}
	}
	r.progress("hanging up")
	r.hangup()
	r.ph.Close()

	r.tally(rep, attempted)
	if cpu != nil {
		rep.Server = cpu.server(rep.Calls.InWindow)
		g := &rep.Generator
		g.CPUSeconds = roundTo(cpu.self.Seconds(), 3)
		g.Cores = roundTo(cpu.self.Seconds()/cpu.wall.Seconds(), 4)
		if n := rep.Calls.InWindow; n > 0 {
			g.PerParticipantMinute = roundTo(cpu.self.Seconds()/(float64(n)*cpu.wall.Minutes()), 5)
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
	if answered == 0 {
		fails = append(fails, "no call was answered")
	}
	fails = append(fails, rep.check(cfg.Limits)...)
	rep.Failures = fails
	rep.OK = len(fails) == 0
	if rep.Failures == nil {
		rep.Failures = []string{}
	}
	return rep, nil
}

// newPhone is the callers' phone. It outlives ctx: its calls are hung up
// politely after the window (or the deadline), not torn down with it.
//
// Every caller's RTP runs on one sharded clock, as the bridge's rooms do: a
// goroutine and a timer per caller to send, and another goroutine woken per
// packet to receive, made the generator late by thousands of ticks at 1,000
// callers on two cores, and its lateness then showed up as the bridge's
// jitter and delay. The callers catch up after a stall by themselves
// (phone's own schedule), so the clock does not.
func newPhone(ctx context.Context, cfg Config) (*phone.Phone, error) {
	return phone.New(context.WithoutCancel(ctx), phone.Config{
		LocalIP: cfg.LocalIP, Transport: cfg.Transport, User: "load", DisplayName: "brygga load",
		Codec: cfg.Codec, RecordLimit: -1, Logger: cfg.Logger,
		Clock: mixer.NewClock(mixer.ClockConfig{CatchUp: -1}),
	})
}

// build makes the participants: callers are numbered across rooms (caller
// i is in room i mod R), so the rooms fill side by side during the ramp,
// and the first T seats of every room talk.
func (r *runner) build() {
	cfg := r.cfg
	rooms := len(cfg.Rooms)
	r.ana = newAnalyser(cfg.Codec.ClockRate() / 50)
	r.parts = make([]*participant, rooms*cfg.PerRoom)
	r.talkers = make([][]*talker, rooms)
	for i := range r.parts {
		p := &participant{room: i % rooms, seat: i / rooms}
		if p.seat < cfg.Talkers {
			p.talker = newTalker(r.grid.tone(p.room, p.seat, cfg.Talkers), p.seat, cfg.Talkers, r.plan, r.clock)
			r.talkers[p.room] = append(r.talkers[p.room], p.talker)
		}
		r.parts[i] = p
	}
	for _, p := range r.parts {
		p.lis = r.listenerFor(p, r.win)
	}
}

// listenerFor is a fresh listener for p's seat, counting inside win: it
// expects its room's other talkers (or itself against an echo), must not
// hear itself back from a bridge, and listens for every other room's tones.
func (r *runner) listenerFor(p *participant, win *window) *listener {
	cfg := r.cfg
	rate := cfg.Codec.ClockRate()
	l := newListener(win, r.ana, rate, r.plan.matchWithin())
	mine := map[float64]bool{}
	if cfg.Echo {
		if p.talker != nil {
			l.expect = append(l.expect, track(p.talker, rate))
			mine[p.talker.freq] = true
		}
	} else {
		for _, t := range r.talkers[p.room] {
			mine[t.freq] = true
			if t != p.talker {
				l.expect = append(l.expect, track(t, rate))
			}
		}
		if p.talker != nil {
			l.self = track(p.talker, rate)
		}
	}
	seen := map[float64]bool{}
	for _, ts := range r.talkers {
		for _, t := range ts {
			if !mine[t.freq] && !seen[t.freq] {
				seen[t.freq] = true
				l.foreign = append(l.foreign, &heardTone{g: newGoertzel(t.freq, rate)})
			}
		}
	}
	if cfg.Hold != (HoldRange{}) {
		// Joins and leaves go on during the window: the bridge's tones
		// for them are expected sound, and the bursts heard are counted
		// against the talkers' calls when the call is over.
		for _, f := range announceTones {
			l.known = append(l.known, newGoertzel(f, rate))
		}
		l.keep = true
	}
	return l
}

// ramp starts the calls at the configured rate and waits until every one
// is set up or has failed; it returns how many it started.
func (r *runner) ramp(ctx context.Context) int {
	var wg sync.WaitGroup
	started := 0
	for i, p := range r.parts {
		at := time.Duration(float64(i) / r.cfg.Ramp * float64(time.Second))
		if !r.sleepUntil(ctx, at) {
			break
		}
		started++
		wg.Go(func() { r.setup(ctx, p) })
	}
	wg.Wait()
	return started
}

func (r *runner) uri(p *participant) string {
	user := r.cfg.Rooms[p.room]
	if r.cfg.PINInURI {
		user += "*" + strings.TrimSuffix(r.cfg.PIN, "#")
	}
	u := "sip:" + user + "@" + r.cfg.Target
	if r.cfg.Transport == "tcp" {
		u += ";transport=tcp"
	}
	return u
}

// setup dials one caller, keys the PIN and starts it talking.
func (r *runner) setup(ctx context.Context, p *participant) {
	l := p.lis
	hook := func(pk phone.Packet) {
		l.packet(rtpIn{at: pk.Arrival.Sub(r.start), ssrc: pk.SSRC, seq: pk.Sequence, ts: pk.Timestamp, audio: pk.Audio})
	}
	dctx, cancel := context.WithTimeout(ctx, r.cfg.SetupTimeout)
	defer cancel()
	t0 := time.Now()
	call, err := r.ph.Dial(dctx, r.uri(p), phone.WithReceiveHook(hook))
	p.setup = time.Since(t0)
	p.answer = r.clock()
	if err != nil {
		p.failure = failure(err)
		r.cfg.Logger.Info("load: call failed", "room", r.cfg.Rooms[p.room], "seat", p.seat, "error", err)
		return
	}
	p.call = call
	if r.cfg.PIN != "" && !r.cfg.PINInURI {
		pin := r.cfg.PIN
		if !strings.HasSuffix(pin, "#") {
			pin += "#"
		}
		if err := call.SendDigits(pin); err != nil {
			p.pinFail = true
			r.cfg.Logger.Info("load: PIN not keyed", "room", r.cfg.Rooms[p.room], "seat", p.seat, "error", err)
			return
		}
	}
	if p.talker != nil {
		call.SetSource(p.talker.frame)
		p.talker.started.Store(true)
	}
}

// failure names why a dial failed, for the report's failed_by_status.
func failure(err error) string {
	var se *phone.StatusError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	return "error"
}

// sleepUntil waits until the run's clock reads at; false when ctx ended
// first.
func (r *runner) sleepUntil(ctx context.Context, at time.Duration) bool {
	d := at - r.clock()
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// lateTicks is how many sender ticks of the calls so far were late.
func (r *runner) lateTicks(attempted int) uint64 {
	var n uint64
	for _, p := range r.parts[:attempted] {
		if p.call != nil {
			n += p.call.Stats().LateTicks
		}
	}
	return n
}

// hangup sends every BYE, a few dozen at a time so that a bridge ending
// thousands of calls is not also flooded.
func (r *runner) hangup() {
	ctx, cancel := context.WithTimeout(context.Background(), hangupGrace)
	defer cancel()
	calls := make(chan *phone.Call)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for c := range calls {
				hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
				_ = c.Hangup(hctx)
				hcancel()
			}
		})
	}
	for _, p := range r.parts {
		if p.call != nil {
			calls <- p.call
		}
	}
	close(calls)
	wg.Wait()
}

func (r *runner) newReport() *Report {
	c := r.cfg
	return &Report{
		Target:       c.Target,
		Transport:    c.Transport,
		Codec:        c.Codec.Name(),
		Rooms:        len(c.Rooms),
		PerRoom:      c.PerRoom,
		Talkers:      c.Talkers,
		Participants: len(r.parts),
		Echo:         c.Echo,
		Calls:        Calls{ByStatus: map[string]int{}},
	}
}

// tally adds up the listeners once every call is over (their receivers
// have stopped, so the accounting is still).
func (r *runner) tally(rep *Report, attempted int) {
	wStart, wEnd := r.win.bounds()
	rep.WindowStart, rep.Window = Millis(wStart), Millis(wEnd-wStart)
	within := r.plan.matchWithin()
	inWindow := map[*talker]bool{}
	for _, p := range r.parts {
		if p.talker != nil && p.up {
			inWindow[p.talker] = true
		}
	}
	a := r.newAcc(rep)
	sep := &rep.Separation
	for _, p := range r.parts[:attempted] {
		if !a.call(p) {
			continue
		}
		st := p.call.Stats()
		rep.Generator.LateTicks += st.LateTicks
		rep.Generator.SendErrors += st.SendErrors
		if !p.up {
			continue
		}
		l := p.lis
		l.mu.Lock()
		a.listener(l)
		for _, h := range l.expect {
			if !inWindow[h.src] {
				continue
			}
			sep.Pairs++
			if h.heardInWin {
				sep.PairsHeard++
			}
			sep.BurstsExpected += h.src.onsetsBetween(wStart, wEnd-within)
			sep.BurstsHeard += h.bursts
		}
		l.mu.Unlock()
	}
	a.finish()
}

// acc adds calls and their listeners up into a report.
type acc struct {
	rep     *Report
	jitter  histogram
	delays  []time.Duration
	setups  []time.Duration
	leakedF map[string]int
}

func (r *runner) newAcc(rep *Report) *acc {
	sep := &rep.Separation
	sep.Distinct = min(len(r.cfg.Rooms), r.grid.groups(r.cfg.Talkers))
	if r.cfg.Talkers == 0 {
		sep.Distinct = 0
	}
	return &acc{rep: rep, leakedF: map[string]int{}}
}

// call counts one call placed: false when it was not answered.
func (a *acc) call(p *participant) bool {
	c := &a.rep.Calls
	switch {
	case p.call == nil:
		c.Failed++
		c.ByStatus[p.failure]++
		return false
	case p.pinFail:
		c.PINFailed++
	case !p.up:
		c.Dropped++
	default:
		c.InWindow++
	}
	c.Answered++
	a.setups = append(a.setups, p.setup)
	return true
}

// listener adds what l heard in its window, all but the pairs; l.mu is
// held.
func (a *acc) listener(l *listener) {
	pk := &a.rep.Packets
	sep := &a.rep.Separation
	pk.Expected += l.expected()
	pk.Received += l.received
	if l.received == 0 {
		pk.Silent++
	} else {
		pk.ExpectedByClock += uint64((l.lastIn-l.firstIn)/(20*time.Millisecond)) + 1
	}
	a.jitter.merge(&l.jitter)
	a.delays = append(a.delays, l.delays...)
	sep.Leaks += l.leaks
	if l.leaks > 0 {
		sep.LeakListeners++
	}
	for f, k := range l.leakedFrom {
		a.leakedF[strconv.FormatFloat(f, 'f', 0, 64)] += k
	}
	sep.SelfEcho += l.echoes
	sep.Unmatched += l.unmatched
	sep.Repeated += l.repeated
	sep.Unexplained += l.unexplained
}

// finish works out the totals.
func (a *acc) finish() {
	rep := a.rep
	sep := &rep.Separation
	sep.Missed = sep.Pairs - sep.PairsHeard
	if len(a.leakedF) > 0 {
		sep.LeakedFreqs = a.leakedF
	}
	pk := &rep.Packets
	if pk.Expected > pk.Received {
		pk.Lost = pk.Expected - pk.Received
	}
	if pk.Expected > 0 {
		pk.LossPercent = roundTo(100*float64(pk.Lost)/float64(pk.Expected), 4)
	}
	rep.Jitter = spreadOf(&a.jitter)
	rep.Delay = spreadOfValues(a.delays)
	rep.Calls.Setup = spreadOfValues(a.setups)
}

// localIPFor is the address the callers use: loopback for a loopback
// target, else the one the kernel routes to the target from.
func localIPFor(target string) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("load: target %q: %w", target, err)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	c, err := net.Dial("udp", target)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("load: no route to %s: %w", target, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// cpuWindow samples the bridge's and the generator's CPU at the window's
// edges.
type cpuWindow struct {
	pid            int
	at             time.Time
	server0, self0 time.Duration
	serverErr      error
	cpu, self      time.Duration
	wall           time.Duration
	rss            int64
	threads        int
}

func startCPU(pid int) *cpuWindow {
	w := &cpuWindow{pid: pid, at: time.Now()}
	if pid > 0 {
		w.server0, w.serverErr = procCPU(pid)
	}
	w.self0, _ = procCPU(os.Getpid())
	return w
}

func (w *cpuWindow) stop() {
	w.wall = time.Since(w.at)
	if self, err := procCPU(os.Getpid()); err == nil {
		w.self = self - w.self0
	}
	if w.pid <= 0 || w.serverErr != nil {
		return
	}
	cpu, err := procCPU(w.pid)
	if err != nil {
		w.serverErr = err
		return
	}
	w.cpu = cpu - w.server0
	w.rss, w.threads, w.serverErr = procMemory(w.pid)
}

func (w *cpuWindow) server(participants int) *Server {
	if w.pid <= 0 {
		return nil
	}
	s := &Server{PID: w.pid}
	if w.serverErr != nil {
		s.Error = w.serverErr.Error()
		return s
	}
	s.CPUSeconds = roundTo(w.cpu.Seconds(), 3)
	s.Cores = roundTo(w.cpu.Seconds()/w.wall.Seconds(), 4)
	if participants > 0 {
		s.PerParticipantMinute = roundTo(w.cpu.Seconds()/(float64(participants)*w.wall.Minutes()), 5)
		s.RSSPerParticipantKiB = roundTo(float64(w.rss)/float64(participants), 1)
	}
	s.RSSKiB = w.rss
	s.Threads = w.threads
	return s
}
