package metricsource

import (
	"context"
	"testing"
	"time"
)

// BenchmarkInProcessWindow measures a window over a 256-bucket histogram, the size of the
// gateway's own latency histogram.
func BenchmarkInProcessWindow(b *testing.B) {
	bounds := make([]time.Duration, 255)
	for i := range bounds {
		bounds[i] = time.Duration(i+1) * 100 * time.Microsecond
	}
	snap := Snapshot{Start: t0, Latency: Histogram{Bounds: bounds, Counts: make([]uint64, 256)}}
	now := t0
	src := NewInProcess(CountersFunc(func(_, _ string) (Snapshot, bool) {
		snap.Requests += 100
		snap.Latency.Counts[42] += 100
		s := snap
		s.Latency.Counts = append([]uint64(nil), snap.Latency.Counts...)
		return s, true
	}), func() time.Time { return now })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		if _, err := src.Window(ctx, "gw", "canary", t0); err != nil {
			b.Fatal(err)
		}
	}
}
