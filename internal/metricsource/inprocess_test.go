package metricsource

import (
	"context"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// bounds are the gateway's Prometheus buckets, so both sources can be compared on one data set.
var bounds = []time.Duration{
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// route is one route's cumulative counters, as a gateway keeps them.
type route struct{ snap Snapshot }

func newRoute(start time.Time) *route {
	return &route{Snapshot{Start: start, Latency: Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}}}
}

// serve records n answers with the given status class and latency.
func (r *route) serve(n int, fail bool, latency time.Duration) {
	r.snap.Requests += uint64(n)
	if fail {
		r.snap.Errors5xx += uint64(n)
	}
	i := 0
	for i < len(bounds) && latency > bounds[i] {
		i++
	}
	r.snap.Latency.Counts[i] += uint64(n)
}

type fixture struct {
	now    time.Time
	routes map[string]*route
	src    *InProcess
}

func newFixture() *fixture {
	f := &fixture{now: t0, routes: map[string]*route{"canary": newRoute(t0)}}
	f.src = NewInProcess(CountersFunc(func(gateway, name string) (Snapshot, bool) {
		r, ok := f.routes[name]
		if !ok || gateway != "gw" {
			return Snapshot{}, false
		}
		s := r.snap
		s.Latency.Counts = append([]uint64(nil), s.Latency.Counts...) // a snapshot is a copy
		return s, true
	}), func() time.Time { return f.now })
	return f
}

func (f *fixture) window(t *testing.T, since time.Time) Window {
	t.Helper()
	w, err := f.src.Window(context.Background(), "gw", "canary", since)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestInProcessWindowIsTheDifferenceSinceItsStart(t *testing.T) {
	f := newFixture()
	c := f.routes["canary"]
	c.serve(1000, false, 3*time.Millisecond) // before the step: must not count
	f.now = t0.Add(time.Minute)
	step := f.now
	if w := f.window(t, step); w.Requests != 0 || w.P99 != 0 || !w.From.Equal(step) {
		t.Fatalf("empty window: %+v", w)
	}
	f.now = step.Add(10 * time.Second)
	c.serve(88, false, 20*time.Millisecond)
	c.serve(12, true, 800*time.Millisecond)
	w := f.window(t, step)
	if w.Requests != 100 || w.Errors5xx != 12 || w.ErrorRate() != 0.12 || !w.From.Equal(step) || !w.To.Equal(f.now) {
		t.Errorf("window %+v", w)
	}
	// rank 99 of 100 lies 11/12 into (500ms, 1s], as histogram_quantile would say.
	if want := 500*time.Millisecond + 500*time.Millisecond*11/12; absDiff(w.P99, want) > time.Microsecond {
		t.Errorf("p99 %v, want %v", w.P99, want)
	}
	// Many snapshots later the baseline of the same since is still the step's.
	for range 40 {
		f.now = f.now.Add(time.Second)
		c.serve(1, false, time.Millisecond)
		f.window(t, step)
	}
	if w := f.window(t, step); w.Requests != 140 {
		t.Errorf("after 40 more: %v requests, want 140", w.Requests)
	}
}

func TestInProcessAfterRestartMeasuresFromTheCountersStart(t *testing.T) {
	f := newFixture()
	restart := t0.Add(5 * time.Minute)
	f.routes["canary"] = newRoute(restart) // a new process: counters from zero
	f.now = restart.Add(20 * time.Second)
	f.routes["canary"].serve(30, false, time.Millisecond)
	w := f.window(t, t0.Add(4*time.Minute)) // the step began before the restart
	if w.Requests != 30 || !w.From.Equal(restart) {
		t.Errorf("window %+v, want 30 requests from the restart", w)
	}
}

func TestInProcessCounterResetCountsEverythingAsNew(t *testing.T) {
	f := newFixture()
	f.routes["canary"].serve(500, false, time.Millisecond)
	f.window(t, t0)
	f.now = t0.Add(time.Minute)
	recreated := newRoute(t0.Add(30 * time.Second))
	recreated.serve(7, true, time.Millisecond)
	f.routes["canary"] = recreated
	if w := f.window(t, t0); w.Requests != 7 || w.Errors5xx != 7 {
		t.Errorf("after a reset: %+v", w)
	}
}

func TestInProcessErrors(t *testing.T) {
	f := newFixture()
	if _, err := f.src.Window(context.Background(), "gw", "nope", t0); err == nil || !strings.Contains(err.Error(), `gateway "gw" has no route "nope"`) {
		t.Errorf("unknown route: %v", err)
	}
	f.routes["canary"].snap.Latency.Counts = f.routes["canary"].snap.Latency.Counts[:3]
	if _, err := f.src.Window(context.Background(), "gw", "canary", t0); err == nil || !strings.Contains(err.Error(), "one count per bound plus one") {
		t.Errorf("bad histogram: %v", err)
	}
}

func TestQuantileEdges(t *testing.T) {
	h := Histogram{Bounds: []time.Duration{10 * time.Millisecond, 100 * time.Millisecond}, Counts: []uint64{0, 0, 0}}
	if h.Quantile(0.99) != 0 {
		t.Error("empty: want 0")
	}
	h.Counts = []uint64{0, 0, 5} // all above the last bound
	if got := h.Quantile(0.99); got != 100*time.Millisecond {
		t.Errorf("overflow: %v, want the last bound", got)
	}
	h.Counts = []uint64{100, 0, 0}
	if got := h.Quantile(0.5); got != 5*time.Millisecond {
		t.Errorf("first bucket from 0: %v", got)
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}
