package media

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"brygga/media/codec"
	"brygga/media/dtmf"
)

// Remote is what the caller's SDP says about its side of the media.
type Remote struct {
	Addr  *net.UDPAddr // from the SDP c= and m= lines
	Codec codec.Codec
	// PayloadType is the number the peer gave Codec in its SDP when it
	// is not the static one (PCMU on 112, say); 0 means the static type.
	PayloadType uint8
	DTMF        uint8 // telephone-event payload type; 0 = not negotiated (in-band detection runs)
	Send        bool  // false while the peer holds (sendonly/inactive from them): we send nothing
	// Silent is true when the peer says it sends nothing (recvonly or
	// inactive): its silence is then no sign that it is gone.
	Silent bool
}

// SessionConfig is what a Session needs besides the remote side.
type SessionConfig struct {
	Pool      *PortPool // nil binds an ephemeral loopback port (tests)
	Symmetric Symmetric
	// SignalIP is the source IP of the SIP request: it decides Symmetric
	// auto, and RTP may go to an SDP address on it at once (the caller
	// proved it owns that address by answering our SIP).
	SignalIP net.IP
	// Trusted says the signalling came from sip.trusted (the PBX or its
	// proxy): the SDP's address is believed and sent to at once, and any
	// source may be learnt where symmetric RTP applies. Otherwise RTP goes
	// to an SDP address off SignalIP only once RTP came from it (no
	// reflection), and only SignalIP and the SDP's IP are learnt.
	Trusted bool
	OnDigit func(digit byte) // once per digit, from ReadFrame or Stats (whoever drains the socket); must not block
	Logger  *slog.Logger
}

// Stats describes a session's RTP so far.
type Stats struct {
	PacketsIn  uint64 // RTP packets accepted from the caller
	BytesIn    uint64 // their payload octets
	PacketsOut uint64 // RTP packets sent
	BytesOut   uint64 // their payload octets
	Lost       uint64 // packets never received (RFC 3550: expected - received)
	Late       uint64 // arrived after their audio was due
	Duplicates uint64
	Concealed  uint64        // frames replaced by a faded repeat
	Resyncs    uint64        // jitter buffer overflows (playout skipped ahead)
	Underruns  uint64        // jitter buffer ran dry
	Ignored    uint64        // packets not RTP, of unknown payload type, or from a stranger (Strangers)
	Strangers  uint64        // packets (RTP or RTCP) from a source that is not the call's: strict RTP
	Resets     uint64        // new streams: SSRC changes, sequence or timestamp restarts
	Digits     uint64        // digits reported to OnDigit
	Jitter     time.Duration // RFC 3550 interarrival jitter estimate
}

const (
	maxDatagram   = 1500
	headerLen     = 12
	rtcpHeaderLen = 8
	payloadTypeCN = 13 // comfort noise, RFC 3389
)

// Session is the RTP of one call: one UDP socket from the pool, the
// jitter buffer and digit decoder fed from it, and the sending side with
// continuous sequence numbers and timestamps.
//
// Nothing waits on the socket. Whoever consumes the caller's audio (the
// room's tick, or the IVR's) calls ReadFrame every 20 ms, and ReadFrame
// first reads every datagram waiting on the socket, without blocking, then
// plays a frame. A call costs no goroutine and no wake-up per packet; while
// nobody reads (between answer and IVR, or IVR and room, a few ms) packets
// wait in the socket's receive buffer, digits included.
//
// Who is heard is strict (see strict.go): without symmetric RTP only
// packets from the SDP's IP, any port on it (SIPp sends all its calls' RTP
// from one port, whatever their SDP says), and replies go to the SDP
// address; with symmetric RTP only the source learnt from the packets,
// and replies go there. Nothing is sent to an address the caller has not
// vouched for (see SessionConfig.Trusted): no reflection.
//
// All methods are safe for concurrent use: the room's tick (ReadFrame,
// WriteFrame) and signalling (SetRemote, Stats, Close) meet here.
type Session struct {
	cfg   SessionConfig
	log   *slog.Logger
	conn  *udpSocket // used under play (reads) or sendMu (writes); Close holds both
	port  int        // from the pool; 0 when not
	local *net.UDPAddr
	epoch time.Time

	// mu guards the remote side as SDP and learning set it.
	mu      sync.Mutex
	remote  Remote
	sdpAddr netip.AddrPort // from SDP: the last one that was not 0.0.0.0 (hold)
	// dest is where RTP goes: the SDP address once vouched for (or RTP
	// came from it), or the learnt source; invalid until then, which is
	// what keeps the bridge from reflecting.
	dest    netip.AddrPort
	latch   bool // symmetric RTP applies: learn the source
	learn   learner
	heardIP netip.Addr // source IP of the last packet heard
	signal  netip.Addr // SignalIP
	rate    int

	// play guards reading the socket, the receive state below, the
	// jitter buffer and the in-band detector.
	play     sync.Mutex
	jb       *JitterBuffer
	detector *dtmf.Detector

	// send state, guarded by sendMu.
	sendMu  sync.Mutex
	ssrc    uint32
	seq     uint16
	ts      uint32
	marker  bool // next packet starts a talkspurt: the first, or the first after hold
	out     rtp.Packet
	outBuf  [maxDatagram]byte
	encoded [maxDatagram]byte
	tx      txAddr // dest as the socket takes it
	// SRTP send side (SetSRTP): nil tx context sends plain RTP.
	srtpTx  *srtp.Context
	txSuite string
	txKey   []byte
	txHdr   rtp.Header
	sealed  [maxDatagram + 16]byte

	// receive state, guarded by play.
	rx          *srtpIn // SRTP receive side; nil takes plain RTP
	opened      [maxDatagram]byte
	rxHdr       rtp.Header
	in          rtp.Packet
	pcm         [maxDatagram]int16
	events      dtmf.EventDecoder
	jitSSRC     uint32
	eventsSSRC  uint32 // the stream the event decoder's memory belongs to
	eventsHave  bool
	jitHave     bool
	lastTransit int32
	jitter      float64 // RTP units

	heard      atomic.Int64 // ns after epoch of the last valid packet; 0 = none
	quietFrom  atomic.Int64 // ns after epoch the silence count restarted (Start, hold, resume, move)
	packetsIn  atomic.Uint64
	bytesIn    atomic.Uint64
	packetsOut atomic.Uint64
	bytesOut   atomic.Uint64
	ignored    atomic.Uint64
	strangers  atomic.Uint64
	digits     atomic.Uint64
	jitterBits atomic.Uint64 // float64 seconds

	started   atomic.Bool // the socket is read from Start on
	secure    atomic.Bool // SRTP both ways
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// NewSession takes a socket from cfg.Pool (ErrNoPorts when none is free).
func NewSession(cfg SessionConfig) (*Session, error) {
	var (
		conn *udpSocket
		port int
		err  error
	)
	if cfg.Pool != nil {
		conn, port, err = cfg.Pool.take()
	} else {
		conn, err = listenUDP(net.IPv4(127, 0, 0, 1), 0)
	}
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	local := conn.LocalAddr()
	s := &Session{
		cfg:      cfg,
		log:      log.With("rtp_port", local.Port),
		conn:     conn,
		port:     port,
		local:    local,
		epoch:    time.Now(),
		rate:     8000,
		jb:       NewJitterBuffer(8000),
		detector: dtmf.NewDetector(8000),
		ssrc:     rand.Uint32(),
		seq:      uint16(rand.Uint32()),
		ts:       rand.Uint32(),
		marker:   true,
	}
	s.out.Version = 2
	s.out.SSRC = s.ssrc
	s.signal, _ = netip.AddrFromSlice(cfg.SignalIP)
	s.signal = s.signal.Unmap()
	if !cfg.Trusted {
		s.learn.allow = s.learnable
	}
	register(s)
	return s, nil
}

// LocalAddr is the address to put in our SDP.
func (s *Session) LocalAddr() *net.UDPAddr { return s.local }

// SetRemote applies the caller's SDP: at the INVITE and at every re-INVITE.
// A new address or port starts learning afresh, and sending to it waits
// until it is vouched for. An SDP address of 0.0.0.0 (RFC 2543 hold)
// changes neither: the caller is heard where it was.
func (s *Session) SetRemote(r Remote) {
	var sdp netip.AddrPort
	if r.Addr != nil {
		sdp = r.Addr.AddrPort()
		sdp = netip.AddrPortFrom(sdp.Addr().Unmap(), sdp.Port())
	}
	rate := 8000
	if r.Codec != nil && r.Codec.ClockRate() > 0 {
		rate = r.Codec.ClockRate()
	}

	if r.PayloadType == 0 && r.Codec != nil {
		// Resolved here, not for every packet and frame.
		r.PayloadType = r.Codec.PayloadType()
	}

	s.mu.Lock()
	moved := sdp.IsValid() && !sdp.Addr().IsUnspecified() && sdp != s.sdpAddr
	quietChanged := (!r.Send || r.Silent) != (!s.remote.Send || s.remote.Silent)
	s.remote = r
	if moved {
		s.sdpAddr = sdp
		s.latch = shouldLatch(s.cfg.Symmetric, sdp.Addr(), s.signal)
		s.learn.reset()
		s.dest = netip.AddrPort{}
		if s.vouched(sdp.Addr()) || !s.latch && s.heardIP == sdp.Addr() {
			s.dest = sdp
		}
	}
	sending := s.dest.IsValid()
	rateChanged := rate != s.rate
	s.rate = rate
	s.mu.Unlock()
	if moved || quietChanged {
		s.restartSilence()
	}

	if moved {
		s.log.Debug("rtp remote", "addr", sdp, "symmetric", s.cfg.Symmetric, "learn", s.latch, "send", sending)
	}
	if rateChanged {
		s.play.Lock()
		s.jb = NewJitterBuffer(rate)
		s.detector = dtmf.NewDetector(rate)
		s.play.Unlock()
	}
}

// vouched reports whether RTP may go to a on the signalling's word alone:
// it is the SIP request's source, or the signalling is trusted. s.mu is
// held.
func (s *Session) vouched(a netip.Addr) bool {
	return s.cfg.Trusted || (s.signal.IsValid() && a == s.signal)
}

// learnable reports whether a source on a may become the call's where
// symmetric RTP applies: the SIP request's source or the SDP's IP. A
// NAT'd caller's RTP comes from the NAT's address, which is the one its
// SIP came from. s.mu is held (the learner runs under it).
func (s *Session) learnable(a netip.Addr) bool {
	return a == s.signal || a == s.sdpAddr.Addr()
}

// Codec returns the codec of the current remote (nil before SetRemote).
func (s *Session) Codec() codec.Codec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remote.Codec
}

// Destination returns where RTP is sent now: the SDP address, or the
// learnt source; nil while there is none or it is not yet vouched for.
func (s *Session) Destination() *net.UDPAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dest.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(s.dest)
}

// Start lets ReadFrame and Stats read the socket; until then packets
// wait in it. Later calls do nothing.
func (s *Session) Start() {
	if s.started.CompareAndSwap(false, true) {
		s.restartSilence()
	}
}

// receive reads every datagram waiting on the socket, with play held.
func (s *Session) receive() {
	if !s.started.Load() || s.closed.Load() {
		return
	}
	if err := s.conn.receive(s); err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("rtp read", "err", err)
	}
}

// datagram is one packet read by receive.
func (s *Session) datagram(b []byte, src netip.AddrPort, at time.Time) {
	s.packet(b, src, at)
}

// packet handles one datagram that arrived at at; play is held.
//
// What is not RTP from the caller is counted as Ignored and dropped:
// datagrams too short or not version 2, with CSRC, extension or padding
// lengths beyond their end (pion/rtp checks those), truncated on the way
// in (longer than maxDatagram), of a payload type neither negotiated nor a
// known static one, or from a stranger (strict RTP: accept). Only valid
// packets from the caller count as hearing it (Silence); RTCP multiplexed
// on the RTP port (RFC 5761) does too, but is not read further.
func (s *Session) packet(b []byte, src netip.AddrPort, at time.Time) {
	if len(b) < rtcpHeaderLen || b[0]>>6 != 2 {
		s.ignored.Add(1)
		return
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	// RTCP types 200-207 land on RTP payload types 72-79 with the marker
	// set; RFC 5761 §4 keeps RTP off those.
	if pt := b[1]; pt >= 200 && pt <= 207 {
		if _, ok := s.accept(src, nil); ok && rtcpValid(b) && (s.rx == nil || s.rx.rtcp(b)) {
			s.hear(at)
		}
		s.ignored.Add(1)
		return
	}
	if s.rx != nil {
		// SRTP: what does not authenticate (plain RTP, a replay, a
		// stranger's packets) is not heard at all.
		var ok bool
		if b, ok = s.rx.rtp(s.opened[:], b, &s.rxHdr); !ok {
			s.ignored.Add(1)
			return
		}
	}
	if len(b) < headerLen || s.in.Unmarshal(b) != nil {
		s.ignored.Add(1)
		return
	}
	r, ok := s.accept(src, &s.in.Header)
	if !ok {
		s.ignored.Add(1)
		return
	}

	h := &s.in.Header
	payload := s.in.Payload
	var c codec.Codec
	switch {
	case r.DTMF != 0 && h.PayloadType == r.DTMF:
	case h.PayloadType == payloadTypeCN:
		// Comfort noise (RFC 3389): the caller is there and quiet. Its
		// frames are let run dry; the room hears silence.
		s.hear(at)
		s.packetsIn.Add(1)
		s.bytesIn.Add(uint64(len(payload)))
		return
	default:
		c = r.Codec
		if c == nil || r.PayloadType != h.PayloadType {
			// The peer may switch to the other G.711 (static types 0
			// and 8 mean nothing else); any other type was never
			// negotiated and is not guessed at.
			c = codec.ByPayloadType(h.PayloadType)
		}
		if c == nil {
			s.ignored.Add(1)
			return
		}
	}
	s.hear(at)
	s.packetsIn.Add(1)
	s.bytesIn.Add(uint64(len(payload)))

	if r.DTMF != 0 && h.PayloadType == r.DTMF {
		// An event is identified by SSRC and timestamp. SIPp starts every
		// play_dtmf on a new SSRC with the same timestamps, so a decoder
		// that remembered timestamps across SSRCs would drop a whole PIN
		// as retransmissions.
		if !s.eventsHave || h.SSRC != s.eventsSSRC {
			s.events.Reset()
			s.eventsHave, s.eventsSSRC = true, h.SSRC
		}
		if d, ok := s.events.Packet(h.Timestamp, payload); ok {
			s.digit(d)
		}
		return
	}
	s.trackJitter(at, h.SSRC, h.Timestamp, c.ClockRate())
	// Decode no more than the jitter buffer takes from one packet: an
	// oversized payload costs no more than a long frame.
	n := c.Decode(s.pcm[:min(len(s.pcm), maxPacketFrames*s.jb.FrameSamples())], payload)
	if c.ClockRate() == s.jb.FrameSamples()*50 {
		s.jb.Push(h.SequenceNumber, h.Timestamp, h.SSRC, s.pcm[:n])
	}
}

// accept applies strict RTP to a packet from src: an RTP packet's header
// h, or nil for RTCP. Without symmetric RTP the SDP's IP is heard; with
// it, the learner decides, and a newly locked source becomes where RTP
// goes. What is heard vouches for its address: sending may start. It
// returns the remote as negotiated, read under the same lock: one lock a
// packet. A stranger's packet is counted in Strangers (a candidate's on
// its way to lock is not); the caller counts either as Ignored.
func (s *Session) accept(src netip.AddrPort, h *rtp.Header) (Remote, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ok, learning bool
	switch {
	case !s.latch:
		ok = s.sdpAddr.IsValid() && src.Addr() == s.sdpAddr.Addr()
		if ok && !s.dest.IsValid() {
			s.dest = s.sdpAddr
			s.log.Info("rtp from the SDP address: sending", "source", src, "sdp", s.sdpAddr)
		}
	case h == nil:
		ok = s.learn.rtcp(src)
	default:
		switch s.learn.rtp(src, h.SSRC, h.SequenceNumber) {
		case pending:
			learning = true
		case hear:
			ok = true
		case locked:
			ok = true
			prev := s.dest
			if !prev.IsValid() {
				prev = s.sdpAddr // not sent to yet, but where RTP was meant to go
			}
			if prev != src {
				s.log.Info("rtp source learnt", "source", src, "previous", prev, "sdp", s.sdpAddr)
			}
			s.dest = src
		}
	}
	if !ok {
		if !learning {
			s.strangers.Add(1)
		}
		return s.remote, false
	}
	s.heardIP = src.Addr()
	return s.remote, true
}

// hear notes that a valid packet from the caller arrived at at.
func (s *Session) hear(at time.Time) {
	s.heard.Store(max(1, int64(at.Sub(s.epoch))))
}

// rtcpValid checks an RTCP compound packet's first header: version 2 and a
// length within the datagram.
func rtcpValid(b []byte) bool {
	if len(b) < rtcpHeaderLen || b[0]>>6 != 2 {
		return false
	}
	words := int(binary.BigEndian.Uint16(b[2:4])) + 1 // length field: 32-bit words less one
	return words*4 <= len(b)
}

// trackJitter keeps the RFC 3550 (6.4.1) interarrival jitter estimate.
func (s *Session) trackJitter(now time.Time, ssrc, ts uint32, rate int) {
	arrival := uint32(now.Sub(s.epoch).Nanoseconds() * int64(rate) / 1e9)
	transit := int32(arrival - ts)
	if !s.jitHave || ssrc != s.jitSSRC {
		s.jitHave, s.jitSSRC, s.lastTransit = true, ssrc, transit
		return
	}
	d := float64(transit - s.lastTransit)
	s.lastTransit = transit
	s.jitter += (math.Abs(d) - s.jitter) / 16
	s.jitterBits.Store(math.Float64bits(s.jitter / float64(rate)))
}

func (s *Session) digit(d byte) {
	s.digits.Add(1)
	if s.cfg.OnDigit != nil {
		s.cfg.OnDigit(d)
	}
}

// ReadFrame reads what waits on the socket (after Start), then writes the
// next 20 ms frame (rate/50 samples) of the caller's audio into pcm and
// reports whether it holds audio; on false pcm is silence. A lost frame
// comes back concealed. RFC 4733 digits found on the way are reported to
// OnDigit before it returns; without negotiated telephone-events the frame
// is also searched for in-band DTMF.
func (s *Session) ReadFrame(pcm []int16) bool {
	s.mu.Lock()
	inband := s.remote.DTMF == 0 && s.remote.Codec != nil
	s.mu.Unlock()

	s.play.Lock()
	s.receive()
	ok := s.jb.Pop(pcm)
	var d byte
	var hit bool
	if inband {
		// Silence goes through the detector too: it is what ends a press.
		d, hit = s.detector.Frame(pcm[:min(len(pcm), s.jb.FrameSamples())])
	}
	s.play.Unlock()
	if hit {
		s.digit(d)
	}
	return ok
}

// WriteFrame sends one encoded 20 ms frame. The RTP timestamp advances by
// one frame on every call, also while the peer holds and nothing is sent,
// so time stays true; the sequence number advances per packet sent, so the
// peer sees no loss. payload is copied before WriteFrame returns.
func (s *Session) WriteFrame(payload []byte) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.writeLocked(payload)
}

func (s *Session) writeLocked(payload []byte) {
	s.mu.Lock()
	dest, send, rate, c, pt := s.dest, s.remote.Send, s.rate, s.remote.Codec, s.remote.PayloadType
	s.mu.Unlock()

	ts := s.ts
	s.ts += uint32(rate / 50)
	if !send || !dest.IsValid() || c == nil || s.closed.Load() {
		s.marker = true
		return
	}
	s.out.PayloadType = pt
	s.out.SequenceNumber = s.seq
	s.out.Timestamp = ts
	s.out.Marker = s.marker
	s.out.Payload = payload
	n, err := s.out.MarshalTo(s.outBuf[:])
	s.out.Payload = nil
	if err != nil {
		return
	}
	pkt, err := s.seal(n)
	if err != nil {
		s.log.Debug("srtp protect", "err", err)
		return
	}
	if err := s.conn.setAddr(&s.tx, dest); err != nil {
		s.log.Debug("rtp write", "err", err)
		return
	}
	s.seq++
	s.marker = false
	if err := s.conn.send(pkt, &s.tx); err != nil {
		if !s.closed.Load() {
			s.log.Debug("rtp write", "err", err)
		}
		return
	}
	s.packetsOut.Add(1)
	s.bytesOut.Add(uint64(len(payload)))
}

// WritePCM encodes pcm (one 20 ms frame) with the session codec and sends
// it like WriteFrame.
func (s *Session) WritePCM(pcm []int16) {
	c := s.Codec()
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if c == nil {
		s.writeLocked(nil)
		return
	}
	n := c.Encode(s.encoded[:], pcm)
	s.writeLocked(s.encoded[:n])
}

// LastReceived is when the last packet was accepted (zero before any).
func (s *Session) LastReceived() time.Time {
	ns := s.heard.Load()
	if ns == 0 {
		return time.Time{}
	}
	return s.epoch.Add(time.Duration(ns))
}

// Stats returns the counters so far, packets waiting on the socket
// included: it reads them (after Start) as ReadFrame does.
func (s *Session) Stats() Stats {
	s.play.Lock()
	s.receive()
	js := s.jb.Stats()
	s.play.Unlock()
	return Stats{
		PacketsIn:  s.packetsIn.Load(),
		BytesIn:    s.bytesIn.Load(),
		PacketsOut: s.packetsOut.Load(),
		BytesOut:   s.bytesOut.Load(),
		Lost:       js.Lost,
		Late:       js.Late,
		Duplicates: js.Duplicates,
		Concealed:  js.Concealed,
		Resyncs:    js.Resyncs,
		Underruns:  js.Underruns,
		Ignored:    s.ignored.Load(),
		Strangers:  s.strangers.Load(),
		Resets:     js.Resets,
		Digits:     s.digits.Load(),
		Jitter:     time.Duration(math.Float64frombits(s.jitterBits.Load()) * float64(time.Second)),
	}
}

// Close closes the socket and gives its port back to the pool; packets
// still waiting in it are dropped. It is safe to call more than once and
// from any goroutine: it waits for a ReadFrame or WriteFrame under way.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		retire(s, s.Stats())
		s.closed.Store(true)
		s.play.Lock()
		s.sendMu.Lock()
		s.closeErr = s.conn.close()
		s.sendMu.Unlock()
		s.play.Unlock()
		if s.cfg.Pool != nil {
			s.cfg.Pool.release(s.port)
		}
	})
	return s.closeErr
}
