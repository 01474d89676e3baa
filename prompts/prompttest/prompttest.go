// Package prompttest gives tests a prompt library in which every prompt is
// a tone of its own frequency, so that "the caller heard conf-muted" is a
// Goertzel measurement of what reached the caller, not a look at state.
// Number words (digits/…, letters/…) stay the built-in speech.
package prompttest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"brygga/media/tone"
	"brygga/prompts"
)

// Amplitude of the tones: -10.5 dBFS, well above what speech or hold music
// puts into one narrow Goertzel bin.
const Amplitude = 0.3

// Length of each tone prompt in samples at 8 kHz (250 ms).
const Length = 2000

var tones = func() map[string]float64 {
	// 1200 Hz and up in 36 Hz steps: above the hold music (262–1047 Hz),
	// apart from the beep (1000 Hz), below 3400 Hz.
	m := make(map[string]float64)
	f := 1200.0
	for _, n := range prompts.Names() {
		if strings.Contains(n, "/") {
			continue
		}
		m[n] = f
		f += 36
	}
	return m
}()

// Tone is the frequency that stands for a prompt; it panics for a prompt
// that keeps its speech, so a test cannot listen for a tone never sent.
func Tone(prompt string) float64 {
	f, ok := tones[prompt]
	if !ok {
		panic(fmt.Sprintf("prompttest: %s has no tone", prompt))
	}
	return f
}

var (
	once sync.Once
	lib  *prompts.Library
	err  error
)

// Library returns the tone library (built once per test binary).
func Library() (*prompts.Library, error) {
	once.Do(func() {
		var dir string
		dir, err = os.MkdirTemp("", "brygga-prompttest-")
		if err != nil {
			return
		}
		defer os.RemoveAll(dir)
		en := filepath.Join(dir, "en")
		if err = os.MkdirAll(en, 0o755); err != nil {
			return
		}
		for name, f := range tones {
			if err = os.WriteFile(filepath.Join(en, name+".wav"), WAV(tone.Generate(f, 8000, Amplitude, Length)), 0o644); err != nil {
				return
			}
		}
		lib, err = prompts.LoadDir(dir)
	})
	return lib, err
}

// Heard reports whether pcm (8 kHz) holds the prompt's tone: some 200 ms
// window has it at -20 dBFS or more.
func Heard(pcm []int16, prompt string) bool { return HeardTone(pcm, Tone(prompt)) }

// HeardTone reports whether pcm (8 kHz) holds freq at -20 dBFS or more in
// some 200 ms window.
func HeardTone(pcm []int16, f float64) bool {
	for i := 0; i+1600 <= len(pcm); i += 400 {
		if tone.Power(pcm[i:i+1600], f, 8000) >= -20 {
			return true
		}
	}
	return false
}

// WAV encodes 8 kHz mono 16-bit PCM as a WAV file.
func WAV(pcm []int16) []byte {
	b := make([]byte, 44+2*len(pcm))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}
