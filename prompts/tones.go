package prompts

import "math"

// Tone shapes. The join and leave tones are a rising and a falling fifth, as
// vendors' bridges use, so callers can tell them apart without words; they sit
// near the prompts' loudness. The hold music is kept well below speech.
const (
	toneLow     = 587.33 // D5
	toneHigh    = 880.0  // A5
	toneNote    = 0.13   // seconds per note
	toneAmp     = 0.25   // of full scale: -12 dBFS peak
	beepFreq    = 1000.0
	beepLen     = 0.25
	beepAmp     = 0.25
	fadeSeconds = 0.005 // raised-cosine ends, so tones start and stop without a click
	holdAmp     = 0.07  // about -26 dBFS peak: quiet under a "please wait"
	holdNote    = 0.4
)

var (
	joinTone  = concat(note(toneLow, toneNote, toneAmp), note(toneHigh, toneNote, toneAmp))
	leaveTone = concat(note(toneHigh, toneNote, toneAmp), note(toneLow, toneNote, toneAmp))
	beep      = note(beepFreq, beepLen, beepAmp)
	holdMusic = makeHoldMusic()
)

// JoinTone is a rising two-note tone, played to the room instead of a name.
func JoinTone() []int16 { return joinTone }

// LeaveTone is the falling counterpart of JoinTone.
func LeaveTone() []int16 { return leaveTone }

// Beep is the 1000 Hz, 250 ms tone after RecordName, where the caller starts speaking.
func Beep() []int16 { return beep }

// HoldMusic is a few seconds of soft arpeggio for the lobby; it starts and
// ends in silence, so NewLoop can repeat it without a seam.
func HoldMusic() []int16 { return holdMusic }

// note is a sine of freq Hz for seconds, faded in and out.
func note(freq, seconds, amp float64) []int16 {
	n := int(seconds*Rate + 0.5)
	fade := int(fadeSeconds * Rate)
	out := make([]int16, n)
	for i := range out {
		g := 1.0
		switch {
		case i < fade:
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(fade))
		case i >= n-fade:
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(n-1-i)/float64(fade))
		}
		out[i] = int16(math.Round(amp * g * 32767 * math.Sin(2*math.Pi*freq*float64(i)/Rate)))
	}
	return out
}

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// makeHoldMusic plucks a slow C major / A minor pentatonic figure: each note
// starts softly and decays like a struck bar, with a quieter octave below so
// it does not sound like a test tone on a narrowband line.
func makeHoldMusic() []int16 {
	melody := []float64{
		523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880.00, 698.46,
		523.25, 659.25, 783.99, 1046.50, 880.00, 783.99, 659.25, 587.33,
	}
	per := int(holdNote * Rate)
	out := make([]int16, per*len(melody))
	attack := int(0.01 * Rate)
	for k, f := range melody {
		for i := 0; i < per; i++ {
			t := float64(i) / Rate
			env := math.Exp(-t * 6)
			if i < attack {
				env *= float64(i) / float64(attack)
			}
			// The last 20 ms go to zero so a note never ends on a step.
			if tail := per - i; tail < int(0.02*Rate) {
				env *= float64(tail) / (0.02 * Rate)
			}
			s := math.Sin(2*math.Pi*f*t) + 0.4*math.Sin(math.Pi*f*t)
			out[k*per+i] = int16(math.Round(holdAmp / 1.4 * 32767 * env * s))
		}
	}
	return out
}
