package keypad

import (
	"testing"
	"time"
)

func TestSequences(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		keys string
		gap  time.Duration // between key presses
		want []Command
	}{
		{"*1", 0, []Command{None, Help}},
		{"*2*3*4*5*6*7*8*9", 0, []Command{None, RollCall, None, Count, None, Lecture, None, Hand, None, Mute, None, Lock, None, Admit, None, Record}},
		{"*0*0", time.Second, []Command{None, EndAsk, None, End}},
		{"*0*0", 3 * time.Second, []Command{None, EndAsk, None, EndAsk}}, // second *0 6 s after the first
		{"5", 0, []Command{Invalid}},
		{"#", 0, []Command{None}},
		{"*#", 0, []Command{None, Invalid}},
		{"**6", 0, []Command{None, None, Mute}},
		{"*6", 4 * time.Second, []Command{None, Invalid}}, // the star timed out: 6 alone
	}
	for _, c := range cases {
		var r Reader
		now := t0
		for i := 0; i < len(c.keys); i++ {
			if got := r.Key(c.keys[i], now); got != c.want[i] {
				t.Errorf("%q (gap %s) key %d: %v, want %v", c.keys, c.gap, i, got, c.want[i])
			}
			now = now.Add(c.gap)
		}
	}
}

func TestHostOnly(t *testing.T) {
	for c := Help; c <= Invalid; c++ {
		want := c == Lecture || c == Lock || c == Admit || c == Record || c == EndAsk || c == End
		if c.HostOnly() != want {
			t.Errorf("%v HostOnly %v", c, c.HostOnly())
		}
		if c.String() == "unknown" {
			t.Errorf("%d has no name", c)
		}
	}
}
