// Package dtmf turns keypad presses into digits from the three ways a phone
// sends them: RFC 4733 telephone-events, SIP INFO bodies, and in-band tones.
// Digits are the bytes '0'-'9', '*', '#' and 'A'-'D'.
package dtmf

// eventDigits maps RFC 4733 event codes 0-15 to digits.
const eventDigits = "0123456789*#ABCD"

// Digit returns the digit of an RFC 4733 event code; ok is false for events
// that are not keypad digits (flash, fax tones, ...).
func Digit(event uint8) (digit byte, ok bool) {
	if int(event) < len(eventDigits) {
		return eventDigits[event], true
	}
	return 0, false
}

// Event returns the RFC 4733 event code of a digit; lower-case 'a'-'d' are
// accepted.
func Event(digit byte) (event uint8, ok bool) {
	switch {
	case digit >= '0' && digit <= '9':
		return digit - '0', true
	case digit == '*':
		return 10, true
	case digit == '#':
		return 11, true
	case digit >= 'A' && digit <= 'D':
		return 12 + digit - 'A', true
	case digit >= 'a' && digit <= 'd':
		return 12 + digit - 'a', true
	}
	return 0, false
}

// EncodeEvent writes the 4-byte RFC 4733 payload for digit into dst and
// returns 4, or 0 when dst is too short or digit is not a keypad digit.
// volume is the power level in -dBm0 (0-63); duration is in RTP clock units
// since the event began.
func EncodeEvent(dst []byte, digit byte, end bool, volume uint8, duration uint16) int {
	ev, ok := Event(digit)
	if !ok || len(dst) < 4 {
		return 0
	}
	dst[0] = ev
	dst[1] = volume & 0x3f
	if end {
		dst[1] |= 0x80
	}
	dst[2] = byte(duration >> 8)
	dst[3] = byte(duration)
	return 4
}

// recentEvents is how many past event timestamps are remembered, so a late
// retransmission of an earlier event is still recognised after a newer one
// began; senders retransmit for well under the length of a few presses.
const recentEvents = 8

// EventDecoder turns a stream of RFC 4733 packets into one digit per key
// press. An event is identified by its RTP timestamp: the repeated
// in-progress updates and the three end packets all carry the same one, and
// a new press of the same key gets a new one. The zero value is ready to use;
// it is not safe for concurrent use.
type EventDecoder struct {
	recent [recentEvents]uint32
	n      int // valid entries in recent
	next   int // ring position for the next timestamp

	// The current event, to recognise an event longer than the 16-bit
	// duration field continuing under a new timestamp (RFC 4733 2.5.2.1).
	cur      uint32
	curEvent uint8
	curDur   uint16
	curEnded bool
	have     bool
}

// Reset forgets all events, for a new RTP stream (SSRC change).
func (d *EventDecoder) Reset() { *d = EventDecoder{} }

// Packet takes the RTP timestamp and payload of one telephone-event packet.
// It returns the digit the first time a packet of a new event arrives,
// whether that packet is a start, an update or (when the others were lost)
// an end packet.
func (d *EventDecoder) Packet(rtpTimestamp uint32, payload []byte) (digit byte, ok bool) {
	if len(payload) < 4 {
		return 0, false
	}
	event := payload[0]
	end := payload[1]&0x80 != 0
	dur := uint16(payload[2])<<8 | uint16(payload[3])

	if d.seen(rtpTimestamp) {
		if d.have && rtpTimestamp == d.cur {
			d.curDur = max(d.curDur, dur)
			d.curEnded = d.curEnded || end
		}
		return 0, false
	}
	continued := d.have && !d.curEnded && event == d.curEvent &&
		d.curDur >= 0xffff-longEventSlack && rtpTimestamp-d.cur <= 0x10000
	d.remember(rtpTimestamp)
	d.cur, d.curEvent, d.curDur, d.curEnded, d.have = rtpTimestamp, event, dur, end, true
	if continued {
		return 0, false
	}
	return Digit(event)
}

// longEventSlack allows for the updates near the 16-bit duration limit that
// were lost before the sender started the next segment (a second at 8 kHz).
const longEventSlack = 8000

func (d *EventDecoder) seen(ts uint32) bool {
	for i := range d.n {
		if d.recent[i] == ts {
			return true
		}
	}
	return false
}

func (d *EventDecoder) remember(ts uint32) {
	d.recent[d.next] = ts
	d.next = (d.next + 1) % recentEvents
	if d.n < recentEvents {
		d.n++
	}
}
