package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/zaf/g711"

	"brygga/media/tone"
)

func freqsOf(digit byte) (row, col float64) {
	for r := range keypad {
		for c := range keypad[r] {
			if keypad[r][c] == digit {
				return rowFreqs[r], colFreqs[c]
			}
		}
	}
	panic("no such digit " + string(digit))
}

// audio builds 8 kHz audio: for each key, ms of tone then gapMs of silence.
type audio struct {
	pcm []int16
}

func (s *audio) key(digit byte, ms int, rowDBFS, colDBFS float64) {
	r, c := freqsOf(digit)
	n := ms * 8
	a := tone.Generate(r, 8000, math.Pow(10, rowDBFS/20), n)
	b := tone.Generate(c, 8000, math.Pow(10, colDBFS/20), n)
	for i := range a {
		s.pcm = append(s.pcm, int16(max(-32768, min(32767, int(a[i])+int(b[i])))))
	}
}

func (s *audio) silence(ms int) { s.pcm = append(s.pcm, make([]int16, ms*8)...) }

func (s *audio) dial(keys string, ms, gapMs int) {
	for i := range len(keys) {
		s.key(keys[i], ms, -10, -8)
		s.silence(gapMs)
	}
}

// detect feeds the audio in frames of frameLen samples and collects digits.
func detect(pcm []int16, frameLen int) string {
	d := NewDetector(8000)
	var got []byte
	for len(pcm) > 0 {
		n := min(frameLen, len(pcm))
		if digit, ok := d.Frame(pcm[:n]); ok {
			got = append(got, digit)
		}
		pcm = pcm[n:]
	}
	return string(got)
}

func TestDetectorAllDigits(t *testing.T) {
	var s audio
	s.silence(100)
	s.dial("0123456789*#ABCD", 80, 80)
	for _, frame := range []int{160, 80, 240, 7} {
		if got := detect(s.pcm, frame); got != "0123456789*#ABCD" {
			t.Errorf("frames of %d: got %q", frame, got)
		}
	}
}

func TestDetectorOneReportPerPress(t *testing.T) {
	var s audio
	s.dial("5", 1500, 60)
	s.dial("55", 60, 60)
	if got := detect(s.pcm, 160); got != "555" {
		t.Errorf("got %q want 555", got)
	}
}

// A press of 40 ms must count wherever it falls against the analysis
// blocks; a blip of 20 ms must not.
func TestDetectorMinimumDuration(t *testing.T) {
	for offset := 0; offset < 110; offset += 3 {
		var s audio
		s.pcm = make([]int16, offset)
		s.dial("8", 40, 60)
		if got := detect(s.pcm, 160); got != "8" {
			t.Errorf("40 ms at offset %d: got %q", offset, got)
		}
		s.pcm = make([]int16, offset)
		s.dial("8", 20, 60)
		if got := detect(s.pcm, 160); got != "" {
			t.Errorf("20 ms at offset %d: got %q", offset, got)
		}
	}
}

func TestDetectorLevelAndTwist(t *testing.T) {
	for _, tc := range []struct {
		name     string
		row, col float64
		want     string
	}{
		{"loud", -7, -7, "1"},
		{"quiet", -30, -30, "1"},
		{"too quiet", -42, -42, ""},
		{"normal twist 6 dB", -16, -10, "1"},
		{"normal twist 12 dB", -22, -10, ""},
		{"reverse twist 4 dB", -10, -14, "1"},
		{"reverse twist 10 dB", -10, -20, ""},
		{"row tone only", -10, -80, ""},
	} {
		var s audio
		s.key('1', 100, tc.row, tc.col)
		s.silence(60)
		if got := detect(s.pcm, 160); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

func TestDetectorThroughG711WithNoise(t *testing.T) {
	var s audio
	s.silence(40)
	s.dial("2468#", 70, 70)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range s.pcm {
		// White noise about 25 dB under the tones.
		v := float64(s.pcm[i]) + rng.NormFloat64()*300
		s.pcm[i] = g711.DecodeUlawFrame(g711.EncodeUlawFrame(int16(max(-32768, min(32767, v)))))
	}
	if got := detect(s.pcm, 160); got != "2468#" {
		t.Errorf("got %q", got)
	}
}

// Talk-off: a voice-like signal with many harmonics, and off-frequency tone
// pairs, must not make digits.
func TestDetectorRejectsNonDTMF(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pcm := make([]int16, 8000*3)
	phase := make([]float64, 30)
	for i := range pcm {
		f0 := 110 + 30*math.Sin(2*math.Pi*float64(i)/8000*1.3)
		var v float64
		for h := range phase {
			phase[h] += 2 * math.Pi * f0 * float64(h+1) / 8000
			v += 3000 / float64(h+1) * math.Sin(phase[h])
		}
		pcm[i] = int16(v + rng.NormFloat64()*200)
	}
	if got := detect(pcm, 160); got != "" {
		t.Errorf("voice-like signal: %q", got)
	}
	// 5% off frequency is outside what any keypad sends.
	a := tone.Generate(697*1.05, 8000, 0.3, 800)
	b := tone.Generate(1209*1.05, 8000, 0.3, 800)
	for i := range a {
		a[i] += b[i]
	}
	if got := detect(a, 160); got != "" {
		t.Errorf("off-frequency pair: %q", got)
	}
	// 1 and 2 pressed together: two column tones of equal strength.
	x := tone.Generate(697, 8000, 0.2, 800)
	y := tone.Generate(1209, 8000, 0.2, 800)
	z := tone.Generate(1336, 8000, 0.2, 800)
	for i := range x {
		x[i] += y[i] + z[i]
	}
	if got := detect(x, 160); got != "" {
		t.Errorf("two keys at once: %q", got)
	}
}

func TestDetectorOtherRate(t *testing.T) {
	r, c := freqsOf('7')
	a := tone.Generate(r, 16000, 0.3, 16000/10)
	b := tone.Generate(c, 16000, 0.3, 16000/10)
	for i := range a {
		a[i] += b[i]
	}
	d := NewDetector(16000)
	var got []byte
	for i := 0; i < len(a); i += 320 {
		if digit, ok := d.Frame(a[i:min(i+320, len(a))]); ok {
			got = append(got, digit)
		}
	}
	if string(got) != "7" {
		t.Errorf("16 kHz: got %q", got)
	}
}

func TestDetectorNoAllocs(t *testing.T) {
	d := NewDetector(8000)
	frame := tone.Generate(941, 8000, 0.3, 160)
	if n := testing.AllocsPerRun(100, func() { d.Frame(frame) }); n != 0 {
		t.Errorf("%v allocations per frame", n)
	}
}

func BenchmarkDetector(b *testing.B) {
	var s audio
	s.dial("1", 100, 100)
	frame := s.pcm[:160]
	d := NewDetector(8000)
	b.ReportAllocs()
	for b.Loop() {
		d.Frame(frame)
	}
}

func TestFrequenciesRoundTrip(t *testing.T) {
	for _, d := range []byte("0123456789*#ABCD") {
		lo, hi, ok := Frequencies(d)
		if !ok {
			t.Fatalf("%c: no frequencies", d)
		}
		det := NewDetector(8000)
		pcm := make([]int16, 160)
		var got []byte
		for f := range 5 {
			for i := range pcm {
				x := float64(f*len(pcm)+i) / 8000
				pcm[i] = int16(6000*math.Sin(2*math.Pi*lo*x) + 6000*math.Sin(2*math.Pi*hi*x))
			}
			if g, ok := det.Frame(pcm); ok {
				got = append(got, g)
			}
		}
		if string(got) != string(d) {
			t.Errorf("%c generated from Frequencies detected as %q", d, got)
		}
	}
	if _, _, ok := Frequencies('x'); ok {
		t.Error("x is no key")
	}
}
