package mixer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"brygga/media/codec"
	"brygga/media/tone"
)

func TestConfigDefaults(t *testing.T) {
	m := New(Config{})
	if m.FrameSamples() != 160 || m.k != DefaultMaxTalkers || m.hangTicks != 10 || m.catchUp != DefaultCatchUp {
		t.Fatalf("defaults: %d samples, K %d, %d hangover ticks, catch up %d", m.FrameSamples(), m.k, m.hangTicks, m.catchUp)
	}
	// The threshold must sit between a -45 and a -35 dBFS sine.
	quiet := tone.Generate(1000, 8000, 0.0056, 160) // -45 dBFS
	loud := tone.Generate(1000, 8000, 0.0178, 160)  // -35 dBFS
	if ms(quiet) >= m.threshold || ms(loud) < m.threshold {
		t.Fatalf("threshold %d: -45 dBFS %d, -35 dBFS %d", m.threshold, ms(quiet), ms(loud))
	}
	if n := New(Config{Rate: 16000}).FrameSamples(); n != 320 {
		t.Fatalf("16 kHz frame is %d samples", n)
	}
	if h := New(Config{Hangover: -1}).hangTicks; h != 0 {
		t.Fatalf("negative hangover gives %d ticks", h)
	}
	for _, rate := range []int{8001, -8000, 25} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted rate %d", rate)
				}
			}()
			New(Config{Rate: rate})
		}()
	}
}

func ms(pcm []int16) int64 {
	var acc int64
	for _, s := range pcm {
		acc += int64(s) * int64(s)
	}
	return acc / int64(len(pcm))
}

// Below clipping every talker hears exactly the sum of the others and every
// listener exactly the sum of all talkers, sample for sample.
func TestNMinusOneExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := New(Config{})
	talkers := []*phone{newPhone(linear), newPhone(linear), newPhone(linear)}
	listeners := []*phone{newPhone(linear), newPhone(linear)}
	for _, p := range append(talkers, listeners...) {
		join(m, p)
	}
	for tick := range 20 {
		frames := make([][]int16, len(talkers))
		for i, p := range talkers {
			// Three times 10000 stays below full scale.
			frames[i] = noise(r, 10000)
			p.say = frames[i]
		}
		m.Tick()
		for i, p := range talkers {
			equalPCM(t, fmt.Sprintf("tick %d talker %d", tick, i), p.heard(), mixOf(others(frames, i)...))
		}
		for i, p := range listeners {
			equalPCM(t, fmt.Sprintf("tick %d listener %d", tick, i), p.heard(), mixOf(frames...))
		}
	}
}

// The same with G.711 callers of both laws in one room: each payload is
// byte for byte the encode of the exact N-1 mix, and on the wire each caller
// hears the other two tones and not its own.
func TestMixedLawsRoom(t *testing.T) {
	m := New(Config{})
	freqs := []float64{500, 700, 1100}
	codecs := []codec.Codec{codec.PCMU, codec.PCMA, codec.PCMU}
	var (
		ins    []*toneIn
		phones []*phone
	)
	for i, f := range freqs {
		in := &toneIn{freq: f, amp: 0.25}
		p := newPhone(codecs[i])
		m.Add(codecs[i], in, p)
		ins, phones = append(ins, in), append(phones, p)
	}
	listener := newPhone(codec.PCMA)
	join(m, listener)

	for tick := range 10 {
		frames := make([][]int16, len(ins))
		for i, in := range ins {
			// Predict the input by running a copy of its generator.
			shadow := *in
			frames[i] = make([]int16, 160)
			shadow.ReadFrame(frames[i])
		}
		m.Tick()
		for i, p := range phones {
			want := make([]byte, 160)
			p.codec.Encode(want, mixOf(others(frames, i)...))
			if string(p.got) != string(want) {
				t.Fatalf("tick %d: %s caller %d payload is not the encoded N-1 mix", tick, p.codec.Name(), i)
			}
			if tick < 5 {
				continue
			}
			heard := p.heard()
			for j, f := range freqs {
				pw := tone.Power(heard, f, 8000)
				if j == i && pw > -40 {
					t.Errorf("tick %d: caller %d hears its own %v Hz at %.1f dBFS", tick, i, f, pw)
				}
				if j != i && (pw < -14 || pw > -10) {
					t.Errorf("tick %d: caller %d hears %v Hz at %.1f dBFS, want about -12", tick, i, f, pw)
				}
			}
		}
		want := make([]byte, 160)
		codec.PCMA.Encode(want, mixOf(frames...))
		if string(listener.got) != string(want) {
			t.Fatalf("tick %d: listener payload is not the encoded full mix", tick)
		}
	}
}

// Loud sums saturate instead of wrapping around, and a talker's own signal
// is taken out of the 32-bit sum before limiting: in a clipping room a
// talker still hears the others exactly.
func TestClampAfterSubtraction(t *testing.T) {
	m := New(Config{})
	a, b, c := newPhone(linear), newPhone(linear), newPhone(linear)
	listener := newPhone(linear)
	for _, p := range []*phone{a, b, c, listener} {
		join(m, p)
	}
	a.say, b.say, c.say = pattern(30000), pattern(20000), pattern(-5000)
	m.Tick()

	// The room sums to ±45000: the listener gets full scale with the right
	// sign, where 16-bit wraparound would give ∓20536.
	got := listener.heard()
	if got[0] != 32767 || got[1] != -32768 {
		t.Fatalf("listener hears %d, %d; want 32767, -32768", got[0], got[1])
	}
	// b hears a+c = 25000 exactly. Saturating first and subtracting after,
	// as Asterisk does, would give 32767-20000 = 12767.
	equalPCM(t, "b", b.heard(), pattern(25000))
	equalPCM(t, "a", a.heard(), pattern(15000))
	equalPCM(t, "c", c.heard(), mixOf(pattern(30000), pattern(20000)))

	// And with loud random speech from four talkers, every tick.
	r := rand.New(rand.NewPCG(3, 4))
	d := newPhone(linear)
	join(m, d)
	talkers := []*phone{a, b, c, d}
	clipped := 0
	for tick := range 20 {
		frames := make([][]int16, 4)
		for i, p := range talkers {
			frames[i] = noise(r, 25000)
			p.say = frames[i]
		}
		m.Tick()
		for i, p := range talkers {
			equalPCM(t, fmt.Sprintf("tick %d talker %d", tick, i), p.heard(), mixOf(others(frames, i)...))
		}
		full := mixOf(frames...)
		equalPCM(t, fmt.Sprintf("tick %d listener", tick), listener.heard(), full)
		for _, s := range full {
			if s == 32767 || s == -32768 {
				clipped++
			}
		}
	}
	if clipped == 0 {
		t.Fatal("the loud room never clipped; the test proves nothing")
	}
}

// All listeners of one codec get one encode and the very same payload; each
// talker gets its own. Encodes per tick = talkers + codecs in use by
// listeners.
func TestSharedEncode(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		talkerLaws, listLaws []int // 0 = PCMU, 1 = PCMA; per member
		want                 int
	}{
		{"two talkers, both laws listening", []int{0, 1}, []int{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}, 2 + 2},
		{"A-law only among talkers", []int{0, 1}, []int{0, 0, 0, 0}, 2 + 1},
		{"four talkers, a hundred listeners", []int{0, 1, 0, 1}, repeat(100), 4 + 2},
		{"nobody talks", nil, []int{0, 1, 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			laws := []*counting{{Codec: codec.PCMU}, {Codec: codec.PCMA}}
			m := New(Config{})
			var talkers, listeners []*phone
			for i, l := range tc.talkerLaws {
				p := newPhone(laws[l])
				p.say = tone.Generate(400+200*float64(i), 8000, 0.1, 160)
				join(m, p)
				talkers = append(talkers, p)
			}
			for _, l := range tc.listLaws {
				p := newPhone(laws[l])
				join(m, p)
				listeners = append(listeners, p)
			}
			for tick := range 5 {
				laws[0].encodes, laws[1].encodes = 0, 0
				m.Tick()
				if got := laws[0].encodes + laws[1].encodes; got != tc.want {
					t.Fatalf("tick %d: %d encodes, want %d", tick, got, tc.want)
				}
				shared := map[codec.Codec]*byte{}
				for i, p := range listeners {
					if p.writes != tick+1 {
						t.Fatalf("listener %d got %d frames after %d ticks", i, p.writes, tick+1)
					}
					if first, ok := shared[p.codec]; !ok {
						shared[p.codec] = p.gotPtr
					} else if p.gotPtr != first {
						t.Fatalf("listener %d (%s) got its own payload instead of the shared one", i, p.codec.Name())
					}
				}
				for i, p := range talkers {
					for _, s := range shared {
						if p.gotPtr == s {
							t.Fatalf("talker %d got the listeners' payload, which contains its own voice", i)
						}
					}
				}
			}
		})
	}
}

func repeat(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i % 2
	}
	return out
}

// With five talkers and K=4 the quietest is left out of the mix (but still
// counts as talking), and a talker who pauses for breath keeps its place
// for the hangover instead of handing it to the quiet one.
func TestTalkerSelection(t *testing.T) {
	m := New(Config{MaxTalkers: 4})
	var tap []int16
	m.SetTap(func(pcm []int16) { tap = append(tap[:0], pcm...) })
	amps := []float64{0.05, 0.4, 0.02, 0.2, 0.1} // the quietest is member 2
	var (
		phones  []*phone
		members []*Member
		frames  [][]int16
	)
	for i, a := range amps {
		p := newPhone(linear)
		p.say = tone.Generate(300+150*float64(i), 8000, a, 160)
		phones, members, frames = append(phones, p), append(members, join(m, p)), append(frames, p.say)
	}
	listener := newPhone(linear)
	join(m, listener)
	loudest4 := [][]int16{frames[0], frames[1], frames[3], frames[4]}

	check := func(when string, mixed [][]int16, quietIn bool) {
		t.Helper()
		if members[2].Talking() != true || members[2].InMix() != quietIn {
			t.Fatalf("%s: quietest talking %v, in mix %v", when, members[2].Talking(), members[2].InMix())
		}
		equalPCM(t, when+": listener", listener.heard(), mixOf(mixed...))
		equalPCM(t, when+": tap", tap, mixOf(mixed...))
		// Left out of the mix, the quietest hears what every listener hears.
		if !quietIn && phones[2].gotPtr != listener.gotPtr {
			t.Fatalf("%s: the quietest talker outside the mix did not get the shared payload", when)
		}
	}
	for range 3 {
		m.Tick()
		check("all talking", loudest4, false)
	}
	for i, mb := range members {
		if !mb.Talking() {
			t.Fatalf("member %d not talking", i)
		}
	}

	// The loudest pauses: 10 silent ticks (200 ms) keep it talking and mixed.
	phones[1].say = nil
	for tick := range 10 {
		m.Tick()
		if !members[1].Talking() || !members[1].InMix() {
			t.Fatalf("pause tick %d: paused talker dropped (talking %v, in mix %v)", tick, members[1].Talking(), members[1].InMix())
		}
		check(fmt.Sprintf("pause tick %d", tick), [][]int16{frames[0], frames[3], frames[4]}, false)
	}
	// The 11th silent tick ends its turn, and the quietest moves up.
	m.Tick()
	if members[1].Talking() || members[1].InMix() {
		t.Fatal("talker still talking after more than the hangover of silence")
	}
	check("after hangover", [][]int16{frames[0], frames[2], frames[3], frames[4]}, true)

	// Speaking again at the top of the room, it takes its place back.
	phones[1].say = frames[1]
	m.Tick()
	check("back", loudest4, false)
}

func TestNoHangover(t *testing.T) {
	m := New(Config{Hangover: -1})
	p := newPhone(linear)
	mb := join(m, p)
	p.say = pattern(3000)
	m.Tick()
	if !mb.Talking() {
		t.Fatal("not talking")
	}
	p.say = nil
	m.Tick()
	if mb.Talking() {
		t.Fatal("still talking one silent tick later without hangover")
	}
}

// A quiet line (background noise below the threshold) is not a talker and
// adds nothing to the mix.
func TestBelowThresholdIsNotMixed(t *testing.T) {
	m := New(Config{})
	hiss, talker, listener := newPhone(linear), newPhone(linear), newPhone(linear)
	h := join(m, hiss)
	join(m, talker)
	join(m, listener)
	hiss.say = tone.Generate(3000, 8000, 0.005, 160) // -46 dBFS
	talker.say = pattern(4000)
	m.Tick()
	if h.Talking() || h.InMix() {
		t.Fatal("background noise counted as speech")
	}
	equalPCM(t, "listener", listener.heard(), pattern(4000))
}

func TestMute(t *testing.T) {
	m := New(Config{})
	a, b, listener := newPhone(linear), newPhone(linear), newPhone(linear)
	ma, mb := join(m, a), join(m, b)
	join(m, listener)
	a.say, b.say = pattern(8000), pattern(1000)

	ma.SetMuted(true)
	if !ma.Muted() {
		t.Fatal("Muted() false after SetMuted(true)")
	}
	for range 3 {
		m.Tick()
	}
	if ma.Talking() || ma.InMix() {
		t.Fatal("a muted member is talking")
	}
	if a.reads != 3 {
		t.Fatalf("muted input read %d times in 3 ticks; it must keep being drained", a.reads)
	}
	equalPCM(t, "listener", listener.heard(), pattern(1000))
	// The muted member is a plain listener and hears b like everyone else.
	equalPCM(t, "muted member", a.heard(), pattern(1000))
	if a.gotPtr != listener.gotPtr {
		t.Fatal("the muted member did not get the shared payload")
	}
	equalPCM(t, "b", b.heard(), make([]int16, 160))

	ma.SetMuted(false)
	m.Tick()
	if !ma.Talking() || !ma.InMix() || !mb.InMix() {
		t.Fatal("unmuted talker not back in the mix")
	}
	equalPCM(t, "listener after unmute", listener.heard(), pattern(9000))
	equalPCM(t, "b after unmute", b.heard(), pattern(8000))
}

// Announcements play in order, one at a time, to everyone including the
// talkers, and they are in the tap.
func TestAnnouncementQueue(t *testing.T) {
	m := New(Config{})
	talker, listener := newPhone(linear), newPhone(linear)
	join(m, talker)
	join(m, listener)
	var tap []int16
	m.SetTap(func(pcm []int16) { tap = append(tap[:0], pcm...) })
	talker.say = pattern(300)

	first, empty, second, third := steadyClip(1000, 3), steadyClip(0, 0), steadyClip(2000, 2), steadyClip(4000, 1)
	m.Announce(first)
	m.Announce(empty)
	m.Announce(second)
	m.Announce(nil) // ignored
	if !m.Announcing() {
		t.Fatal("not announcing with three queued")
	}

	want := []int16{1000, 1000, 1000, 2000, 2000, 4000, 0, 0}
	for tick, ann := range want {
		if tick == 1 {
			// Queued while the first plays: it waits for the second.
			m.Announce(third)
		}
		m.Tick()
		equalPCM(t, fmt.Sprintf("tick %d listener", tick), listener.heard(), pattern(300+ann))
		equalPCM(t, fmt.Sprintf("tick %d talker", tick), talker.heard(), pattern(ann))
		equalPCM(t, fmt.Sprintf("tick %d tap", tick), tap, pattern(300+ann))
		// Never two announcements in one tick: a later one is not even read
		// before the one ahead of it has ended.
		switch {
		case tick < 3 && second.reads != 0:
			t.Fatalf("tick %d: second announcement read while the first plays", tick)
		case tick < 5 && third.reads != 0:
			t.Fatalf("tick %d: third announcement read while an earlier one plays", tick)
		}
	}
	if m.Announcing() {
		t.Fatal("still announcing after the queue played out")
	}

	// The queue is reusable after it ran dry.
	m.Announce(steadyClip(500, 1))
	m.Tick()
	equalPCM(t, "after reuse", listener.heard(), pattern(800))
}

// A private prompt is heard by its member only, over what it would hear
// anyway, and never reaches the tap.
func TestPrivatePrompt(t *testing.T) {
	m := New(Config{})
	talker, prompted, other := newPhone(linear), newPhone(linear), newPhone(linear)
	mt := join(m, talker)
	mp := join(m, prompted)
	join(m, other)
	var tap []int16
	m.SetTap(func(pcm []int16) { tap = append(tap[:0], pcm...) })
	talker.say = pattern(1000)

	mp.Play(steadyClip(500, 2))
	mt.Play(steadyClip(700, 1)) // a talker with a prompt: N-1 plus the prompt
	if !mp.Playing() {
		t.Fatal("not playing")
	}
	m.Tick()
	equalPCM(t, "prompted", prompted.heard(), pattern(1500))
	equalPCM(t, "talker with prompt", talker.heard(), pattern(700))
	equalPCM(t, "other", other.heard(), pattern(1000))
	equalPCM(t, "tap", tap, pattern(1000))
	if prompted.gotPtr == other.gotPtr {
		t.Fatal("the prompted member got the shared payload")
	}

	m.Tick()
	equalPCM(t, "prompted, last frame", prompted.heard(), pattern(1500))
	equalPCM(t, "talker, prompt over", talker.heard(), make([]int16, 160))
	if mt.Playing() {
		t.Fatal("talker's prompt still playing after it ended")
	}

	m.Tick() // the prompt reports its end
	equalPCM(t, "prompted, after", prompted.heard(), pattern(1000))
	if mp.Playing() || prompted.gotPtr != other.gotPtr {
		t.Fatal("finished prompt still playing or member still off the shared payload")
	}

	// Play replaces, Play(nil) stops.
	a, b := steadyClip(100, 5), steadyClip(200, 5)
	mp.Play(a)
	mp.Play(b)
	m.Tick()
	equalPCM(t, "replaced", prompted.heard(), pattern(1200))
	if a.reads != 0 {
		t.Fatal("replaced prompt was read")
	}
	mp.Play(nil)
	m.Tick()
	if mp.Playing() {
		t.Fatal("Play(nil) did not stop the prompt")
	}
	equalPCM(t, "stopped", prompted.heard(), pattern(1000))
}

func TestTapOff(t *testing.T) {
	m := New(Config{})
	calls := 0
	m.SetTap(func([]int16) { calls++ })
	m.Tick()
	m.SetTap(nil)
	m.Tick()
	if calls != 1 {
		t.Fatalf("tap called %d times", calls)
	}
}

func TestRemove(t *testing.T) {
	m := New(Config{})
	a, b, c := newPhone(linear), newPhone(linear), newPhone(linear)
	ma, mb := join(m, a), join(m, b)
	join(m, c)
	a.say, b.say = pattern(1000), pattern(2000)
	m.Tick()
	if m.Len() != 3 {
		t.Fatalf("Len %d", m.Len())
	}
	m.Remove(ma)
	m.Remove(ma)             // twice: nothing
	New(Config{}).Remove(mb) // another room's member: nothing
	m.Remove(nil)            // nothing
	if m.Len() != 2 {
		t.Fatalf("Len %d after removing one", m.Len())
	}
	reads, writes := a.reads, a.writes
	m.Tick()
	if a.reads != reads || a.writes != writes {
		t.Fatal("removed member's input or output still used")
	}
	if ma.Talking() {
		t.Fatal("removed member still talking")
	}
	equalPCM(t, "c after a left", c.heard(), pattern(2000))
	equalPCM(t, "b after a left", b.heard(), make([]int16, 160))

	// A listen-only member (no input) and one without output are fine.
	d := newPhone(linear)
	m.Add(linear, nil, d)
	e := newPhone(linear)
	e.say = pattern(500)
	m.Add(linear, e, nil)
	m.Tick()
	equalPCM(t, "listen-only", d.heard(), pattern(2500))
	if e.reads != 1 {
		t.Fatal("the input of a member without output was not read")
	}
}

// A tick allocates nothing, with both laws, talkers, listeners, a private
// prompt, an announcement and a tap.
func TestTickDoesNotAllocate(t *testing.T) {
	m := New(Config{})
	out := &discard{}
	for i := range 12 {
		c := codec.PCMU
		if i%2 == 1 {
			c = codec.PCMA
		}
		var in Input = &loop{frame: make([]int16, 160)}
		if i < 5 {
			in = &toneIn{freq: 300 + 100*float64(i), amp: 0.1}
		}
		mb := m.Add(c, in, out)
		if i == 2 || i == 9 {
			mb.Play(&loop{frame: pattern(300)})
		}
		if i == 7 {
			mb.SetMuted(true)
		}
	}
	m.Announce(&loop{frame: pattern(100)})
	m.SetTap(func([]int16) {})
	m.Tick()
	if a := testing.AllocsPerRun(200, m.Tick); a != 0 {
		t.Fatalf("%v allocations per tick", a)
	}
	if out.bytes.Load() == 0 {
		t.Fatal("nothing was written")
	}
}

// A talker who has the floor keeps it against one barely louder (3 dB of
// hysteresis), so the mix does not flap between similar voices; a clearly
// louder one takes over.
func TestTalkerHysteresis(t *testing.T) {
	m := New(Config{MaxTalkers: 1})
	a, b, listener := newPhone(linear), newPhone(linear), newPhone(linear)
	ma, mb := join(m, a), join(m, b)
	join(m, listener)
	a.say = tone.Generate(500, 8000, 0.1, 160)
	m.Tick()
	b.say = tone.Generate(700, 8000, 0.12, 160) // +1.6 dB
	for tick := range 20 {
		m.Tick()
		if !ma.InMix() || mb.InMix() {
			t.Fatalf("tick %d: the floor moved to a talker only 1.6 dB louder", tick)
		}
		equalPCM(t, "listener", listener.heard(), a.say)
	}
	b.say = tone.Generate(700, 8000, 0.2, 160) // +6 dB
	m.Tick()
	if ma.InMix() || !mb.InMix() {
		t.Fatal("a talker 6 dB louder did not take the floor")
	}
	equalPCM(t, "listener", listener.heard(), b.say)
	equalPCM(t, "a, now outside the mix", a.heard(), b.say)
}
