package phone

import "time"

// recording is what a call has heard, placed by RTP timestamp so that the
// time axis stays true across lost packets and pauses in the far end's
// stream. It keeps at most limit samples: a long call (or the load generator
// with hundreds of calls) must not grow without bound, yet positions handed
// out by mark stay valid because they count from the start of the call.
//
// It is not safe for concurrent use; the stream guards it.
type recording struct {
	rate  int
	limit int     // retained samples; 0 keeps none but still counts positions
	buf   []int16 // grows up to limit, then sample i lives at buf[i%limit]
	end   int64   // position one past the newest sample placed

	anchored    bool
	ssrc        uint32
	base        int64 // position of unwrapped timestamp 0 of the current stream
	lastTS      uint32
	lastExt     int64 // unwrapped lastTS
	lastArrival time.Time
	lastLen     int
}

// maxJump is how far ahead of what was heard a packet may land before it is
// taken as a new timeline rather than a real gap: a far end that restarts its
// timestamps at random must not make us record an hour of silence.
const maxJump = 60 * time.Second

func newRecording(rate int, keep time.Duration) *recording {
	limit := 0
	if keep > 0 {
		limit = int(keep.Seconds() * float64(rate))
	}
	return &recording{rate: rate, limit: limit}
}

// place writes decoded samples of one packet at the position its timestamp
// says. arrival is used only when the timeline is (re)anchored: a new SSRC or
// an implausible timestamp jump continues after what was heard, with the
// silence the wall clock says passed in between.
func (r *recording) place(ssrc, ts uint32, pcm []int16, arrival time.Time) {
	var pos int64
	if r.anchored && ssrc == r.ssrc {
		ext := r.lastExt + int64(int32(ts-r.lastTS))
		pos = r.base + ext
		if pos-r.end > int64(maxJump.Seconds()*float64(r.rate)) {
			pos = r.reanchor(ssrc, ts, arrival, len(pcm))
		} else if ext > r.lastExt {
			r.lastTS, r.lastExt = ts, ext
			r.lastArrival, r.lastLen = arrival, len(pcm)
		}
	} else {
		pos = r.reanchor(ssrc, ts, arrival, len(pcm))
	}
	r.write(pos, pcm)
}

func (r *recording) reanchor(ssrc, ts uint32, arrival time.Time, n int) int64 {
	pos := r.end
	if r.anchored {
		gap := int64(arrival.Sub(r.lastArrival).Seconds()*float64(r.rate)) - int64(r.lastLen)
		// Less than half a frame is scheduling noise, not a pause.
		if gap > int64(r.rate/100) {
			pos += min(gap, int64(maxJump.Seconds()*float64(r.rate)))
		}
	}
	r.anchored = true
	r.ssrc = ssrc
	r.lastTS, r.lastExt = ts, int64(ts)
	r.base = pos - int64(ts)
	r.lastArrival, r.lastLen = arrival, n
	return pos
}

func (r *recording) write(pos int64, pcm []int16) {
	newEnd := max(r.end, pos+int64(len(pcm)))
	if r.limit == 0 {
		r.end = newEnd
		return
	}
	start := max(0, newEnd-int64(r.limit)) // oldest position still kept afterwards
	if want := int(min(newEnd, int64(r.limit))); want > len(r.buf) {
		old := len(r.buf)
		if want > cap(r.buf) {
			grown := make([]int16, want, min(max(2*cap(r.buf), want), r.limit))
			copy(grown, r.buf)
			r.buf = grown
		} else {
			r.buf = r.buf[:want]
			clear(r.buf[old:])
		}
	}
	// Silence for the samples between what was heard and this packet.
	for i := max(r.end, start); i < pos; i++ {
		r.buf[i%int64(r.limit)] = 0
	}
	for k, s := range pcm {
		i := pos + int64(k)
		if i < start {
			continue // older than what is kept, or before the call's first packet
		}
		r.buf[i%int64(r.limit)] = s
	}
	r.end = newEnd
}

// since copies the retained samples from position from to the end.
func (r *recording) since(from int64) []int16 {
	start := max(0, r.end-int64(r.limit))
	from = max(from, start)
	if from >= r.end {
		return []int16{}
	}
	out := make([]int16, r.end-from)
	lim := int64(r.limit)
	n := copy(out, r.buf[from%lim:min(int64(len(r.buf)), from%lim+int64(len(out)))])
	copy(out[n:], r.buf)
	return out
}
