package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/escalation"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// scalingRuntime is a runtime for one service whose instances are real HTTP servers on
// loopback, as slow as delay says: the gateway discovers them (discovery.Source) and scales them
// (escalation.Scaler).
type scalingRuntime struct {
	t     *testing.T
	delay atomic.Int64 // nanoseconds each answer takes

	mu      sync.Mutex
	servers []*httptest.Server
	subs    []func()
	scaled  []int // every instance count asked for, in order
}

func (rt *scalingRuntime) Runtime() string { return "test" }

func (rt *scalingRuntime) Resolve(id, port string) ([]discovery.Instance, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []discovery.Instance
	for _, s := range rt.servers {
		in := instanceOf(s.Listener.Addr().String())
		out = append(out, discovery.Instance{Host: in.Host, Port: in.Port, Healthy: true})
	}
	return out, nil
}

func (rt *scalingRuntime) Subscribe(fn func()) func() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.subs = append(rt.subs, fn)
	return func() {}
}

func (rt *scalingRuntime) Scale(_ context.Context, id string, n int) error {
	rt.mu.Lock()
	rt.scaled = append(rt.scaled, n)
	for len(rt.servers) < n {
		rt.servers = append(rt.servers, httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Duration(rt.delay.Load())) // the artificially slow variant
			// A gateway that went away: its client sees it.
			_, _ = io.WriteString(w, "sava:1.1.0")
		})))
	}
	var gone []*httptest.Server
	for len(rt.servers) > n {
		gone = append(gone, rt.servers[len(rt.servers)-1])
		rt.servers = rt.servers[:len(rt.servers)-1]
	}
	subs := append([]func(){}, rt.subs...)
	rt.mu.Unlock()
	for _, fn := range subs {
		fn()
	}
	for _, s := range gone {
		s.Close()
	}
	return nil
}

func (rt *scalingRuntime) history() []int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]int(nil), rt.scaled...)
}

var _ escalation.Scaler = (*scalingRuntime)(nil)

// Vamp's escalations through the gateway: a slow variant is scaled up to its maximum, one step
// per window, and back down to its minimum once it is fast again.
func TestSLAScalesASlowVariantUpAndBackDown(t *testing.T) {
	rt := &scalingRuntime{t: t}
	rt.delay.Store(int64(30 * time.Millisecond))
	if err := rt.Scale(context.Background(), "", 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Scale(context.Background(), "", 0); err != nil {
			t.Error(err)
		}
	})
	clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h := startGateway(t, func(c *gateway.Config) {
		c.RolloutTick = -1
		c.Clock = clock.Now
		c.Sources = []discovery.Source{rt}
		c.Scalers = map[string]escalation.Scaler{"test": rt}
	})
	port := freePort(t)
	h.put(clusterGW, gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{{
		Name: "sava:1.1.0", Weight: 100,
		Service: &gatewayapi.ServiceRef{Runtime: "test", ID: "sava/sava_cluster/sava:1.1.0", Port: "webport"},
		Scale:   &gatewayapi.ScalePolicy{Min: 1, Max: 3, Upper: "20ms", Lower: "10ms", Window: "3s"},
	}}})
	chrome := newBrowser(chromeUA)

	// run sends traffic and ticks once a second until the runtime has want instances.
	run := func(want int) (ticks int) {
		for len(rt.history()) == 0 || rt.history()[len(rt.history())-1] != want {
			if ticks++; ticks > 20 {
				t.Fatalf("no scale to %d within 20 ticks; scaled %v", want, rt.history())
			}
			chrome.count(t, gatewayURL(port), 3)
			h.srv.TickSLAs(context.Background(), clock.advance(time.Second))
		}
		h.statsWhen(clusterGW, "the gateway routes to every instance", func(s gatewayapi.Stats) bool {
			return len(s.Routes[0].Instances) == want
		})
		return ticks
	}
	up := run(3)
	rt.delay.Store(0)
	down := run(1)
	if got, want := rt.history(), []int{1, 2, 3, 2, 1}; !equalInts(got, want) {
		t.Errorf("instance counts %v, want %v (one step per window)", got, want)
	}
	st := h.stats(clusterGW).Routes[0].Scale
	if st == nil || st.Instances != 1 || !strings.Contains(st.Reason, "p99 below 10ms for 3s") {
		t.Errorf("/stats scale = %+v, want 1 instance after a scale-down", st)
	}
	t.Logf("scaled up to 3 in %d ticks and down to 1 in %d ticks (window 3s, a tick a second)", up, down)
}

func TestSLAOnARouteTheGatewayCannotScaleIsRefused(t *testing.T) {
	h := startGateway(t, nil)
	v := newBackend(t, "sava:1.0.0")
	e := h.putErr(clusterGW, gatewayapi.Gateway{Routes: []gatewayapi.Route{{
		Name: "sava:1.0.0", Weight: 100, Instances: []gatewayapi.Instance{v.instance()},
		Scale: &gatewayapi.ScalePolicy{Min: 1, Max: 2, Upper: "1s", Window: "1m"},
	}}}, http.StatusBadRequest)
	if e.Body.Path != "routes[0].scale" || !strings.Contains(e.Body.Error, "service route") {
		t.Errorf("want a refusal at routes[0].scale, got %q: %s", e.Body.Path, e.Body.Error)
	}
}
