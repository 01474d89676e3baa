package load

import (
	"math"

	"brygga/media/tone"
)

// analyser measures tones in frames of one fixed length with a
// Hann-windowed Goertzel filter, in the units of tone.Power but linear:
// amplitude² relative to a full-scale sine (1 = 0 dBFS). The window is
// computed once; a frame costs a multiply-add per sample per frequency.
// The talkers' tones sit on a 100 Hz grid, two 50 Hz bins apart in a 20 ms
// frame, which is exactly the first null of the Hann window: a steady tone
// reads nothing at its neighbours.
type analyser struct {
	n      int
	window []float64
	wsum   float64
}

func newAnalyser(n int) *analyser {
	a := &analyser{n: n, window: make([]float64, n)}
	for i := range a.window {
		a.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		a.wsum += a.window[i]
	}
	return a
}

// goertzel holds one frequency's constants.
type goertzel struct {
	freq, coeff, cos, sin float64
}

func newGoertzel(freq float64, rate int) goertzel {
	w := 2 * math.Pi * freq / float64(rate)
	return goertzel{freq: freq, coeff: 2 * math.Cos(w), cos: math.Cos(w), sin: math.Sin(w)}
}

// power of g's frequency in frame (len(frame) == a.n).
func (a *analyser) power(frame []int16, g goertzel) float64 {
	var s1, s2 float64
	for i, x := range frame {
		s0 := a.window[i]*float64(x) + g.coeff*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*g.cos
	im := s2 * g.sin
	amp := 2 * math.Sqrt(re*re+im*im) / a.wsum / tone.FullScale
	return amp * amp
}

// total is the frame's whole power in the same units: a sine of amplitude
// A has mean square A²/2.
func total(frame []int16) float64 {
	var sum float64
	for _, x := range frame {
		v := float64(x)
		sum += v * v
	}
	return 2 * sum / float64(len(frame)) / (tone.FullScale * tone.FullScale)
}

func linear(dB float64) float64 { return math.Pow(10, dB/10) }

func decibels(lin float64) float64 {
	if lin <= 0 {
		return tone.Floor
	}
	return max(10*math.Log10(lin), tone.Floor)
}
