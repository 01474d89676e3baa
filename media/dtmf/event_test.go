package dtmf

import (
	"testing"
)

func TestDigitEventMapping(t *testing.T) {
	for ev := range uint8(16) {
		d, ok := Digit(ev)
		if !ok {
			t.Fatalf("event %d not a digit", ev)
		}
		back, ok := Event(d)
		if !ok || back != ev {
			t.Errorf("event %d -> %q -> %d", ev, d, back)
		}
	}
	if _, ok := Digit(16); ok {
		t.Error("flash (16) reported as a digit")
	}
	if ev, ok := Event('c'); !ok || ev != 14 {
		t.Errorf("lower-case c: %d %v", ev, ok)
	}
	if _, ok := Event('E'); ok {
		t.Error("E accepted")
	}
}

func TestEncodeEvent(t *testing.T) {
	buf := make([]byte, 8)
	if n := EncodeEvent(buf, '#', true, 10, 1280); n != 4 {
		t.Fatalf("n=%d", n)
	}
	want := []byte{11, 0x80 | 10, 0x05, 0x00}
	if string(buf[:4]) != string(want) {
		t.Errorf("got % x want % x", buf[:4], want)
	}
	if n := EncodeEvent(buf, '5', false, 0xff, 0); n != 4 || buf[1] != 0x3f {
		t.Errorf("volume not limited to 6 bits: % x", buf[:4])
	}
	if n := EncodeEvent(buf[:3], '5', false, 10, 0); n != 0 {
		t.Error("short buffer accepted")
	}
	if n := EncodeEvent(buf, 'x', false, 10, 0); n != 0 {
		t.Error("bad digit accepted")
	}
}

type pkt struct {
	ts  uint32
	ev  byte
	end bool
	dur uint16
}

// press is what a phone sends for one key: a start, updates every 50 ms,
// and the end packet three times, all with the event's timestamp.
func press(ts uint32, digit byte, ms int) []pkt {
	ev, _ := Event(digit)
	var out []pkt
	for t := 0; t < ms; t += 50 {
		out = append(out, pkt{ts, ev, false, uint16(t * 8)})
	}
	for range 3 {
		out = append(out, pkt{ts, ev, true, uint16(ms * 8)})
	}
	return out
}

func run(d *EventDecoder, pkts []pkt) string {
	var got []byte
	buf := make([]byte, 4)
	for _, p := range pkts {
		buf[0] = p.ev
		buf[1] = 10
		if p.end {
			buf[1] |= 0x80
		}
		buf[2], buf[3] = byte(p.dur>>8), byte(p.dur)
		if digit, ok := d.Packet(p.ts, buf); ok {
			got = append(got, digit)
		}
	}
	return string(got)
}

func cat(parts ...[]pkt) []pkt {
	var out []pkt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestEventDecoder(t *testing.T) {
	a := press(1000, '2', 200)
	b := press(4000, '4', 120)
	c := press(7000, '6', 60)
	h := press(9000, '#', 100)
	for _, tc := range []struct {
		name string
		pkts []pkt
		want string
	}{
		{"one press, three end packets", a, "2"},
		{"PIN", cat(a, b, c, h), "246#"},
		{"same key twice is two digits", cat(press(1000, '5', 100), press(3000, '5', 100)), "55"},
		{"only the end packets arrived", a[len(a)-3:], "2"},
		{"only one update arrived", a[2:3], "2"},
		{"late end packet after the next press began",
			cat(a[:len(a)-3], b[:2], a[len(a)-1:], b[2:]), "24"},
		{"whole press retransmitted late", cat(a, b, a), "24"},
		{"non-digit events ignored", []pkt{{500, 16, false, 0}, {500, 16, true, 800}}, ""},
		{"timestamp wraps", cat(press(0xffffff00, '1', 100), press(0x200, '1', 100)), "11"},
		{"new stream with earlier timestamps", cat(press(900000, '7', 100), press(1000, '8', 100)), "78"},
		{"long press continued in a new segment",
			[]pkt{{100, 3, false, 0}, {100, 3, false, 0xffff}, {100 + 0xffff, 3, false, 400}, {100 + 0xffff, 3, true, 800}}, "3"},
		{"same key after a long press that ended", []pkt{{100, 3, false, 0}, {100, 3, true, 0xffff}, {100 + 0xffff, 3, false, 400}}, "33"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d EventDecoder
			if got := run(&d, tc.pkts); got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
}

func TestEventDecoderShortAndReset(t *testing.T) {
	var d EventDecoder
	if _, ok := d.Packet(1, []byte{1, 2, 3}); ok {
		t.Error("3-byte payload decoded")
	}
	if _, ok := d.Packet(1, nil); ok {
		t.Error("empty payload decoded")
	}
	if got := run(&d, press(50, '9', 100)); got != "9" {
		t.Fatalf("got %q", got)
	}
	if got := run(&d, press(50, '9', 100)); got != "" {
		t.Errorf("repeat counted again: %q", got)
	}
	d.Reset()
	if got := run(&d, press(50, '9', 100)); got != "9" {
		t.Errorf("after Reset: %q", got)
	}
}

func TestParseInfo(t *testing.T) {
	for _, tc := range []struct {
		ct, body string
		want     byte
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5'},
		{"application/dtmf-relay", "Signal=5\nDuration=160", '5'},
		{"Application/DTMF-Relay; charset=utf-8", "signal = #\r\n", '#'},
		{"application/dtmf-relay", "Duration=160\r\nSignal= *\r\n", '*'},
		{"application/dtmf-relay", "Signal=d\r\n", 'D'},
		{"application/dtmf-relay", "Signal=11\r\nDuration=100", '#'},
		{"application/dtmf-relay", "Signal=10", '*'},
		{"application/dtmf-relay", "\r\n\r\nSIGNAL=0", '0'},
		{"application/dtmf-relay", "Signal=16\r\n", 0},
		{"application/dtmf-relay", "Signal=\r\n", 0},
		{"application/dtmf-relay", "Signal=55\r\n", 0},
		{"application/dtmf-relay", "Duration=160", 0},
		{"application/dtmf-relay", "", 0},
		{"application/dtmf", "5", '5'},
		{"application/dtmf", " 9\r\n", '9'},
		{"APPLICATION/DTMF", "#", '#'},
		{"application/dtmf", "11", '#'},
		{"application/dtmf", "x", 0},
		{"application/sdp", "Signal=5", 0},
		{"text/plain", "5", 0},
	} {
		d, ok := ParseInfo(tc.ct, []byte(tc.body))
		if ok != (tc.want != 0) || d != tc.want {
			t.Errorf("%q %q: got %q,%v want %q", tc.ct, tc.body, d, ok, tc.want)
		}
	}
}
