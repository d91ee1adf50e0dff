package metrics

import (
	"testing"
	"time"
)

func TestBucketsAreContiguousAndInverse(t *testing.T) {
	for v := uint64(1); v < 1<<20; v++ {
		lo, hi := bounds(bucket(v))
		if v < lo || v >= hi {
			t.Fatalf("v=%d falls in bucket %d = [%d, %d)", v, bucket(v), lo, hi)
		}
	}
	for i := 1; i < numBuckets-1; i++ {
		_, hi := bounds(i)
		if lo, _ := bounds(i + 1); hi != lo {
			t.Fatalf("gap between bucket %d (hi %d) and %d (lo %d)", i, hi, i+1, lo)
		}
	}
}

func TestQuantilesWithinBucketPrecision(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 {
		t.Fatal("empty histogram: want 0")
	}
	for i := 1; i <= 1000; i++ { // 1ms .. 1000ms, uniform
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -0.13 || diff > 0.13 {
			t.Errorf("p%v: want about %v, got %v", tc.q*100, tc.want, got)
		}
	}
}

func TestObserveCountsClassesAndCodes(t *testing.T) {
	r := New().NewRoute("g", "r")
	r.Observe(200, time.Millisecond, false)
	r.Observe(204, time.Millisecond, false)
	r.Observe(502, time.Millisecond, true)
	s := r.Snapshot()
	if s.Requests != 3 || s.Responses["2xx"] != 2 || s.Responses["5xx"] != 1 || s.UpstreamErrors != 1 {
		t.Errorf("snapshot: %+v", s)
	}
}

func BenchmarkObserve(b *testing.B) {
	r := New().NewRoute("g", "r")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Observe(200, 3*time.Millisecond, false)
		}
	})
}
