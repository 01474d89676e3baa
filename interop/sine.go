package interop

import (
	"brygga/media/tone"
)

// Sine is a call's source saying freq.
func Sine(freq float64) func(pcm []int16) {
	var phase float64
	return func(pcm []int16) { tone.Sine(pcm, freq, SampleRate, ToneAmp, &phase) }
}
