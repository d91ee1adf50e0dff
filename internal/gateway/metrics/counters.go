package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets is how many of the histogram's buckets LatencyBounds describes one by one:
// those below 2^40µs (about 12 days); everything above is one overflow count.
const latencyBuckets = 40 * 4

// LatencyBounds are the upper bounds of the latency histogram's buckets, in the order of the
// counts that Route.Counters returns (which has one more: the overflow). Built once; callers
// must not change it.
var LatencyBounds = func() []time.Duration {
	b := make([]time.Duration, latencyBuckets)
	for i := range b {
		_, hi := bounds(i)
		b[i] = time.Duration(hi-1) * time.Microsecond // v = µs+1 < hi  ⇔  latency < (hi-1)µs
	}
	return b
}()

// Counters reads the route's cumulative counters for a roll-out's metric window: every answered
// request, those answered 5xx, and the latency histogram's per-bucket counts (len(LatencyBounds)+1
// of them). Each count is exact; under load they may be a request or two apart.
func (rt *Route) Counters() (requests, errors5xx uint64, latency []uint64) {
	requests, errors5xx = rt.requests.Load(), rt.classes[4].Load()
	latency = make([]uint64, latencyBuckets+1)
	for i := range rt.latency.counts {
		latency[min(i, latencyBuckets)] += rt.latency.counts[i].Load()
	}
	return requests, errors5xx, latency
}

// MustRegister adds collectors to the gateway's registry (e.g. the roll-out gauges, which the
// gateway computes at scrape time).
func (r *Registry) MustRegister(cs ...prometheus.Collector) { r.reg.MustRegister(cs...) }
