package metricsource

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Snapshot is the cumulative counters of one route at one moment, as the gateway keeps them:
// every field only grows while the route exists. Taking one is a handful of atomic loads and a
// copy of the histogram's counts; the bucket bounds are shared, never copied.
type Snapshot struct {
	// Start is when these counters started counting (the route's creation or the gateway's
	// start); zero when unknown. A window that begins before Start is measured from Start.
	Start time.Time
	// Requests is every answered request; Errors5xx those answered with a 5xx status.
	Requests, Errors5xx uint64
	// Latency is the distribution of the requests' latency.
	Latency Histogram
}

// Histogram is a latency histogram with fixed buckets. Counts[i] is the number of observations
// in (Bounds[i-1], Bounds[i]] (the first bucket starts at 0) and Counts[len(Bounds)] is the
// number above the last bound, so len(Counts) == len(Bounds)+1. Counts are per bucket, not
// cumulative across buckets (unlike Prometheus's "le" series), and cumulative over time.
type Histogram struct {
	// Bounds are the buckets' upper bounds, strictly increasing. The gateway builds them once
	// and shares the slice between snapshots.
	Bounds []time.Duration
	Counts []uint64
}

// check says what is wrong with the histogram's shape, nil when nothing.
func (h Histogram) check() error {
	if len(h.Counts) == 0 && len(h.Bounds) == 0 {
		return nil // no latency recorded: allowed, P99 will be 0
	}
	if len(h.Counts) != len(h.Bounds)+1 {
		return fmt.Errorf("histogram has %d counts for %d bounds; it needs one count per bound plus one for the overflow bucket", len(h.Counts), len(h.Bounds))
	}
	for i := 1; i < len(h.Bounds); i++ {
		if h.Bounds[i] <= h.Bounds[i-1] {
			return fmt.Errorf("histogram bounds[%d] = %v is not greater than bounds[%d] = %v; bounds must increase", i, h.Bounds[i], i-1, h.Bounds[i-1])
		}
	}
	return nil
}

// since returns the counts observed after base was taken. A histogram whose total shrank was
// reset (the route was re-created); then everything in h is new.
func (h Histogram) since(base Histogram) (Histogram, error) {
	if err := h.check(); err != nil {
		return Histogram{}, err
	}
	if len(base.Counts) == 0 {
		return h, nil
	}
	if !slices.Equal(h.Bounds, base.Bounds) {
		return Histogram{}, fmt.Errorf("histogram bounds changed between snapshots (%d bounds, then %d); the gateway must keep one set of buckets per route", len(base.Bounds), len(h.Bounds))
	}
	d := Histogram{Bounds: h.Bounds, Counts: make([]uint64, len(h.Counts))}
	for i := range h.Counts {
		if h.Counts[i] < base.Counts[i] {
			return h, nil // reset
		}
		d.Counts[i] = h.Counts[i] - base.Counts[i]
	}
	return d, nil
}

// Quantile returns the q-quantile (0 < q <= 1), interpolated linearly inside its bucket like
// Prometheus's histogram_quantile, so the two sources agree on the same data. An observation in
// the overflow bucket reports the last bound (it is at least that). 0 with no observations.
func (h Histogram) Quantile(q float64) time.Duration {
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 || len(h.Bounds) == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen uint64
	for i, c := range h.Counts {
		if c == 0 || float64(seen+c) < rank {
			seen += c
			continue
		}
		if i == len(h.Bounds) {
			return h.Bounds[len(h.Bounds)-1]
		}
		var lo time.Duration
		if i > 0 {
			lo = h.Bounds[i-1]
		}
		within := (rank - float64(seen)) / float64(c)
		return lo + time.Duration(math.Round(float64(h.Bounds[i]-lo)*within))
	}
	return h.Bounds[len(h.Bounds)-1]
}
