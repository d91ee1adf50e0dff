package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/metricsource"
)

const (
	gw     = "sava/sava_cluster/webport"
	canary = "sava/sava_cluster/sava:1.1.0/webport"
	stable = "sava/sava_cluster/sava:1.0.0/webport"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// cluster stands in for the gateway around the engine: route weights that the runner's Apply
// sets, per-route cumulative counters that an InProcess source reads, and a clock.
type cluster struct {
	t        *testing.T
	now      time.Time
	weights  map[string]int
	counters map[string]*metricsource.Snapshot
	// canaryFails says whether the canary answers 500 to a Firefox request.
	canaryFails bool
	applied     []map[string]int // every weight change, in order
	saved       []State          // every persisted state
	failApply   error            // when set, Apply fails once with it
}

func newCluster(t *testing.T, weights map[string]int) *cluster {
	c := &cluster{t: t, now: t0, weights: weights, counters: map[string]*metricsource.Snapshot{}}
	for r := range weights {
		c.counters[r] = &metricsource.Snapshot{Start: t0}
	}
	return c
}

func (c *cluster) RouteCounters(gateway, route string) (metricsource.Snapshot, bool) {
	s, ok := c.counters[route]
	if !ok || gateway != gw {
		return metricsource.Snapshot{}, false
	}
	return *s, true
}

func (c *cluster) apply(_ context.Context, weights map[string]int, st State) error {
	if err := c.failApply; err != nil {
		c.failApply = nil
		return err
	}
	if weights != nil {
		c.weights = weights
		c.applied = append(c.applied, weights)
	}
	c.saved = append(c.saved, st)
	return nil
}

// serve sends n requests, split by the current weights; every firefoxEvery-th request a route
// gets is from Firefox (0: none), and a failing canary answers those 500.
func (c *cluster) serve(n, firefoxEvery int) {
	for route, w := range c.weights {
		share := n * w / 100
		s := c.counters[route]
		s.Requests += uint64(share)
		if route == canary && c.canaryFails && firefoxEvery > 0 {
			s.Errors5xx += uint64(share / firefoxEvery)
		}
	}
}

// runner is a Runner measuring the cluster's counters on its clock.
func (c *cluster) runner() *Runner {
	src := metricsource.NewInProcess(c, func() time.Time { return c.now })
	return &Runner{Source: src, Apply: c.apply, HookFailed: func(call WebhookCall, err error) {
		c.t.Logf("best-effort webhook %q failed: %v", call.Hook.Name, err)
	}}
}

// tick advances the clock by d, serves n requests in that time and ticks the runner.
func (c *cluster) tick(r *Runner, e *Engine, d time.Duration, n, firefoxEvery int) Decision {
	c.t.Helper()
	c.now = c.now.Add(d)
	c.serve(n, firefoxEvery)
	dec, err := r.Tick(context.Background(), e, c.now)
	if err != nil {
		c.t.Fatalf("tick at %v: %v", c.now.Sub(t0), err)
	}
	return dec
}

func canaryWeights(applied []map[string]int) []int {
	var out []int
	for _, w := range applied {
		out = append(out, w[canary])
	}
	return out
}

// hookServer is a real HTTP webhook receiver recording the payloads it gets.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	payloads []Payload
	// onCall, when set, runs for each call before the answer (e.g. to look at the weights).
	onCall func(Payload)
}

func newHookServer(t *testing.T, status int, body string) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, fmt.Sprintf("want a JSON POST, got %s %q", r.Method, r.Header.Get("Content-Type")), http.StatusBadRequest)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var p Payload
		if err := json.Unmarshal(raw, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.payloads = append(h.payloads, p)
		onCall := h.onCall
		h.mu.Unlock()
		if onCall != nil {
			onCall(p)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body) // a caller that went away: the test sees its call fail
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) got() []Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Payload(nil), h.payloads...)
}

func basePolicy() Policy {
	return Policy{
		Gateway:  gw,
		Canary:   canary,
		Stable:   []string{stable},
		Steps:    []int{10, 25, 50, 100},
		Interval: time.Minute,
		Checks:   Checks{Max5xxRate: 0.01, MaxP99: 500 * time.Millisecond, MinRequests: 20},
	}
}

func mustNew(t *testing.T, p Policy, current map[string]int) *Engine {
	t.Helper()
	e, err := New(p, current)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
