package dtmf

import (
	"encoding/binary"
	"testing"
)

// FuzzEventDecoder reads the input as packets of a 4-byte RTP timestamp and
// a 4-byte payload. Whatever arrives, digits must be valid, no more than one
// per run of packets with the same timestamp, and receiving every packet
// twice must change nothing.
func FuzzEventDecoder(f *testing.F) {
	var seed []byte
	for _, p := range cat(press(1000, '1', 100), press(3000, '#', 60)) {
		seed = binary.BigEndian.AppendUint32(seed, p.ts)
		flags := byte(10)
		if p.end {
			flags |= 0x80
		}
		seed = append(seed, p.ev, flags, byte(p.dur>>8), byte(p.dur))
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		var once, twice EventDecoder
		var a, b []byte
		runs := 0
		var prev uint32
		for len(data) >= 8 {
			ts := binary.BigEndian.Uint32(data)
			payload := data[4:8]
			data = data[8:]
			if runs == 0 || ts != prev {
				runs++
			}
			prev = ts
			if d, ok := once.Packet(ts, payload); ok {
				if _, valid := Event(d); !valid {
					t.Fatalf("invalid digit %q", d)
				}
				a = append(a, d)
			}
			for range 2 {
				if d, ok := twice.Packet(ts, payload); ok {
					b = append(b, d)
				}
			}
		}
		if short := data[:min(3, len(data))]; len(short) > 0 {
			if _, ok := once.Packet(0, short); ok {
				t.Fatalf("short payload %x decoded", short)
			}
		}
		if len(a) > runs {
			t.Fatalf("%d digits from %d runs of timestamps", len(a), runs)
		}
		if string(a) != string(b) {
			t.Fatalf("duplicated packets gave %q, once %q", b, a)
		}
	})
}

// FuzzParseInfo: any body either yields a valid digit that survives a
// round trip through a dtmf-relay body, or nothing; never a panic.
func FuzzParseInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Add("Application/DTMF-Relay;x=y", []byte("signal= 11\n"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		d, ok := ParseInfo(contentType, body)
		if !ok {
			if d != 0 {
				t.Fatalf("digit %q with ok=false", d)
			}
			return
		}
		if ev, valid := Event(d); !valid || eventDigits[ev] != d {
			t.Fatalf("invalid digit %q", d)
		}
		if again, ok := ParseInfo("application/dtmf-relay", []byte("Signal="+string(d)+"\r\n")); !ok || again != d {
			t.Fatalf("round trip of %q gave %q", d, again)
		}
	})
}
