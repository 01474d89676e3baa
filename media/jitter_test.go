package media

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// sampleAt is the test signal: every RTP timestamp has its own sample value,
// so a frame shows exactly which stretch of the stream it came from.
func sampleAt(ts uint32) int16 { return int16(ts%20011) + 1 }

func packetPCM(ts uint32, n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = sampleAt(ts + uint32(i))
	}
	return pcm
}

// frameTS says which timestamp a popped frame starts at, or fails.
func isAudioAt(frame []int16, ts uint32) bool {
	for i, x := range frame {
		if x != sampleAt(ts+uint32(i)) {
			return false
		}
	}
	return true
}

// runScript drives a buffer with a small language:
//
//	+k          push 20 ms packet k: seq seq0+k, ts ts0+160k
//	+k:t:n      push packet seq0+k at ts0+t with n samples
//	+k:t:n:s    ... from SSRC s
//	>t          pop, expect audio starting at ts0+t
//	>c          pop, expect the last frame repeated with a fade
//	>s          pop, expect silence (false)
func runScript(t *testing.T, jb *JitterBuffer, seq0 uint16, ts0 uint32, script string) {
	t.Helper()
	frame := make([]int16, jb.FrameSamples())
	last := make([]int16, jb.FrameSamples())
	for _, op := range strings.Fields(script) {
		switch op[0] {
		case '+':
			var k, ts, n int
			ssrc := uint32(1)
			parts := strings.Split(op[1:], ":")
			fmt.Sscan(parts[0], &k)
			ts, n = k*160, 160
			if len(parts) >= 3 {
				fmt.Sscan(parts[1], &ts)
				fmt.Sscan(parts[2], &n)
			}
			if len(parts) == 4 {
				fmt.Sscan(parts[3], &ssrc)
			}
			jb.Push(seq0+uint16(k), ts0+uint32(ts), ssrc, packetPCM(ts0+uint32(ts), n))
		case '>':
			for i := range frame {
				frame[i] = -999
			}
			ok := jb.Pop(frame)
			switch op[1:] {
			case "s":
				if ok {
					t.Fatalf("%s: got audio %v..., want silence", op, frame[:4])
				}
				for _, x := range frame {
					if x != 0 {
						t.Fatalf("%s: silence frame holds %d", op, x)
					}
				}
			case "c":
				if !ok {
					t.Fatalf("%s: got silence, want concealment", op)
				}
				n := len(frame)
				for i := range frame {
					if want := int16(int(last[i]) * (n - i) / n); frame[i] != want {
						t.Fatalf("%s: sample %d is %d, want faded %d", op, i, frame[i], want)
					}
				}
			default:
				var ts uint32
				fmt.Sscan(op[1:], &ts)
				if !ok || !isAudioAt(frame, ts0+ts) {
					t.Fatalf("%s: got ok=%v %v..., want audio at %d", op, ok, frame[:4], ts)
				}
				copy(last, frame)
			}
		default:
			t.Fatalf("bad op %q", op)
		}
	}
}

func TestJitterBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seq0   uint16
		ts0    uint32
		script string
		want   JitterStats
	}{
		{name: "in order",
			script: "+0 >s +1 >0 +2 >160 +3 >320 +4 >480 +5 >640",
			want:   JitterStats{Received: 6}},
		{name: "reordered",
			script: "+0 +1 >0 +3 >160 +2 >320 +5 +4 >480 >640 >800",
			want:   JitterStats{Received: 6}},
		{name: "reordered before playout",
			script: "+1 +0 >0 >160 +2 >320",
			want:   JitterStats{Received: 3}},
		{name: "duplicates",
			script: "+0 +0 +1 >0 +1 +2 +2 >160 >320",
			want:   JitterStats{Received: 3, Duplicates: 3}},
		{name: "duplicate of a played packet",
			script: "+0 +1 >0 +2 >160 +0 >320",
			want:   JitterStats{Received: 3, Duplicates: 1}},
		{name: "single loss concealed",
			script: "+0 +1 >0 +3 >160 +4 >c >480 +5 >640",
			want:   JitterStats{Received: 5, Lost: 1, Concealed: 1}},
		{name: "burst loss: one frame concealed, then silence",
			script: "+0 +1 >0 +2 >160 >320 +6 >c >s >s >960 +7 >1120",
			want:   JitterStats{Received: 5, Lost: 3, Concealed: 1}},
		{name: "late packet after its frame was concealed",
			script: "+0 +1 >0 +3 >160 >c +2 >480 +4 >640",
			want:   JitterStats{Received: 5, Late: 1, Concealed: 1}},
		{name: "ran dry, prefills again and resumes where the stream is",
			script: "+0 +1 >0 >160 >c >s >s +9 >s +10 >1440 +11 >1600",
			want:   JitterStats{Received: 5, Lost: 7, Concealed: 1, Underruns: 1}},
		{name: "overflow resyncs to the prefill, no creep",
			script: "+0 +1 +2 +3 +4 +5 +6 >800 >960 +7 +8 +9 +10 +11 +12 +13 >1920",
			want:   JitterStats{Received: 14, Resyncs: 2}},
		{name: "sequence and timestamp wraparound", seq0: 65533, ts0: 0xffffff00,
			script: "+0 +1 >0 +2 >160 +4 >320 +3 >480 +3 >640 +6 >c +7 >960 >1120",
			want:   JitterStats{Received: 7, Lost: 1, Duplicates: 1, Concealed: 1}},
		{name: "10 ms packets make 20 ms frames",
			script: "+0:0:80 +1:80:80 +2:160:80 +3:240:80 >0 +4:320:80 +5:400:80 >160 +6:480:80 +7:560:80 >320",
			want:   JitterStats{Received: 8}},
		{name: "30 ms packets make 20 ms frames",
			script: "+0:0:240 +1:240:240 >0 >160 +2:480:240 >320 >480 +3:720:240 >640 >800",
			want:   JitterStats{Received: 4}},
		{name: "new SSRC starts over",
			script: "+0 +1 >0 +2 >160 +900:50000:160:7 >s +901:50160:160:7 >50000 +902:50320:160:7 >50160",
			want:   JitterStats{Received: 6, Resets: 1}},
		{name: "sequence jump: one stray packet dropped, two in a row restart",
			script: "+0 +1 >0 +2 >160 +5000:90000:160 >320 +3 >480 +6000:200000:160 +6001:200160:160 +6002:200320:160 >200160 >200320",
			want:   JitterStats{Received: 6, Resets: 1}},
		{name: "timestamps jump ahead (silence suppression): the gap is silent",
			script: "+0 +1 >0 +2 >160 +3:900000:160 >s +4:900160:160 >900000 +5:900320:160 >900160",
			want:   JitterStats{Received: 6, Resyncs: 1}},
		{name: "timestamps restart behind with sequence going on",
			script: "+0 +1 >0 +2 >160 +3:4290000000:160 >s +4:4290000160:160 >4290000000 +5:4290000320:160 >4290000160",
			want:   JitterStats{Received: 6, Resets: 1}},
		{name: "late packet after running dry still plays",
			script: "+0 +1 >0 >160 >c +2 >s +3 >320 +4 >480",
			want:   JitterStats{Received: 5, Concealed: 1, Underruns: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jb := NewJitterBuffer(8000)
			runScript(t, jb, tc.seq0, tc.ts0, tc.script)
			if got := jb.Stats(); got != tc.want {
				t.Errorf("stats %+v\n      want %+v", got, tc.want)
			}
		})
	}
}

// The "lost 10 ms packet" case expects a fade over the whole frame; check
// here that the first half really is the audio and only the hole is faded.
func TestJitterPartialFrameKeepsWhatArrived(t *testing.T) {
	jb := NewJitterBuffer(8000)
	for k := range 4 {
		jb.Push(uint16(k), uint32(80*k), 1, packetPCM(uint32(80*k), 80))
	}
	frame := make([]int16, 160)
	for _, want := range []uint32{0, 160} {
		if !jb.Pop(frame) || !isAudioAt(frame, want) {
			t.Fatalf("frame at %d wrong", want)
		}
	}
	last := append([]int16(nil), frame...)
	jb.Push(4, 320, 1, packetPCM(320, 80)) // 400 lost
	jb.Push(6, 480, 1, packetPCM(480, 80))
	if !jb.Pop(frame) {
		t.Fatal("partial frame not played")
	}
	if !isAudioAt(frame[:80], 320) {
		t.Errorf("first half of partial frame is not the audio that arrived")
	}
	for i := 80; i < 160; i++ {
		if want := int16(int(last[i]) * (160 - i) / 160); frame[i] != want {
			t.Fatalf("sample %d = %d, want faded %d", i, frame[i], want)
		}
	}
}

// Packets of 10, 20 and 30 ms arriving with up to 30 ms of jitter (and so
// reordered) play as an unbroken stream of exact 20 ms frames.
func TestJitterSteadyStreamWithJitter(t *testing.T) {
	for _, ptime := range []int{10, 20, 30} {
		t.Run(fmt.Sprintf("%dms", ptime), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ptime), 9))
			type arrival struct {
				at  float64
				seq uint16
				ts  uint32
			}
			n := ptime * 8
			var arrivals []arrival
			for k := range 3000 / ptime * 10 { // 30 s
				sent := float64(k * ptime)
				arrivals = append(arrivals, arrival{sent + rng.Float64()*30, uint16(k), uint32(k * n)})
			}
			sort.Slice(arrivals, func(a, b int) bool { return arrivals[a].at < arrivals[b].at })
			jb := NewJitterBuffer(8000)
			frame := make([]int16, 160)
			var next uint32
			playing := false
			for tick := 0.0; len(arrivals) > 0; tick += 20 {
				for len(arrivals) > 0 && arrivals[0].at <= tick {
					a := arrivals[0]
					arrivals = arrivals[1:]
					jb.Push(a.seq, a.ts, 1, packetPCM(a.ts, n))
				}
				if b := jb.Buffered(); b > DefaultDepth*160+n+160 {
					t.Fatalf("buffered %d samples", b)
				}
				ok := jb.Pop(frame)
				if !playing {
					if ok {
						playing = true
						next = 0
						for !isAudioAt(frame, next) && next < 8000 {
							next += 160
						}
					} else {
						continue
					}
				}
				if !ok || !isAudioAt(frame, next) {
					t.Fatalf("tick %v: frame at %d missing (ok=%v) stats %+v", tick, next, ok, jb.Stats())
				}
				next += 160
			}
			if s := jb.Stats(); s.Concealed+s.Late+s.Lost+s.Underruns+s.Resyncs != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// A sender whose clock runs fast fills the buffer; the delay must stay
// bounded instead of growing for the rest of the call. One that runs slow
// drains it; playout must recover each time.
func TestJitterClockDrift(t *testing.T) {
	for _, tc := range []struct {
		name   string
		period float64 // ms between packets
	}{{"fast sender", 19.6}, {"slow sender", 20.4}} {
		t.Run(tc.name, func(t *testing.T) {
			jb := NewJitterBuffer(8000)
			frame := make([]int16, 160)
			played := 0
			k := 0
			for tick := 0.0; tick < 120000; tick += 20 {
				for float64(k)*tc.period <= tick {
					jb.Push(uint16(k), uint32(k*160), 1, packetPCM(uint32(k*160), 160))
					k++
				}
				if jb.Buffered() > DefaultDepth*160 {
					t.Fatalf("delay crept to %d samples", jb.Buffered())
				}
				if jb.Pop(frame) {
					played++
				}
			}
			s := jb.Stats()
			// Every tick plays audio from a fast sender; everything a slow
			// one sends is heard.
			real := played - int(s.Concealed)
			sent := int(120000 / tc.period)
			if want := min(sent, 6000) - DefaultPrefill; real < want {
				t.Errorf("played %d real frames, want %d; stats %+v", real, want, s)
			}
			if s.Late != 0 {
				t.Errorf("%d packets came too late", s.Late)
			}
			if tc.period < 20 && s.Resyncs == 0 {
				t.Error("fast sender never resynced")
			}
			if tc.period > 20 && s.Underruns == 0 && s.Concealed == 0 {
				t.Error("slow sender never ran short")
			}
		})
	}
}

func TestJitterOtherRate(t *testing.T) {
	jb := NewJitterBuffer(16000)
	if jb.FrameSamples() != 320 {
		t.Fatalf("frame %d", jb.FrameSamples())
	}
	for k := range 3 {
		jb.Push(uint16(k), uint32(k*320), 1, packetPCM(uint32(k*320), 320))
	}
	frame := make([]int16, 320)
	if !jb.Pop(frame) || !isAudioAt(frame, 0) {
		t.Error("16 kHz frame wrong")
	}
}

func TestJitterNoAllocs(t *testing.T) {
	jb := NewJitterBuffer(8000)
	pcm := packetPCM(0, 160)
	frame := make([]int16, 160)
	k := 0
	allocs := testing.AllocsPerRun(200, func() {
		jb.Push(uint16(k), uint32(k*160), 1, pcm)
		jb.Pop(frame)
		k++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per push+pop", allocs)
	}
}

func BenchmarkJitterPushPop(b *testing.B) {
	jb := NewJitterBuffer(8000)
	pcm := packetPCM(0, 160)
	frame := make([]int16, 160)
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		jb.Push(uint16(k), uint32(k*160), 1, pcm)
		jb.Pop(frame)
		k++
	}
}

// Whatever arrives — random jumps, lengths, SSRCs, duplicates — frames keep
// their size, nothing panics and the delay stays bounded.
func TestJitterSurvivesGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	jb := NewJitterBuffer(8000)
	frame := make([]int16, 160)
	pcm := packetPCM(0, 2000)
	seq, ts, ssrc := uint16(0), uint32(0), uint32(1)
	for range 50000 {
		switch r := rng.IntN(100); {
		case r < 2:
			seq += uint16(rng.Uint32())
		case r < 4:
			ts += rng.Uint32()
		case r < 5:
			ssrc = rng.Uint32N(3)
		case r < 15:
			seq -= uint16(rng.IntN(5))
			ts -= uint32(rng.IntN(800))
		}
		n := []int{0, 1, 80, 160, 160, 160, 240, 480, 2000}[rng.IntN(9)]
		jb.Push(seq, ts, ssrc, pcm[:n])
		seq++
		ts += uint32(n)
		// The limit grows with the packet length, up to 120 ms packets.
		if bound := 2*maxPacketFrames*160 + 2*160; jb.Buffered() > bound {
			t.Fatalf("buffered %d over %d", jb.Buffered(), bound)
		}
		for range rng.IntN(3) {
			for i := range frame {
				frame[i] = -1
			}
			ok := jb.Pop(frame)
			if !ok {
				for _, x := range frame {
					if x != 0 {
						t.Fatal("silence frame not silent")
					}
				}
			}
		}
	}
}
