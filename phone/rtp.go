package phone

import (
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"brygga/media/codec"
	"brygga/media/dtmf"
	"brygga/media/tone"
	"brygga/mixer"
)

// frameDuration is the packet time we send; the far end may send anything.
const frameDuration = 20 * time.Millisecond

// Keypresses as a person makes them on a phone: about 100 ms of tone and a
// little more between keys. RFC 4733 end packets go out three times.
const (
	keyTicks      = 5 // 100 ms of event (or in-band tone) per digit
	keyGapTicks   = 6 // 120 ms of ordinary audio before the next digit
	endRepeats    = 3
	eventVolume   = 10 // -10 dBm0, a typical handset level
	maxLateFrames = 5  // behind by more than this, the schedule skips ahead
)

// Stats describes a call's RTP so far. Jitter and gaps are of what the
// bridge sends, measured on arrival.
type Stats struct {
	PacketsSent     uint64        // audio and telephone-event packets sent
	EventsSent      uint64        // RFC 4733 packets among PacketsSent
	PacketsReceived uint64        // RTP packets received from anyone
	EventsReceived  uint64        // RFC 4733 packets among PacketsReceived
	SeqGaps         uint64        // sequence numbers skipped on arrival (lost, or reordered)
	OutOfOrder      uint64        // packets older than one already received, duplicates included
	Unknown         uint64        // datagrams that were not RTP or had a payload type not negotiated
	SSRCChanges     uint64        // times the received stream changed source
	Jitter          time.Duration // RFC 3550 interarrival jitter
	MaxGap          time.Duration // longest time between two received packets
	LateTicks       uint64        // sender ticks more than a frame behind schedule
	SendErrors      uint64        // failed socket writes
}

// Packet is one received RTP packet as a receive hook (WithReceiveHook)
// sees it.
type Packet struct {
	Arrival     time.Time // when the datagram reached the socket (the kernel's stamp on Linux), with a monotonic reading
	SSRC        uint32
	Sequence    uint16
	Timestamp   uint32
	PayloadType uint8
	Marker      bool
	// Audio is the decoded payload when the packet carries the call's
	// codec, else nil. It is the receiver's buffer: copy what is kept.
	Audio []int16
}

// rtpConn is a call's RTP socket: a *net.UDPConn with a receiver
// goroutine of its own, or on a clocked Phone a socket the call's tick
// drains (a drainer).
type rtpConn interface {
	LocalAddr() net.Addr
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	Close() error
}

// drainer is a socket read by the tick: it hands fn every datagram
// waiting, with its arrival time, and returns once none is left.
type drainer interface {
	drain(fn func(b []byte, at time.Time, rx *rxScratch)) error
}

// maxDatagram is the largest RTP packet read.
const maxDatagram = 1500

// rxScratch is what handling one received datagram needs besides it.
type rxScratch struct {
	pkt   rtp.Packet
	pcm   [maxDatagram]int16
	plain [maxDatagram]byte // an SRTP packet opened
}

// stream is the RTP of one call: a sender paced by the monotonic clock and a
// receiver per socket that records what it hears by timestamp. The sender
// and the receivers are goroutines of the stream's own, or on a clocked
// Phone one Tick of a shared mixer.Clock every 20 ms.
type stream struct {
	codec  codec.Codec
	rate   int
	frame  int // samples per 20 ms
	ssrc   uint32
	dtmfPT uint8 // 0: no telephone-event negotiated, digits go in-band

	conn   atomic.Pointer[rtpConn] // where the sender writes
	remote atomic.Pointer[netip.AddrPort]
	send   atomic.Bool
	source atomic.Pointer[func([]int16)]
	hook   func(Packet)              // set before start, read by the receivers
	srtp   atomic.Pointer[srtpState] // nil: plain RTP

	clock      *mixer.Clock                                // nil: goroutines of its own
	tx         *sender                                     // a clocked stream's sender; only Tick uses it
	rxConns    []rtpConn                                   // Tick's copy of conns
	onDatagram func(b []byte, at time.Time, rx *rxScratch) // s.datagram: a method value made per tick would allocate

	jobs chan *keyJob // digits waiting for the sender

	// The sender's counters, apart from mu so that copying a long
	// recording out never delays a packet.
	sent, eventsSent, lateTicks, sendErrors atomic.Uint64

	mu         sync.Mutex // guards everything below
	rec        *recording
	rx         rxState
	stats      Stats
	conns      []rtpConn // every socket not yet closed
	beat       *mixer.Beat
	closed     bool
	started    bool
	stop       chan struct{}
	wg         sync.WaitGroup
	senderDone chan struct{}
}

type rxState struct {
	have        bool
	ssrc        uint32
	maxSeq      uint16
	lastArrival time.Time
	lastTransit float64
	haveTransit bool
	jitter      float64 // in RTP clock units, as RFC 3550 keeps it
	epoch       time.Time
}

// keyJob is one SendDigits call, handed to the sender so the digits land in
// the same timestamp space and packet sequence as the audio.
type keyJob struct {
	digits string
	done   chan error
}

var errCallEnded = errors.New("phone: call ended")

func newStream(c codec.Codec, dtmfPT uint8, conn rtpConn, keep time.Duration, clock *mixer.Clock) *stream {
	rate := c.ClockRate()
	s := &stream{
		clock:      clock,
		codec:      c,
		dtmfPT:     dtmfPT,
		rate:       rate,
		frame:      rate / 50,
		ssrc:       rand.Uint32(),
		jobs:       make(chan *keyJob, 16),
		rec:        newRecording(rate, keep),
		stop:       make(chan struct{}),
		senderDone: make(chan struct{}),
	}
	s.conn.Store(&conn)
	s.conns = append(s.conns, conn)
	s.onDatagram = s.datagram
	return s
}

// local is the socket the sender writes from.
func (s *stream) local() rtpConn { return *s.conn.Load() }

// setRemote points the sender at the far end's address; send false keeps
// the stream quiet (hold) while the clock and the timestamps run on.
func (s *stream) setRemote(addr netip.AddrPort, send bool) {
	s.remote.Store(&addr)
	s.send.Store(send && addr.IsValid() && !addr.Addr().IsUnspecified() && addr.Port() != 0)
}

func (s *stream) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.started {
		return
	}
	s.started = true
	if s.clock != nil {
		s.tx = s.newSender()
		s.beat = s.clock.Add(s)
		return
	}
	s.wg.Add(1)
	go s.sendLoop()
	s.listenLocked(s.local())
}

// listen starts receiving on an extra socket (a re-INVITE's new port) while
// the old one still runs, so nothing sent during the switch is missed.
func (s *stream) listen(c rtpConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return
	}
	s.conns = append(s.conns, c)
	s.listenLocked(c)
}

func (s *stream) listenLocked(c rtpConn) {
	if uc, ok := c.(*net.UDPConn); ok && s.clock == nil {
		s.wg.Add(1)
		go s.receiver(uc)
	}
	// A clocked stream's tick drains every socket in conns.
}

// use makes c the socket the sender writes from and closes the others.
func (s *stream) use(c rtpConn) {
	s.conn.Store(&c)
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.conns[:0]
	for _, o := range s.conns {
		if o == c {
			kept = append(kept, o)
		} else {
			o.Close()
		}
	}
	s.conns = kept
}

// drop closes c, a socket listened on but not taken into use.
func (s *stream) drop(c rtpConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.conns {
		if o == c {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			break
		}
	}
	c.Close()
}

func (s *stream) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	if !s.started {
		close(s.senderDone) // nothing will key the digits waiting
	}
	beat := s.beat
	s.beat = nil
	s.mu.Unlock()
	if beat != nil {
		// Once Remove returns no tick is under way or to come, so the
		// sockets close after the last packet rather than under it (a
		// tick takes s.mu, which is why it is not held here).
		s.clock.Remove(beat)
		close(s.senderDone)
	}
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// sendDigits queues digits for the sender and waits until they were keyed.
func (s *stream) sendDigits(digits string) error {
	j := &keyJob{digits: digits, done: make(chan error, 1)}
	select {
	case s.jobs <- j:
	case <-s.senderDone:
		return errCallEnded
	}
	select {
	case err := <-j.done:
		return err
	case <-s.senderDone:
		// The sender may have finished the job just before it stopped.
		select {
		case err := <-j.done:
			return err
		default:
			return errCallEnded
		}
	}
}

// sender is the sending half of a stream: the 20 ms schedule from the
// monotonic clock and the packet sequence. Deadlines are multiples of the
// frame time from the start, so waking late once does not shift every
// later packet as a ticker reset would.
type sender struct {
	pcm     []int16
	payload []byte
	buf     []byte
	sealed  [maxDatagram + 16]byte
	pkt     rtp.Packet
	seq     uint16
	ts      uint32
	marker  bool
	key     keyer
	next    time.Time // the next frame's deadline; zero until the first
}

func (s *stream) newSender() *sender {
	tx := &sender{
		pcm:     make([]int16, s.frame),
		payload: make([]byte, s.frame),
		buf:     make([]byte, maxDatagram),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		marker:  true,
	}
	tx.pkt.Version = 2
	tx.pkt.SSRC = s.ssrc
	return tx
}

// sendLoop is an unclocked stream's sender goroutine.
func (s *stream) sendLoop() {
	defer s.wg.Done()
	defer close(s.senderDone)
	tx := s.newSender()
	tx.next = time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C:
		}
		tx.late(s, time.Now())
		tx.frame(s)
		timer.Reset(time.Until(tx.next))
	}
}

// Tick is a clocked stream's 20 ms: the frame due (several back to back
// after a stall), then every datagram waiting on its sockets.
func (s *stream) Tick() {
	now := time.Now()
	tx := s.tx
	if tx.next.IsZero() {
		tx.next = now
	}
	// The stream's schedule starts at its first tick, the clock's grid a
	// wake-up delay earlier; either way the frame due within half a frame
	// is this tick's, so a tick that wakes a little early sends it.
	if !tx.next.After(now.Add(frameDuration / 2)) {
		for range maxLateFrames + 1 {
			tx.late(s, now)
			tx.frame(s)
			if tx.next.After(now) {
				break
			}
		}
	}
	s.mu.Lock()
	s.rxConns = append(s.rxConns[:0], s.conns...)
	s.mu.Unlock()
	for _, c := range s.rxConns {
		if d, ok := c.(drainer); ok {
			// A socket closed under the tick (a re-INVITE moved the call)
			// is simply done; any other error is tried again next tick.
			_ = d.drain(s.onDatagram)
		}
	}
	clear(s.rxConns)
}

// late counts a frame sent more than a frame behind its deadline and,
// after a stall (a stopped process, an overloaded machine), skips ahead so
// that the timestamps stay true to the wall clock instead of bursting.
func (tx *sender) late(s *stream, now time.Time) {
	late := now.Sub(tx.next)
	if late <= frameDuration {
		return
	}
	s.lateTicks.Add(1)
	if skip := int(late / frameDuration); skip > maxLateFrames {
		tx.next = tx.next.Add(time.Duration(skip) * frameDuration)
		tx.ts += uint32(skip * s.frame)
	}
}

func (tx *sender) write(s *stream, pt uint8, m bool, stamp uint32, body []byte) {
	tx.pkt.PayloadType = pt
	tx.pkt.Marker = m
	tx.pkt.SequenceNumber = tx.seq
	tx.pkt.Timestamp = stamp
	tx.pkt.Payload = body
	tx.seq++
	n, err := tx.pkt.MarshalTo(tx.buf)
	if err != nil {
		return
	}
	remote := s.remote.Load()
	if remote == nil {
		return
	}
	out, err := s.seal(tx.sealed[:], tx.buf[:n])
	if err != nil {
		s.sendErrors.Add(1)
		return
	}
	if _, err := s.local().WriteToUDPAddrPort(out, *remote); err != nil {
		s.sendErrors.Add(1)
		return
	}
	s.sent.Add(1)
	if pt == s.dtmfPT && pt != 0 {
		s.eventsSent.Add(1)
	}
}

// frame sends the frame at tx.next: the source's audio, a digit being
// keyed, or nothing on hold, and moves the schedule on by one frame.
func (tx *sender) frame(s *stream) {
	pcm, key := tx.pcm, &tx.key
	if f := s.source.Load(); f != nil {
		(*f)(pcm)
	} else {
		clear(pcm)
	}
	if key.job == nil {
		select {
		case j := <-s.jobs:
			key.begin(j, tx.ts)
		default:
		}
	}
	sending := s.send.Load()
	audio := true
	if key.job != nil {
		if ev, ok := key.event(s, tx.ts); ok {
			if sending {
				n := dtmf.EncodeEvent(tx.payload, ev.digit, ev.end, eventVolume, ev.duration)
				tx.write(s, s.dtmfPT, ev.first, ev.start, tx.payload[:n])
			}
			audio = false // the event stands in for this frame's audio
		} else {
			key.inband(s, pcm)
		}
		if key.advance() {
			key.job.done <- nil
			*key = keyer{}
		}
	}
	if audio && sending {
		n := s.codec.Encode(tx.payload, pcm)
		tx.write(s, s.codec.PayloadType(), tx.marker, tx.ts, tx.payload[:n])
		tx.marker = false
	}
	tx.ts += uint32(s.frame)
	tx.next = tx.next.Add(frameDuration)
}

// keyer walks through the digits of one job, tick by tick.
type keyer struct {
	job   *keyJob
	idx   int     // digit being keyed
	tick  int     // ticks into this digit (tone, end repeats, gap)
	start uint32  // RTP timestamp of the digit's first tick
	phase float64 // of the high tone, for in-band digits
	low   float64 // of the low tone
}

type keyEvent struct {
	digit    byte
	start    uint32
	duration uint16
	end      bool
	first    bool
}

func (k *keyer) begin(j *keyJob, ts uint32) {
	*k = keyer{job: j, start: ts}
}

// event returns the telephone-event packet due this tick, if any.
func (k *keyer) event(s *stream, ts uint32) (keyEvent, bool) {
	if s.dtmfPT == 0 {
		return keyEvent{}, false
	}
	if k.tick == 0 {
		k.start = ts
	}
	switch {
	case k.tick < keyTicks:
		n := k.tick + 1
		return keyEvent{
			digit:    k.job.digits[k.idx],
			start:    k.start,
			duration: uint16(n * s.frame),
			end:      n == keyTicks,
			first:    k.tick == 0,
		}, true
	case k.tick < keyTicks+endRepeats-1:
		return keyEvent{
			digit:    k.job.digits[k.idx],
			start:    k.start,
			duration: uint16(keyTicks * s.frame),
			end:      true,
		}, true
	}
	return keyEvent{}, false
}

// inband replaces the frame with the digit's two tones while it is keyed
// and no telephone-event was negotiated.
func (k *keyer) inband(s *stream, pcm []int16) {
	if s.dtmfPT != 0 || k.tick >= keyTicks {
		return
	}
	lo, hi, _ := dtmf.Frequencies(k.job.digits[k.idx])
	// About -10 and -9 dBFS: the pair never clips and stays far above any
	// detector's floor, the high group a little hotter as phones send it.
	for i := range pcm {
		pcm[i] = int16(math.Round(0.30*tone.FullScale*math.Sin(k.low) + 0.35*tone.FullScale*math.Sin(k.phase)))
		k.low += 2 * math.Pi * lo / float64(s.rate)
		k.phase += 2 * math.Pi * hi / float64(s.rate)
	}
	k.low = math.Mod(k.low, 2*math.Pi)
	k.phase = math.Mod(k.phase, 2*math.Pi)
}

// advance moves to the next tick; true when the whole job is done.
func (k *keyer) advance() bool {
	k.tick++
	last := keyTicks + endRepeats - 1 + keyGapTicks
	if k.tick < last {
		return false
	}
	k.tick = 0
	k.low, k.phase = 0, 0
	k.idx++
	return k.idx >= len(k.job.digits)
}

// receiver reads one socket until it is closed.
func (s *stream) receiver(c *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, maxDatagram)
	oob := make([]byte, oobSize)
	rx := new(rxScratch)
	for {
		n, oobn, _, _, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		arrival := time.Now()
		if at, ok := stampOf(oob[:oobn], arrival); ok {
			arrival = at
		}
		s.datagram(buf[:n], arrival, rx)
	}
}

// datagram takes one received datagram: the call's accounting and
// recording, then the receive hook.
func (s *stream) datagram(b []byte, arrival time.Time, rx *rxScratch) {
	pkt := &rx.pkt
	b, ok := s.open(rx.plain[:], b)
	if !ok {
		s.mu.Lock()
		s.stats.Unknown++
		s.mu.Unlock()
		return
	}
	if err := pkt.Unmarshal(b); err != nil || pkt.Version != 2 {
		s.mu.Lock()
		s.stats.Unknown++
		s.mu.Unlock()
		return
	}
	var samples int
	audio := pkt.PayloadType == s.codec.PayloadType()
	if audio {
		samples = s.codec.Decode(rx.pcm[:], pkt.Payload)
	}
	s.mu.Lock()
	s.account(pkt, arrival, audio)
	switch {
	case audio:
		s.rec.place(pkt.SSRC, pkt.Timestamp, rx.pcm[:samples], arrival)
	case s.dtmfPT != 0 && pkt.PayloadType == s.dtmfPT:
		s.stats.EventsReceived++
	default:
		s.stats.Unknown++
	}
	s.mu.Unlock()
	if s.hook != nil {
		p := Packet{
			Arrival:     arrival,
			SSRC:        pkt.SSRC,
			Sequence:    pkt.SequenceNumber,
			Timestamp:   pkt.Timestamp,
			PayloadType: pkt.PayloadType,
			Marker:      pkt.Marker,
		}
		if audio {
			p.Audio = rx.pcm[:samples]
		}
		s.hook(p)
	}
}

// account updates sequence, gap and RFC 3550 jitter figures; s.mu is held.
// Jitter is taken from audio only: the packets of a telephone-event all
// carry the event's start time.
func (s *stream) account(p *rtp.Packet, arrival time.Time, audio bool) {
	rx := &s.rx
	s.stats.PacketsReceived++
	if !rx.have || p.SSRC != rx.ssrc {
		if rx.have {
			s.stats.SSRCChanges++
		}
		*rx = rxState{have: true, ssrc: p.SSRC, maxSeq: p.SequenceNumber, lastArrival: arrival, epoch: arrival}
		if audio {
			rx.lastTransit, rx.haveTransit = -float64(p.Timestamp), true
		}
		return
	}
	if gap := arrival.Sub(rx.lastArrival); gap > s.stats.MaxGap {
		s.stats.MaxGap = gap
	}
	rx.lastArrival = arrival
	switch d := int16(p.SequenceNumber - rx.maxSeq); {
	case d > 0:
		s.stats.SeqGaps += uint64(d - 1)
		rx.maxSeq = p.SequenceNumber
	default:
		s.stats.OutOfOrder++
	}
	if !audio {
		return
	}
	// Transit in RTP units since the stream began; a timestamp wrap between
	// two packets shows as a jump of 2^32, which the remainder undoes.
	transit := arrival.Sub(rx.epoch).Seconds()*float64(s.rate) - float64(p.Timestamp)
	if !rx.haveTransit {
		rx.lastTransit, rx.haveTransit = transit, true
		return
	}
	d := math.Remainder(transit-rx.lastTransit, 1<<32)
	rx.lastTransit = transit
	rx.jitter += (math.Abs(d) - rx.jitter) / 16
	s.stats.Jitter = time.Duration(rx.jitter / float64(s.rate) * float64(time.Second))
}

func (s *stream) snapshot() Stats {
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	st.PacketsSent = s.sent.Load()
	st.EventsSent = s.eventsSent.Load()
	st.LateTicks = s.lateTicks.Load()
	st.SendErrors = s.sendErrors.Load()
	return st
}
