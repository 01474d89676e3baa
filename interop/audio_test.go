package interop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"brygga/media/codec"
	"brygga/media/tone"
)

// TestCheckHears keeps the verdicts the real-peer tests rely on honest:
// it must accept a clean mix and reject echo, silence and a late tone.
func TestCheckHears(t *testing.T) {
	const settle, span = time.Second, 2 * time.Second
	lead := make([]int16, SampleRate/2) // half a second of silence before the room
	mix := func(seconds float64, ownAmp float64) []int16 {
		n := int(seconds * SampleRate)
		a := tone.Generate(1400, SampleRate, toneAmp, n)
		b := tone.Generate(700, SampleRate, ownAmp, n)
		out := make([]int16, 0, len(lead)+n)
		out = append(out, lead...)
		buf := make([]byte, n)
		pcm := make([]int16, n)
		for i := range pcm {
			pcm[i] = a[i] + b[i]
		}
		// Through G.711 and back, as a caller hears it.
		codec.PCMU.Encode(buf, pcm)
		codec.PCMU.Decode(pcm, buf)
		return append(out, pcm...)
	}
	if _, err := CheckHears(mix(4, 0), 1400, 700, settle, span); err != nil {
		t.Errorf("clean tone rejected: %v", err)
	}
	if _, err := CheckHears(mix(4, toneAmp), 1400, 700, settle, span); err == nil {
		t.Error("own tone at full level accepted")
	}
	if _, err := CheckHears(mix(4, toneAmp/5), 1400, 700, settle, span); err == nil {
		t.Error("own tone 14 dB under the other (-26 dBFS) accepted")
	}
	// 30 dB down is the leak a real mix may have: absent by the rule in sip/bridge_test.go.
	if _, err := CheckHears(mix(4, toneAmp/32), 1400, 700, settle, span); err != nil {
		t.Errorf("own tone 30 dB down (-42 dBFS) rejected: %v", err)
	}
	if _, err := CheckHears(make([]int16, 5*SampleRate), 1400, 700, settle, span); err == nil {
		t.Error("silence accepted")
	}
	if _, err := CheckHears(mix(2, 0), 1400, 700, settle, span); err == nil {
		t.Error("too short a recording accepted")
	}
	// A gap in the middle of the checked span is a failure.
	gappy := mix(4, 0)
	clear(gappy[len(lead)+2*SampleRate : len(lead)+2*SampleRate+SampleRate/2])
	if _, err := CheckHears(gappy, 1400, 700, settle, span); err == nil {
		t.Error("a 500 ms gap in the tone accepted")
	}
}

func TestWAVRoundTrip(t *testing.T) {
	path := t.TempDir() + "/t.wav"
	want := tone.Generate(1100, SampleRate, toneAmp, 1234)
	if err := writeWAV(path, want, SampleRate); err != nil {
		t.Fatal(err)
	}
	got, r, err := readWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if r != SampleRate || len(got) != len(want) {
		t.Fatalf("read %d samples at %d Hz, want %d at %d", len(got), r, len(want), SampleRate)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sample %d: %d, want %d", i, got[i], want[i])
		}
	}
	if _, _, err := readWAV(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if p := tone.Power(got, 1100, SampleRate); math.Abs(p-(-12)) > 0.5 {
		t.Errorf("1100 Hz at %.1f dBFS, want -12", p)
	}
}

// writeWAV writes 16-bit mono PCM as a canonical RIFF WAVE file.
func writeWAV(path string, pcm []int16, sampleRate int) error {
	data := make([]byte, 44+2*len(pcm))
	copy(data[0:], "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*len(pcm)))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], uint32(sampleRate))
	binary.LittleEndian.PutUint32(data[28:], uint32(2*sampleRate))
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(s))
	}
	return os.WriteFile(path, data, 0o644)
}

// readWAV reads a 16-bit mono PCM WAVE file. A data chunk whose size was
// never filled in (a writer that was killed) is read to the end of file.
func readWAV(path string) ([]int16, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%s: not a RIFF WAVE file", path)
	}
	var sampleRate int
	var haveFmt bool
	for p := 12; p+8 <= len(data); {
		id := string(data[p : p+4])
		size := int(binary.LittleEndian.Uint32(data[p+4:]))
		body := data[p+8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return nil, 0, fmt.Errorf("%s: short fmt chunk", path)
			}
			format := binary.LittleEndian.Uint16(body[0:])
			channels := binary.LittleEndian.Uint16(body[2:])
			bits := binary.LittleEndian.Uint16(body[14:])
			// 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which libsndfile may use
			// for plain PCM too.
			if (format != 1 && format != 0xFFFE) || channels != 1 || bits != 16 {
				return nil, 0, fmt.Errorf("%s: format %#x, %d channels, %d bits: want 16-bit mono PCM", path, format, channels, bits)
			}
			sampleRate = int(binary.LittleEndian.Uint32(body[4:]))
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("%s: data before fmt", path)
			}
			if size == 0 || size > len(body) {
				size = len(body)
			}
			pcm := make([]int16, size/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return pcm, sampleRate, nil
		}
		p += 8 + size + size&1
	}
	return nil, 0, fmt.Errorf("%s: no data chunk", path)
}
