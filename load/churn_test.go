package load

import (
	"context"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"brygga/prompts"
)

func TestParseHold(t *testing.T) {
	good := map[string]HoldRange{
		"20s..90s":     {20 * time.Second, 90 * time.Second},
		" 1m .. 2m30s": {time.Minute, 150 * time.Second},
		"30s":          {30 * time.Second, 30 * time.Second},
		"100ms..100ms": {100 * ms, 100 * ms},
	}
	for in, want := range good {
		got, err := ParseHold(in)
		if err != nil || got != want {
			t.Errorf("ParseHold(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "90s..20s", "50ms", "20s..", "..20s", "20s..x", "-1s..1s", "0s"} {
		if h, err := ParseHold(in); err == nil {
			t.Errorf("ParseHold(%q) = %v, want an error", in, h)
		}
	}
	if s := (HoldRange{20 * time.Second, 90 * time.Second}).String(); s != "20s..1m30s" {
		t.Errorf("String %q", s)
	}
}

func TestHoldFlag(t *testing.T) {
	o, err := ParseArgs([]string{"--hold", "20s..90s", "--rooms", "15", "--per-room", "20"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.Generator.Hold != (HoldRange{20 * time.Second, 90 * time.Second}) {
		t.Errorf("hold %v", o.Generator.Hold)
	}
	o, err = ParseArgs(nil, func(k string) string {
		if k == "BRYGGA_LOAD_HOLD" {
			return "5s..6s"
		}
		return ""
	})
	if err != nil || o.Generator.Hold != (HoldRange{5 * time.Second, 6 * time.Second}) {
		t.Errorf("hold from the environment: %v %v", o, err)
	}
	if o, _ := ParseArgs(nil, noEnv); o.Generator.Hold != (HoldRange{}) {
		t.Errorf("no churn without --hold: %v", o.Generator.Hold)
	}
	for _, args := range [][]string{{"--hold", "90s..20s"}, {"--hold", "10ms"}, {"--reflect", "--hold", "20s..90s"}} {
		_, err := ParseArgs(args, noEnv)
		if err == nil || !strings.Contains(err.Error(), "--hold") {
			t.Errorf("%v: %v, want an error naming --hold", args, err)
		}
	}
	// Config checks its own Hold too, for callers of Run.
	c := Config{Hold: HoldRange{Min: 2 * time.Second, Max: time.Second}}
	c.fill()
	if err := c.validate(); err == nil {
		t.Error("a hold with MAX < MIN validated")
	}
}

func TestHoldPick(t *testing.T) {
	h := HoldRange{20 * time.Second, 90 * time.Second}
	if h.pick(0) != 20*time.Second || h.pick(0.5) != 55*time.Second {
		t.Errorf("pick(0) %s, pick(0.5) %s", h.pick(0), h.pick(0.5))
	}
	if p := h.pick(math.Nextafter(1, 0)); p > 90*time.Second || p < 89*time.Second {
		t.Errorf("pick(1-ε) %s", p)
	}
	if fixed := (HoldRange{30 * time.Second, 30 * time.Second}); fixed.pick(0.7) != 30*time.Second {
		t.Errorf("a fixed hold picked %s", fixed.pick(0.7))
	}
}

// TestChurnGrid: under churn no talker's tone sits next to the bridge's
// join and leave tones, and the rooms still get tone sets of their own.
func TestChurnGrid(t *testing.T) {
	if len(fullGrid) != gridSize || fullGrid[0] != 400 || fullGrid[gridSize-1] != 3300 {
		t.Errorf("full grid %v", fullGrid)
	}
	if len(churnGrid) != 26 || churnGrid.groups(2) != 13 {
		t.Errorf("churn grid of %d slots, %d groups of 2: %v", len(churnGrid), churnGrid.groups(2), churnGrid)
	}
	for _, f := range churnGrid {
		for _, a := range announceTones {
			if math.Abs(f-a) < gridStep {
				t.Errorf("%g Hz is %g Hz from the announcement tone %g Hz", f, math.Abs(f-a), a)
			}
		}
	}
	seen := map[float64]int{}
	for room := range churnGrid.groups(2) {
		for tk := range 2 {
			f := churnGrid.tone(room, tk, 2)
			if r, ok := seen[f]; ok {
				t.Errorf("%g Hz in rooms %d and %d", f, r, room)
			}
			seen[f] = room
		}
	}
	if churnGrid.tone(13, 1, 2) != churnGrid.tone(0, 1, 2) {
		t.Error("room 13 does not reuse room 0's set")
	}
}

// TestCountBursts: a listener call hears a talker's seat only while both
// are in the room, and not the bursts sent in the last matchWithin of
// either.
func TestCountBursts(t *testing.T) {
	s := time.Second
	var onsets []time.Duration
	for i := range 11 {
		onsets = append(onsets, time.Duration(i)*s) // a burst every second, 0 … 10 s
	}
	// The talker's seat: a call in the room from 2 s to 6 s, then one
	// from 8 s that is still up.
	spans := []span{{2 * s, 6 * s}, {8 * s, openEnd}}
	// The listener in the room from 3 s to 9.5 s; within 500 ms. Bursts
	// counted: 3, 4, 5 (the first call's 5.5 s cut-off) and 8 (its own
	// 9 s cut-off); 6 and 7 were sent by nobody in the room.
	sent := []time.Duration{3 * s, 5 * s, 6 * s, 8 * s, 9 * s, 2 * s}
	exp, heard := countBursts(onsets, spans, sent, 3*s, 9500*ms, 500*ms)
	if exp != 4 || heard != 3 {
		t.Errorf("expected %d heard %d; want 4 and 3", exp, heard)
	}
	// No overlap: nothing expected.
	if exp, heard := countBursts(onsets, spans, nil, 6*s, 8*s, 500*ms); exp != 0 || heard != 0 {
		t.Errorf("between the talker's calls: %d, %d", exp, heard)
	}
	// An empty listener span.
	if exp, _ := countBursts(onsets, spans, nil, 4*s, 4*s, 500*ms); exp != 0 {
		t.Errorf("empty span: %d", exp)
	}
}

func TestTalkerSpans(t *testing.T) {
	tk := talkerAt(400, time.Second, 3*time.Second, 5*time.Second)
	tk.closeSpan(time.Second) // nothing open: nothing happens
	tk.openSpan(2 * time.Second)
	if tk.spans[0].to != openEnd {
		t.Fatalf("spans %v", tk.spans)
	}
	// While open, every burst from its start counts.
	if exp, heard := tk.churnBursts(0, 10*time.Second, 500*ms, []time.Duration{5 * time.Second}); exp != 2 || heard != 1 {
		t.Errorf("open span: %d expected, %d heard", exp, heard)
	}
	tk.closeSpan(4 * time.Second)
	tk.closeSpan(9 * time.Second) // already closed: nothing happens
	if exp, _ := tk.churnBursts(0, 10*time.Second, 500*ms, nil); exp != 1 || tk.spans[0].to != 4*time.Second {
		t.Errorf("closed span %v: %d expected", tk.spans, exp)
	}
	// A call that ends before it was in the room gives an empty span.
	tk.openSpan(6 * time.Second)
	tk.closeSpan(5 * time.Second)
	if s := tk.spans[1]; s.to != s.from {
		t.Errorf("span %v", s)
	}
	tk.reset()
	if tk.wasOn || tk.phase != 0 {
		t.Error("reset left the burst state")
	}
}

// TestJoinTonesAreNoLeaks: the bridge's join and leave tones, as churn
// plays them into every room, are neither a talker nor a leak for a
// listener on the churn grid, and are explained sound; on the full grid
// they would read as another room's 600 and 900 Hz.
func TestJoinTonesAreNoLeaks(t *testing.T) {
	hear := func(grid toneGrid, known bool) *listener {
		l := testListener(0, time.Hour)
		l.expect = []*heardTone{track(talkerAt(grid.tone(0, 0, 2)), testRate), track(talkerAt(grid.tone(0, 1, 2)), testRate)}
		for room := 1; room < grid.groups(2); room++ {
			for tk := range 2 {
				l.foreign = append(l.foreign, &heardTone{g: newGoertzel(grid.tone(room, tk, 2), testRate)})
			}
		}
		if known {
			for _, f := range announceTones {
				l.known = append(l.known, newGoertzel(f, testRate))
			}
		}
		var pcm []int16
		for range 3 {
			pcm = append(pcm, prompts.JoinTone()...)
			pcm = append(pcm, make([]int16, 10*testFrame)...)
			pcm = append(pcm, prompts.LeaveTone()...)
			pcm = append(pcm, make([]int16, 10*testFrame)...)
		}
		pcm = through(pcm)
		seq := uint16(0)
		for i := 0; i+testFrame <= len(pcm); i += testFrame {
			feed(l, time.Duration(seq)*20*ms, seq, pcm[i:i+testFrame])
			seq++
		}
		return l
	}
	l := hear(churnGrid, true)
	if l.leaks != 0 || l.unmatched != 0 || l.echoes != 0 {
		t.Errorf("churn grid: %d leaks %v, %d onsets", l.leaks, l.leakedFrom, l.unmatched)
	}
	unknown := hear(churnGrid, false)
	if unknown.leaks != 0 || unknown.unmatched != 0 {
		t.Errorf("churn grid, tones not known: %d leaks %v, %d onsets", unknown.leaks, unknown.leakedFrom, unknown.unmatched)
	}
	if l.unexplained >= unknown.unexplained || unknown.unexplained == 0 {
		t.Errorf("unexplained frames: %d with the tones known, %d without", l.unexplained, unknown.unexplained)
	}
	full := hear(fullGrid, false)
	if full.leaks == 0 && full.unmatched == 0 {
		t.Error("on the full grid the join tones read as nothing: the test hears nothing")
	}
}

// TestChurnAgainstReflector is a short churning run against the floor:
// every seat is redialled after its hold, no call fails, every call hears
// itself, nothing is left up. It asserts counts, not timings.
func TestChurnAgainstReflector(t *testing.T) {
	if testing.Short() {
		t.Skip("places real calls for a few seconds")
	}
	before := runtime.NumGoroutine()
	r := startReflector(t)
	rep, err := Run(context.Background(), Config{
		Target:   r.Addr().String(),
		Rooms:    []string{"100", "200"},
		PerRoom:  3,
		Talkers:  2,
		Duration: 4 * time.Second,
		Settle:   200 * time.Millisecond,
		Ramp:     50,
		Burst:    100 * ms,
		Pause:    100 * ms,
		Hold:     HoldRange{Min: time.Second, Max: 1500 * ms},
		Echo:     true,
		CPUPID:   -1,
		Limits:   Limits{MaxFailed: 0, MaxLoss: -1, MaxLeaks: 0, MaxMissed: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Errorf("failures: %v", rep.Failures)
	}
	c, ch := rep.Calls, rep.Churn
	if ch == nil {
		t.Fatal("no churn section")
	}
	// 6 seats for 4 s and more, calls of at most 1.5 s: every seat
	// dialled again, several times.
	if c.Attempted < 12 || c.Answered != c.Attempted || c.Failed != 0 || c.Dropped != 0 || c.PINFailed != 0 {
		t.Errorf("calls %+v", c)
	}
	if ch.Seats != 6 || ch.HungUp != c.Answered || ch.ByeFailed != 0 || ch.PlacedInWindow == 0 || ch.ConnectedMax > 6 {
		t.Errorf("churn %+v", ch)
	}
	if c.InWindow == 0 || rep.Packets.Received == 0 || rep.Packets.Lost != 0 {
		t.Errorf("measured calls %d, packets %+v", c.InWindow, rep.Packets)
	}
	s := rep.Separation
	if s.Pairs == 0 || s.Violations() != 0 || s.BurstsExpected == 0 || s.BurstsHeard > s.BurstsExpected ||
		s.BurstsHeard < s.BurstsExpected*9/10 {
		t.Errorf("separation %+v", s)
	}
	st := r.Stats()
	if st.Calls != uint64(c.Attempted) {
		t.Errorf("reflector saw %d calls, the run placed %d", st.Calls, c.Attempted)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Active != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still up at the reflector", r.Stats().Active)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	waitGoroutines(t, before)
}
