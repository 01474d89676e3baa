package load

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"brygga/media/codec"
	"brygga/media/tone"
)

const (
	testRate  = 8000
	testFrame = 160
	ms        = time.Millisecond
)

func testListener(start, end time.Duration) *listener {
	w := newWindow()
	w.set(start, end)
	plan := burstPlan{Burst: 600 * ms, Pause: 1400 * ms, Rate: testRate}
	return newListener(w, newAnalyser(testFrame), testRate, plan.matchWithin())
}

// talkerAt is a talker whose bursts began at the given send times.
func talkerAt(freq float64, onsets ...time.Duration) *talker {
	t := &talker{freq: freq}
	for _, at := range onsets {
		t.onset(at)
	}
	return t
}

// through is what a listener hears: pcm through G.711, as a bridge sends
// it.
func through(pcm []int16) []int16 {
	enc := make([]byte, len(pcm))
	codec.PCMU.Encode(enc, pcm)
	out := make([]int16, len(pcm))
	codec.PCMU.Decode(out, enc)
	return out
}

// mixFrame is one frame of the given tones at the talkers' level, each
// starting at phase 0 (a burst starts on a frame boundary).
func mixFrame(freqs ...float64) []int16 {
	out := make([]int16, testFrame)
	buf := make([]int16, testFrame)
	for _, f := range freqs {
		tone.Sine(buf, f, testRate, talkAmplitude, nil)
		for i := range out {
			out[i] += buf[i]
		}
	}
	return through(out)
}

func feed(l *listener, at time.Duration, seq uint16, pcm []int16) {
	l.packet(rtpIn{at: at, ssrc: 1, seq: seq, ts: uint32(seq) * testFrame, audio: pcm})
}

func TestLossBySequenceNumbers(t *testing.T) {
	l := testListener(time.Second, time.Hour)
	silence := make([]int16, testFrame)
	// Before the window: not counted.
	for i := range 10 {
		l.packet(rtpIn{at: time.Duration(i) * 20 * ms, ssrc: 7, seq: uint16(65000 + i), audio: silence})
	}
	// 100 sequence numbers across the wrap, 3 lost, one duplicated, one
	// late (reordered).
	at := 2 * time.Second
	lost := map[int]bool{5: true, 40: true, 41: true}
	for i := range 100 {
		if lost[i] || i == 60 {
			continue
		}
		seq := uint16(65500 + i) // wraps at i = 36
		l.packet(rtpIn{at: at, ssrc: 7, seq: seq, audio: silence})
		if i == 20 {
			l.packet(rtpIn{at: at, ssrc: 7, seq: seq, audio: silence})
		}
		if i == 62 {
			l.packet(rtpIn{at: at, ssrc: 7, seq: uint16(65500 + 60 - 65536), audio: silence})
		}
		at += 20 * ms
	}
	// A new SSRC (the bridge restarted the stream): a segment of its own,
	// 50 expected, 1 lost; a non-audio packet counts as a packet too.
	for i := range 50 {
		if i == 10 {
			continue
		}
		var audio []int16
		if i != 30 {
			audio = silence
		}
		l.packet(rtpIn{at: at, ssrc: 8, seq: uint16(1000 + i), audio: audio})
		at += 20 * ms
	}
	if got := l.expected(); got != 150 {
		t.Errorf("expected %d packets, want 150", got)
	}
	// 97 + 1 duplicate of the first stream, 49 of the second.
	if l.received != 147 {
		t.Errorf("received %d, want 147", l.received)
	}
}

func TestJitterPercentiles(t *testing.T) {
	l := testListener(0, time.Hour)
	silence := make([]int16, testFrame)
	// One packet in a hundred 5 ms late: it and the one after it each have
	// |D| = 5 ms, 20 of 999 differences; all others arrive on time.
	for i := range 1000 {
		at := time.Duration(i) * 20 * ms
		if i%100 == 50 {
			at += 5 * ms
		}
		l.packet(rtpIn{at: at, ssrc: 3, seq: uint16(i), ts: uint32(i) * testFrame, audio: silence})
	}
	if l.jitter.n != 999 {
		t.Fatalf("%d differences, want 999", l.jitter.n)
	}
	if p := l.jitter.quantile(0.5); p != 0 {
		t.Errorf("p50 %v, want 0", p)
	}
	if p := l.jitter.quantile(0.99); p != 5*ms {
		t.Errorf("p99 %v, want 5ms", p)
	}
	if p := l.jitter.quantile(0.97); p != 0 {
		t.Errorf("p97 %v, want 0 (98%% are on time)", p)
	}

	// Timestamps that wrap and a stream that sends at 30 ms cause no
	// jitter by themselves.
	l = testListener(0, time.Hour)
	for i := range 100 {
		l.packet(rtpIn{at: time.Duration(i) * 30 * ms, ssrc: 3, seq: uint16(i), ts: math.MaxUint32 - 1000 + uint32(i)*240, audio: make([]int16, 240)})
	}
	if p := l.jitter.quantile(1); p != 0 {
		t.Errorf("max |D| %v for a steady stream across a timestamp wrap", p)
	}
}

func TestHistogramMatchesExactQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	var exact []time.Duration
	for range 20000 {
		// Log-normal around 300 µs, with a tail into tens of ms.
		d := time.Duration(math.Exp(rng.NormFloat64()*1.5+math.Log(300))) * time.Microsecond
		h.add(d)
		exact = append(exact, d.Truncate(time.Microsecond))
	}
	slices.Sort(exact)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want, got := quantileOf(exact, q), h.quantile(q)
		if diff := math.Abs(float64(got-want)) / float64(want); diff > 1.0/32+0.001 {
			t.Errorf("q%.3f: histogram %v, exact %v (%.1f%% off)", q, got, want, 100*diff)
		}
	}
	var m histogram
	m.merge(&h)
	m.merge(&h)
	if m.n != 2*h.n || m.quantile(0.5) != h.quantile(0.5) || m.max != h.max {
		t.Error("merging a histogram twice changed its shape")
	}
	// Bucket edges: every value falls in the bucket whose range holds it.
	for _, us := range []int64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 4999, 5000, 1 << 20, 1<<37 - 1} {
		low, width := histRange(histBucket(us))
		if us < low || us >= low+width {
			t.Errorf("%d µs in bucket [%d, %d)", us, low, low+width)
		}
	}
	if (&histogram{}).quantile(0.5) != 0 {
		t.Error("empty histogram")
	}
}

// TestDelayOfKnownOnsets plays a bridge that delays everything by exactly
// 47 ms: the listener must measure 47 ms for every burst, once per burst.
func TestDelayOfKnownOnsets(t *testing.T) {
	const delay = 47 * ms
	a := talkerAt(700, 1*time.Second, 3*time.Second, 5*time.Second)
	for _, tc := range []struct {
		name       string
		start      time.Duration
		packet     int // samples per packet: the bridge may send 10 ms packets
		wantBursts int
		wantHeard  bool
	}{
		{"whole window", 0, 160, 3, true},
		{"window opens after the first burst", 2 * time.Second, 160, 2, true},
		{"10 ms packets", 0, 80, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testListener(tc.start, time.Hour)
			h := track(a, testRate)
			l.expect = []*heardTone{h}
			step := time.Duration(tc.packet) * time.Second / testRate
			seq := uint16(0)
			// Packets arrive on a grid offset by 7 ms, so a frame with the
			// tone arrives 47 ms after the burst began.
			for at := 7 * ms; at < 7*time.Second; at += 20 * ms {
				var f []int16
				in := false
				for _, on := range a.onsets {
					if at >= on+delay && at < on+delay+600*ms {
						in = true
					}
				}
				if in {
					f = mixFrame(700)
				} else {
					f = through(make([]int16, testFrame))
				}
				// The frame's packets: the last one completes it at 'at'.
				for k := 0; k < testFrame; k += tc.packet {
					end := at - step*time.Duration((testFrame-k-tc.packet)/tc.packet)
					feed(l, end, seq, f[k:k+tc.packet])
					seq++
				}
			}
			if h.bursts != tc.wantBursts || len(l.delays) != tc.wantBursts {
				t.Fatalf("%d bursts, %d delays; want %d", h.bursts, len(l.delays), tc.wantBursts)
			}
			for _, d := range l.delays {
				if d != delay {
					t.Errorf("delay %v, want %v", d, delay)
				}
			}
			if h.heardInWin != tc.wantHeard || l.unmatched != 0 || l.repeated != 0 || l.leaks != 0 || l.unexplained != 0 {
				t.Errorf("heard %v, unmatched %d, repeated %d, leaks %d, unexplained %d",
					h.heardInWin, l.unmatched, l.repeated, l.leaks, l.unexplained)
			}
		})
	}
}

// TestOnsetsThatAreNotBursts: a tone with no burst of its talker behind it
// is unmatched; a burst that breaks up and resumes is one burst, not two.
func TestOnsetsThatAreNotBursts(t *testing.T) {
	a := talkerAt(900, time.Second)
	l := testListener(0, time.Hour)
	h := track(a, testRate)
	l.expect = []*heardTone{h}
	silence := through(make([]int16, testFrame))
	seq := uint16(0)
	for at := time.Duration(0); at < 4*time.Second; at += 20 * ms {
		f := silence
		switch {
		case at >= time.Second+40*ms && at < time.Second+200*ms,
			at >= time.Second+260*ms && at < time.Second+600*ms, // 3 frames of dropout in between
			at >= 3*time.Second && at < 3*time.Second+400*ms:    // no burst was sent then
			f = mixFrame(900)
		}
		feed(l, at, seq, f)
		seq++
	}
	if h.bursts != 1 || len(l.delays) != 1 || l.delays[0] != 40*ms {
		t.Errorf("bursts %d, delays %v; want one of 40ms", h.bursts, l.delays)
	}
	if l.repeated != 1 || l.unmatched != 1 {
		t.Errorf("repeated %d, unmatched %d; want 1 and 1", l.repeated, l.unmatched)
	}
}

// TestRoomSeparation: a listener of a room with talkers at 400 and 500 Hz
// hears 400 Hz, once another room's 600 Hz for a whole burst (a leak), and
// once a one-frame click at 700 Hz (not a leak); 500 Hz never comes.
func TestRoomSeparation(t *testing.T) {
	a, b := talkerAt(400, time.Second), talkerAt(500, 2*time.Second)
	l := testListener(0, time.Hour)
	ha, hb := track(a, testRate), track(b, testRate)
	l.expect = []*heardTone{ha, hb}
	l.foreign = []*heardTone{{g: newGoertzel(600, testRate)}, {g: newGoertzel(700, testRate)}}
	seq := uint16(0)
	for at := time.Duration(0); at < 4*time.Second; at += 20 * ms {
		var tones []float64
		if at >= time.Second+40*ms && at < time.Second+640*ms {
			tones = append(tones, 400)
		}
		if at >= time.Second+300*ms && at < time.Second+900*ms {
			tones = append(tones, 600)
		}
		if at == 3*time.Second {
			tones = append(tones, 700)
		}
		feed(l, at, seq, mixFrame(tones...))
		seq++
	}
	if !ha.heardInWin || hb.heardInWin {
		t.Errorf("heard 400 Hz %v (want true), 500 Hz %v (want false)", ha.heardInWin, hb.heardInWin)
	}
	if l.leaks != 1 || l.leakedFrom[600] != 1 || l.leakedFrom[700] != 0 {
		t.Errorf("leaks %d from %v; want one from 600 Hz", l.leaks, l.leakedFrom)
	}
	if l.unexplained < 30 {
		t.Errorf("%d unexplained frames; the 600 Hz burst alone is 30", l.unexplained)
	}

	// The same stream for a listener of the room that owns 600 Hz and 400
	// Hz is clean: intermodulation of two tones through G.711 leaves no
	// leak at 700 Hz, 100 Hz away.
	l = testListener(0, time.Hour)
	l.expect = []*heardTone{track(a, testRate), track(talkerAt(600, time.Second+260*ms), testRate)}
	l.foreign = []*heardTone{{g: newGoertzel(500, testRate)}, {g: newGoertzel(700, testRate)}, {g: newGoertzel(800, testRate)}}
	seq = 0
	for at := time.Duration(0); at < 3*time.Second; at += 20 * ms {
		var tones []float64
		if at >= time.Second+40*ms && at < time.Second+640*ms {
			tones = append(tones, 400)
		}
		if at >= time.Second+300*ms && at < time.Second+900*ms {
			tones = append(tones, 600)
		}
		feed(l, at, seq, mixFrame(tones...))
		seq++
	}
	if l.leaks != 0 || l.unexplained != 0 {
		t.Errorf("leaks %d, unexplained frames %d in a clean two-tone stream", l.leaks, l.unexplained)
	}
}

// TestSelfEcho: a bridge must not send a talker its own voice.
func TestSelfEcho(t *testing.T) {
	me := talkerAt(1200, time.Second)
	l := testListener(0, time.Hour)
	l.self = track(me, testRate)
	seq := uint16(0)
	for at := time.Duration(0); at < 3*time.Second; at += 20 * ms {
		var tones []float64
		if at >= time.Second+20*ms && at < time.Second+620*ms {
			tones = append(tones, 1200)
		}
		feed(l, at, seq, mixFrame(tones...))
		seq++
	}
	if l.echoes != 1 {
		t.Errorf("%d self-echo episodes, want 1", l.echoes)
	}
}

func TestTalkersTakeTurns(t *testing.T) {
	now := time.Duration(0)
	clock := func() time.Duration { return now }
	plan := burstPlan{Burst: 600 * ms, Pause: 1400 * ms, Rate: testRate}
	t0 := newTalker(toneFor(0, 0, 2), 0, 2, plan, clock)
	t1 := newTalker(toneFor(0, 1, 2), 1, 2, plan, clock)
	pcm := make([]int16, testFrame)
	var on0, on1 int
	for now = 0; now < 10*time.Second; now += 20 * ms {
		t0.frame(pcm)
		if tone.Power(pcm, t0.freq, testRate) > onDB {
			on0++
		}
		t1.frame(pcm)
		if tone.Power(pcm, t1.freq, testRate) > onDB {
			on1++
		}
	}
	// Talker 1 of 2 runs half a period (1 s) behind talker 0.
	want0 := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 8 * time.Second}
	want1 := []time.Duration{1 * time.Second, 3 * time.Second, 5 * time.Second, 7 * time.Second, 9 * time.Second}
	if !slices.Equal(t0.onsets, want0) || !slices.Equal(t1.onsets, want1) {
		t.Errorf("bursts began at %v and %v, want %v and %v", t0.onsets, t1.onsets, want0, want1)
	}
	if on0 != 5*30 || on1 != 5*30 {
		t.Errorf("talkers sent %d and %d frames of tone, want 5 bursts of 30 each", on0, on1)
	}
	if t0.onsetsBetween(2*time.Second, 6*time.Second) != 2 {
		t.Error("onsetsBetween counts [from, to)")
	}
	if t0.freq == t1.freq {
		t.Error("two talkers of a room share a tone")
	}
}

func TestToneGrid(t *testing.T) {
	seen := map[float64]int{}
	for room := range 15 {
		for tk := range 2 {
			f := toneFor(room, tk, 2)
			if f < 300 || f > 3400 || math.Mod(f, 100) != 0 {
				t.Errorf("room %d talker %d at %g Hz: off the grid", room, tk, f)
			}
			seen[f]++
		}
	}
	if len(seen) != 30 {
		t.Errorf("15 rooms of 2 talkers use %d tones, want 30 distinct", len(seen))
	}
	if toneGroups(2) != 15 || toneGroups(20) != 1 || toneGroups(0) != 30 {
		t.Errorf("groups %d %d %d", toneGroups(2), toneGroups(20), toneGroups(0))
	}
	if toneFor(15, 0, 2) != toneFor(0, 0, 2) {
		t.Error("room 15 should reuse room 0's tones")
	}
}

func TestOnsetRing(t *testing.T) {
	var r onsetRing
	if _, ok := r.latest(time.Second, time.Second); ok {
		t.Error("empty ring matched")
	}
	for i := range 40 {
		r.add(time.Duration(i) * time.Second)
	}
	if at, ok := r.latest(30*time.Second+500*ms, time.Second); !ok || at != 30*time.Second {
		t.Errorf("latest before 30.5 s: %v %v", at, ok)
	}
	if _, ok := r.latest(39*time.Second+1500*ms, time.Second); ok {
		t.Error("an onset 1.5 s back matched within 1 s")
	}
	if _, ok := r.latest(10*time.Second, time.Hour); ok {
		t.Error("an onset overwritten in the ring matched")
	}
}

func TestAnalyserAgreesWithTonePower(t *testing.T) {
	a := newAnalyser(testFrame)
	for _, f := range []float64{400, 1000, 3300} {
		pcm := mixFrame(f)
		got := decibels(a.power(pcm, newGoertzel(f, testRate)))
		want := tone.Power(pcm, f, testRate)
		if math.Abs(got-want) > 0.01 {
			t.Errorf("%g Hz: %.2f dBFS, tone.Power says %.2f", f, got, want)
		}
		if lv := decibels(total(pcm)); math.Abs(lv-tone.Level(pcm)) > 0.01 {
			t.Errorf("total %.2f, tone.Level %.2f", lv, tone.Level(pcm))
		}
		// The grid's neighbours read nothing of a steady tone.
		if n := decibels(a.power(pcm, newGoertzel(f+gridStep, testRate))); n > leakDB-15 {
			t.Errorf("%g Hz leaks %.1f dBFS into %g Hz", f, n, f+gridStep)
		}
	}
}

// TestToneNeverExceedsThreeTimesTotal is the bound the quiet shortcut of
// listener.frame rests on: a tone's windowed power is at most 3 times the
// frame's total power. The worst real frame (the window itself, modulated
// by the tone) reaches about half of that away from 0 Hz.
func TestToneNeverExceedsThreeTimesTotal(t *testing.T) {
	a := newAnalyser(testFrame)
	rng := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	for _, f := range []float64{400, 1000, 2250, 3300} {
		g := newGoertzel(f, testRate)
		frames := [][]int16{mixFrame(f)}
		for range 50 {
			pcm := make([]int16, testFrame)
			for i := range pcm {
				pcm[i] = int16(rng.IntN(2001) - 1000)
			}
			frames = append(frames, pcm)
		}
		shaped := make([]int16, testFrame)
		for i := range shaped {
			shaped[i] = int16(math.Round(8000 * a.window[i] * math.Cos(2*math.Pi*f*float64(i)/testRate)))
		}
		frames = append(frames, shaped)
		for _, pcm := range frames {
			p, all := a.power(pcm, g), total(pcm)
			if p > 3*all*(1+1e-9) {
				t.Fatalf("%g Hz: tone power %g over 3 × total %g", f, p, all)
			}
			worst = max(worst, p/all)
		}
	}
	if worst < 1.4 {
		t.Errorf("worst ratio %.2f: the worst case was not tried", worst)
	}
	if quietLin*3 >= min(offLin, leakLin, residualLin) {
		t.Errorf("quiet threshold %g is not below every threshold / 3", quietLin)
	}
}

// TestQuietFramesJudgedAsInFull: a listener that skips the filters for
// quiet frames ends with the same accounting as one that runs them all,
// on a stream of bursts, echo, a leak and noise around the quiet level.
func TestQuietFramesJudgedAsInFull(t *testing.T) {
	run := func(quiet float64) *listener {
		defer func(q float64) { quietLin = q }(quietLin)
		quietLin = quiet
		a, b, me := talkerAt(400, time.Second, 2*time.Second), talkerAt(500, 1500*ms), talkerAt(800, 2500*ms)
		l := testListener(500*ms, 3500*ms)
		l.expect = []*heardTone{track(a, testRate), track(b, testRate)}
		l.self = track(me, testRate)
		l.foreign = []*heardTone{{g: newGoertzel(600, testRate)}, {g: newGoertzel(700, testRate)}}
		rng := rand.New(rand.NewPCG(3, 4))
		seq := uint16(0)
		for at := time.Duration(0); at < 4*time.Second; at += 20 * ms {
			var tones []float64
			for _, on := range []time.Duration{time.Second, 2 * time.Second} {
				if at >= on+40*ms && at < on+400*ms {
					tones = append(tones, 400)
				}
			}
			if at >= 1500*ms+40*ms && at < 1500*ms+300*ms {
				tones = append(tones, 500)
			}
			if at >= 2500*ms+40*ms && at < 2500*ms+200*ms {
				tones = append(tones, 800) // its own voice back
			}
			if at >= 3*time.Second && at < 3*time.Second+200*ms {
				tones = append(tones, 600) // another room's
			}
			f := mixFrame(tones...)
			if len(tones) == 0 {
				// Noise from far below to a little above the quiet level.
				amp := math.Sqrt(quietLin/2) * tone.FullScale * math.Pow(10, float64(rng.IntN(5)-3)/10)
				for i := range f {
					f[i] = int16(math.Round(amp * (2*rng.Float64() - 1) * math.Sqrt(3)))
				}
			}
			feed(l, at, seq, f)
			seq++
		}
		return l
	}
	quick, full := run(quietLin), run(0)
	type sum struct {
		Leaks, Echoes, Unexplained, Unmatched, Repeated, Frames int
		Delays                                                  string
		Heard, Bursts, On                                       string
	}
	of := func(l *listener) sum {
		s := sum{Leaks: l.leaks, Echoes: l.echoes, Unexplained: l.unexplained, Unmatched: l.unmatched,
			Repeated: l.repeated, Frames: l.audioFramesInWin, Delays: fmt.Sprint(l.delays)}
		for _, h := range append(append([]*heardTone{l.self}, l.expect...), l.foreign...) {
			s.Heard += fmt.Sprint(h.heardInWin, " ")
			s.Bursts += fmt.Sprint(h.bursts, " ")
			s.On += fmt.Sprint(h.on, h.run, " ")
		}
		return s
	}
	if q, f := of(quick), of(full); q != f {
		t.Errorf("with the quiet shortcut %+v\nwith every filter     %+v", q, f)
	}
	if f := of(full); f.Leaks != 1 || f.Echoes != 1 || len(full.delays) != 3 {
		t.Errorf("the stream is not the one meant: %+v", f)
	}
}
