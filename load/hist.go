package load

import (
	"math"
	"math/bits"
	"time"
)

// A histogram of microseconds: exact below 64 µs, then 32 buckets per
// octave (at most 1/32 ≈ 3 % off). Every packet of every listener lands in
// one, so an hour of a thousand callers costs a few KiB per listener, not a
// slice of 180 million samples.
const (
	histLinear  = 64
	histSubBits = 5
	histSub     = 1 << histSubBits
	histOctaves = 32 // up to 2^37 µs, about 38 hours
	histBuckets = histLinear + histOctaves*histSub
)

type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64 // µs
}

func histBucket(us int64) int {
	if us < histLinear {
		return int(max(us, 0))
	}
	e := bits.Len64(uint64(us)) - 1 // ≥ 6
	i := histLinear + (e-6)*histSub + int(us>>(e-histSubBits))&(histSub-1)
	return min(i, histBuckets-1)
}

// histRange is the smallest value of bucket i and the bucket's width.
func histRange(i int) (low, width int64) {
	if i < histLinear {
		return int64(i), 1
	}
	e := (i-histLinear)/histSub + 6
	sub := int64((i - histLinear) % histSub)
	return (histSub + sub) << (e - histSubBits), 1 << (e - histSubBits)
}

func (h *histogram) add(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[histBucket(us)]++
	h.n++
	h.max = max(h.max, us)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile is the nearest-rank q-quantile (0 < q ≤ 1): the middle of the
// bucket holding the ceil(q·n)-th smallest value, never above the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := histRange(i)
			return time.Duration(min(low+width/2, h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// quantileOf is the nearest-rank q-quantile of sorted values.
func quantileOf(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
