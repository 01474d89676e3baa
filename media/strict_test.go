package media

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

var (
	callerIP  = netip.MustParseAddr("203.0.113.7") // the SIP source: the caller's NAT
	callerA   = netip.AddrPortFrom(callerIP, 40000)
	callerB   = netip.AddrPortFrom(callerIP, 40002) // the NAT rebound
	strangerX = netip.MustParseAddrPort("198.51.100.66:5004")
)

func onlyCaller(a netip.Addr) bool { return a == callerIP }

// feedRun sends n packets of one stream from src, seq first..first+n-1, and
// returns the verdicts.
func feedRun(l *learner, src netip.AddrPort, ssrc uint32, first uint16, n int) []verdict {
	var vs []verdict
	for i := range n {
		vs = append(vs, l.rtp(src, ssrc, first+uint16(i)))
	}
	return vs
}

func TestLearnerLocksOnARun(t *testing.T) {
	l := learner{allow: onlyCaller}
	if l.rtcp(callerA) {
		t.Error("RTCP heard before a source was learnt")
	}
	got := feedRun(&l, callerA, 0xcafe, 65534, learnRun+1) // across the wrap
	want := []verdict{pending, pending, locked, hear}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", got, want)
		}
	}
	if !l.rtcp(callerA) || l.rtcp(callerB) {
		t.Error("RTCP: only the learnt source is heard")
	}
	// Another SSRC from the learnt source is still the caller (SIPp keys
	// every play_dtmf on a new SSRC).
	if v := l.rtp(callerA, 0xd7f, 9); v != hear {
		t.Errorf("new SSRC from the learnt source: %v", v)
	}
}

func TestLearnerNeedsConsecutivePackets(t *testing.T) {
	l := learner{allow: onlyCaller}
	// Gaps, repeats and a changing SSRC never make a run.
	for _, p := range []struct {
		ssrc uint32
		seq  uint16
	}{{1, 10}, {1, 12}, {1, 12}, {2, 13}, {1, 14}, {3, 15}, {1, 15}, {1, 17}} {
		if v := l.rtp(callerA, p.ssrc, p.seq); v != pending {
			t.Fatalf("ssrc %d seq %d: %v", p.ssrc, p.seq, v)
		}
	}
	if l.locked {
		t.Fatal("locked without a run")
	}
}

func TestLearnerRefusesOtherAddresses(t *testing.T) {
	l := learner{allow: onlyCaller}
	for _, v := range feedRun(&l, strangerX, 7, 100, 50) {
		if v != drop {
			t.Fatalf("a source off the allowed addresses: %v", v)
		}
	}
	// Trusted signalling allows any address.
	l = learner{}
	if vs := feedRun(&l, strangerX, 7, 100, learnRun); vs[learnRun-1] != locked {
		t.Errorf("trusted: %v", vs)
	}
}

// The stranger sends first, on an allowed address, interleaved with the
// caller: the first source with a run wins, and then holds.
func TestLearnerFirstRunWinsThenHolds(t *testing.T) {
	l := learner{allow: onlyCaller}
	rogue := netip.AddrPortFrom(callerIP, 6666)
	l.rtp(rogue, 99, 1)
	l.rtp(callerA, 0xcafe, 500)
	l.rtp(rogue, 99, 7) // not consecutive: its run starts again
	l.rtp(callerA, 0xcafe, 501)
	if v := l.rtp(callerA, 0xcafe, 502); v != locked {
		t.Fatalf("caller's third packet: %v", v)
	}
	for i, v := range feedRun(&l, rogue, 99, 8, 20) {
		if v != drop {
			t.Fatalf("rogue packet %d after the lock: %v", i, v)
		}
	}
}

// A NAT rebinding: the caller's stream goes on from a new port. It takes
// over after takeoverRun packets; its first ones are not heard.
func TestLearnerTakeover(t *testing.T) {
	l := learner{allow: onlyCaller}
	feedRun(&l, callerA, 0xcafe, 1000, 10) // last seq 1009
	// Some packets lost in the rebinding: the stream resumes at 1015.
	vs := feedRun(&l, callerB, 0xcafe, 1015, takeoverRun+1)
	for i, v := range vs[:takeoverRun-1] {
		if v != pending {
			t.Fatalf("takeover packet %d: %v", i, v)
		}
	}
	if vs[takeoverRun-1] != locked || vs[takeoverRun] != hear || l.source != callerB {
		t.Fatalf("takeover verdicts %v, source %v", vs, l.source)
	}
	if v := l.rtp(callerA, 0xcafe, 1020); v == hear || v == locked {
		t.Errorf("the old port after the takeover: %v", v)
	}
}

func TestLearnerTakeoverRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		ssrc  uint32
		first uint16
		step  uint16
	}{
		"another SSRC":          {0xbad, 1010, 1},
		"seq behind":            {0xcafe, 1000, 1},
		"seq too far ahead":     {0xcafe, 1009 + takeoverWindow + 1, 1},
		"seq not consecutive":   {0xcafe, 1010, 2},
		"seq the same each day": {0xcafe, 1010, 0},
	} {
		t.Run(name, func(t *testing.T) {
			l := learner{allow: onlyCaller}
			feedRun(&l, callerA, 0xcafe, 1000, 10)
			for i := range 3 * takeoverRun {
				if v := l.rtp(callerB, tc.ssrc, tc.first+uint16(i)*tc.step); v == hear || v == locked {
					t.Fatalf("packet %d taken: %v", i, v)
				}
			}
			if l.source != callerA {
				t.Fatalf("source moved to %v", l.source)
			}
		})
	}
}

// A stranger spraying from many ports on the caller's address cannot push
// a caller's run out of the candidates once it is ahead.
func TestLearnerCandidatesUnderSpray(t *testing.T) {
	l := learner{allow: onlyCaller}
	l.rtp(callerA, 0xcafe, 1)
	l.rtp(callerA, 0xcafe, 2)
	for p := range uint16(100) {
		l.rtp(netip.AddrPortFrom(callerIP, 10000+p), uint32(p), p)
	}
	if v := l.rtp(callerA, 0xcafe, 3); v != locked {
		t.Fatalf("caller's run lost under spray: %v", v)
	}
}

// FuzzStrictRTP feeds the learner packets from a few sources, one of them
// on an address it must refuse, and checks after every packet:
//   - nothing from a refused address is ever heard;
//   - a source is locked only after learnRun packets of one SSRC with
//     consecutive sequence numbers, or, taking over from a locked source,
//     after takeoverRun such packets whose SSRC is the one last heard from
//     the locked source and whose first continued its sequence;
//   - once locked, only the locked source is heard.
func FuzzStrictRTP(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 0, 0, 4, 1, 0, 0, 5, 1, 0, 0, 6, 1, 0, 0, 7})
	f.Add([]byte{2, 1, 0, 1, 2, 1, 0, 2, 2, 1, 0, 3, 0, 1, 0, 4, 3, 1, 0, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		sources := []netip.AddrPort{callerA, callerB, netip.AddrPortFrom(callerIP, 7), strangerX}
		ssrcs := []uint32{0xcafe, 0xbad, 1, 0}
		type pkt struct {
			ssrc uint32
			seq  uint16
			cont bool // continued the locked source's stream when it came
		}
		history := make(map[netip.AddrPort][]pkt)
		// run reports whether src's last n packets are one SSRC with
		// consecutive sequence numbers, and returns the first of them.
		run := func(src netip.AddrPort, n int) (pkt, bool) {
			h := history[src]
			if len(h) < n {
				return pkt{}, false
			}
			h = h[len(h)-n:]
			for i := 1; i < n; i++ {
				if h[i].ssrc != h[0].ssrc || h[i].seq != h[i-1].seq+1 {
					return pkt{}, false
				}
			}
			return h[0], true
		}
		l := learner{allow: onlyCaller}
		for len(data) >= 4 {
			src := sources[int(data[0])%len(sources)]
			ssrc := ssrcs[int(data[1])%len(ssrcs)]
			seq := binary.BigEndian.Uint16(data[2:4])
			if data[1]&0x80 != 0 {
				// An RTCP packet: heard only from the locked source.
				if got := l.rtcp(src); got != (l.locked && src == l.source) {
					t.Fatalf("RTCP from %v heard %v, locked %v to %v", src, got, l.locked, l.source)
				}
			}
			data = data[4:]
			wasLocked, was := l.locked, l.source
			cont := l.locked && ssrc == l.ssrc && seq-l.seq >= 1 && seq-l.seq <= takeoverWindow
			history[src] = append(history[src], pkt{ssrc, seq, cont})
			v := l.rtp(src, ssrc, seq)
			if src == strangerX && v != drop {
				t.Fatalf("refused address: %v", v)
			}
			switch v {
			case hear:
				if !wasLocked || src != was {
					t.Fatalf("heard %v while locked %v to %v", src, wasLocked, was)
				}
			case locked:
				switch {
				case !wasLocked:
					if _, ok := run(src, learnRun); !ok {
						t.Fatalf("locked %v without a run: %v", src, history[src])
					}
				case src != was:
					if first, ok := run(src, takeoverRun); !ok || !first.cont {
						t.Fatalf("%v took over from %v without a run continuing its stream: %v", src, was, history[src])
					}
				default:
					t.Fatalf("locked again to the locked source %v", src)
				}
				if l.source != src || !l.locked {
					t.Fatalf("locked verdict but source %v", l.source)
				}
			default:
				if wasLocked && src == was {
					t.Fatalf("the locked source %v dropped: %v", src, v)
				}
			}
		}
	})
}
