package prompts

import (
	"testing"

	"brygga/media/tone"
)

func TestTones(t *testing.T) {
	half := int(toneNote * Rate)
	cases := []struct {
		name        string
		pcm         []int16
		first, last float64 // dominant frequency of the first and the last note
		samples     int
	}{
		{"join", JoinTone(), toneLow, toneHigh, 2 * half},
		{"leave", LeaveTone(), toneHigh, toneLow, 2 * half},
		{"beep", Beep(), beepFreq, beepFreq, 2000},
	}
	for _, c := range cases {
		if len(c.pcm) != c.samples {
			t.Errorf("%s: %d samples, want %d", c.name, len(c.pcm), c.samples)
			continue
		}
		n := len(c.pcm) / 2
		head, tail := c.pcm[:n], c.pcm[n:]
		if p := tone.Power(head, c.first, Rate); p < -16 {
			t.Errorf("%s: %g Hz at %.1f dBFS in the first half", c.name, c.first, p)
		}
		if p := tone.Power(tail, c.last, Rate); p < -16 {
			t.Errorf("%s: %g Hz at %.1f dBFS in the second half", c.name, c.last, p)
		}
		if c.first != c.last {
			// The direction is the point: the other note must be far down in each half.
			if tone.Power(head, c.last, Rate) > -40 || tone.Power(tail, c.first, Rate) > -40 {
				t.Errorf("%s: notes overlap", c.name)
			}
		}
		if lvl := tone.Level(c.pcm); lvl < -20 || lvl > -8 {
			t.Errorf("%s: level %.1f dBFS", c.name, lvl)
		}
		// Faded ends: no click at the start or the end.
		if abs(int(c.pcm[0])) > 50 || abs(int(c.pcm[len(c.pcm)-1])) > 300 {
			t.Errorf("%s: ends at %d … %d, not faded", c.name, c.pcm[0], c.pcm[len(c.pcm)-1])
		}
	}
}

func TestHoldMusic(t *testing.T) {
	m := HoldMusic()
	if secs := float64(len(m)) / Rate; secs < 3 || secs > 15 {
		t.Errorf("%.1f s long", secs)
	}
	// Quiet under speech (prompts sit near -15 in this scale) but audible.
	if lvl := tone.Level(m); lvl < -40 || lvl > -24 {
		t.Errorf("level %.1f dBFS", lvl)
	}
	if abs(int(m[0])) > 50 || abs(int(m[len(m)-1])) > 50 {
		t.Errorf("does not loop seamlessly: %d … %d", m[0], m[len(m)-1])
	}
}
