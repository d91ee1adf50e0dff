package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// fakeClock is the gateway's clock in roll-out tests: the test moves it and ticks the
// roll-outs itself (RolloutTick < 0), so no test waits for wall-clock time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// rolloutGateway is a gateway whose roll-outs move only when the test ticks them.
func rolloutGateway(t *testing.T, clock *fakeClock, stateFile string) *harness {
	return startGateway(t, func(c *gateway.Config) {
		c.RolloutTick = -1
		c.Clock = clock.Now
		if stateFile != "" {
			c.StateFile = stateFile
		}
	})
}

// tick advances the clock by d and judges every roll-out at the new time, once every request the
// test's clients sent is counted.
func (h *harness) tick(clock *fakeClock, d time.Duration) {
	h.t.Helper()
	h.settled(clusterGW)
	h.srv.TickRollouts(context.Background(), clock.advance(d))
}

// sava110 is sava:1.1.0 as in the scenario: it answers 500 to Firefox when broken.
func sava110(t *testing.T, brokenForFirefox bool) *backend {
	t.Helper()
	b := &backend{name: "sava:1.1.0"}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if brokenForFirefox && strings.Contains(r.UserAgent(), "Firefox") {
			http.Error(w, "sava:1.1.0 is broken in Firefox", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "sava:1.1.0") // a gateway that went away: its client sees it
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (h *harness) get(name string) gatewayapi.Gateway {
	h.t.Helper()
	gw, err := h.admin.Get(context.Background(), name)
	if err != nil {
		h.t.Fatalf("GET %s: %v", name, err)
	}
	return gw
}

func weightsOf(gw gatewayapi.Gateway) map[string]int {
	m := map[string]int{}
	for _, r := range gw.Routes {
		m[r.Name] = r.Weight
	}
	return m
}

func (h *harness) metricsText() string {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

const clusterGW = "sava/sava_cluster/webport"

// policy is the roll-out of sava:1.1.0 used by these tests: 10, 25, 50, 100 every 10s.
func policy() *gatewayapi.RolloutPolicy {
	return &gatewayapi.RolloutPolicy{
		Canary:           "sava:1.1.0",
		Steps:            []int{10, 25, 50, 100},
		Interval:         "10s",
		Checks:           gatewayapi.RolloutChecks{Max5xxRate: 0.05, MinRequests: 10},
		MaxWaitIntervals: 2,
	}
}

// traffic sends n requests from each browser in turn; it returns how many answers were not 200
// per browser.
func traffic(t *testing.T, url string, n int, browsers ...*browser) map[string]int {
	t.Helper()
	failed := map[string]int{}
	for _, b := range browsers {
		for i := 0; i < n; i++ {
			status, _, err := b.get(url)
			if err != nil {
				t.Fatalf("request to %s: %v", url, err)
			}
			if status != http.StatusOK {
				failed[b.ua]++
			}
		}
	}
	return failed
}

// The seed's story: sava:1.1.0 breaks in Firefox; its roll-out is rolled back automatically,
// within the documented bound, while Chrome users never see an error.
func TestRolloutOfAFailingCanaryRollsBackAndSaysWhy(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h := rolloutGateway(t, clock, "")
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, true)
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 100, 0)
	gw.Rollout = policy()
	put := h.put(clusterGW, gw)
	if put.RolloutStatus == nil || put.RolloutStatus.Phase != "pending" {
		t.Fatalf("a PUT with a roll-out answers its pending status, got %+v", put.RolloutStatus)
	}

	chrome, firefox := newBrowser(chromeUA), newBrowser(firefoxUA)
	url := gatewayURL(port)
	// One tick per second of the gateway's clock, with traffic in between, as in production.
	const tick = time.Second
	h.tick(clock, 0) // starts: step 1, canary 10%
	if w := weightsOf(h.get(clusterGW)); w["sava:1.1.0"] != 10 || w["sava:1.0.0"] != 90 {
		t.Fatalf("after the start, want 90/10, got %v", w)
	}
	ticks, chromeErrors, firefoxErrors := 0, 0, 0
	// The documented bound: the first tick at which the step's window holds min_requests, at
	// most one interval (10 ticks) plus one tick after the step began.
	const bound = 10 + 1
	for ticks < bound {
		failed := traffic(t, url, 10, chrome, firefox)
		chromeErrors += failed[chromeUA]
		firefoxErrors += failed[firefoxUA]
		h.tick(clock, tick)
		ticks++
		if h.get(clusterGW).RolloutStatus.Phase != "progressing" {
			break
		}
	}
	got := h.get(clusterGW)
	st := got.RolloutStatus
	if st.Phase != "rolled_back" {
		t.Fatalf("after %d ticks the roll-out is %q (%s); want rolled_back within %d ticks", ticks, st.Phase, st.Reason, bound)
	}
	t.Logf("rolled back after %d ticks of %v (bound %d): %s", ticks, tick, bound, st.Reason)
	if !strings.Contains(st.Reason, "5xx rate") || !strings.Contains(st.Reason, "step 1 (weight 10)") {
		t.Errorf("the reason should name the failed check and the step, got %q", st.Reason)
	}
	if w := weightsOf(got); w["sava:1.1.0"] != 0 || w["sava:1.0.0"] != 100 {
		t.Errorf("rolled back: want 100/0, got %v", w)
	}
	if chromeErrors != 0 {
		t.Errorf("Chrome users saw %d errors during the roll-out; want 0", chromeErrors)
	}
	if chromeOnCanary := int(v110.hits.Load()) - firefoxErrors; chromeOnCanary == 0 || firefoxErrors == 0 {
		t.Errorf("the canary should have served both browsers: %d Chrome, %d Firefox requests", chromeOnCanary, firefoxErrors)
	} else {
		t.Logf("the canary served %d Chrome requests (all 200) and %d Firefox requests (all 500)", chromeOnCanary, firefoxErrors)
	}
	// Nobody sees errors any more.
	if failed := traffic(t, url, 20, chrome, firefox); len(failed) != 0 {
		t.Errorf("after the roll-back, errors by browser: %v", failed)
	}

	// The reason is in /stats and /metrics too.
	if s := h.stats(clusterGW); s.Rollout == nil || s.Rollout.Reason != st.Reason || s.Rollout.Phase != "rolled_back" {
		t.Errorf("/stats rollout = %+v, want the roll-back with reason %q", s.Rollout, st.Reason)
	}
	m := h.metricsText()
	for _, want := range []string{
		`vamp_gateway_rollout_phase{canary="sava:1.1.0",gateway="sava/sava_cluster/webport",phase="rolled_back"} 1`,
		`vamp_gateway_rollout_phase{canary="sava:1.1.0",gateway="sava/sava_cluster/webport",phase="progressing"} 0`,
		`vamp_gateway_rollout_weight{canary="sava:1.1.0",gateway="sava/sava_cluster/webport"} 0`,
		`vamp_gateway_rollout_step{canary="sava:1.1.0",gateway="sava/sava_cluster/webport"} 1`,
		`reason="` + st.Reason + `"`,
		`vamp_gateway_route_weight{gateway="sava/sava_cluster/webport",route="sava:1.0.0"} 100`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Ticking on changes nothing; re-applying the same policy keeps the roll-back (the roll-out
	// owns the weights), so a Terraform run that repeats its configuration does not undo it.
	h.tick(clock, 10*tick)
	again := h.put(clusterGW, gw)
	if w := weightsOf(again); w["sava:1.1.0"] != 0 || again.RolloutStatus.Phase != "rolled_back" {
		t.Errorf("the same policy again: want the roll-back kept, got %v %+v", w, again.RolloutStatus)
	}
}

// A healthy canary reaches 100% in exactly the declared steps, one interval each.
func TestRolloutOfAHealthyCanaryIsPromotedStepByStep(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h := rolloutGateway(t, clock, "")
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, false)
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 100, 0)
	gw.Rollout = policy()
	version := h.put(clusterGW, gw).Version

	chrome, firefox := newBrowser(chromeUA), newBrowser(firefoxUA)
	var seen []int
	h.tick(clock, 0)
	for i := 0; i < 20; i++ {
		cur := h.get(clusterGW)
		if cur.Version != version {
			seen = append(seen, weightsOf(cur)["sava:1.1.0"])
			version = cur.Version
		}
		if cur.RolloutStatus.Phase != "progressing" {
			break
		}
		traffic(t, gatewayURL(port), 60, chrome, firefox) // 120: min_requests 10 even at 10%
		h.tick(clock, 10*time.Second)
	}
	st := h.get(clusterGW).RolloutStatus
	if st.Phase != "promoted" {
		t.Fatalf("want promoted, got %q: %s", st.Phase, st.Reason)
	}
	if want := []int{10, 25, 50, 100}; !equalInts(seen, want) {
		t.Errorf("canary weights, one per change of version: got %v, want %v", seen, want)
	}
	if st.Weight != 100 || st.Step != 4 || st.Steps != 4 || st.FinishedAt.Sub(st.StartedAt) != 40*time.Second {
		t.Errorf("promoted status %+v: want step 4 of 4, weight 100, 4 intervals after the start", st)
	}
	if got := traffic(t, gatewayURL(port), 10, chrome); len(got) != 0 {
		t.Errorf("errors after the promotion: %v", got)
	}
}

// A gateway restarted mid-roll-out resumes at the same step, from its state file.
func TestRolloutResumesAfterAGatewayRestart(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	stateFile := t.TempDir() + "/state.json"
	h := rolloutGateway(t, clock, stateFile)
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, false)
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 100, 0)
	gw.Rollout = policy()
	h.put(clusterGW, gw)
	chrome := newBrowser(chromeUA)
	h.tick(clock, 0)
	traffic(t, gatewayURL(port), 100, chrome) // 10 to the canary at 10%
	h.tick(clock, 10*time.Second)             // step 2: 25
	before := h.get(clusterGW)
	if before.RolloutStatus.Step != 2 || weightsOf(before)["sava:1.1.0"] != 25 {
		t.Fatalf("want step 2 at 25 before the restart, got %+v", before.RolloutStatus)
	}
	var file struct {
		Rollouts map[string]struct {
			Phase string `json:"phase"`
			Step  int    `json:"step"`
		} `json:"rollouts"`
	}
	data, _ := os.ReadFile(stateFile)
	if err := json.Unmarshal(data, &file); err != nil || file.Rollouts[clusterGW].Step != 2 {
		t.Fatalf("the state file should hold the roll-out at step 2: %v %s", err, data)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	h2 := rolloutGateway(t, clock, stateFile)
	after := h2.get(clusterGW)
	if st := after.RolloutStatus; st == nil || st.Phase != "progressing" || st.Step != 2 || st.Checksum != before.RolloutStatus.Checksum ||
		!st.LastStepAt.Equal(before.RolloutStatus.LastStepAt) {
		t.Fatalf("after the restart: %+v, want %+v", after.RolloutStatus, before.RolloutStatus)
	}
	if after.Version != before.Version || weightsOf(after)["sava:1.1.0"] != 25 {
		t.Errorf("after the restart: version %d weights %v, want version %d at 25", after.Version, weightsOf(after), before.Version)
	}
	// Traffic really splits 75/25 (smooth weights: exactly 5 of 20).
	if got := chrome.count(t, gatewayURL(port), 20); got["sava:1.1.0"] != 5 {
		t.Errorf("after the restart, 20 requests went %v; want 5 to sava:1.1.0", got)
	}
	// It goes on from step 2: the next step is 50.
	traffic(t, gatewayURL(port), 40, chrome)
	h2.tick(clock, 10*time.Second)
	if st := h2.get(clusterGW).RolloutStatus; st.Step != 3 || st.Weight != 50 {
		t.Errorf("after the restart the next step should be 3 (50), got %+v", st)
	}
}

func TestRolloutPolicyFaultsAreRefusedWithTheirPath(t *testing.T) {
	h := rolloutGateway(t, &fakeClock{t: time.Now()}, "")
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, false)
	for _, c := range []struct {
		name, path string
		edit       func(*gatewayapi.RolloutPolicy)
	}{
		{"steps out of order", "rollout.steps[2]", func(p *gatewayapi.RolloutPolicy) { p.Steps = []int{10, 25, 20, 100} }},
		{"unknown canary", "rollout.canary", func(p *gatewayapi.RolloutPolicy) { p.Canary = "sava:2.0.0" }},
		{"bad interval", "rollout.interval", func(p *gatewayapi.RolloutPolicy) { p.Interval = "ten seconds" }},
		{"no min requests", "rollout.checks.min_requests", func(p *gatewayapi.RolloutPolicy) { p.Checks.MinRequests = 0 }},
		{"unknown source", "rollout.metrics.source", func(p *gatewayapi.RolloutPolicy) { p.Metrics = &gatewayapi.RolloutMetrics{Source: "graphite"} }},
		{"bad prometheus", "rollout.metrics", func(p *gatewayapi.RolloutPolicy) {
			p.Metrics = &gatewayapi.RolloutMetrics{Source: "prometheus", PrometheusURL: "prometheus:9090"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			gw := savaGateway(0, v100, v110, 100, 0)
			gw.Rollout = policy()
			c.edit(gw.Rollout)
			e := h.putErr(clusterGW, gw, http.StatusBadRequest)
			if e.Body.Path != c.path {
				t.Errorf("path %q (%s), want %q", e.Body.Path, e.Body.Error, c.path)
			}
		})
	}
	if _, err := h.admin.Get(context.Background(), clusterGW); !gatewayapi.IsNotFound(err) {
		t.Errorf("a refused PUT must change nothing, GET says %v", err)
	}
}

// A changed policy is a new roll-out that starts from the PUT's weights; removing the policy
// hands the weights back to the PUT.
func TestRolloutChangedOrRemovedPolicy(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h := rolloutGateway(t, clock, "")
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, false)
	gw := savaGateway(0, v100, v110, 100, 0)
	gw.Rollout = policy()
	first := h.put(clusterGW, gw).RolloutStatus.Checksum
	h.tick(clock, 0)
	if w := weightsOf(h.put(clusterGW, gw)); w["sava:1.1.0"] != 10 {
		t.Fatalf("the same policy again keeps the roll-out's 10%%, got %v", w)
	}
	gw.Rollout.Steps = []int{20, 100}
	changed := h.put(clusterGW, gw)
	if st := changed.RolloutStatus; st.Phase != "pending" || st.Checksum == first || weightsOf(changed)["sava:1.1.0"] != 0 {
		t.Errorf("a changed policy starts anew from the PUT's weights: %+v %v", st, weightsOf(changed))
	}
	h.tick(clock, time.Second)
	if w := weightsOf(h.get(clusterGW)); w["sava:1.1.0"] != 20 {
		t.Errorf("the new roll-out's first step is 20, got %v", w)
	}
	gw.Rollout = nil
	gone := h.put(clusterGW, gw)
	if gone.RolloutStatus != nil || weightsOf(gone)["sava:1.1.0"] != 0 {
		t.Errorf("without a policy the PUT's weights rule: %+v %v", gone.RolloutStatus, weightsOf(gone))
	}
	if strings.Contains(h.metricsText(), "vamp_gateway_rollout_phase{") {
		t.Errorf("/metrics still shows a roll-out that was removed")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The gateway's own ticker (no TickRollouts) rolls a failing canary back while traffic flows.
func TestRolloutTicksByItself(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) { c.RolloutTick = 5 * time.Millisecond })
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, true)
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 50, 50)
	gw.Rollout = policy()
	gw.Rollout.Interval = "1h" // a failing check must not wait for the interval
	gw.Rollout.Checks.MinRequests = 4
	h.put(clusterGW, gw)
	firefox := newBrowser(firefoxUA)
	eventually(t, "the ticker rolls the canary back", func() bool {
		_, _, _ = firefox.get(gatewayURL(port)) // traffic for the checks; a failed request counts as one
		return h.get(clusterGW).RolloutStatus.Phase == "rolled_back"
	})
	if w := weightsOf(h.get(clusterGW)); w["sava:1.0.0"] != 100 {
		t.Errorf("rolled back: want sava:1.0.0 at 100, got %v", w)
	}
}

// A client that strictly alternates Firefox and Chrome, against a canary that fails every
// Firefox request. With a fixed interleave the weight-10 canary took every 10th request, always of
// the same browser, so it could see Chrome only and pass step 1. With the position drawn within
// each cycle of 10, each cycle hands it a Firefox request at even odds: 20 of 20 seeded runs must
// roll back at step 1, within the documented bound.
func TestRolloutAlternatingClientCannotHideAFailingCanary(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
		h := startGateway(t, func(c *gateway.Config) {
			c.RolloutTick = -1
			c.Clock = clock.Now
			c.RoutingSeed = seed
		})
		v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, true)
		port := freePort(t)
		gw := savaGateway(port, v100, v110, 100, 0)
		gw.Rollout = policy()
		h.put(clusterGW, gw)
		chrome, firefox := newBrowser(chromeUA), newBrowser(firefoxUA)
		url := gatewayURL(port)
		h.tick(clock, 0) // step 1: canary 10%
		const bound = 10 + 1
		ticks, chromeErrors, firefoxErrors := 0, 0, 0
		for ticks < bound {
			for range 10 { // Firefox, Chrome, Firefox, Chrome, ...
				for _, b := range []*browser{firefox, chrome} {
					status, _, err := b.get(url)
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					if status != http.StatusOK {
						if b == chrome {
							chromeErrors++
						} else {
							firefoxErrors++
						}
					}
				}
			}
			h.tick(clock, time.Second)
			ticks++
			if h.get(clusterGW).RolloutStatus.Phase != "progressing" {
				break
			}
		}
		st := h.get(clusterGW).RolloutStatus
		if st.Phase != "rolled_back" || !strings.Contains(st.Reason, "step 1 (weight 10)") {
			t.Fatalf("seed %d: after %d ticks the roll-out is %q (%s); want rolled back at step 1 within %d ticks", seed, ticks, st.Phase, st.Reason, bound)
		}
		if chromeErrors != 0 || firefoxErrors == 0 {
			t.Fatalf("seed %d: %d Chrome and %d Firefox errors; want 0 Chrome and some Firefox", seed, chromeErrors, firefoxErrors)
		}
		t.Logf("seed %d: rolled back at step 1 after %d ticks (%d Firefox requests failed on the canary): %s", seed, ticks, firefoxErrors, st.Reason)
		if err := h.stop(); err != nil {
			t.Fatalf("seed %d: stopping the gateway: %v", seed, err)
		}
	}
}

// failingEvery is a backend that answers 500 to every k-th request (k 0: never).
func failingEvery(t *testing.T, name string, k int64) *backend {
	t.Helper()
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := b.hits.Add(1); k > 0 && n%k == 0 {
			http.Error(w, name+" failed", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, name) // a gateway that went away: its client sees it
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// The statistical judge through the gateway: the canary is compared with the stable route over
// the same window. A canary as noisy as its baseline (both 1 in 12 answers 500, which a 5%
// threshold would roll back) is promoted; a canary failing 1 in 4 against a baseline failing 1 in
// 100 is rolled back at step 1. Status, /stats and /metrics carry both rates and the p-values.
func TestRolloutStatisticalJudgeComparesWithTheBaseline(t *testing.T) {
	for _, tc := range []struct {
		name             string
		stableK, canaryK int64
		want             string
		reasonHas        string
	}{
		{"equal noisy canary promoted", 12, 12, "promoted", "not worse than baseline"},
		{"worse canary rolled back", 100, 4, "rolled_back", "canary worse than baseline at step 1 (weight 10)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
			h := startGateway(t, func(c *gateway.Config) {
				c.RolloutTick = -1
				c.Clock = clock.Now
				c.RoutingSeed = 1
			})
			v100, v110 := failingEvery(t, "sava:1.0.0", tc.stableK), failingEvery(t, "sava:1.1.0", tc.canaryK)
			port := freePort(t)
			gw := savaGateway(port, v100, v110, 100, 0)
			gw.Rollout = policy()
			gw.Rollout.Checks = gatewayapi.RolloutChecks{Judge: "statistical", MinRequests: 20, MinEffect: 0.1}
			gw.Rollout.MaxWaitIntervals = 3
			h.put(clusterGW, gw)
			chrome := newBrowser(chromeUA)
			url := gatewayURL(port)
			h.tick(clock, 0)
			ticks := 0
			for ; ticks < 4*4*10 && h.get(clusterGW).RolloutStatus.Phase == "progressing"; ticks++ {
				for range 40 {
					if _, _, err := chrome.get(url); err != nil {
						t.Fatal(err)
					}
				}
				h.tick(clock, time.Second)
			}
			st := h.get(clusterGW).RolloutStatus
			if st.Phase != tc.want || !strings.Contains(st.Reason, tc.reasonHas) || !strings.Contains(st.Reason, "p(worse)=") {
				t.Fatalf("after %d ticks: %s (%s); want %s with %q and the p-values", ticks, st.Phase, st.Reason, tc.want, tc.reasonHas)
			}
			t.Logf("after %d ticks of 1s (interval 10s): %s", ticks, st.Reason)
			if s := h.stats(clusterGW); s.Rollout == nil || s.Rollout.Reason != st.Reason {
				t.Errorf("/stats rollout = %+v, want reason %q", s.Rollout, st.Reason)
			}
			if m := h.metricsText(); !strings.Contains(m, `reason="`+st.Reason+`"`) {
				t.Errorf("/metrics lacks the reason %q", st.Reason)
			}
		})
	}
}

// The roll-out starts when it is PUT, as the guide says: the ticking goroutine's first tick runs at
// once. The ticker here is an hour, so nothing but that first tick can start it, and the start
// time is the gateway clock's time at the PUT.
func TestRolloutStartsAtThePut(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h := startGateway(t, func(c *gateway.Config) {
		c.RolloutTick = time.Hour
		c.Clock = clock.Now
	})
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, false)
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 100, 0)
	gw.Rollout = policy()
	h.put(clusterGW, gw)
	eventually(t, "the roll-out starts without waiting for a tick", func() bool {
		return h.get(clusterGW).RolloutStatus.Phase == "progressing"
	})
	st := h.get(clusterGW).RolloutStatus
	if !st.StartedAt.Equal(clock.Now()) || st.Step != 1 || weightsOf(h.get(clusterGW))["sava:1.1.0"] != 10 {
		t.Fatalf("status %+v: want step 1 (canary 10) started at the PUT, %v", st, clock.Now())
	}
}

// Low traffic through the gateway. A canary that fails every Firefox request but gets fewer than
// min_requests is not judged on them (a step without enough traffic proves nothing): the step
// measures, then waits; with max_wait_intervals 2 it is rolled back exactly 3 intervals after it
// began, saying how many requests it had. Exact per-cycle shares make the counts certain: 40
// requests per interval at weight 10 are exactly 4 canary requests.
func TestRolloutLowTrafficWaitsForMinRequestsThenRollsBack(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h := rolloutGateway(t, clock, "")
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, true)
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 100, 0)
	gw.Rollout = policy()              // interval 10s, max_wait_intervals 2
	gw.Rollout.Checks.MinRequests = 20 // the canary gets 12 in 3 intervals, all of them 500s
	h.put(clusterGW, gw)
	firefox := newBrowser(firefoxUA)
	url := gatewayURL(port)
	h.tick(clock, 0)
	var phases []string
	for tick := 1; tick <= 30; tick++ {
		traffic(t, url, 4, firefox) // 40 per interval of 10 ticks: 4 to the canary
		h.tick(clock, time.Second)
		st := h.get(clusterGW).RolloutStatus
		want := "progressing"
		if tick == 30 {
			want = "rolled_back"
		}
		if st.Phase != want {
			t.Fatalf("tick %d (%v into step 1): %s (%s); want %s", tick, time.Duration(tick)*time.Second, st.Phase, st.Reason, want)
		}
		switch tick {
		case 9, 10, 29, 30:
			phases = append(phases, fmt.Sprintf("%ds: %s", tick, st.Reason))
		}
	}
	st := h.get(clusterGW).RolloutStatus
	if want := "rolled back: step 1 (weight 10) had only 12 of 20 requests after 3 intervals of 10s (max_wait_intervals 2)"; st.Reason != want {
		t.Fatalf("reason %q, want %q", st.Reason, want)
	}
	for _, p := range phases {
		t.Log(p)
	}
	if !strings.Contains(phases[0], "measuring, ") {
		t.Errorf("before the interval's end the step measures: %s", phases[0])
	}
	if !strings.Contains(phases[1], "waiting") || !strings.Contains(phases[2], "waiting") {
		t.Errorf("after the interval's end, short of min_requests, the step waits: %v", phases)
	}
}
