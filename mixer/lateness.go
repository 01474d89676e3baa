package mixer

import (
	"sync/atomic"
	"time"
)

// LatenessBuckets are the upper bounds of the tick lateness histogram:
// how long after its deadline each tick of every room started. Up to a
// few ms is timer noise; past a frame (20 ms) callers hear it.
var LatenessBuckets = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond,
}

// The process-wide histogram: one atomic add per room tick, read by the
// metrics endpoint.
var lateness struct {
	counts [9]atomic.Uint64 // one per bucket, the last for "more"
	sum    atomic.Int64     // nanoseconds
}

func observeLateness(late time.Duration) {
	i := 0
	for i < len(LatenessBuckets) && late > LatenessBuckets[i] {
		i++
	}
	lateness.counts[i].Add(1)
	lateness.sum.Add(int64(late))
}

// Lateness is the histogram of every room tick so far: counts per bucket
// of LatenessBuckets (not cumulative) with one more for anything above,
// the sum of all lateness, and how many ticks were more than a frame late.
func Lateness() (counts []uint64, sum time.Duration, late uint64) {
	// FrameDuration is a bucket bound, so the late ticks are the buckets
	// above it: no counter of their own on the tick path.
	counts = make([]uint64, len(lateness.counts))
	for i := range lateness.counts {
		counts[i] = lateness.counts[i].Load()
		if i == len(LatenessBuckets) || LatenessBuckets[i] > FrameDuration {
			late += counts[i]
		}
	}
	return counts, time.Duration(lateness.sum.Load()), late
}
