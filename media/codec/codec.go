// Package codec holds the audio codecs brygga speaks on RTP: G.711 μ-law
// (PCMU) and A-law (PCMA).
//
// Encode and Decode never allocate, so the mixer and the RTP path can call
// them on every 20 ms frame.
package codec

import (
	"strings"

	"github.com/zaf/g711"
)

// Codec converts between signed 16-bit linear PCM and one RTP payload format.
type Codec interface {
	// Name is the SDP encoding name (a=rtpmap), e.g. "PCMU".
	Name() string
	// PayloadType is the static RTP payload type (RFC 3551).
	PayloadType() uint8
	// ClockRate is the RTP clock rate in Hz.
	ClockRate() int
	// Decode writes the samples of src into dst and returns how many it
	// wrote; it stops at whichever of the two ends first.
	Decode(dst []int16, src []byte) int
	// Encode writes the payload for src into dst and returns the number of
	// bytes written; it stops at whichever of the two ends first.
	Encode(dst []byte, src []int16) int
}

// The encoders run once per talker and once per codec for all other
// listeners on every tick, so they are looked up in tables built from
// zaf/g711 at start-up instead of computing segments per sample. 64 KiB per
// law stays in cache for the duration of a tick.
var (
	ulawEncode = encodeTable(g711.EncodeUlawFrame)
	alawEncode = encodeTable(g711.EncodeAlawFrame)
	ulawDecode = decodeTable(g711.DecodeUlawFrame)
	alawDecode = decodeTable(g711.DecodeAlawFrame)
)

func encodeTable(enc func(int16) uint8) *[65536]byte {
	t := new([65536]byte)
	for i := range t {
		t[i] = enc(int16(uint16(i)))
	}
	return t
}

// decodeTable copies zaf/g711's table so that the loop in Decode indexes an
// array directly instead of calling through a function value per sample.
func decodeTable(dec func(uint8) int16) *[256]int16 {
	t := new([256]int16)
	for i := range t {
		t[i] = dec(uint8(i))
	}
	return t
}

// g711Codec is the same algorithm for both laws; only the tables differ.
type g711Codec struct {
	name   string
	pt     uint8
	encode *[65536]byte
	decode *[256]int16
}

func (c *g711Codec) Name() string       { return c.name }
func (c *g711Codec) PayloadType() uint8 { return c.pt }
func (c *g711Codec) ClockRate() int     { return 8000 }
func (c *g711Codec) String() string     { return c.name }

func (c *g711Codec) Encode(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	t := c.encode
	for i, s := range src {
		dst[i] = t[uint16(s)]
	}
	return n
}

func (c *g711Codec) Decode(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	t := c.decode
	for i, b := range src {
		dst[i] = t[b]
	}
	return n
}

var (
	// PCMU is G.711 μ-law, static payload type 0.
	PCMU Codec = &g711Codec{name: "PCMU", pt: 0, encode: ulawEncode, decode: ulawDecode}
	// PCMA is G.711 A-law, static payload type 8.
	PCMA Codec = &g711Codec{name: "PCMA", pt: 8, encode: alawEncode, decode: alawDecode}
)

// All returns the supported codecs in brygga's order of preference for an
// SDP answer. The slice is new on every call, so callers may reorder it.
func All() []Codec { return []Codec{PCMU, PCMA} }

// all is what ByName searches; kept apart from All so that a look-up does
// not allocate.
var all = [...]Codec{PCMU, PCMA}

// ByName finds a codec by its SDP encoding name, ignoring case as RFC 4566
// requires of rtpmap names. It returns nil for a codec brygga lacks.
func ByName(name string) Codec {
	for _, c := range all {
		if strings.EqualFold(c.Name(), name) {
			return c
		}
	}
	return nil
}

// ByPayloadType finds a codec by its static RTP payload type; nil when the
// type is not one of ours (dynamic types need the SDP rtpmap and ByName).
func ByPayloadType(pt uint8) Codec {
	switch pt {
	case 0:
		return PCMU
	case 8:
		return PCMA
	}
	return nil
}
