package prompts

import (
	"slices"
	"testing"
	"time"
)

func ramp(start, n int) []int16 {
	c := make([]int16, n)
	for i := range c {
		c[i] = int16(start + i)
	}
	return c
}

// drain reads frames until the player is done and returns what it played,
// frame by frame.
func drain(t *testing.T, p *Player, frame, limit int) [][]int16 {
	t.Helper()
	var frames [][]int16
	for {
		pcm := make([]int16, frame)
		for i := range pcm {
			pcm[i] = 0x5555 // must be overwritten
		}
		if !p.ReadFrame(pcm) {
			for _, s := range pcm {
				if s != 0 {
					t.Fatal("finished ReadFrame left data in the frame")
				}
			}
			return frames
		}
		frames = append(frames, pcm)
		if len(frames) > limit {
			t.Fatalf("more than %d frames", limit)
		}
	}
}

func TestPlayerFraming(t *testing.T) {
	a, b := ramp(1, 100), ramp(1001, 250)
	p := NewPlayer(a, nil, b, []int16{})
	if got := p.Duration(); got != 350*time.Second/Rate {
		t.Errorf("Duration %v", got)
	}
	frames := drain(t, p, 160, 10)
	if len(frames) != 3 { // 350 samples: 160 + 160 + 30 and padding
		t.Fatalf("%d frames, want 3", len(frames))
	}
	want := append(append(append([]int16{}, a...), b...), make([]int16, 3*160-350)...)
	if got := slices.Concat(frames...); !slices.Equal(got, want) {
		t.Error("played samples differ from the clips followed by zero padding")
	}
	for i := 0; i < 3; i++ {
		if p.ReadFrame(make([]int16, 160)) {
			t.Fatal("ReadFrame true after the end")
		}
	}
}

func TestPlayerExactEnd(t *testing.T) {
	// Clips that end on a frame boundary need no padded frame.
	p := NewPlayer(ramp(1, 160), ramp(200, 160))
	if frames := drain(t, p, 160, 10); len(frames) != 2 {
		t.Errorf("%d frames, want 2", len(frames))
	}
	// Any frame size works (16 kHz rooms use 320).
	p = NewPlayer(ramp(1, 500))
	if frames := drain(t, p, 320, 10); len(frames) != 2 || frames[1][179] != 500 || frames[1][180] != 0 {
		t.Errorf("320-sample frames wrong")
	}
}

func TestPlayerGap(t *testing.T) {
	a, b, c := ramp(1, 100), ramp(1001, 100), ramp(2001, 10)
	gap := 25 * time.Millisecond // 200 samples
	p := NewPlayerGap(gap, a, b, c)
	if got := p.Duration(); got != (210+400)*time.Second/Rate {
		t.Errorf("Duration %v", got)
	}
	got := slices.Concat(drain(t, p, 160, 10)...)
	want := slices.Concat(a, make([]int16, 200), b, make([]int16, 200), c)
	want = append(want, make([]int16, 4*160-len(want))...)
	if !slices.Equal(got, want) {
		t.Errorf("gap layout wrong: %d samples, want %d", len(got), len(want))
	}
}

func TestPlayerEmptyAndStop(t *testing.T) {
	if NewPlayer().ReadFrame(make([]int16, 160)) || NewPlayer(nil, nil).ReadFrame(make([]int16, 160)) {
		t.Error("empty player played")
	}
	if NewLoop(time.Second).ReadFrame(make([]int16, 160)) {
		t.Error("empty loop played")
	}
	p := NewPlayer(ramp(1, 1000))
	if !p.ReadFrame(make([]int16, 160)) {
		t.Fatal("no first frame")
	}
	p.Stop()
	if frames := drain(t, p, 160, 10); len(frames) != 0 {
		t.Errorf("%d frames after Stop", len(frames))
	}
}

func TestLoop(t *testing.T) {
	a := ramp(1, 100)
	p := NewLoop(10*time.Millisecond, a) // 80 samples of silence between rounds
	var got []int16
	for i := 0; i < 9; i++ { // 9 × 160 = 8 rounds of 180
		pcm := make([]int16, 160)
		if !p.ReadFrame(pcm) {
			t.Fatal("loop ended")
		}
		got = append(got, pcm...)
	}
	round := slices.Concat(a, make([]int16, 80))
	for r := 0; r < 8; r++ {
		if !slices.Equal(got[r*180:(r+1)*180], round) {
			t.Fatalf("round %d differs", r)
		}
	}
	p.Stop()
	if p.ReadFrame(make([]int16, 160)) {
		t.Error("loop played after Stop")
	}
}

func TestPlayerNoAlloc(t *testing.T) {
	p := NewLoop(0, Builtin().Clip("en", GetPin))
	pcm := make([]int16, 160)
	if n := testing.AllocsPerRun(200, func() { p.ReadFrame(pcm) }); n != 0 {
		t.Errorf("%v allocations per frame", n)
	}
}

func TestPlayerStopConcurrent(t *testing.T) {
	// Stop comes from the DTMF side while the room's tick reads frames; -race checks it.
	p := NewLoop(0, ramp(1, 1000))
	done := make(chan struct{})
	go func() {
		defer close(done)
		pcm := make([]int16, 160)
		for p.ReadFrame(pcm) {
		}
	}()
	time.Sleep(2 * time.Millisecond)
	p.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("player did not stop")
	}
}
