// Package names handles the names callers record before joining: trimming
// the silence around them, and telling a name from no name at all.
package names

import "brygga/media/tone"

// SpeechLevel is the frame level (RMS dBFS) that counts as speech: the
// mixer's talk threshold, well above line noise on a phone call.
const SpeechLevel = -40.0

// pad is kept before the first and after the last frame of speech so the
// name does not start or stop abruptly.
const padFrames = 5 // 100 ms

// Trim returns pcm without its leading and trailing silence, judged on
// 20 ms frames, or nil when no frame is speech (the caller said nothing and
// the bridge falls back to reading the caller ID).
func Trim(pcm []int16, rate int) []int16 {
	n := rate / 50
	if n <= 0 || len(pcm) < n {
		return nil
	}
	frames := len(pcm) / n
	first, last := -1, -1
	for f := 0; f < frames; f++ {
		if tone.Level(pcm[f*n:(f+1)*n]) >= SpeechLevel {
			if first < 0 {
				first = f
			}
			last = f
		}
	}
	if first < 0 {
		return nil
	}
	from := max(0, first-padFrames) * n
	to := min(frames, last+1+padFrames) * n
	return pcm[from:to]
}
