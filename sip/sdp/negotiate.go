package sdp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"brygga/media/codec"
)

// Choice is the outcome of a negotiation.
type Choice struct {
	Codec       codec.Codec
	PayloadType uint8 // the codec's payload type as the offer numbered it; RTP both ways uses it
	DTMF        uint8 // telephone-event payload type as offered; 0 = none (detect in-band)
	DTMFRate    int   // clock rate of that telephone-event, equal to the codec's
	// SRTP is the offerer's key for an RTP/SAVP(F) stream: the first of
	// its a=crypto lines we can use. Nil for plain RTP.
	SRTP *Crypto
}

// Negotiate picks the first format in the offerer's order that is one of
// supported (RFC 3264 §6.1: the answerer honours the offerer's preference),
// matched by encoding name and clock rate, so a dynamic payload type mapped
// to PCMU counts as PCMU and an un-mapped static 0 or 8 counts too. A
// telephone-event is chosen only at the codec's clock rate (RFC 4733 §2.1)
// and only when it carries the keypad digits.
//
// An RTP/SAVP(F) stream is taken with the first a=crypto line we can use
// (RFC 4568 §7.1.1: the offerer's preference again).
//
// It returns ErrNoCommonCodec (wrapped, with the reason) when nothing fits,
// also for SRTP without a key we can use and for DTLS-SRTP.
func Negotiate(o *Offer, supported []codec.Codec) (Choice, error) {
	if o == nil {
		return Choice{}, errors.New("sdp: negotiate without an offer")
	}
	var ch Choice
	switch o.Transport {
	case "", "RTP/AVP", "RTP/AVPF":
	case "RTP/SAVP", "RTP/SAVPF":
		if len(o.Crypto) == 0 {
			return Choice{}, fmt.Errorf("%w: %s without an a=crypto suite we support", ErrNoCommonCodec, o.Transport)
		}
		ch.SRTP = &o.Crypto[0]
	default:
		return Choice{}, fmt.Errorf("%w: audio transport %s is not supported", ErrNoCommonCodec, o.Transport)
	}
	for _, f := range o.Formats {
		if c := match(f, supported); c != nil {
			ch.Codec, ch.PayloadType = c, f.PayloadType
			break
		}
	}
	if ch.Codec == nil {
		names := make([]string, 0, len(o.Formats))
		for _, f := range o.Formats {
			names = append(names, fmt.Sprintf("%d:%s/%d", f.PayloadType, f.Name, f.Rate))
		}
		return Choice{}, fmt.Errorf("%w: offered %s", ErrNoCommonCodec, strings.Join(names, " "))
	}
	rate := ch.Codec.ClockRate()
	for _, f := range o.Formats {
		// PT 0 would read as "no DTMF", and a PT shared with the voice
		// codec would make every voice packet an event.
		if f.PayloadType == 0 || f.PayloadType == ch.PayloadType || f.Channels > 1 {
			continue
		}
		if strings.EqualFold(f.Name, telephoneEvent) && f.Rate == rate && carriesDigits(f.Fmtp) {
			ch.DTMF, ch.DTMFRate = f.PayloadType, f.Rate
			break
		}
	}
	return ch, nil
}

func match(f Format, supported []codec.Codec) codec.Codec {
	if f.Channels > 1 {
		return nil // G.711 here is mono; a stereo rtpmap is another format
	}
	for _, c := range supported {
		if c != nil && strings.EqualFold(f.Name, c.Name()) && f.Rate == c.ClockRate() {
			return c
		}
	}
	return nil
}

// carriesDigits reports whether a telephone-event fmtp ("0-15", "0-11,16")
// includes the twelve keypad events 0-11. No fmtp means 0-15 (RFC 4733
// §2.4.1); a list we cannot read is given the benefit of the doubt.
func carriesDigits(fmtp string) bool {
	if strings.TrimSpace(fmtp) == "" {
		return true
	}
	var have [12]bool
	for _, item := range strings.Split(fmtp, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(item), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return true
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return true
			}
		}
		for e := max(a, 0); e <= b && e < len(have); e++ {
			have[e] = true
		}
	}
	for _, ok := range have {
		if !ok {
			return false
		}
	}
	return true
}
