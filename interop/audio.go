package interop

import (
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"brygga/media/codec"
	"brygga/media/tone"
)

const (
	SampleRate = 8000
	// toneAmp is every caller's tone level: 0.25 of full scale, -12 dBFS.
	toneAmp = 0.25
	// PresentMin is the level above which a caller's tone counts as heard;
	// the bridge sums without gain, so the tone arrives near -12 dBFS and
	// this leaves room for a quieter mix.
	PresentMin = -30.0
	// AbsentMax and absentGap say when a tone counts as absent. G.711
	// companding of a two-tone mix leaves products about 40 dB under the
	// tones, so absent is well under the tone heard and under -35 dBFS,
	// not digital silence (see sip/bridge_test.go).
	AbsentMax = -35.0
	absentGap = 20.0
	// AnalysisWindow is the analysis length: 200 ms gives a Goertzel bin narrow
	// enough to tell 500, 700, 1100 and 1400 Hz apart with a wide margin.
	AnalysisWindow = SampleRate / 5
)

// WriteULaw writes a headerless µ-law file of a sine, as SIPp's rtp_stream
// plays it.
func WriteULaw(path string, freq float64, seconds int) error {
	pcm := tone.Generate(freq, SampleRate, toneAmp, seconds*SampleRate)
	out := make([]byte, len(pcm))
	if n := codec.PCMU.Encode(out, pcm); n != len(pcm) {
		return fmt.Errorf("µ-law encode wrote %d of %d bytes", n, len(pcm))
	}
	return os.WriteFile(path, out, 0o644)
}

// levels is one analysis window: where it starts and the levels in it.
type levels struct {
	at        time.Duration
	Want, own float64 // Goertzel power of the two tones, dBFS
	all       float64 // RMS level, dBFS
}

func (l levels) String() string {
	return fmt.Sprintf("%6.1fs  want %6.1f  own %6.1f  all %6.1f dBFS", l.at.Seconds(), l.Want, l.own, l.all)
}

func AnalyseLevels(pcm []int16, want, own float64) []levels {
	var out []levels
	for i := 0; i+AnalysisWindow <= len(pcm); i += AnalysisWindow {
		w := pcm[i : i+AnalysisWindow]
		out = append(out, levels{
			at:   time.Duration(i) * time.Second / SampleRate,
			Want: tone.Power(w, want, SampleRate),
			own:  tone.Power(w, own, SampleRate),
			all:  tone.Level(w),
		})
	}
	return out
}

// FirstHeard is the index of the first of two consecutive windows holding
// the wanted tone, or -1. Two in a row keep a prompt's passing harmonic
// from counting.
func FirstHeard(ls []levels) int {
	for i := 0; i+1 < len(ls); i++ {
		if ls[i].Want >= PresentMin && ls[i+1].Want >= PresentMin {
			return i
		}
	}
	return -1
}

// CheckHears is what "hears the other and not itself" means for one
// listener's audio: from the moment the wanted tone first arrives, settle
// is skipped (prompts and the join announcement may still overlap), and in
// the span after it every window must hold the wanted tone and not the
// listener's own. The summary gives the levels found, for the test log.
func CheckHears(pcm []int16, want, own float64, settle, span time.Duration) (summary string, err error) {
	ls := AnalyseLevels(pcm, want, own)
	first := FirstHeard(ls)
	if first < 0 {
		return "", fmt.Errorf("the %.0f Hz tone never arrived in %.1f s of audio (two 200 ms windows at %.0f dBFS or more)\n%s",
			want, float64(len(pcm))/SampleRate, PresentMin, LevelTable(ls))
	}
	from := first + int(settle/(AnalysisWindow*time.Second/SampleRate))
	to := from + int(span/(AnalysisWindow*time.Second/SampleRate))
	if to > len(ls) {
		return "", fmt.Errorf("the %.0f Hz tone arrived at %.1f s but the audio ends at %.1f s, before %.1f s of settling and %.1f s to check\n%s",
			want, ls[first].at.Seconds(), float64(len(pcm))/SampleRate, settle.Seconds(), span.Seconds(), LevelTable(ls))
	}
	var errs []string
	minWant, maxOwn := math.Inf(1), math.Inf(-1)
	for _, l := range ls[from:to] {
		minWant, maxOwn = math.Min(minWant, l.Want), math.Max(maxOwn, l.own)
		switch {
		case l.Want < PresentMin:
			errs = append(errs, fmt.Sprintf("at %.1f s the %.0f Hz tone is gone (%.1f dBFS)", l.at.Seconds(), want, l.Want))
		case l.own > AbsentMax || l.own > l.Want-absentGap:
			errs = append(errs, fmt.Sprintf("at %.1f s the listener hears its own %.0f Hz (%.1f dBFS against %.1f dBFS of %.0f Hz)",
				l.at.Seconds(), own, l.own, l.Want, want))
		}
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%s\nwindows checked: %.1f-%.1f s\n%s", strings.Join(errs, "\n"),
			ls[from].at.Seconds(), ls[to-1].at.Seconds()+0.2, LevelTable(ls))
	}
	return fmt.Sprintf("%.0f Hz first heard at %.1f s; from %.1f to %.1f s it is at least %.1f dBFS and the own %.0f Hz at most %.1f dBFS",
		want, ls[first].at.Seconds(), ls[from].at.Seconds(), ls[to-1].at.Seconds()+0.2, minWant, own, maxOwn), nil
}

func LevelTable(ls []levels) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Sine is a call's source saying freq.
func Sine(freq float64) func(pcm []int16) {
	var phase float64
	return func(pcm []int16) { tone.Sine(pcm, freq, SampleRate, toneAmp, &phase) }
}
