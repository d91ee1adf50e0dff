package rollout

import (
	"testing"
	"time"
)

// BenchmarkTick is one judgement of a step mid-interval (the gateway's per-second work).
func BenchmarkTick(b *testing.B) {
	e, err := New(basePolicy(), map[string]int{stable: 100, canary: 0})
	if err != nil {
		b.Fatal(err)
	}
	e.Start(t0, nil)
	w := Window{Requests: 1000, Errors5xx: 1, P99: 20 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		e.Tick(t0.Add(10*time.Second), w)
	}
}
