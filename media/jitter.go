package media

import "math/bits"

// Jitter buffer sizing, in 20 ms frames.
const (
	// DefaultPrefill frames are buffered before playout starts, enough to
	// ride out ordinary network jitter without adding noticeable delay.
	DefaultPrefill = 2
	// DefaultDepth frames is the most a buffer holds; beyond it playout
	// skips ahead, so a burst or a fast sender clock cannot make delay
	// creep up for the rest of the call.
	DefaultDepth = 6
)

// Sequence number windows after RFC 3550 appendix A.1.
const (
	maxDropout  = 3000 // forward jump still taken as loss, not a new stream
	maxMisorder = 100  // backward step still taken as reordering
	seqHistory  = 128  // remembered sequence numbers, for duplicates
	noSeq       = ^uint32(0)
)

// maxPacketFrames bounds the audio taken from one packet (120 ms); nobody
// sends longer ones, and the ring is sized by it.
const maxPacketFrames = 6

// JitterStats counts what a JitterBuffer did since it was made; the counts
// carry on across new streams.
type JitterStats struct {
	Received   uint64 // packets accepted (duplicates excluded)
	Lost       uint64 // packets never received, RFC 3550 style (expected - received)
	Duplicates uint64 // packets received twice
	Late       uint64 // packets arriving after their audio was due
	Concealed  uint64 // frames replaced by a faded repeat of the last one
	Resyncs    uint64 // times the buffer overflowed and playout skipped ahead
	Underruns  uint64 // times the buffer ran dry and prefilled again
	Resets     uint64 // new streams (SSRC change, sequence or timestamp jump)
}

// JitterBuffer turns RTP packets of decoded PCM, arriving out of order,
// twice or not at all, into a steady stream of frames of exactly rate/50
// samples. Packets are placed by RTP timestamp in a ring of samples, so
// packets of 10, 20 or 30 ms all come out as 20 ms frames; sequence numbers
// (with wraparound) find duplicates, losses and restarts.
//
// A frame lost between received ones is concealed by repeating the last
// frame with a fade to silence; further lost frames are silence. Playout
// starts after the prefill and the buffered delay is held under the depth.
// It is pure logic and not safe for concurrent use.
type JitterBuffer struct {
	frame   int // samples per frame
	prefill int // frames
	depth   int // frames

	ring   []int16
	filled []bool
	mask   uint32

	last     []int16 // last frame played from real audio
	haveLast bool

	anchored bool   // playTS means something
	started  bool   // prefill done, frames play
	dry      bool   // ran dry: the next packet ahead sets playout there
	playTS   uint32 // RTP timestamp of the next sample to play
	end      uint32 // one past the newest buffered sample
	lossRun  int    // frames missing in a row
	pktLen   int    // samples in the latest packet

	haveSeq  bool
	ssrc     uint32
	maxSeq   uint16
	cycles   uint32
	baseSeq  uint32 // extended
	badSeq   uint32 // a jump to here, seen again, is a new stream
	seen     [seqHistory]uint32
	received uint64 // in this stream
	lostPast uint64 // in earlier streams

	stats JitterStats
}

// NewJitterBuffer returns a buffer for rate samples per second with the
// default prefill and depth.
func NewJitterBuffer(rate int) *JitterBuffer {
	return NewJitterBufferSize(rate, DefaultPrefill, DefaultDepth)
}

// NewJitterBufferSize returns a buffer that starts playout after prefill
// frames and never holds more than depth frames (at least prefill+2).
func NewJitterBufferSize(rate, prefill, depth int) *JitterBuffer {
	if rate <= 0 {
		rate = 8000
	}
	frame := max(1, rate/50)
	prefill = max(1, prefill)
	depth = max(depth, prefill+2)
	// Room for the deepest buffer plus the longest packet being placed.
	size := 1 << bits.Len(uint(depth*frame+3*maxPacketFrames*frame+2*frame))
	return &JitterBuffer{
		frame:   frame,
		prefill: prefill,
		depth:   depth,
		ring:    make([]int16, size),
		filled:  make([]bool, size),
		mask:    uint32(size - 1),
		last:    make([]int16, frame),
		badSeq:  noSeq,
	}
}

// FrameSamples returns the samples in each frame Pop gives.
func (j *JitterBuffer) FrameSamples() int { return j.frame }

// Buffered returns how many samples are waiting to be played.
func (j *JitterBuffer) Buffered() int {
	if !j.anchored {
		return 0
	}
	return max(0, int(int32(j.end-j.playTS)))
}

// Stats returns the counters.
func (j *JitterBuffer) Stats() JitterStats {
	s := j.stats
	s.Lost = j.lostPast + j.lostNow()
	return s
}

func (j *JitterBuffer) lostNow() uint64 {
	if !j.haveSeq {
		return 0
	}
	expected := uint64(j.cycles|uint32(j.maxSeq)) - uint64(j.baseSeq) + 1
	return max(expected, j.received) - j.received
}

// Reset forgets the stream and all buffered audio, keeping the counters.
func (j *JitterBuffer) Reset() {
	j.lostPast += j.lostNow()
	j.haveSeq, j.received, j.badSeq = false, 0, noSeq
	j.unanchor()
	j.haveLast = false
}

func (j *JitterBuffer) unanchor() {
	clear(j.filled)
	j.anchored, j.started, j.dry = false, false, false
	j.lossRun = 0
}

type seqVerdict int

const (
	seqNew seqVerdict = iota
	seqReordered
	seqDuplicate
	seqDrop
	seqRestart
)

// checkSeq classifies a sequence number against the stream so far.
func (j *JitterBuffer) checkSeq(seq uint16) seqVerdict {
	if !j.haveSeq {
		j.startSeq(seq)
		return seqNew
	}
	delta := seq - j.maxSeq
	switch {
	case delta == 0:
		return seqDuplicate
	case delta < maxDropout:
		if seq < j.maxSeq {
			j.cycles += 1 << 16
		}
		j.maxSeq = seq
		j.mark(j.cycles | uint32(seq))
		j.badSeq = noSeq
		return seqNew
	case delta > 1<<16-maxMisorder:
		ext := j.cycles | uint32(seq)
		if seq > j.maxSeq {
			ext -= 1 << 16 // from before the last wrap
		}
		if j.seen[ext%seqHistory] == ext {
			return seqDuplicate
		}
		j.mark(ext)
		return seqReordered
	default:
		// A jump: a new stream under the same SSRC, or one stray packet.
		// Two in sequence make it a new stream (RFC 3550 A.1).
		if uint32(seq) == j.badSeq {
			return seqRestart
		}
		j.badSeq = uint32(seq+1) & 0xffff
		return seqDrop
	}
}

func (j *JitterBuffer) startSeq(seq uint16) {
	j.haveSeq = true
	j.maxSeq, j.cycles = seq, 0
	j.baseSeq = uint32(seq)
	j.badSeq = noSeq
	for i := range j.seen {
		j.seen[i] = noSeq
	}
	j.mark(uint32(seq))
}

func (j *JitterBuffer) mark(ext uint32) {
	j.seen[ext%seqHistory] = ext
	j.received++
	j.stats.Received++
}

// target is the buffered delay playout starts at and resyncs to: the
// prefill, or more when packets are long, so that one packet's worth can
// be played while the next is on its way.
func (j *JitterBuffer) target() int {
	return max(j.prefill*j.frame, j.pktLen+j.frame)
}

func (j *JitterBuffer) limit() int {
	return max(j.depth*j.frame, j.target()+j.pktLen+j.frame)
}

// Push adds a packet of decoded samples with its RTP header fields. pcm is
// copied; it is not kept.
func (j *JitterBuffer) Push(seq uint16, ts, ssrc uint32, pcm []int16) {
	if j.haveSeq && ssrc != j.ssrc {
		j.Reset()
		j.stats.Resets++
	}
	j.ssrc = ssrc
	v := j.checkSeq(seq)
	switch v {
	case seqDuplicate:
		j.stats.Duplicates++
		return
	case seqDrop:
		return
	case seqRestart:
		j.Reset()
		j.stats.Resets++
		j.checkSeq(seq)
	}
	if len(pcm) == 0 {
		return
	}
	pcm = pcm[:min(len(pcm), maxPacketFrames*j.frame)]
	n := len(pcm)
	j.pktLen = n
	if !j.anchored {
		j.anchor(ts)
	}
	off := int(int32(ts - j.playTS))
	switch {
	case off > 0 && j.dry:
		// After running dry the stream resumes here; the gap was silence
		// (or lost while nothing was buffered), not something to wait out.
		j.skipTo(ts)
		off = 0
	case off < 0 && !j.started && !j.dry && -off <= j.target() && int(int32(j.end-ts)) <= j.limit():
		// Reordered before playout began: start from the earlier packet.
		j.playTS = ts
		off = 0
	case off+n <= 0:
		if v == seqNew && -off > len(j.ring) {
			// In sequence yet far behind: the sender restarted its clock.
			j.stats.Resets++
			j.unanchor()
			j.anchor(ts)
			off = 0
			break
		}
		j.stats.Late++
		return
	case off < 0:
		// Straddles the playout point: keep what is still to come.
		pcm = pcm[-off:]
		ts, off, n = j.playTS, 0, n+off
	}
	j.dry = false
	if off+n > j.limit() {
		// Overflow: drop the oldest audio so the delay is back at target.
		jump := int32(ts-j.end) > 0
		j.skipTo(ts + uint32(n) - uint32(j.target()))
		if jump && int32(j.end-j.playTS) <= 0 {
			// The timestamps jumped (silence suppression): what is left
			// of the gap is silence, not a loss to conceal.
			j.lossRun = max(j.lossRun, 1)
		}
		j.stats.Resyncs++
		off = int(int32(ts - j.playTS))
		if off < 0 {
			pcm = pcm[-off:]
			ts, off, n = j.playTS, 0, n+off
		}
	}
	a, b := j.span(ts, n)
	copy(j.ring[a.lo:a.hi], pcm)
	copy(j.ring[b.lo:b.hi], pcm[a.hi-a.lo:])
	for _, r := range [2]span{a, b} {
		f := j.filled[r.lo:r.hi]
		for i := range f {
			f[i] = true
		}
	}
	if e := ts + uint32(n); int32(e-j.end) > 0 {
		j.end = e
	}
	if !j.started && int(int32(j.end-j.playTS)) >= j.target() {
		j.started = true
	}
}

func (j *JitterBuffer) anchor(ts uint32) {
	j.anchored = true
	j.started = false
	j.playTS, j.end = ts, ts
}

// skipTo moves playout forward to ts, throwing away what lies before it.
func (j *JitterBuffer) skipTo(ts uint32) {
	gap := int(int32(ts - j.playTS))
	if gap <= 0 {
		return
	}
	if gap >= len(j.ring) {
		clear(j.filled)
	} else {
		for i := range gap {
			j.filled[(j.playTS+uint32(i))&j.mask] = false
		}
	}
	j.playTS = ts
	if int32(j.end-ts) < 0 {
		j.end = ts
	}
}

// Pop writes the next frame into dst[:FrameSamples()] and reports whether
// it holds audio. Before playout starts, after the one concealed frame of a
// loss, and when the buffer is dry, it writes silence and returns false.
func (j *JitterBuffer) Pop(dst []int16) bool {
	out := dst[:min(len(dst), j.frame)]
	if !j.started {
		clear(out)
		return false
	}
	a, b := j.span(j.playTS, j.frame)
	have := count(j.filled[a.lo:a.hi]) + count(j.filled[b.lo:b.hi])
	if have > 0 {
		if have == j.frame && len(out) == j.frame {
			copy(out, j.ring[a.lo:a.hi])
			copy(out[a.hi-a.lo:], j.ring[b.lo:b.hi])
		} else {
			for i := range out {
				k := (j.playTS + uint32(i)) & j.mask
				if j.filled[k] {
					out[i] = j.ring[k]
				} else {
					out[i] = j.fade(i) // part of a frame lost (10 ms packets)
				}
			}
		}
		j.consume()
		if len(out) == j.frame {
			copy(j.last, out)
			j.haveLast = true
		}
		j.lossRun = 0
		return true
	}
	if int32(j.end-(j.playTS+uint32(j.frame))) <= 0 {
		// Nothing buffered: the sender is late, slow or paused. Playout
		// waits where it is, so a late packet still plays, and prefills
		// again; the wait is bridged by one concealed frame.
		j.started, j.dry = false, true
		j.stats.Underruns++
		if j.lossRun == 0 && j.haveLast {
			j.lossRun = 1
			j.conceal(out)
			return true
		}
		clear(out)
		return false
	}
	// A hole with audio after it: the packet is lost (or later than the
	// buffer can wait for).
	j.consume()
	j.lossRun++
	if j.lossRun == 1 && j.haveLast {
		j.conceal(out)
		return true
	}
	clear(out)
	return false
}

func (j *JitterBuffer) conceal(out []int16) {
	for i := range out {
		out[i] = j.fade(i)
	}
	j.stats.Concealed++
}

// span is a run of ring indexes.
type span struct{ lo, hi int }

// span splits the n samples from ts into the ring's two contiguous parts
// (the second is empty unless the run wraps round the end).
func (j *JitterBuffer) span(ts uint32, n int) (span, span) {
	lo := int(ts & j.mask)
	if lo+n <= len(j.ring) {
		return span{lo, lo + n}, span{}
	}
	return span{lo, len(j.ring)}, span{0, lo + n - len(j.ring)}
}

func count(f []bool) int {
	n := 0
	for _, x := range f {
		if x {
			n++
		}
	}
	return n
}

// consume advances playout by one frame, freeing its samples.
func (j *JitterBuffer) consume() {
	a, b := j.span(j.playTS, j.frame)
	clear(j.filled[a.lo:a.hi])
	clear(j.filled[b.lo:b.hi])
	j.playTS += uint32(j.frame)
	if int32(j.end-j.playTS) < 0 {
		j.end = j.playTS
	}
}

// fade is sample i of the last frame on a linear ramp down to silence, so
// a repeated frame does not end in a click.
func (j *JitterBuffer) fade(i int) int16 {
	if !j.haveLast {
		return 0
	}
	return int16(int(j.last[i]) * (j.frame - i) / j.frame)
}
