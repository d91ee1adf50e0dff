package metrics

import (
	"testing"
	"time"
)

func TestCountersSplitLatencyIntoLatencyBounds(t *testing.T) {
	rt := New().NewRoute("g", "r")
	rt.Observe(200, 3*time.Millisecond, false)
	rt.Observe(500, 3*time.Millisecond, false)
	rt.Observe(200, 48*time.Hour*365, false) // beyond the last bound: the overflow count
	req, errs, lat := rt.Counters()
	if req != 3 || errs != 1 || len(lat) != len(LatencyBounds)+1 || lat[len(lat)-1] != 1 {
		t.Fatalf("Counters = %d, %d, %d counts (overflow %d); want 3, 1, %d counts, overflow 1", req, errs, len(lat), lat[len(lat)-1], len(LatencyBounds)+1)
	}
	for i, c := range lat[:len(LatencyBounds)] {
		if c == 0 {
			continue
		}
		lo := time.Duration(0)
		if i > 0 {
			lo = LatencyBounds[i-1]
		}
		if c != 2 || 3*time.Millisecond < lo || 3*time.Millisecond >= LatencyBounds[i] {
			t.Errorf("bucket %d (%v, %v] holds %d; want the two 3ms observations", i, lo, LatencyBounds[i], c)
		}
	}
	for i := 1; i < len(LatencyBounds); i++ {
		if LatencyBounds[i] <= LatencyBounds[i-1] {
			t.Fatalf("LatencyBounds[%d] = %v does not increase", i, LatencyBounds[i])
		}
	}
}
