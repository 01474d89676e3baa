package tone

import (
	"math"
	"testing"
)

func TestSineContinuesPhaseAcrossFrames(t *testing.T) {
	whole := Generate(440, 8000, 0.5, 480)
	var phase float64
	pieced := make([]int16, 0, 480)
	frame := make([]int16, 160)
	for range 3 {
		Sine(frame, 440, 8000, 0.5, &phase)
		pieced = append(pieced, frame...)
	}
	for i := range whole {
		if d := int(whole[i]) - int(pieced[i]); d < -1 || d > 1 {
			t.Fatalf("sample %d: one buffer %d, three frames %d", i, whole[i], pieced[i])
		}
	}
}

func TestAmplitudeFractionAndSampleUnits(t *testing.T) {
	for _, tc := range []struct {
		amp  float64
		peak int16
	}{{1, 32767}, {0.5, 16384}, {8000, 8000}, {40000, 32767}} {
		s := Generate(1000, 8000, tc.amp, 8000)
		var max int16
		for _, x := range s {
			max = int16(math.Max(float64(max), float64(x)))
		}
		// 1000 Hz at 8 kHz hits the crest exactly every 8 samples.
		if d := int(max) - int(tc.peak); d < -1 || d > 1 {
			t.Errorf("amplitude %v: peak %d, want %d", tc.amp, max, tc.peak)
		}
	}
}

func TestPowerFullScaleIsZeroDBFS(t *testing.T) {
	for _, tc := range []struct {
		freq float64
		n    int
	}{{1000, 160}, {697, 160}, {1633, 205}, {500, 8000}, {1100, 333}} {
		s := Generate(tc.freq, 8000, 1, tc.n)
		if p := Power(s, tc.freq, 8000); math.Abs(p) > 0.2 {
			t.Errorf("%v Hz over %d samples: %.2f dBFS, want 0", tc.freq, tc.n, p)
		}
	}
	s := Generate(700, 8000, 0.1, 160)
	if p := Power(s, 700, 8000); math.Abs(p+20) > 0.2 {
		t.Errorf("-20 dBFS tone measured %.2f", p)
	}
}

// The end-to-end checks need a present tone to stand well clear of an absent
// one even when the analysis is a single 20 ms frame.
func TestPowerRejectsOtherTones(t *testing.T) {
	// The second set sits between analysis bins, where leakage is worst.
	for _, freqs := range [][]float64{{500, 700, 1100}, {480, 697, 1209}} {
		for _, n := range []int{160, 205, 800, 8000} {
			rejects(t, freqs, n)
		}
	}
}

func rejects(t *testing.T, freqs []float64, n int) {
	t.Helper()
	for _, f := range freqs {
		s := Generate(f, 8000, 0.5, n)
		on := Power(s, f, 8000)
		for _, g := range freqs {
			if g == f {
				continue
			}
			off := Power(s, g, 8000)
			if on-off < 30 {
				t.Errorf("n=%d: tone %v Hz reads %.1f dB at %v Hz, only %.1f dB below", n, f, off, g, on-off)
			}
		}
	}
}

func TestPowerFindsToneInMix(t *testing.T) {
	a := Generate(500, 8000, 0.25, 1600)
	b := Generate(1100, 8000, 0.25, 1600)
	for i := range a {
		a[i] += b[i]
	}
	want := 20 * math.Log10(0.25)
	for _, f := range []float64{500, 1100} {
		if p := Power(a, f, 8000); math.Abs(p-want) > 0.3 {
			t.Errorf("%v Hz in mix: %.2f dBFS, want %.2f", f, p, want)
		}
	}
	if p := Power(a, 700, 8000); p > want-30 {
		t.Errorf("700 Hz absent from mix reads %.1f dBFS", p)
	}
}

func TestLevel(t *testing.T) {
	if l := Level(Generate(440, 8000, 1, 8000)); math.Abs(l) > 0.05 {
		t.Errorf("full-scale sine level %.3f, want 0", l)
	}
	if l := Level(Generate(440, 8000, 0.01, 8000)); math.Abs(l+40) > 0.1 {
		t.Errorf("-40 dBFS sine level %.3f", l)
	}
	sq := make([]int16, 160)
	for i := range sq {
		sq[i] = FullScale
		if i%2 == 1 {
			sq[i] = -FullScale
		}
	}
	if l := Level(sq); math.Abs(l-3.01) > 0.05 {
		t.Errorf("full-scale square level %.3f, want +3.01", l)
	}
	if l := Level(make([]int16, 160)); l != Floor {
		t.Errorf("silence level %v, want %v", l, Floor)
	}
	if l := Level(nil); l != Floor {
		t.Errorf("empty level %v", l)
	}
	if p := Power(make([]int16, 160), 1000, 8000); p != Floor {
		t.Errorf("silence power %v", p)
	}
}

func TestDegenerateInputs(t *testing.T) {
	if p := Power([]int16{1000}, 1000, 8000); math.IsNaN(p) {
		t.Error("one sample gives NaN")
	}
	if p := Power(Generate(1000, 8000, 1, 160), 1000, 0); p != Floor {
		t.Errorf("rate 0: %v", p)
	}
	if g := Generate(1000, 8000, 1, -1); len(g) != 0 {
		t.Error("negative length")
	}
	d := []int16{5, 5}
	Sine(d, 100, 0, 1, nil)
	if d[0] != 0 || d[1] != 0 {
		t.Error("rate 0 should give silence")
	}
}

func BenchmarkPowerFrame(b *testing.B) {
	s := Generate(1000, 8000, 0.5, 160)
	b.ReportAllocs()
	for b.Loop() {
		Power(s, 1000, 8000)
	}
}
