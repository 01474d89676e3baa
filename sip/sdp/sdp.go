// Package sdp does SDP offer/answer (RFC 3264) for brygga's audio calls on
// top of github.com/pion/sdp/v3: it reads a caller's offer, picks one of our
// codecs from it and builds the answer (or, for an INVITE without a body,
// our own offer). Everything here is pure: no sockets, no clocks.
package sdp

import (
	"errors"
	"net/netip"

	psdp "github.com/pion/sdp/v3"
)

// Direction is an SDP media direction attribute (RFC 3264 §5.1).
type Direction string

// The four directions of RFC 3264. The empty Direction means "not said",
// which SDP defines as sendrecv.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Valid reports whether d is one of the four directions.
func (d Direction) Valid() bool {
	switch d {
	case SendRecv, SendOnly, RecvOnly, Inactive:
		return true
	}
	return false
}

// Sends reports whether the side that wrote d sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the side that wrote d wants media sent to it.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

var (
	// ErrNoOffer means the body was empty: an INVITE without SDP (delayed
	// offer, RFC 3261 §13.2.1). The server then puts its own offer
	// (BuildOffer) in the 200 and reads the answer from the ACK.
	ErrNoOffer = errors.New("sdp: no offer in body")
	// ErrMalformed means the body is not SDP we can read; answer 400.
	ErrMalformed = errors.New("sdp: malformed")
	// ErrNoAudio means the SDP has no usable audio stream; answer 488.
	ErrNoAudio = errors.New("sdp: no audio stream")
	// ErrNoCommonCodec means no offered format on the audio stream is one we
	// speak, or its transport is one we lack (SRTP); answer 488.
	ErrNoCommonCodec = errors.New("sdp: no codec in common")
)

// Format is one payload format of the audio m= line as the offerer described
// it. Static payload types without an rtpmap get their RFC 3551 name and rate.
type Format struct {
	PayloadType uint8
	Name        string // encoding name as written, e.g. "PCMU", "telephone-event", "opus"
	Rate        int    // clock rate in Hz; 0 when neither rtpmap nor RFC 3551 says
	Channels    int    // 0 when not given (means 1)
	Fmtp        string // a=fmtp parameters, "" when none
}

// Offer is what we need from a caller's SDP. ParseOffer also reads answers
// (the ACK after a delayed offer, or the test phone's 200) with it.
type Offer struct {
	Addr       netip.Addr // connection address of the audio stream (media c= beats session c=)
	Port       int        // RTP port of the audio stream
	Formats    []Format   // in the offerer's order of preference
	Direction  Direction  // the offerer's direction, hold by c=0.0.0.0 folded in
	Hold       bool       // the offerer wants no media sent to it (sendonly, inactive, c=0.0.0.0)
	Ptime      int        // a=ptime in ms, 0 when absent
	MaxPtime   int        // a=maxptime in ms, 0 when absent
	Transport  string     // proto of the audio stream, e.g. "RTP/AVP", "RTP/SAVP"
	Crypto     []Crypto   // usable SDES keys of an RTP/SAVP(F) stream, in the offerer's order
	AudioIndex int        // index of the m= line used

	raw *psdp.SessionDescription
}

// MediaCount is the number of m= lines in the offer; an answer has as many.
func (o *Offer) MediaCount() int {
	if o == nil || o.raw == nil {
		return 0
	}
	return len(o.raw.MediaDescriptions)
}

// Remote is where RTP for the audio stream goes.
func (o *Offer) Remote() netip.AddrPort {
	return netip.AddrPortFrom(o.Addr, uint16(o.Port))
}

// Format returns the offered format with payload type pt.
func (o *Offer) Format(pt uint8) (Format, bool) {
	for _, f := range o.Formats {
		if f.PayloadType == pt {
			return f, true
		}
	}
	return Format{}, false
}

// staticAudio is the audio part of RFC 3551 table 4: what a static payload
// type means when the offer carries no rtpmap for it.
var staticAudio = map[uint8]struct {
	name     string
	rate     int
	channels int
}{
	0:  {"PCMU", 8000, 1},
	3:  {"GSM", 8000, 1},
	4:  {"G723", 8000, 1},
	5:  {"DVI4", 8000, 1},
	6:  {"DVI4", 16000, 1},
	7:  {"LPC", 8000, 1},
	8:  {"PCMA", 8000, 1},
	9:  {"G722", 8000, 1},
	10: {"L16", 44100, 2},
	11: {"L16", 44100, 1},
	12: {"QCELP", 8000, 1},
	13: {"CN", 8000, 1},
	14: {"MPA", 90000, 0},
	15: {"G728", 8000, 1},
	16: {"DVI4", 11025, 1},
	17: {"DVI4", 22050, 1},
	18: {"G729", 8000, 1},
}

const telephoneEvent = "telephone-event"
