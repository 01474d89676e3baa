package prompts

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/zaf/g711"
)

type wavSpec struct {
	format     uint16
	channels   uint16
	rate       uint32
	bits       uint16
	extensible bool
	extra      []byte // a chunk between fmt and data, e.g. LIST
	data       []byte
	dataSize   int // -1: len(data)
}

func (s wavSpec) bytes() []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, "RIFF\x00\x00\x00\x00WAVE"...)
	fmtLen := 16
	if s.extensible {
		fmtLen = 40
	}
	b = append(b, "fmt "...)
	b = le.AppendUint32(b, uint32(fmtLen))
	tag := s.format
	if s.extensible {
		tag = wavExtensible
	}
	b = le.AppendUint16(b, tag)
	b = le.AppendUint16(b, s.channels)
	b = le.AppendUint32(b, s.rate)
	b = le.AppendUint32(b, s.rate*uint32(s.channels)*uint32(s.bits)/8)
	b = le.AppendUint16(b, s.channels*s.bits/8)
	b = le.AppendUint16(b, s.bits)
	if s.extensible {
		b = le.AppendUint16(b, 22)
		b = le.AppendUint16(b, s.bits)
		b = le.AppendUint32(b, 4) // channel mask
		b = le.AppendUint16(b, s.format)
		b = append(b, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"...)
	}
	b = append(b, s.extra...)
	b = append(b, "data"...)
	size := s.dataSize
	if size < 0 {
		size = len(s.data)
	}
	b = le.AppendUint32(b, uint32(size))
	b = append(b, s.data...)
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func pcm16(samples ...int16) []byte {
	var b []byte
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

func goodWAV() wavSpec {
	return wavSpec{format: wavPCM, channels: 1, rate: 8000, bits: 16, data: pcm16(1, -2, 300, -32768, 32767), dataSize: -1}
}

func TestParseWAV(t *testing.T) {
	want := []int16{1, -2, 300, -32768, 32767}
	ulaw := []byte{0xff, 0x7f, 0x80, 0x00}
	alaw := []byte{0xd5, 0x55, 0xaa, 0x2a}

	oddList := goodWAV()
	oddList.extra = []byte("LIST\x03\x00\x00\x00abc\x00") // odd size, padded
	ext := goodWAV()
	ext.extensible = true
	truncated := goodWAV()
	truncated.dataSize = 1000 // a crashed writer
	streaming := goodWAV()
	streaming.dataSize = 0xFFFFFFFF
	oddData := goodWAV()
	oddData.data = append(pcm16(want...), 0x7f)
	mu := wavSpec{format: wavMuLaw, channels: 1, rate: 8000, bits: 8, data: ulaw, dataSize: -1}
	al := wavSpec{format: wavALaw, channels: 1, rate: 8000, bits: 8, data: alaw, dataSize: -1}

	cases := []struct {
		name string
		in   []byte
		want []int16
	}{
		{"pcm", goodWAV().bytes(), want},
		{"odd chunk padded", oddList.bytes(), want},
		{"extensible", ext.bytes(), want},
		{"data size past end", truncated.bytes(), want},
		{"streaming size", streaming.bytes(), want},
		{"half sample at end", oddData.bytes(), want},
		{"ulaw", mu.bytes(), decodeULaw(ulaw)},
		{"alaw", al.bytes(), decodeALaw(alaw)},
	}
	for _, c := range cases {
		got, err := parseWAV(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseWAVErrors(t *testing.T) {
	mod := func(f func(*wavSpec)) []byte {
		s := goodWAV()
		f(&s)
		return s.bytes()
	}
	good := goodWAV().bytes()
	dataFirst := append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x01\x00"), good[12:]...)
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "not a RIFF/WAVE"},
		{"short", "RIFF", "not a RIFF/WAVE"},
		{"not riff", "RIFX" + string(good[4:]), "not a RIFF/WAVE"},
		{"not wave", "RIFF\x00\x00\x00\x00AVI " + string(good[12:]), "not a RIFF/WAVE"},
		{"no chunks", string(good[:12]), "no fmt chunk"},
		{"no data", string(good[:36]), "no data chunk"},
		{"short fmt", "RIFF\x00\x00\x00\x00WAVEfmt \x08\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00", "fmt chunk too short"},
		{"data before fmt", string(dataFirst), "data chunk before fmt"},
		{"stereo", string(mod(func(s *wavSpec) { s.channels = 2 })), "2 channels, want mono"},
		{"16 kHz", string(mod(func(s *wavSpec) { s.rate = 16000 })), "16000 Hz, want 8000"},
		{"8-bit pcm", string(mod(func(s *wavSpec) { s.bits = 8 })), "8-bit PCM, want 16-bit"},
		{"gsm", string(mod(func(s *wavSpec) { s.format = wavGSM610; s.bits = 0 })), "GSM 6.10"},
		{"float", string(mod(func(s *wavSpec) { s.format = 3; s.bits = 32 })), "format 0x0003"},
		{"ulaw 16-bit", string(mod(func(s *wavSpec) { s.format = wavMuLaw })), "G.711 with 16 bits"},
		{"no samples", string(mod(func(s *wavSpec) { s.data = nil })), "no samples"},
		{"one byte", string(mod(func(s *wavSpec) { s.data = []byte{1} })), "no samples"},
		{"short extensible", string(mod(func(s *wavSpec) { s.extensible = true })[:50]), "extensible fmt chunk too short"},
	}
	for _, c := range cases {
		pcm, err := parseWAV([]byte(c.in))
		if err == nil {
			t.Errorf("%s: no error, %d samples", c.name, len(pcm))
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestDecodeRaw(t *testing.T) {
	if got, err := decodeSLN(pcm16(5, -5, 1000)); err != nil || !slices.Equal(got, []int16{5, -5, 1000}) {
		t.Errorf("sln: %v %v", got, err)
	}
	if _, err := decodeSLN([]byte{1, 2, 3}); err == nil {
		t.Error("sln with odd length accepted")
	}
	for name, dec := range map[string]func([]byte) ([]int16, error){"sln": decodeSLN, "ulaw": decodeULawFile, "alaw": decodeALawFile} {
		if _, err := dec(nil); err == nil {
			t.Errorf("empty %s accepted", name)
		}
	}
	// G.711 round trip through the encoder the codec package uses.
	src := []int16{0, 1000, -1000, 8000, -8000, 30000}
	for i, s := range src {
		if got := decodeULaw([]byte{g711.EncodeUlawFrame(s)})[0]; abs(int(got)-int(s)) > abs(int(s))/16+8 {
			t.Errorf("ulaw %d: %d → %d", i, s, got)
		}
		if got := decodeALaw([]byte{g711.EncodeAlawFrame(s)})[0]; abs(int(got)-int(s)) > abs(int(s))/16+16 {
			t.Errorf("alaw %d: %d → %d", i, s, got)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func FuzzParseWAV(f *testing.F) {
	f.Add(goodWAV().bytes())
	ext := goodWAV()
	ext.extensible = true
	f.Add(ext.bytes())
	odd := goodWAV()
	odd.extra = []byte("LIST\x03\x00\x00\x00abc\x00")
	f.Add(odd.bytes())
	f.Add(wavSpec{format: wavMuLaw, channels: 1, rate: 8000, bits: 8, data: []byte{1, 2, 3}, dataSize: -1}.bytes())
	f.Add(goodWAV().bytes()[:40])
	if b, err := soundsFS.ReadFile("sounds/en/" + Digit1 + ".wav"); err == nil {
		f.Add(b[:min(len(b), 400)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := parseWAV(b)
		if err != nil {
			if pcm != nil {
				t.Fatal("samples returned with an error")
			}
			return
		}
		// Samples are 1 or 2 bytes each and come from the file, after its 44-byte minimum header.
		if len(pcm) == 0 || len(pcm) > len(b)-44 {
			t.Fatalf("%d samples from %d bytes", len(pcm), len(b))
		}
	})
}
