package codec

import (
	"math"
	"testing"

	"github.com/zaf/g711"
)

var laws = []struct {
	c       Codec
	encode  func(int16) uint8
	decode  func(uint8) int16
	maxCode int16 // largest magnitude the law can represent
}{
	{PCMU, g711.EncodeUlawFrame, g711.DecodeUlawFrame, 32124},
	{PCMA, g711.EncodeAlawFrame, g711.DecodeAlawFrame, 32256},
}

// The tables must reproduce zaf/g711 bit for bit for every input, otherwise
// they are a different codec than the one the issue pins.
func TestTablesMatchG711(t *testing.T) {
	for _, l := range laws {
		src := make([]int16, 65536)
		for i := range src {
			src[i] = int16(uint16(i))
		}
		enc := make([]byte, len(src))
		if n := l.c.Encode(enc, src); n != len(src) {
			t.Fatalf("%s: Encode wrote %d of %d", l.c.Name(), n, len(src))
		}
		for i, s := range src {
			if want := l.encode(s); enc[i] != want {
				t.Fatalf("%s: Encode(%d) = %#02x, g711 says %#02x", l.c.Name(), s, enc[i], want)
			}
		}
		codes := make([]byte, 256)
		for i := range codes {
			codes[i] = byte(i)
		}
		dec := make([]int16, 256)
		if n := l.c.Decode(dec, codes); n != 256 {
			t.Fatalf("%s: Decode wrote %d of 256", l.c.Name(), n)
		}
		for i, b := range codes {
			if want := l.decode(b); dec[i] != want {
				t.Fatalf("%s: Decode(%#02x) = %d, g711 says %d", l.c.Name(), b, dec[i], want)
			}
		}
	}
}

// Values from ITU-T G.711 (tables 1a/2a with the even-bit inversion of
// A-law and the all-bits inversion of μ-law applied).
func TestKnownValues(t *testing.T) {
	enc := []struct {
		c    Codec
		in   int16
		want byte
	}{
		{PCMU, 0, 0xFF},
		{PCMU, -1, 0x7F},
		{PCMU, 32767, 0x80},
		{PCMU, -32768, 0x00},
		{PCMU, 1000, 0xCE},
		{PCMA, 0, 0xD5},
		{PCMA, -1, 0x55},
		{PCMA, 32767, 0xAA},
		{PCMA, -32768, 0x2A},
		{PCMA, 1000, 0xFA},
	}
	for _, tc := range enc {
		var out [1]byte
		tc.c.Encode(out[:], []int16{tc.in})
		if out[0] != tc.want {
			t.Errorf("%s encode %d = %#02x, want %#02x", tc.c.Name(), tc.in, out[0], tc.want)
		}
	}
	dec := []struct {
		c    Codec
		in   byte
		want int16
	}{
		{PCMU, 0xFF, 0},
		{PCMU, 0x7F, 0},
		{PCMU, 0x80, 32124},
		{PCMU, 0x00, -32124},
		{PCMA, 0xD5, 8},
		{PCMA, 0x55, -8},
		{PCMA, 0xAA, 32256},
		{PCMA, 0x2A, -32256},
	}
	for _, tc := range dec {
		var out [1]int16
		tc.c.Decode(out[:], []byte{tc.in})
		if out[0] != tc.want {
			t.Errorf("%s decode %#02x = %d, want %d", tc.c.Name(), tc.in, out[0], tc.want)
		}
	}
}

// The G.711 digital milliwatt (table 5/6): the periodic μ-law sequence for
// a 1 kHz tone at 0 dBm0. Decoded it must be a clean 1 kHz sine of about
// -3.14 dBFS (0 dBm0 sits 3.14 dB below μ-law full scale).
func TestDigitalMilliwatt(t *testing.T) {
	seq := []byte{0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E}
	pcm := make([]int16, 8)
	PCMU.Decode(pcm, seq)
	for i := range 4 {
		if pcm[i] != -pcm[i+4] {
			t.Fatalf("half periods not symmetric: %v", pcm)
		}
	}
	var sq float64
	for _, s := range pcm {
		sq += float64(s) * float64(s)
	}
	rms := math.Sqrt(sq / 8)
	level := 20 * math.Log10(rms/(32124/math.Sqrt2))
	if math.Abs(level+3.14) > 0.2 {
		t.Fatalf("digital milliwatt level %.2f dB re full scale, want about -3.14 (%v)", level, pcm)
	}
	// And it survives a trip through A-law with the same shape.
	a := make([]byte, 8)
	PCMA.Encode(a, pcm)
	back := make([]int16, 8)
	PCMA.Decode(back, a)
	for i := range pcm {
		if d := math.Abs(float64(back[i] - pcm[i])); d > float64(abs16(pcm[i]))/32+16 {
			t.Fatalf("A-law trip of sample %d: %d -> %d", i, pcm[i], back[i])
		}
	}
}

func abs16(v int16) int32 {
	if v < 0 {
		return -int32(v)
	}
	return int32(v)
}

// Every 16-bit input comes back within half a quantisation step (4 bits of
// mantissa, so |x|/32 plus the smallest step), apart from the clipping the
// law itself does at full scale, and the transfer curve never goes down.
func TestRoundTripTolerance(t *testing.T) {
	for _, l := range laws {
		var enc [1]byte
		var dec [1]int16
		prev := int16(math.MinInt16)
		for i := math.MinInt16; i <= math.MaxInt16; i++ {
			x := int16(i)
			l.c.Encode(enc[:], []int16{x})
			l.c.Decode(dec[:], enc[:])
			y := dec[0]
			want := max(min(int32(x), int32(l.maxCode)), -int32(l.maxCode))
			if d := max(int32(y)-want, want-int32(y)); d > abs16(x)/32+16 {
				t.Fatalf("%s: %d -> %#02x -> %d, error %d", l.c.Name(), x, enc[0], y, d)
			}
			if y < prev {
				t.Fatalf("%s: not monotonic at %d: %d after %d", l.c.Name(), x, y, prev)
			}
			prev = y
		}
		// Decoded values are exactly representable: re-encoding them is
		// lossless, which is why tandem G.711 hops do not add noise.
		for c := range 256 {
			l.c.Decode(dec[:], []byte{byte(c)})
			v := dec[0]
			l.c.Encode(enc[:], dec[:])
			l.c.Decode(dec[:], enc[:])
			if dec[0] != v {
				t.Fatalf("%s: code %#02x decodes to %d, which re-encodes to %d", l.c.Name(), c, v, dec[0])
			}
		}
	}
}

func TestShortBuffers(t *testing.T) {
	for _, c := range All() {
		if n := c.Encode(make([]byte, 3), make([]int16, 10)); n != 3 {
			t.Errorf("%s Encode into 3 bytes wrote %d", c.Name(), n)
		}
		if n := c.Encode(make([]byte, 10), make([]int16, 4)); n != 4 {
			t.Errorf("%s Encode of 4 samples wrote %d", c.Name(), n)
		}
		if n := c.Decode(make([]int16, 2), make([]byte, 10)); n != 2 {
			t.Errorf("%s Decode into 2 samples wrote %d", c.Name(), n)
		}
		if n := c.Decode(make([]int16, 10), nil); n != 0 {
			t.Errorf("%s Decode of nothing wrote %d", c.Name(), n)
		}
	}
}

func TestLookups(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Codec
	}{
		{"PCMU", PCMU}, {"pcmu", PCMU}, {"Pcmu", PCMU},
		{"PCMA", PCMA}, {"pcma", PCMA},
		{"G722", nil}, {"", nil}, {"PCM", nil}, {"PCMUX", nil},
	} {
		if got := ByName(tc.name); got != tc.want {
			t.Errorf("ByName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	for pt := range 256 {
		got := ByPayloadType(uint8(pt))
		var want Codec
		switch pt {
		case 0:
			want = PCMU
		case 8:
			want = PCMA
		}
		if got != want {
			t.Errorf("ByPayloadType(%d) = %v, want %v", pt, got, want)
		}
	}
	for _, c := range All() {
		if c.ClockRate() != 8000 {
			t.Errorf("%s clock rate %d", c.Name(), c.ClockRate())
		}
		if ByName(c.Name()) != c || ByPayloadType(c.PayloadType()) != c {
			t.Errorf("%s does not find itself", c.Name())
		}
	}
	if PCMU.PayloadType() != 0 || PCMA.PayloadType() != 8 {
		t.Errorf("payload types %d/%d", PCMU.PayloadType(), PCMA.PayloadType())
	}
}

func TestNoAllocation(t *testing.T) {
	pcm := make([]int16, 160)
	payload := make([]byte, 160)
	for _, c := range All() {
		if a := testing.AllocsPerRun(100, func() {
			c.Encode(payload, pcm)
			c.Decode(pcm, payload)
			_ = ByName("pcma")
			_ = ByPayloadType(8)
		}); a != 0 {
			t.Errorf("%s: %v allocations per frame", c.Name(), a)
		}
	}
}

func benchFrame() []int16 {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(12000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	return pcm
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range All() {
		b.Run(c.Name(), func(b *testing.B) {
			pcm := benchFrame()
			payload := make([]byte, 160)
			b.SetBytes(int64(len(pcm) * 2))
			b.ReportAllocs()
			for b.Loop() {
				c.Encode(payload, pcm)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range All() {
		b.Run(c.Name(), func(b *testing.B) {
			payload := make([]byte, 160)
			c.Encode(payload, benchFrame())
			pcm := make([]int16, 160)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				c.Decode(pcm, payload)
			}
		})
	}
}
