package metrics

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram is a lock-free latency histogram with log-linear buckets: four buckets per power of
// two of microseconds, so a quantile is reported within about 12% of the true value. Recording
// is one atomic add.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
}

const numBuckets = 64 * 4

// bucket maps v = microseconds+1 (>= 1) to its bucket.
func bucket(v uint64) int {
	if v < 4 {
		return int(v)
	}
	msb := bits.Len64(v) - 1
	sub := (v >> (msb - 2)) & 3
	return msb*4 + int(sub) - 4 // msb 2 (v 4..7) starts right after the four exact buckets
}

// bounds is the inverse of bucket: the range [lo, hi) of v that falls into bucket i.
func bounds(i int) (lo, hi uint64) {
	if i < 4 {
		return uint64(i), uint64(i) + 1
	}
	msb, sub := (i+4)/4, uint64((i+4)%4)
	return (4 + sub) << (msb - 2), (5 + sub) << (msb - 2)
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucket(uint64(us)+1)].Add(1)
}

// Quantile returns the q-quantile (0 < q <= 1) as the middle of its bucket, 0 with no data.
func (h *Histogram) Quantile(q float64) time.Duration {
	var counts [numBuckets]uint64
	var total uint64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			lo, hi := bounds(i)
			mid := (lo + hi - 1) / 2 // v is microseconds+1; hi is exclusive
			if mid > 0 {
				mid--
			}
			return time.Duration(mid) * time.Microsecond
		}
	}
	return 0
}
