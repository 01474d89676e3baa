package media

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"brygga/media/codec"
	"brygga/media/tone"
)

func testKey(seed byte) []byte {
	k := make([]byte, 30)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// srtpPeer is a far end speaking SRTP with its own pion contexts.
type srtpPeer struct {
	*peer
	enc, dec *srtp.Context
}

func newSRTPPeer(t *testing.T, suite string, send, recv []byte) *srtpPeer {
	t.Helper()
	enc, err := NewSRTPContext(suite, send)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewSRTPContext(suite, recv)
	if err != nil {
		t.Fatal(err)
	}
	return &srtpPeer{peer: newPeer(t), enc: enc, dec: dec}
}

func (p *srtpPeer) sendAudio(s *Session, pcm []int16) {
	p.t.Helper()
	payload := make([]byte, len(pcm))
	codec.PCMU.Encode(payload, pcm)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	sealed, err := p.enc.EncryptRTP(nil, b, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDP(sealed, s.LocalAddr()); err != nil {
		p.t.Fatal(err)
	}
	p.seq++
	p.ts += uint32(len(pcm))
}

// recvSRTP reads one packet and decrypts it; nil after wait.
func (p *srtpPeer) recvSRTP(wait time.Duration) (*rtp.Packet, []byte) {
	p.t.Helper()
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now().Add(wait))
	n, err := p.conn.Read(buf)
	if err != nil {
		return nil, nil
	}
	raw := append([]byte(nil), buf[:n]...)
	plain, err := p.dec.DecryptRTP(nil, raw, nil)
	if err != nil {
		return nil, raw
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(plain); err != nil {
		p.t.Fatal(err)
	}
	return &pkt, raw
}

// TestSessionSRTP: with SDES keys set, what the session sends decrypts
// with our key and carries the frame (and is not the plain packet), and
// what the peer sends under its key is heard, for both suites.
func TestSessionSRTP(t *testing.T) {
	for _, suite := range []string{"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"} {
		t.Run(suite, func(t *testing.T) {
			ours, theirs := testKey(1), testKey(100)
			p := newSRTPPeer(t, suite, theirs, ours)
			s := newTestSession(t, SessionConfig{SignalIP: sipFromLoopback})
			s.SetRemote(Remote{Addr: p.addr(), Codec: codec.PCMU, Send: true})
			if err := s.SetSRTP(SRTP{Suite: suite, Local: ours, Remote: theirs}); err != nil {
				t.Fatal(err)
			}
			if !s.Secure() {
				t.Fatal("Secure() false after SetSRTP")
			}
			s.Start()

			frame := bytes.Repeat([]byte{0x5a}, 160)
			s.WriteFrame(frame)
			pkt, raw := p.recvSRTP(2 * time.Second)
			if pkt == nil {
				t.Fatalf("sent packet did not decrypt with our key (%d bytes)", len(raw))
			}
			if !bytes.Equal(pkt.Payload, frame) {
				t.Fatal("decrypted payload differs from the frame")
			}
			if bytes.Contains(raw, frame[:32]) {
				t.Fatal("the payload went out in the clear")
			}

			sent := tone.Generate(770, 8000, 0.3, 160*4)
			for i := range 4 {
				p.sendAudio(s, sent[i*160:(i+1)*160])
			}
			waitFor(t, "srtp packets", func() bool { return s.Stats().PacketsIn == 4 })
			got := make([]int16, 160)
			if !s.ReadFrame(got) {
				t.Fatal("no audio from SRTP")
			}
			if st := s.Stats(); st.Ignored != 0 {
				t.Errorf("ignored %d good SRTP packets", st.Ignored)
			}
		})
	}
}

// TestSessionSRTPRefusesOthers: on an SRTP session plain RTP, SRTP under
// another key, a replayed packet and random garbage are ignored, never
// heard; and a spray of SSRCs does not grow the state of known streams.
func TestSessionSRTPRefusesOthers(t *testing.T) {
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := testKey(1), testKey(100)
	s := newTestSession(t, SessionConfig{})
	plain := newPeer(t)
	s.SetRemote(Remote{Addr: plain.addr(), Codec: codec.PCMU, Send: true})
	if err := s.SetSRTP(SRTP{Suite: suite, Local: ours, Remote: theirs}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	pcm := tone.Generate(440, 8000, 0.3, 160)

	plain.sendAudio(s.LocalAddr(), pcm)
	wrong := newSRTPPeer(t, suite, testKey(200), ours)
	wrong.sendAudio(s, pcm)
	garbage := make([]byte, 172)
	for i := range 100 {
		for j := range garbage {
			garbage[j] = byte(rand.Uint32())
		}
		garbage[0], garbage[1] = 0x80, 0 // looks like RTP v2 PCMU
		garbage[8], garbage[9], garbage[10], garbage[11] = byte(i), byte(i>>8), 7, 7
		if _, err := plain.conn.WriteToUDP(garbage, s.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "ignored packets", func() bool { st := s.Stats(); return st.Ignored == 102 })
	if st := s.Stats(); st.PacketsIn != 0 {
		t.Fatalf("heard %d packets that do not authenticate", st.PacketsIn)
	}
	s.play.Lock()
	known := len(s.rx.known)
	s.play.Unlock()
	if known != 0 {
		t.Errorf("%d SSRCs known from packets that never authenticated", known)
	}

	// A good packet, then the same packet again: the replay is ignored.
	good := newSRTPPeer(t, suite, theirs, ours)
	good.sendAudio(s, pcm)
	good.seq-- // resend the same sequence number: encrypting it again replays its index
	good.ts -= 160
	good.sendAudio(s, pcm)
	waitFor(t, "good packet and replay", func() bool { st := s.Stats(); return st.PacketsIn+st.Ignored == 104 })
	if st := s.Stats(); st.PacketsIn != 1 || st.Ignored != 103 {
		t.Errorf("after a good packet and its replay: in %d, ignored %d; want 1, 103", st.PacketsIn, st.Ignored)
	}
}

// TestSessionSRTPRekey: a re-INVITE with the same keys keeps the contexts;
// a new remote key replaces the receive side only.
func TestSessionSRTPRekey(t *testing.T) {
	const suite = "AES_CM_128_HMAC_SHA1_80"
	s := newTestSession(t, SessionConfig{})
	k := SRTP{Suite: suite, Local: testKey(1), Remote: testKey(2)}
	if err := s.SetSRTP(k); err != nil {
		t.Fatal(err)
	}
	tx, rx := s.srtpTx, s.rx
	if err := s.SetSRTP(k); err != nil {
		t.Fatal(err)
	}
	if s.srtpTx != tx || s.rx != rx {
		t.Error("same keys made new contexts")
	}
	k.Remote = testKey(3)
	if err := s.SetSRTP(k); err != nil {
		t.Fatal(err)
	}
	if s.srtpTx != tx || s.rx == rx {
		t.Error("a new remote key should replace only the receive side")
	}
	if err := s.SetSRTP(SRTP{Suite: "F8_128_HMAC_SHA1_80", Local: testKey(1), Remote: testKey(2)}); err == nil {
		t.Error("unknown suite accepted")
	}
	if err := s.SetSRTP(SRTP{Suite: suite, Local: testKey(1)[:16], Remote: testKey(2)}); err == nil {
		t.Error("short key accepted")
	}
}

// FuzzSRTPPacket: on an SRTP session no datagram made up without the key
// is ever heard, whatever it holds; each counts once as ignored.
func FuzzSRTPPacket(f *testing.F) {
	payload := pcmuFrame(440, 160)
	f.Add(rtpBytes(f, 0, 1, 160, 1, payload))
	f.Add(append(rtpBytes(f, 0, 2, 320, 1, payload), make([]byte, 10)...)) // a tag of zeros
	f.Add([]byte{0x80, 200, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 1})
	f.Add([]byte{})
	s, err := NewSession(SessionConfig{Symmetric: SymmetricNever})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	s.SetRemote(Remote{Addr: net.UDPAddrFromAddrPort(testSrc), Codec: codec.PCMU, DTMF: 101, Send: true})
	if err := s.SetSRTP(SRTP{Suite: "AES_CM_128_HMAC_SHA1_80", Local: testKey(1), Remote: testKey(2)}); err != nil {
		f.Fatal(err)
	}
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
		if after.PacketsIn != before.PacketsIn || after.Ignored != before.Ignored+1 {
			t.Fatalf("a datagram without the key: stats before %+v after %+v", before, after)
		}
	})
}

// BenchmarkSRTPProtect is what SRTP adds to each frame sent: AES-CM
// encryption and the HMAC-SHA1 tag of one 20 ms PCMU packet.
func BenchmarkSRTPProtect(b *testing.B) {
	ctx, err := NewSRTPContext("AES_CM_128_HMAC_SHA1_80", testKey(1))
	if err != nil {
		b.Fatal(err)
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 5}, Payload: make([]byte, 160)}
	plain := make([]byte, 200)
	out := make([]byte, 0, 220)
	var h rtp.Header
	b.ReportAllocs()
	seq := 0
	for b.Loop() {
		pkt.SequenceNumber, pkt.Timestamp = uint16(seq), uint32(seq*160)
		seq++
		n, _ := pkt.MarshalTo(plain)
		if _, err := ctx.EncryptRTP(out[:0], plain[:n], &h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSRTPRoundTrip is one frame protected by the peer and checked,
// replay-tested and decrypted by the session's receive side (srtpIn);
// less BenchmarkSRTPProtect, it is what SRTP adds to each frame received.
func BenchmarkSRTPRoundTrip(b *testing.B) {
	peer, err := NewSRTPContext("AES_CM_128_HMAC_SHA1_80", testKey(1))
	if err != nil {
		b.Fatal(err)
	}
	in, err := newSRTPIn("AES_CM_128_HMAC_SHA1_80", testKey(1))
	if err != nil {
		b.Fatal(err)
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 5}, Payload: make([]byte, 160)}
	plain := make([]byte, 200)
	sealed := make([]byte, 0, 220)
	opened := make([]byte, maxDatagram)
	var h, rh rtp.Header
	b.ReportAllocs()
	seq := 0
	for b.Loop() {
		pkt.SequenceNumber, pkt.Timestamp = uint16(seq), uint32(seq*160)
		seq++
		n, _ := pkt.MarshalTo(plain)
		s, err := peer.EncryptRTP(sealed[:0], plain[:n], &h)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := in.rtp(opened, s, &rh); !ok {
			b.Fatal("packet did not authenticate")
		}
	}
}
