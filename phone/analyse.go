package phone

import (
	"slices"
	"time"

	"brygga/media/tone"
)

// toneBlock is the window ToneLevel measures in: long enough for a sharp
// Goertzel bin at 8 kHz, short enough that a prompt or a join tone spoils
// only a few of them.
const toneBlock = 100 * time.Millisecond

// ToneLevel is how loud freq is in pcm, in dBFS (0 = a full-scale sine):
// the median of tone.Power over the 100 ms blocks that carry sound, so a
// click, a short prompt, or the silence the recording put where packets
// never came (a stalled sender skips ahead in time) does not decide the
// result. It is tone.Floor when nothing in pcm carries sound. G.711
// companding of a mix puts intermodulation products about 40 dB under the
// tones that make them, so "absent" is best judged against what is present,
// not against digital silence.
func ToneLevel(pcm []int16, rate int, freq float64) float64 {
	n := int(toneBlock.Seconds() * float64(rate))
	if n <= 0 || len(pcm) < 2*n {
		return tone.Power(pcm, freq, rate)
	}
	levels := make([]float64, 0, len(pcm)/n)
	for i := 0; i+n <= len(pcm); i += n {
		if block := pcm[i : i+n]; slices.ContainsFunc(block, func(s int16) bool { return s != 0 }) {
			levels = append(levels, tone.Power(block, freq, rate))
		}
	}
	if len(levels) == 0 {
		return tone.Floor
	}
	slices.Sort(levels)
	return levels[len(levels)/2]
}

// Last is the newest d of what the call heard (less when less was heard).
func (c *Call) Last(d time.Duration) []int16 {
	n := int(d.Seconds() * float64(c.codec.ClockRate()))
	return c.ReceivedSince(max(0, c.Mark()-n))
}

// Rate is the sample rate of the call's audio (its codec's clock rate).
func (c *Call) Rate() int { return c.codec.ClockRate() }
