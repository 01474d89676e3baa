package mixer

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"brygga/media/codec"
	"brygga/media/tone"
)

// l16 is an uncompressed test codec: its payload is the PCM itself, so a
// test sees, sample for sample, what the mixer computed before encoding.
type l16 struct{ name string }

func (c *l16) Name() string       { return c.name }
func (c *l16) PayloadType() uint8 { return 11 }
func (c *l16) ClockRate() int     { return 8000 }

func (c *l16) Encode(dst []byte, src []int16) int {
	n := min(len(dst)/2, len(src))
	for i := range n {
		binary.BigEndian.PutUint16(dst[2*i:], uint16(src[i]))
	}
	return 2 * n
}

func (c *l16) Decode(dst []int16, src []byte) int {
	n := min(len(dst), len(src)/2)
	for i := range n {
		dst[i] = int16(binary.BigEndian.Uint16(src[2*i:]))
	}
	return n
}

var linear = &l16{name: "L16"}

// counting counts the encodes done with a codec.
type counting struct {
	codec.Codec
	encodes int
}

func (c *counting) Encode(dst []byte, src []int16) int {
	c.encodes++
	return c.Codec.Encode(dst, src)
}

// phone is a participant's both ends: what it says next and what it heard.
type phone struct {
	say    []int16 // the frame it sends; nil = nothing to play
	reads  int
	codec  codec.Codec
	got    []byte // the last payload it received
	gotPtr *byte  // where that payload lived, to see shared encodes
	writes int
}

func newPhone(c codec.Codec) *phone { return &phone{codec: c} }

func (p *phone) ReadFrame(pcm []int16) bool {
	p.reads++
	if p.say == nil {
		return false
	}
	copy(pcm, p.say)
	return true
}

func (p *phone) WriteFrame(payload []byte) {
	p.writes++
	p.got = append(p.got[:0], payload...)
	p.gotPtr = nil
	if len(payload) > 0 {
		p.gotPtr = &payload[0]
	}
}

// heard decodes the last payload.
func (p *phone) heard() []int16 {
	pcm := make([]int16, 320)
	n := p.codec.Decode(pcm, p.got)
	return pcm[:n]
}

// join adds a phone to m with its own codec.
func join(m *Mixer, p *phone) *Member { return m.Add(p.codec, p, p) }

// toneIn is a participant that keeps saying one tone.
type toneIn struct {
	freq, amp float64
	phase     float64
}

func (t *toneIn) ReadFrame(pcm []int16) bool {
	tone.Sine(pcm, t.freq, 8000, t.amp, &t.phase)
	return true
}

// clip is a prompt made of the given frames.
type clip struct {
	frames [][]int16
	reads  int
}

func (c *clip) ReadFrame(pcm []int16) bool {
	c.reads++
	if c.reads > len(c.frames) {
		return false
	}
	copy(pcm, c.frames[c.reads-1])
	return true
}

// steadyClip is a prompt of n frames of pattern(v).
func steadyClip(v int16, n int) *clip {
	c := &clip{}
	for range n {
		c.frames = append(c.frames, pattern(v))
	}
	return c
}

// pattern is a frame of v and -v alternating: a loud signal (Nyquist tone)
// whose sums are easy to predict.
func pattern(v int16) []int16 {
	f := make([]int16, 160)
	for i := range f {
		if i%2 == 0 {
			f[i] = v
		} else {
			f[i] = -v
		}
	}
	return f
}

// noise is a random frame with samples in [-peak, peak].
func noise(r *rand.Rand, peak int) []int16 {
	f := make([]int16, 160)
	for i := range f {
		f[i] = int16(r.IntN(2*peak+1) - peak)
	}
	return f
}

// mixOf is the reference mix: sum in plenty of bits, then clamp.
func mixOf(frames ...[]int16) []int16 {
	out := make([]int16, 160)
	for i := range out {
		var s int64
		for _, f := range frames {
			if f != nil {
				s += int64(f[i])
			}
		}
		out[i] = int16(max(min(s, math.MaxInt16), math.MinInt16))
	}
	return out
}

// others is every frame but the one at skip.
func others(frames [][]int16, skip int) [][]int16 {
	var out [][]int16
	for i, f := range frames {
		if i != skip {
			out = append(out, f)
		}
	}
	return out
}

func equalPCM(t *testing.T, what string, got, want []int16) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d samples, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: sample %d is %d, want %d", what, i, got[i], want[i])
		}
	}
}

// discard is an Output for load: it only counts.
type discard struct{ bytes atomic.Int64 }

func (d *discard) WriteFrame(p []byte) { d.bytes.Add(int64(len(p))) }

// loop is an Input or Source that repeats one frame forever.
type loop struct{ frame []int16 }

func (l *loop) ReadFrame(pcm []int16) bool {
	copy(pcm, l.frame)
	return true
}
