package dtmf

import "math"

var (
	rowFreqs = [4]float64{697, 770, 852, 941}
	colFreqs = [4]float64{1209, 1336, 1477, 1633}
	keypad   = [4][4]byte{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

// Frequencies is a key's row and column tone (ITU-T Q.23), for generating
// in-band DTMF; ok is false for a byte that is no key.
func Frequencies(digit byte) (row, col float64, ok bool) {
	for r := range keypad {
		for c := range keypad[r] {
			if keypad[r][c] == digit {
				return rowFreqs[r], colFreqs[c], true
			}
		}
	}
	return 0, 0, false
}

// Detection limits, after ITU-T Q.24 and the values Asterisk and spandsp
// settled on in practice.
const (
	// blockSeconds is the Goertzel block: 102 samples at 8 kHz put the
	// neighbouring row tones (73 Hz apart) near the first null of the
	// filter, so a row tone leaks over 20 dB less into its neighbour.
	blockSeconds = 102.0 / 8000
	// hitBlocks consecutive blocks must agree. Any press of 40 ms or more
	// holds two whole blocks, whatever its alignment.
	hitBlocks = 2
	// releaseBlocks blocks without the digit end a press, so one noisy
	// block inside a long press does not make it count twice.
	releaseBlocks  = 2
	minToneDBFS    = -36.0 // weakest tone accepted (about -33 dBm0)
	normalTwistDB  = 8.0   // high group louder than low group
	reverseTwistDB = 6.0   // low group louder than high group
	relPeakDB      = 8.0   // best tone of a group over the others in it
	// toneFraction of the block's energy must be in the two tones: speech
	// spreads its energy, and a block only partly covered by a tone falls
	// short, which keeps presses under about 25 ms from counting.
	toneFraction = 0.8
)

// Detector finds DTMF digits in PCM by Goertzel filters on the eight DTMF
// frequencies, checking level, twist, each group's peak and the share of
// energy in the tones, and reports each press once. It keeps its filters
// across calls, so frames of any length may be fed; it does not allocate and
// is not safe for concurrent use.
type Detector struct {
	coeff  [8]float64
	s1     [8]float64
	s2     [8]float64
	energy float64
	n      int // samples in the current block
	block  int // samples per block

	minAmp2   float64 // squared amplitude of the weakest accepted tone
	normTwist float64 // as power ratios
	revTwist  float64
	relPeak   float64

	last    byte // digit of the last block (0 = none)
	run     int  // consecutive blocks with last
	pressed byte // digit already reported and not yet released
}

// NewDetector returns a detector for PCM at rate samples per second (8000
// when rate is not positive).
func NewDetector(rate int) *Detector {
	if rate <= 0 {
		rate = 8000
	}
	d := &Detector{
		block:     max(1, int(math.Round(float64(rate)*blockSeconds))),
		minAmp2:   sq(32767 * math.Pow(10, minToneDBFS/20)),
		normTwist: math.Pow(10, normalTwistDB/10),
		revTwist:  math.Pow(10, reverseTwistDB/10),
		relPeak:   math.Pow(10, relPeakDB/10),
	}
	for i, f := range rowFreqs {
		d.coeff[i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	for i, f := range colFreqs {
		d.coeff[4+i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	return d
}

func sq(x float64) float64 { return x * x }

// Reset forgets a partial block and any press in progress.
func (d *Detector) Reset() {
	d.s1, d.s2 = [8]float64{}, [8]float64{}
	d.energy, d.n = 0, 0
	d.last, d.run, d.pressed = 0, 0, 0
}

// Frame feeds pcm and returns a digit once per key press, when the press has
// lasted long enough to be sure of it.
func (d *Detector) Frame(pcm []int16) (digit byte, ok bool) {
	for _, x := range pcm {
		v := float64(x)
		d.energy += v * v
		for i := range d.coeff {
			s0 := v + d.coeff[i]*d.s1[i] - d.s2[i]
			d.s2[i], d.s1[i] = d.s1[i], s0
		}
		d.n++
		if d.n < d.block {
			continue
		}
		if got, hit := d.press(d.classify()); hit {
			digit, ok = got, true
		}
		d.s1, d.s2 = [8]float64{}, [8]float64{}
		d.energy, d.n = 0, 0
	}
	return digit, ok
}

// classify returns the digit held for the whole block just completed, or 0.
func (d *Detector) classify() byte {
	// Squared amplitude of each tone: a sine of peak A gives |X| = A*N/2.
	var amp2 [8]float64
	norm := 4 / sq(float64(d.n))
	for i := range amp2 {
		amp2[i] = (d.s1[i]*d.s1[i] + d.s2[i]*d.s2[i] - d.coeff[i]*d.s1[i]*d.s2[i]) * norm
	}
	r := best(amp2[:4])
	c := best(amp2[4:])
	row, col := amp2[r], amp2[4+c]
	switch {
	case row < d.minAmp2 || col < d.minAmp2:
		return 0
	case col > row*d.normTwist || row > col*d.revTwist:
		return 0
	}
	for i := range 4 {
		if (i != r && amp2[i]*d.relPeak > row) || (i != c && amp2[4+i]*d.relPeak > col) {
			return 0
		}
	}
	// A sine of peak A has mean square A²/2.
	if (row+col)/2*float64(d.n) < toneFraction*d.energy {
		return 0
	}
	return keypad[r][c]
}

func best(p []float64) int {
	b := 0
	for i := range p {
		if p[i] > p[b] {
			b = i
		}
	}
	return b
}

func (d *Detector) press(digit byte) (byte, bool) {
	if digit == d.last {
		d.run++
	} else {
		d.last, d.run = digit, 1
	}
	if digit == 0 {
		if d.run >= releaseBlocks {
			d.pressed = 0
		}
		return 0, false
	}
	if d.run == hitBlocks && digit != d.pressed {
		d.pressed = digit
		return digit, true
	}
	return 0, false
}
