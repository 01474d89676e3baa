package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"brygga/media/codec"
	"brygga/media/dtmf"
	"brygga/media/tone"
)

// peer is the far end: a plain UDP socket speaking RTP with pion/rtp.
type peer struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
	ts   uint32
	ssrc uint32
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	return listenPeer(t, peer{seq: 1000, ts: 50000, ssrc: 0xdecafbad}, "127.0.0.1")
}

// newPeerOn is a peer on another loopback address: a stranger to a call
// whose caller is on 127.0.0.1.
func newPeerOn(t *testing.T, ip string) *peer {
	t.Helper()
	return listenPeer(t, peer{seq: 7000, ts: 90000, ssrc: 0x5eed}, ip)
}

// listenPeer is p, starting from its seq, ts and ssrc, on a socket on ip.
func listenPeer(t *testing.T, p peer, ip string) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p.t, p.conn = t, c
	return &p
}

func (p *peer) addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

func (p *peer) sendRaw(to *net.UDPAddr, pt uint8, seq uint16, ts uint32, payload []byte) {
	p.t.Helper()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: p.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDP(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// sendAudio sends one packet of pcm as PCMU, advancing seq and timestamp.
func (p *peer) sendAudio(to *net.UDPAddr, pcm []int16) {
	payload := make([]byte, len(pcm))
	codec.PCMU.Encode(payload, pcm)
	p.sendRaw(to, 0, p.seq, p.ts, payload)
	p.seq++
	p.ts += uint32(len(pcm))
}

// recv reads one RTP packet, or returns nil after wait.
func (p *peer) recv(wait time.Duration) *rtp.Packet {
	p.t.Helper()
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now().Add(wait))
	n, err := p.conn.Read(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		p.t.Fatal(err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		p.t.Fatal(err)
	}
	return &pkt
}

// sipFromLoopback is the SIP source of the tests' calls: their peers'
// SDP addresses are on it, so RTP may go there before any comes back.
var sipFromLoopback = net.IPv4(127, 0, 0, 1)

func newTestSession(t *testing.T, cfg SessionConfig) *Session {
	t.Helper()
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSessionReceivesAudio(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, DTMF: 101, Send: true})
	s.Start()

	// Up to the buffer's depth at once, as after a burst; 770 Hz makes
	// every frame different.
	const frames = DefaultDepth
	sent := tone.Generate(770, 8000, 0.3, 160*frames)
	for i := range frames {
		p.sendAudio(s.LocalAddr(), sent[i*160:(i+1)*160])
	}
	waitFor(t, "packets", func() bool { return s.Stats().PacketsIn == frames })

	// What the caller sent, as G.711 leaves it.
	want := make([]int16, len(sent))
	enc := make([]byte, len(sent))
	codec.PCMU.Encode(enc, sent)
	codec.PCMU.Decode(want, enc)

	frame := make([]int16, 160)
	for i := range frames {
		if !s.ReadFrame(frame) {
			t.Fatalf("frame %d: no audio", i)
		}
		for j, x := range frame {
			if x != want[i*160+j] {
				t.Fatalf("frame %d sample %d: %d, want %d", i, j, x, want[i*160+j])
			}
		}
	}
	// The stream stops: one concealed frame, then silence.
	if !s.ReadFrame(frame) || frame[0] != want[len(want)-160] || frame[159] == want[len(want)-1] {
		t.Error("no faded repeat after the stream stopped")
	}
	if s.ReadFrame(frame) {
		t.Error("audio after the stream ended")
	}
	if st := s.Stats(); st.BytesIn != 160*frames || st.Lost != 0 || st.Concealed != 1 || st.Resyncs != 0 {
		t.Errorf("stats %+v", st)
	}
	if time.Since(s.LastReceived()) > 3*time.Second {
		t.Errorf("LastReceived %v", s.LastReceived())
	}
}

// TestSessionDynamicPayloadType: a peer that numbers PCMU 112 in its SDP
// sends and receives it as 112.
func TestSessionDynamicPayloadType(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, PayloadType: 112, Send: true})
	s.Start()
	pcm := tone.Generate(700, 8000, 0.3, 160)
	payload := make([]byte, 160)
	codec.PCMU.Encode(payload, pcm)
	for i := range DefaultDepth {
		p.sendRaw(s.LocalAddr(), 112, uint16(i), uint32(160*i), payload)
	}
	waitFor(t, "packets", func() bool { return s.Stats().PacketsIn == DefaultDepth })
	frame := make([]int16, 160)
	if !s.ReadFrame(frame) || tone.Level(frame) < -20 {
		t.Fatal("PCMU on payload type 112 was not played")
	}
	s.WritePCM(pcm)
	if pkt := p.recv(2 * time.Second); pkt == nil || pkt.PayloadType != 112 {
		t.Fatalf("sent %+v, want payload type 112", pkt)
	}
}

func TestSessionLossAndDuplicates(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: true})
	s.Start()
	payload := make([]byte, 160)
	for _, k := range []int{0, 1, 1, 3, 2, 5} {
		p.sendRaw(s.LocalAddr(), 0, uint16(k), uint32(k*160), payload)
	}
	p.sendRaw(s.LocalAddr(), 0, 6, 6*160, []byte{1, 2}) // a short packet still counts
	p.conn.WriteToUDP([]byte("not rtp"), s.LocalAddr())
	waitFor(t, "packets", func() bool { st := s.Stats(); return st.PacketsIn == 7 && st.Ignored == 1 })
	st := s.Stats()
	if st.Duplicates != 1 || st.Lost != 1 {
		t.Errorf("stats %+v, want 1 duplicate and 1 lost", st)
	}
}

func TestSessionDigitsFromEvents(t *testing.T) {
	p := newPeer(t)
	var mu sync.Mutex
	var digits []byte
	s := newTestSession(t, SessionConfig{OnDigit: func(d byte) {
		mu.Lock()
		digits = append(digits, d)
		mu.Unlock()
	}})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, DTMF: 101, Send: true})
	s.Start()
	buf := make([]byte, 4)
	seq := uint16(7)
	press := func(digit byte, ts uint32) {
		for dur := uint16(0); dur <= 800; dur += 400 {
			dtmf.EncodeEvent(buf, digit, false, 10, dur)
			p.sendRaw(s.LocalAddr(), 101, seq, ts, buf)
			seq++
		}
		for range 3 {
			dtmf.EncodeEvent(buf, digit, true, 10, 960)
			p.sendRaw(s.LocalAddr(), 101, seq, ts, buf)
			seq++
		}
	}
	press('4', 1000)
	press('4', 3000)
	press('#', 5000)
	waitFor(t, "18 event packets", func() bool { return s.Stats().PacketsIn == 18 })
	mu.Lock()
	got := string(digits)
	mu.Unlock()
	if got != "44#" {
		t.Errorf("digits %q, want 44#", got)
	}
	// Events are not audio: nothing to play, and no in-band detection runs.
	frame := make([]int16, 160)
	if s.ReadFrame(frame) {
		t.Error("telephone-events played as audio")
	}
}

// Nobody reads the socket between answer and IVR, or IVR and room: what
// arrives meanwhile waits in it, and the next ReadFrame finds every digit
// and all the audio, however much there is.
func TestSessionBacklogKeepsDigits(t *testing.T) {
	p := newPeer(t)
	var digits []byte
	s := newTestSession(t, SessionConfig{OnDigit: func(d byte) { digits = append(digits, d) }})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, DTMF: 101, Send: true})
	buf := make([]byte, 4)
	frame := make([]int16, 160)
	for i, d := range []byte("2468#") {
		for range 20 { // 400 ms of audio between key presses
			p.sendAudio(s.LocalAddr(), frame)
		}
		for k := range 4 {
			dtmf.EncodeEvent(buf, d, k > 0, 10, 800)
			p.sendRaw(s.LocalAddr(), 101, p.seq, uint32(100000+1000*i), buf)
			p.seq++
		}
	}
	if s.ReadFrame(frame); len(digits) != 0 {
		t.Fatal("digits read before Start")
	}
	s.Start()
	// On Linux the first ReadFrame finds them all; elsewhere a reader
	// goroutine queues them, which takes a moment.
	waitFor(t, "the backlog", func() bool { s.ReadFrame(frame); return s.Stats().PacketsIn == 5*24 })
	if string(digits) != "2468#" {
		t.Fatalf("digits %q, want 2468#", digits)
	}
	if st := s.Stats(); st.Digits != 5 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSessionDigitsNewSSRCSameTimestamps: SIPp sends each play_dtmf on a
// new SSRC but restarts the timestamps; the same key presses on a new
// stream are new presses.
func TestSessionDigitsNewSSRCSameTimestamps(t *testing.T) {
	p := newPeer(t)
	var mu sync.Mutex
	var digits []byte
	s := newTestSession(t, SessionConfig{OnDigit: func(d byte) {
		mu.Lock()
		digits = append(digits, d)
		mu.Unlock()
	}})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, DTMF: 101, Send: true})
	s.Start()
	buf := make([]byte, 4)
	seq := uint16(100)
	for _, ssrc := range []uint32{0x01020305, 0x01020306} {
		p.ssrc = ssrc
		for i, d := range []byte("12#") {
			ts := uint32(24400 + 400*i)
			dtmf.EncodeEvent(buf, d, false, 10, 160)
			p.sendRaw(s.LocalAddr(), 101, seq, ts, buf)
			seq++
			for range 3 {
				dtmf.EncodeEvent(buf, d, true, 10, 800)
				p.sendRaw(s.LocalAddr(), 101, seq, ts, buf)
				seq++
			}
		}
	}
	waitFor(t, "24 event packets", func() bool { return s.Stats().PacketsIn == 24 })
	mu.Lock()
	got := string(digits)
	mu.Unlock()
	if got != "12#12#" {
		t.Errorf("digits %q, want 12#12#", got)
	}
}

func TestSessionInbandDigits(t *testing.T) {
	for _, tc := range []struct {
		name string
		dtmf uint8
		want string
	}{{"no telephone-event: in-band detection", 0, "7"}, {"telephone-event negotiated: no in-band", 101, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t)
			var got []byte
			s := newTestSession(t, SessionConfig{OnDigit: func(d byte) { got = append(got, d) }})
			s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, DTMF: tc.dtmf, Send: true})
			s.Start()
			lo := tone.Generate(852, 8000, 0.2, 160*6)
			hi := tone.Generate(1209, 8000, 0.25, 160*6)
			pcm := make([]int16, 160*10)
			for i := range lo {
				pcm[i] = lo[i] + hi[i]
			}
			frame := make([]int16, 160)
			for i := range 10 {
				p.sendAudio(s.LocalAddr(), pcm[i*160:(i+1)*160])
				waitFor(t, "packet", func() bool { return s.Stats().PacketsIn == uint64(i+1) })
				s.ReadFrame(frame) // digits are reported from here, on this goroutine
			}
			for range 4 {
				s.ReadFrame(frame)
			}
			if string(got) != tc.want {
				t.Errorf("digits %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSessionWriteFrameContinuity(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{SignalIP: sipFromLoopback})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMA, Send: true})
	payload := make([]byte, 160)
	var first *rtp.Packet
	for i := range 5 {
		payload[0] = byte(i)
		s.WriteFrame(payload)
		pkt := p.recv(time.Second)
		if pkt == nil {
			t.Fatalf("packet %d not received", i)
		}
		if first == nil {
			first = pkt
			if !pkt.Marker {
				t.Error("first packet without marker")
			}
		} else if pkt.Marker {
			t.Errorf("packet %d has the marker", i)
		}
		if pkt.PayloadType != 8 || pkt.SSRC != first.SSRC || len(pkt.Payload) != 160 || pkt.Payload[0] != byte(i) {
			t.Fatalf("packet %d: pt %d ssrc %x len %d", i, pkt.PayloadType, pkt.SSRC, len(pkt.Payload))
		}
		if pkt.SequenceNumber != first.SequenceNumber+uint16(i) || pkt.Timestamp != first.Timestamp+uint32(160*i) {
			t.Fatalf("packet %d: seq %d ts %d after %d %d", i, pkt.SequenceNumber, pkt.Timestamp, first.SequenceNumber, first.Timestamp)
		}
	}

	// Held by the peer: nothing goes out, but time goes on.
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMA, Send: false})
	for range 3 {
		s.WriteFrame(payload)
	}
	if pkt := p.recv(100 * time.Millisecond); pkt != nil {
		t.Fatalf("sent while on hold: seq %d", pkt.SequenceNumber)
	}
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMA, Send: true})
	s.WritePCM(make([]int16, 160))
	pkt := p.recv(time.Second)
	if pkt == nil {
		t.Fatal("nothing after hold")
	}
	if pkt.SequenceNumber != first.SequenceNumber+5 || pkt.Timestamp != first.Timestamp+8*160 || !pkt.Marker {
		t.Errorf("after hold: seq +%d ts +%d marker %v; want +5, +1280, true",
			pkt.SequenceNumber-first.SequenceNumber, pkt.Timestamp-first.Timestamp, pkt.Marker)
	}
	if pkt.Payload[0] != 0xd5 { // A-law silence
		t.Errorf("WritePCM silence encoded as %#x", pkt.Payload[0])
	}
	if st := s.Stats(); st.PacketsOut != 6 || st.BytesOut != 6*160 {
		t.Errorf("stats %+v", st)
	}
}

func TestShouldLatch(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		mode        Symmetric
		sdp, signal string
		want        bool
	}{
		{SymmetricAuto, "192.168.1.20", "203.0.113.7", true},
		{SymmetricAuto, "10.1.2.3", "203.0.113.7", true},
		{SymmetricAuto, "172.20.0.5", "198.51.100.1", true},
		{SymmetricAuto, "100.64.10.1", "203.0.113.7", true}, // CGNAT
		{SymmetricAuto, "fd00::5", "2001:db8::1", true},     // ULA
		{SymmetricAuto, "192.168.1.20", "192.168.1.20", false},
		{SymmetricAuto, "::ffff:192.168.1.20", "192.168.1.20", false},
		{SymmetricAuto, "203.0.113.7", "198.51.100.1", false},
		{SymmetricAuto, "127.0.0.1", "127.0.0.1", false},
		{SymmetricAlways, "203.0.113.7", "203.0.113.7", true},
		{SymmetricNever, "192.168.1.20", "203.0.113.7", false},
	} {
		if got := shouldLatch(tc.mode, ip(tc.sdp), ip(tc.signal)); got != tc.want {
			t.Errorf("%v sdp %s signal %s: %v", tc.mode, tc.sdp, tc.signal, got)
		}
	}
}

func TestParseSymmetric(t *testing.T) {
	for in, want := range map[string]Symmetric{"auto": SymmetricAuto, "Always": SymmetricAlways, " never ": SymmetricNever} {
		if got, err := ParseSymmetric(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseSymmetric("sometimes"); err == nil {
		t.Error("sometimes accepted")
	}
}

// Each mode over loopback: the caller's packets come from src while its
// SDP names sdp (a reachable socket, or a private address nobody serves);
// a stranger on 127.0.0.66 sends to the call's port too.
func TestSessionSymmetricModes(t *testing.T) {
	for _, tc := range []struct {
		mode       Symmetric
		privateSDP bool   // SDP names 10.0.0.9, unreachable from here
		signal     string // SIP source
		learn      bool   // the source is learnt, replies go to src
		heard      bool   // src is heard (learnt, or on the SDP's IP)
	}{
		{SymmetricAuto, true, "127.0.0.1", true, true},
		{SymmetricAuto, true, "10.0.0.9", false, false},
		{SymmetricAuto, false, "127.0.0.1", false, true},
		{SymmetricAlways, false, "127.0.0.1", true, true},
		{SymmetricNever, true, "127.0.0.1", false, false},
		{SymmetricNever, false, "127.0.0.1", false, true},
	} {
		t.Run(fmt.Sprintf("%v private=%v signal=%s", tc.mode, tc.privateSDP, tc.signal), func(t *testing.T) {
			src, sdp, stranger := newPeer(t), newPeer(t), newPeerOn(t, "127.0.0.66")
			remote := sdp.addr()
			if tc.privateSDP {
				remote = &net.UDPAddr{IP: net.IPv4(10, 0, 0, 9), Port: 4000}
			}
			s := newTestSession(t, SessionConfig{Symmetric: tc.mode, SignalIP: net.ParseIP(tc.signal)})
			// Nothing is sent towards 10.0.0.9: a test must not leak packets.
			send := !tc.privateSDP || tc.learn
			s.SetRemote(Remote{Addr: remote, Codec: codec.PCMU, Send: send})
			s.Start()
			frame := make([]int16, 160)
			// The stranger first: it must win nothing.
			for range learnRun + 1 {
				stranger.sendAudio(s.LocalAddr(), frame)
			}
			waitFor(t, "stranger ignored", func() bool { return s.Stats().Strangers == learnRun+1 })
			for range learnRun {
				src.sendAudio(s.LocalAddr(), frame)
			}
			if !tc.heard {
				waitFor(t, "src ignored", func() bool { return s.Stats().Strangers == 2*learnRun+1 })
				if st := s.Stats(); st.PacketsIn != 0 {
					t.Fatalf("heard %d packets from off the SDP's IP", st.PacketsIn)
				}
				return
			}
			want := uint64(learnRun)
			if tc.learn {
				want = 1 // the packets before the lock are not heard
			}
			waitFor(t, "src heard", func() bool { return s.Stats().PacketsIn == want })
			if st := s.Stats(); st.Strangers != learnRun+1 {
				t.Errorf("strangers %d, want %d", st.Strangers, learnRun+1)
			}

			dest := remote
			if tc.learn {
				dest = src.addr()
			}
			if got := s.Destination(); got.String() != dest.String() {
				t.Fatalf("destination %v, want %v", got, dest)
			}
			// Learnt, or not: the stranger is still nobody.
			before := s.Stats().PacketsIn
			stranger.sendAudio(s.LocalAddr(), frame)
			waitFor(t, "stranger ignored again", func() bool { return s.Stats().Strangers == learnRun+2 })
			if s.Stats().PacketsIn != before {
				t.Error("stranger heard")
			}
			s.WriteFrame(make([]byte, 160))
			to, other := sdp, src
			if tc.learn {
				to, other = src, sdp
			}
			if to.recv(time.Second) == nil {
				t.Error("reply not received where expected")
			}
			if other.recv(50*time.Millisecond) != nil || stranger.recv(10*time.Millisecond) != nil {
				t.Error("reply sent to the wrong place")
			}
		})
	}
}

// A re-INVITE moving the media must be followed: the source is learnt
// afresh, and the new SDP address (the SIP source's IP) is sent to at once.
func TestSessionReinviteMovesMedia(t *testing.T) {
	a, b := newPeer(t), newPeer(t)
	b.ssrc = 0xb0b
	s := newTestSession(t, SessionConfig{Symmetric: SymmetricAlways, SignalIP: sipFromLoopback})
	s.SetRemote(Remote{Addr: a.addr(), Codec: codec.PCMU, Send: true})
	s.Start()
	for range learnRun {
		a.sendAudio(s.LocalAddr(), make([]int16, 160))
	}
	waitFor(t, "learnt", func() bool { return s.Stats().PacketsIn == 1 })
	s.SetRemote(Remote{Addr: b.addr(), Codec: codec.PCMU, Send: true})
	s.WriteFrame(make([]byte, 160))
	if b.recv(time.Second) == nil {
		t.Fatal("not sent to the new address")
	}
	for range learnRun {
		b.sendAudio(s.LocalAddr(), make([]int16, 160))
	}
	waitFor(t, "learnt again", func() bool { return s.Stats().PacketsIn == 2 })
	if got := s.Destination(); got.String() != b.addr().String() {
		t.Errorf("destination %v", got)
	}
	// a is a stranger now.
	a.sendAudio(s.LocalAddr(), make([]int16, 160))
	waitFor(t, "old source ignored", func() bool { return s.Stats().Strangers == 1 })
}

func testPool(t *testing.T, ports int) (*PortPool, int) {
	t.Helper()
	lo := 20000 + 2*rand.IntN(10000)
	return NewPortPool(net.IPv4(127, 0, 0, 1), lo, lo+2*(ports-1)), lo
}

func TestPortPool(t *testing.T) {
	pool, lo := testPool(t, 3)
	var sessions []*Session
	for range 3 {
		s, err := NewSession(SessionConfig{Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
		if port := s.LocalAddr().Port; port%2 != 0 || port < lo || port > lo+4 {
			t.Errorf("port %d outside the even ports of %d-%d", port, lo, lo+4)
		}
		if !s.LocalAddr().IP.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Errorf("bound %v", s.LocalAddr().IP)
		}
	}
	if pool.InUse() != 3 {
		t.Errorf("InUse %d", pool.InUse())
	}
	if _, err := NewSession(SessionConfig{Pool: pool}); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("fourth session: %v, want ErrNoPorts", err)
	}
	freed := sessions[1].LocalAddr().Port
	sessions[1].Start()
	if err := sessions[1].Close(); err != nil {
		t.Fatal(err)
	}
	if err := sessions[1].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	sessions[1].Start() // after Close: nothing
	if pool.InUse() != 2 {
		t.Errorf("InUse after Close %d", pool.InUse())
	}
	s, err := NewSession(SessionConfig{Pool: pool})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if s.LocalAddr().Port != freed {
		t.Errorf("got port %d, the free one is %d", s.LocalAddr().Port, freed)
	}
	sessions = append(sessions, s)
	for _, s := range sessions {
		s.Close()
	}
	if pool.InUse() != 0 {
		t.Errorf("InUse at end %d", pool.InUse())
	}
	// Every port can be bound again: the sockets are really closed.
	for port := lo; port <= lo+4; port += 2 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Errorf("port %d still held: %v", port, err)
			continue
		}
		c.Close()
	}
}

func TestPortPoolSkipsForeignAndOddPorts(t *testing.T) {
	pool, lo := testPool(t, 2)
	busy, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: lo})
	if err != nil {
		t.Skipf("port %d taken: %v", lo, err)
	}
	defer busy.Close()
	s, err := NewSession(SessionConfig{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.LocalAddr().Port != lo+2 {
		t.Errorf("port %d, want %d", s.LocalAddr().Port, lo+2)
	}
	odd := NewPortPool(nil, 20001, 20001)
	if odd.Size() != 0 {
		t.Errorf("odd-only range has %d ports", odd.Size())
	}
	if _, err := NewSession(SessionConfig{Pool: odd}); !errors.Is(err, ErrNoPorts) {
		t.Errorf("empty pool: %v", err)
	}
}

func TestSessionCloseStopsReader(t *testing.T) {
	p := newPeer(t)
	pool, _ := testPool(t, 1)
	s, err := NewSession(SessionConfig{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: true})
	s.Start()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close hung")
	}
	s.WriteFrame(make([]byte, 160)) // after Close: dropped, no panic
	if p.recv(50*time.Millisecond) != nil {
		t.Error("sent after Close")
	}
	if pool.InUse() != 0 {
		t.Error("port not freed")
	}
}

// Reader, tick and signalling all touch a session at once; run with -race.
func TestSessionConcurrentUse(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{OnDigit: func(byte) {}})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: true})
	s.Start()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(3)
	go func() {
		defer wg.Done()
		frame := make([]int16, 160)
		for range 50 {
			p.sendAudio(s.LocalAddr(), frame)
			time.Sleep(time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		frame := make([]int16, 160)
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.ReadFrame(frame)
			s.WritePCM(frame)
			s.Stats()
			time.Sleep(time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 20 {
			s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: i%2 == 0})
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(80 * time.Millisecond)
	close(stop)
	wg.Wait()
	s.Close()
}

func TestSessionNoAllocs(t *testing.T) {
	p := newPeer(t)
	s := newTestSession(t, SessionConfig{})
	s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: true})
	payload := make([]byte, 160)
	pcm := make([]int16, 160)
	if n := testing.AllocsPerRun(200, func() { s.WriteFrame(payload) }); n != 0 {
		t.Errorf("WriteFrame: %v allocations", n)
	}
	if n := testing.AllocsPerRun(200, func() { s.WritePCM(pcm) }); n != 0 {
		t.Errorf("WritePCM: %v allocations", n)
	}
	// The receive path, without the socket read: parse, decode, buffer, play.
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 5}, Payload: payload}
	buf := make([]byte, 200)
	src := p.addr().AddrPort()
	k := 0
	if n := testing.AllocsPerRun(200, func() {
		pkt.SequenceNumber, pkt.Timestamp = uint16(k), uint32(k*160)
		k++
		n, _ := pkt.MarshalTo(buf)
		s.play.Lock()
		s.packet(buf[:n], src, time.Now())
		s.play.Unlock()
		s.ReadFrame(pcm)
	}); n != 0 {
		t.Errorf("receive path: %v allocations", n)
	}
	// And with it: the peer's packets read from the socket by ReadFrame,
	// one or two at a time as a tick finds them.
	s.Start()
	to := s.LocalAddr().AddrPort()
	if n := testing.AllocsPerRun(200, func() {
		for range 1 + k%2 {
			pkt.SequenceNumber, pkt.Timestamp = uint16(k), uint32(k*160)
			k++
			n, _ := pkt.MarshalTo(buf)
			if _, err := p.conn.WriteToUDPAddrPort(buf[:n], to); err != nil {
				t.Fatal(err)
			}
		}
		s.ReadFrame(pcm)
	}); n != 0 {
		t.Errorf("socket receive path: %v allocations", n)
	}
	if st := s.Stats(); st.PacketsIn < 300 {
		t.Errorf("only %d packets received", st.PacketsIn)
	}
}

func BenchmarkSessionWriteFrame(b *testing.B) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	// The sink is on the SIP source's IP, so it is sent to from the
	// start (no reflection): without that nothing would be sent at all.
	s, err := NewSession(SessionConfig{SignalIP: sipFromLoopback})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.SetRemote(Remote{Addr: sink.LocalAddr().(*net.UDPAddr), Codec: codec.PCMU, Send: true})
	payload := make([]byte, 160)
	b.ReportAllocs()
	for b.Loop() {
		s.WriteFrame(payload)
	}
	if st := s.Stats(); st.PacketsOut == 0 {
		b.Fatal("nothing sent")
	}
}

func TestSessionJitterEstimate(t *testing.T) {
	s := newTestSession(t, SessionConfig{})
	at := func(ms float64) time.Time { return s.epoch.Add(time.Duration(ms * float64(time.Millisecond))) }
	for k := range 100 {
		s.trackJitter(at(float64(20*k)), 1, uint32(160*k), 8000)
	}
	if j := s.Stats().Jitter; j > 200*time.Microsecond {
		t.Errorf("steady arrivals: jitter %v", j)
	}
	// Arrivals alternately 10 ms early and late: |D| = 20 ms each time,
	// which the RFC 3550 estimate approaches.
	for k := 100; k < 400; k++ {
		off := 10.0
		if k%2 == 0 {
			off = -10
		}
		s.trackJitter(at(float64(20*k)+off), 1, uint32(160*k), 8000)
	}
	if j := s.Stats().Jitter; j < 19*time.Millisecond || j > 21*time.Millisecond {
		t.Errorf("alternating arrivals: jitter %v, want about 20ms", j)
	}
}

// BenchmarkSessionReadFrame is one tick of one caller's input: the packet
// that arrived since the last tick is read from the socket, decoded,
// buffered and played.
func BenchmarkSessionReadFrame(b *testing.B) {
	src, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	s, err := NewSession(SessionConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.SetRemote(Remote{Addr: src.LocalAddr().(*net.UDPAddr), Codec: codec.PCMU, Send: true})
	s.Start()
	to := s.LocalAddr().AddrPort()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 5}, Payload: make([]byte, 160)}
	buf := make([]byte, 200)
	pcm := make([]int16, 160)
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber, pkt.Timestamp = uint16(k), uint32(k*160)
		k++
		n, _ := pkt.MarshalTo(buf)
		b.StopTimer()
		if _, err := src.WriteToUDPAddrPort(buf[:n], to); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s.ReadFrame(pcm)
	}
}

func TestTotalsKeepClosedSessions(t *testing.T) {
	before, _, _ := Totals()
	a, err := NewSession(SessionConfig{SignalIP: sipFromLoopback})
	if err != nil {
		t.Fatal(err)
	}
	a.SetRemote(Remote{Addr: a.LocalAddr(), Codec: codec.PCMU, Send: true})
	a.Start()
	for range 5 {
		a.WritePCM(make([]int16, 160))
	}
	live, n, _ := Totals()
	if n < 1 || live.PacketsOut-before.PacketsOut < 5 {
		t.Fatalf("live totals: %d sessions, %d packets out", n, live.PacketsOut-before.PacketsOut)
	}
	a.Close()
	after, _, _ := Totals()
	if after.PacketsOut < live.PacketsOut {
		t.Fatalf("packets out went from %d to %d when the session closed", live.PacketsOut, after.PacketsOut)
	}
}

// No reflection: an SDP address off the SIP source's IP gets nothing until
// RTP comes from it (a stranger's RTP does not count), then at once; with
// trusted signalling it gets RTP from the start. RFC 2543 hold (0.0.0.0)
// and resume keep both the permission and who is heard.
func TestSessionNoReflection(t *testing.T) {
	frame := make([]byte, 160)
	t.Run("untrusted", func(t *testing.T) {
		named := newPeerOn(t, "127.0.0.77") // the address the SDP names
		stranger := newPeerOn(t, "127.0.0.66")
		s := newTestSession(t, SessionConfig{SignalIP: sipFromLoopback})
		remote := Remote{Addr: named.addr(), Codec: codec.PCMU, Send: true}
		s.SetRemote(remote)
		s.Start()
		for range 5 {
			s.WriteFrame(frame)
		}
		if named.recv(50*time.Millisecond) != nil || s.Destination() != nil {
			t.Fatal("sent to an address nobody vouched for")
		}
		stranger.sendAudio(s.LocalAddr(), make([]int16, 160))
		waitFor(t, "stranger", func() bool { return s.Stats().Strangers == 1 })
		s.WriteFrame(frame)
		if named.recv(50*time.Millisecond) != nil || stranger.recv(10*time.Millisecond) != nil {
			t.Fatal("a stranger's RTP opened the way")
		}
		// RTP from the named IP, another port (SIPp sends from one port).
		other := newPeerOn(t, "127.0.0.77")
		other.sendAudio(s.LocalAddr(), make([]int16, 160))
		waitFor(t, "named IP heard", func() bool { return s.Stats().PacketsIn == 1 })
		s.WriteFrame(frame)
		if named.recv(time.Second) == nil {
			t.Fatal("nothing sent once RTP came from the SDP's IP")
		}
		// Hold with 0.0.0.0, then resume: nothing sent on hold, then at once.
		s.SetRemote(Remote{Addr: &net.UDPAddr{IP: net.IPv4zero, Port: named.addr().Port}, Codec: codec.PCMU})
		s.WriteFrame(frame)
		if named.recv(50*time.Millisecond) != nil {
			t.Fatal("sent on hold")
		}
		other.sendAudio(s.LocalAddr(), make([]int16, 160)) // still the caller while held
		waitFor(t, "heard on hold", func() bool { return s.Stats().PacketsIn == 2 })
		s.SetRemote(remote)
		s.WriteFrame(frame)
		if named.recv(time.Second) == nil {
			t.Fatal("nothing sent after resume")
		}
		if st := s.Stats(); st.PacketsOut != 2 {
			t.Errorf("packets out %d, want 2", st.PacketsOut)
		}
	})
	t.Run("trusted", func(t *testing.T) {
		named := newPeerOn(t, "127.0.0.77")
		s := newTestSession(t, SessionConfig{SignalIP: net.IPv4(127, 0, 0, 5), Trusted: true})
		s.SetRemote(Remote{Addr: named.addr(), Codec: codec.PCMU, Send: true})
		s.Start()
		s.WriteFrame(frame)
		if named.recv(time.Second) == nil {
			t.Fatal("trusted signalling's SDP address not sent to")
		}
	})
}
