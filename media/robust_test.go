package media

// What a peer may throw at the receive path: datagrams that are not RTP,
// payload types never negotiated, oversized packets, a new SSRC, sequence
// wrap, timestamp jumps; and the silence count the RTP watchdog reads.

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"brygga/media/codec"
	"brygga/media/tone"
)

var testSrc = netip.MustParseAddrPort("192.0.2.7:4000")

// rtpBytes marshals one RTP packet.
func rtpBytes(t testing.TB, pt uint8, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// feed hands b to the receive path as if read from the socket now.
func feed(s *Session, b []byte) {
	s.play.Lock()
	s.packet(b, testSrc, time.Now())
	s.play.Unlock()
}

// pcmuSession is a started session with a PCMU caller at testSrc that
// never latches, fed by feed rather than its socket.
func pcmuSession(t testing.TB) *Session {
	t.Helper()
	s, err := NewSession(SessionConfig{Symmetric: SymmetricNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetRemote(Remote{Addr: net.UDPAddrFromAddrPort(testSrc), Codec: codec.PCMU, DTMF: 101, Send: true})
	s.Start()
	return s
}

func pcmuFrame(freq float64, n int) []byte {
	b := make([]byte, n)
	codec.PCMU.Encode(b, tone.Generate(freq, 8000, 0.3, n))
	return b
}

func TestSessionDropsWhatIsNotRTP(t *testing.T) {
	good := rtpBytes(t, 0, 1, 160, 7, pcmuFrame(500, 160))
	with := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":     {},
		"short":     good[:7],
		"header-1":  good[:11],
		"version 0": with(func(b []byte) []byte { b[0] &^= 0xc0; return b }),
		"version 1": with(func(b []byte) []byte { b[0] = b[0]&^0xc0 | 0x40; return b }),
		"version 3": with(func(b []byte) []byte { b[0] |= 0xc0; return b }),
		"CSRCs beyond the end": with(func(b []byte) []byte {
			b[0] |= 0x0f
			return b[:12+14*4]
		}),
		"extension beyond the end": with(func(b []byte) []byte {
			b[0] |= 0x10
			b[12], b[13], b[14], b[15] = 0xbe, 0xde, 0xff, 0xff
			return b
		}),
		"extension header cut": with(func(b []byte) []byte { b[0] |= 0x10; return b[:14] }),
		"padding beyond the end": with(func(b []byte) []byte {
			b[0] |= 0x20
			b[len(b)-1] = 255
			return b[:12+100]
		}),
		"padding of zero":            with(func(b []byte) []byte { b[0] |= 0x20; b[len(b)-1] = 0; return b }),
		"RTCP length beyond the end": {0x80, 201, 0x00, 0x40, 0, 0, 0, 1},
		"text":                       []byte("INVITE sip:4711@example.org SIP/2.0\r\n\r\n"),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			s := pcmuSession(t)
			feed(s, b)
			st := s.Stats()
			if st.Ignored != 1 || st.PacketsIn != 0 || st.BytesIn != 0 {
				t.Errorf("stats %+v, want one ignored and nothing in", st)
			}
			if !s.LastReceived().IsZero() {
				t.Error("a packet that is not RTP counted as hearing the caller")
			}
		})
	}
	// The same bytes unharmed are heard.
	s := pcmuSession(t)
	feed(s, good)
	if st := s.Stats(); st.PacketsIn != 1 || st.Ignored != 0 {
		t.Errorf("a valid packet: stats %+v", st)
	}
}

func TestSessionDropsPayloadTypesNotNegotiated(t *testing.T) {
	s := pcmuSession(t)
	payload := pcmuFrame(600, 160)
	// GSM, G.729, a dynamic type nobody offered, RTCP-ish 72-76 without
	// the marker: none is decoded as PCMU.
	for i, pt := range []uint8{3, 18, 96, 112, 127, 72} {
		feed(s, rtpBytes(t, pt, uint16(i), uint32(160*i), 9, payload))
	}
	st := s.Stats()
	if st.Ignored != 6 || st.PacketsIn != 0 {
		t.Fatalf("stats %+v, want 6 ignored and none in", st)
	}
	frame := make([]int16, 160)
	for range DefaultDepth + 2 {
		if s.ReadFrame(frame) {
			t.Fatal("audio played from a payload type never negotiated")
		}
	}
	if !s.LastReceived().IsZero() {
		t.Error("unknown payload types counted as hearing the caller")
	}
	// Comfort noise is the caller being quiet: heard, not played.
	feed(s, rtpBytes(t, payloadTypeCN, 10, 1600, 9, []byte{40}))
	if st := s.Stats(); st.PacketsIn != 1 || st.Ignored != 6 || s.LastReceived().IsZero() {
		t.Errorf("comfort noise: stats %+v, heard %v", st, s.LastReceived())
	}
}

func TestSessionOversizedPayload(t *testing.T) {
	s := pcmuSession(t)
	huge := pcmuFrame(800, maxDatagram-headerLen) // 186 ms in one packet
	for i := range 4 {
		feed(s, rtpBytes(t, 0, uint16(i), uint32(len(huge)*i), 11, huge))
	}
	frame := make([]int16, 160)
	played := 0
	for range 40 {
		if s.ReadFrame(frame) {
			played++
		}
	}
	if played == 0 {
		t.Fatal("nothing played from oversized packets")
	}
	b := rtpBytes(t, 0, 100, 1e6, 11, huge)
	allocs := testing.AllocsPerRun(100, func() {
		b[2], b[3] = b[2]+1, b[3]+1
		feed(s, b)
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per oversized packet", allocs)
	}
}

func TestSessionTruncatedDatagramIgnored(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: true})
	s.Start()
	b := rtpBytes(t, 0, 1, 160, 5, pcmuFrame(500, 3000))
	if _, err := p.conn.WriteToUDP(b, s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	p.sendAudio(s.LocalAddr(), tone.Generate(500, 8000, 0.3, 160))
	waitFor(t, "both datagrams", func() bool { st := s.Stats(); return st.Ignored+st.PacketsIn >= 2 })
	if st := s.Stats(); st.Ignored != 1 || st.PacketsIn != 1 || st.BytesIn != 160 {
		t.Errorf("stats %+v: want the 3000-byte datagram ignored, the next heard", st)
	}
}

// stream feeds n 20 ms PCMU packets from seq and ts on ssrc, reading a
// frame after each as the room's tick does, and returns how many frames
// held audio.
func stream(t *testing.T, s *Session, ssrc uint32, seq uint16, ts uint32, n int) int {
	t.Helper()
	payload := pcmuFrame(700, 160)
	frame := make([]int16, 160)
	played := 0
	for i := range n {
		feed(s, rtpBytes(t, 0, seq+uint16(i), ts+uint32(160*i), ssrc, payload))
		if s.ReadFrame(frame) {
			played++
		}
	}
	return played
}

func TestSessionStreamChanges(t *testing.T) {
	cases := []struct {
		name       string
		ssrc       uint32
		seq        uint16
		ts         uint32
		wantResets uint64 // new streams, or playout moved (Resyncs)
	}{
		// A new SSRC (a PBX transferring the call, a phone restarting
		// its stream) with unrelated numbers: a new stream, not a gap.
		{"new SSRC", 0xbeef, 40000, 3_000_000_000, 1},
		// The sequence number wraps (65495 to 8, then on from 9): nothing
		// lost, nothing reset.
		{"sequence wrap", 1, 9, 50 * 160, 0},
		// The timestamp leaps under the same SSRC and sequence: playout
		// moves there (one resync), no wait for a giant gap.
		{"timestamp jump", 1, 9, 900_000_000, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := pcmuSession(t)
			if n := stream(t, s, 1, 65535-40, 0, 50); n < 40 {
				t.Fatalf("first stream: %d frames of 50 played", n)
			}
			before := s.Stats()
			if n := stream(t, s, c.ssrc, c.seq, c.ts, 50); n < 40 {
				t.Errorf("after the change: %d frames of 50 played", n)
			}
			st := s.Stats()
			if st.Lost != before.Lost || st.Lost > 0 {
				t.Errorf("lost %d (before %d): the change was taken for a gap", st.Lost, before.Lost)
			}
			if got := st.Resets + st.Resyncs - before.Resets - before.Resyncs; got != c.wantResets {
				t.Errorf("resets %d, want %d", got, c.wantResets)
			}
			if st.Ignored != 0 || st.PacketsIn != 100 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestSessionSilence(t *testing.T) {
	s, err := NewSession(SessionConfig{Symmetric: SymmetricAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	remote := Remote{Addr: net.UDPAddrFromAddrPort(testSrc), Codec: codec.PCMU, Send: true}
	s.SetRemote(remote)
	if silent, _ := s.Silence(); silent != 0 {
		t.Errorf("silent %v before Start", silent)
	}
	s.Start()
	time.Sleep(30 * time.Millisecond)
	silent, held := s.Silence()
	if silent < 30*time.Millisecond || held {
		t.Errorf("silent %v held %v after Start, want ≥ 30ms, not held", silent, held)
	}
	heard := func() bool { silent, _ := s.Silence(); return silent < 20*time.Millisecond }

	feed(s, []byte("garbage that is no RTP"))
	if heard() {
		t.Error("garbage counted as hearing the caller")
	}
	// Learning: the first packets of a source are not the caller yet.
	for seq := range uint16(learnRun) {
		if seq == learnRun-1 && heard() {
			t.Error("RTP counted as hearing the caller before its source was learnt")
		}
		feed(s, rtpBytes(t, 0, 1+seq, 160*uint32(1+seq), 3, pcmuFrame(500, 160)))
	}
	if !heard() {
		t.Error("RTP not counted as hearing the caller")
	}
	time.Sleep(30 * time.Millisecond)
	// Learnt testSrc: a stranger's RTP is not the caller.
	s.play.Lock()
	s.packet(rtpBytes(t, 0, learnRun+1, 160*(learnRun+1), 3, pcmuFrame(500, 160)), netip.MustParseAddrPort("198.51.100.1:9"), time.Now())
	s.play.Unlock()
	if heard() {
		t.Error("a stranger's RTP counted as hearing the caller")
	}
	// RTCP (a receiver report without blocks) from the caller counts.
	feed(s, []byte{0x80, 201, 0x00, 0x01, 0, 0, 0, 3})
	if !heard() {
		t.Error("RTCP from the caller not counted")
	}

	time.Sleep(30 * time.Millisecond)
	remote.Send = false // the caller holds: the count starts afresh
	s.SetRemote(remote)
	if silent, held := s.Silence(); !held || silent > 20*time.Millisecond {
		t.Errorf("on hold: silent %v held %v", silent, held)
	}
	remote.Send, remote.Silent = true, true // recvonly: sends nothing by its own word
	s.SetRemote(remote)
	if _, held := s.Silence(); !held {
		t.Error("a recvonly caller is not taken as held")
	}
	if got := s.Timeouts(); got != DefaultTimeouts {
		t.Errorf("timeouts without a pool %+v", got)
	}
}

func TestPortPoolTimeouts(t *testing.T) {
	p := NewPortPool(nil, 40000, 40009)
	if p.Timeouts() != DefaultTimeouts {
		t.Errorf("default %+v", p.Timeouts())
	}
	want := Timeouts{RTP: 2 * time.Second, Hold: time.Hour}
	p.SetTimeouts(want)
	s, err := NewSession(SessionConfig{Pool: p})
	if err != nil {
		t.Skip("no port:", err)
	}
	defer s.Close()
	if s.Timeouts() != want {
		t.Errorf("session timeouts %+v, want %+v", s.Timeouts(), want)
	}
}

// FuzzSessionPacket feeds arbitrary datagrams through the receive path,
// with a frame read after each: nothing may panic, and what is heard must
// be RTP of a known payload type.
func FuzzSessionPacket(f *testing.F) {
	payload := pcmuFrame(440, 160)
	f.Add(rtpBytes(f, 0, 1, 160, 1, payload))
	f.Add(rtpBytes(f, 8, 65535, 0xffffff00, 2, payload))
	f.Add(rtpBytes(f, 101, 3, 480, 1, []byte{5, 0x8a, 0x03, 0x20}))
	f.Add(rtpBytes(f, 13, 4, 640, 1, []byte{40}))
	f.Add(rtpBytes(f, 0, 5, 800, 1, make([]byte, maxDatagram-headerLen)))
	f.Add([]byte{0x80, 200, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xb0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0, 7, 7, 7, 2})
	f.Add([]byte{})
	s, err := NewSession(SessionConfig{Symmetric: SymmetricNever})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	s.SetRemote(Remote{Addr: net.UDPAddrFromAddrPort(testSrc), Codec: codec.PCMU, DTMF: 101, Send: true})
	s.Start()
	frame := make([]int16, 160)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxDatagram {
			b = b[:maxDatagram]
		}
		before := s.Stats()
		feed(s, b)
		s.ReadFrame(frame)
		after := s.Stats()
		if after.PacketsIn-before.PacketsIn+after.Ignored-before.Ignored != 1 {
			t.Fatalf("one datagram, stats before %+v after %+v", before, after)
		}
		if after.PacketsIn > before.PacketsIn {
			var p rtp.Packet
			if p.Unmarshal(b) != nil || b[0]>>6 != 2 {
				t.Fatal("a datagram pion/rtp rejects was heard as RTP")
			}
			if pt := p.PayloadType; pt != 0 && pt != 8 && pt != 101 && pt != payloadTypeCN {
				t.Fatalf("payload type %d heard", pt)
			}
		}
	})
}
