package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/metricsource"
)

// The seed's story: sava:1.1.0 answers 500 to Firefox (1 request in 8 here). The roll-out is
// rolled back at step 1, within one interval, as soon as the window holds min_requests.
func TestFailingCanaryIsRolledBackWithinOneInterval(t *testing.T) {
	c := newCluster(t, map[string]int{stable: 100, canary: 0})
	c.canaryFails = true
	rollback := newHookServer(t, 200, "")
	p := basePolicy()
	p.Webhooks = []Webhook{{Name: "tell-ops", Type: HookRollback, URL: rollback.URL + "/rollback?token=s3cret"}}
	e := mustNew(t, p, c.weights)
	r := c.runner()

	if d := c.tick(r, e, 0, 0, 0); d.Phase != PhaseProgressing || d.Weight != 10 || !d.WeightsChanged {
		t.Fatalf("start: %+v", d)
	}
	// 80 requests per 10s tick: the canary gets 8, one of them from Firefox.
	var d Decision
	ticks := 0
	for d.Phase != PhaseRolledBack {
		if ticks++; ticks > 6 {
			t.Fatalf("not rolled back within one interval (6 ticks of 10s): %+v", d)
		}
		d = c.tick(r, e, 10*time.Second, 80, 8)
	}
	if ticks != 3 { // 8+8 requests are below min_requests 20; 24 are enough
		t.Errorf("rolled back after %d ticks, want 3 (the first with 20 requests)", ticks)
	}
	want := "rolled back: 5xx rate 12.5% > 1% over 24 requests at step 1 (weight 10)"
	if d.Reason != want || e.State().Reason != want {
		t.Errorf("reason %q, want %q", d.Reason, want)
	}
	if !reflect.DeepEqual(c.weights, map[string]int{canary: 0, stable: 100}) || !d.WeightsChanged {
		t.Errorf("weights after roll-back %v, want canary 0, stable 100", c.weights)
	}
	if got := c.now.Sub(t0); got >= p.Interval {
		t.Errorf("rolled back %v after the start, want within one interval (%v)", got, p.Interval)
	}
	hooks := rollback.got()
	if len(hooks) != 1 || hooks[0].Type != HookRollback || hooks[0].Reason != want || hooks[0].Phase != PhaseRolledBack ||
		hooks[0].Weights[canary] != 0 || hooks[0].Step != 1 || hooks[0].Steps != 4 || !hooks[0].Timestamp.Equal(c.now) {
		t.Errorf("roll-back webhook got %+v", hooks)
	}
	// Terminal: more ticks change nothing.
	if d := c.tick(r, e, time.Minute, 80, 8); d.Changed || d.Phase != PhaseRolledBack {
		t.Errorf("tick after roll-back: %+v", d)
	}
}

// A regression that appears only at step 2 is judged on step 2's traffic alone.
func TestCanaryFailingAtStepTwoIsJudgedOnThatStepsWindow(t *testing.T) {
	c := newCluster(t, map[string]int{stable: 100, canary: 0})
	p := basePolicy()
	p.Checks.MinRequests = 80
	e := mustNew(t, p, c.weights)
	r := c.runner()
	c.tick(r, e, 0, 0, 0)
	for range 6 { // 800 requests per 10s: step 1 gets 80 per tick, healthy
		c.tick(r, e, 10*time.Second, 800, 8)
	}
	if st := e.State(); st.Step != 2 || st.Phase != PhaseProgressing || !st.LastStepAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after one interval: step %d %s since %v", st.Step, st.Phase, st.LastStepAt)
	}
	c.canaryFails = true
	d := c.tick(r, e, 10*time.Second, 320, 8) // 80 canary requests at weight 25, 10 failing
	want := "rolled back: 5xx rate 12.5% > 1% over 80 requests at step 2 (weight 25)"
	if d.Phase != PhaseRolledBack || d.Reason != want {
		t.Fatalf("got %s %q, want rolled_back %q", d.Phase, d.Reason, want)
	}
}

func TestSlowCanaryIsRolledBackOnP99(t *testing.T) {
	e := mustNew(t, basePolicy(), map[string]int{stable: 100, canary: 0})
	e.Start(t0, nil)
	d := e.Tick(t0.Add(5*time.Second), Window{Requests: 40, P99: 900 * time.Millisecond})
	want := "rolled back: p99 900ms > 500ms over 40 requests at step 1 (weight 10)"
	if d.Phase != PhaseRolledBack || d.Reason != want || d.Weights[canary] != 0 {
		t.Errorf("got %+v, want %q", d, want)
	}
}

func TestHealthyCanaryIsPromotedInExactlyTheDeclaredSteps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Policy)
		want  []int // canary weight of every change
		after time.Duration
	}{
		{"steps ending at 100", func(*Policy) {}, []int{10, 25, 50, 100}, 4 * time.Minute},
		{"step weight", func(p *Policy) { p.Steps, p.StepWeight = nil, 25 }, []int{25, 50, 75, 100}, 4 * time.Minute},
		{"max weight below 100 promotes to 100", func(p *Policy) { p.Steps, p.StepWeight, p.MaxWeight = nil, 30, 80 }, []int{30, 60, 80, 100}, 3 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, map[string]int{stable: 100, canary: 0})
			p := basePolicy()
			tc.edit(&p)
			e := mustNew(t, p, c.weights)
			r := c.runner()
			c.tick(r, e, 0, 0, 0)
			for i := 0; e.State().Phase == PhaseProgressing; i++ {
				if i > 100 {
					t.Fatal("not promoted after 100 ticks")
				}
				c.tick(r, e, 10*time.Second, 1000, 8)
			}
			st := e.State()
			if st.Phase != PhasePromoted || st.FinishedAt.Sub(t0) != tc.after {
				t.Errorf("%s at %v, want promoted at %v: %s", st.Phase, st.FinishedAt.Sub(t0), tc.after, st.Reason)
			}
			if got := canaryWeights(c.applied); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("canary weights applied %v, want %v", got, tc.want)
			}
			if c.weights[canary] != 100 || c.weights[stable] != 0 {
				t.Errorf("final weights %v", c.weights)
			}
			if !strings.HasPrefix(st.Reason, "promoted after ") {
				t.Errorf("reason %q", st.Reason)
			}
		})
	}
}

func TestTooFewRequestsWaitThenRollBackAfterMaxWaitIntervals(t *testing.T) {
	p := basePolicy()
	p.MaxWaitIntervals = 2
	e := mustNew(t, p, map[string]int{stable: 100, canary: 0})
	e.Start(t0, nil)

	d := e.Tick(t0.Add(time.Minute), Window{Requests: 5})
	if !d.Waiting || d.Step != 1 || d.Changed || d.Phase != PhaseProgressing {
		t.Fatalf("short of min_requests after the interval: %+v", d)
	}
	if want := "step 1 (weight 10): waiting, 5 of 20 requests after 1 interval(s) of 1m0s"; d.Reason != want {
		t.Errorf("reason %q, want %q", d.Reason, want)
	}
	if d := e.Tick(t0.Add(179*time.Second), Window{Requests: 19}); !d.Waiting || d.Phase != PhaseProgressing {
		t.Fatalf("still within max_wait_intervals: %+v", d)
	}
	d = e.Tick(t0.Add(3*time.Minute), Window{Requests: 19})
	want := "rolled back: step 1 (weight 10) had only 19 of 20 requests after 3 intervals of 1m0s (max_wait_intervals 2)"
	if d.Phase != PhaseRolledBack || d.Reason != want || d.Weights[stable] != 100 {
		t.Errorf("got %+v, want %q", d, want)
	}

	// Traffic that arrives while waiting lets the step pass.
	e = mustNew(t, p, map[string]int{stable: 100, canary: 0})
	e.Start(t0, nil)
	e.Tick(t0.Add(90*time.Second), Window{Requests: 5})
	if d := e.Tick(t0.Add(100*time.Second), Window{Requests: 20}); d.Step != 2 || d.Weight != 25 || d.Waiting {
		t.Errorf("enough requests after waiting: %+v", d)
	}
}

func TestMissingMetricsWaitLikeMissingRequests(t *testing.T) {
	p := basePolicy()
	p.MaxWaitIntervals = 1
	e := mustNew(t, p, map[string]int{stable: 100, canary: 0})
	e.Start(t0, nil)
	boom := errors.New("prometheus: connection refused")
	if d := e.TickWithoutMetrics(t0.Add(30*time.Second), boom); d.Phase != PhaseProgressing || d.Waiting {
		t.Fatalf("within the interval: %+v", d)
	}
	if d := e.TickWithoutMetrics(t0.Add(time.Minute), boom); !d.Waiting {
		t.Fatalf("interval over: %+v", d)
	}
	d := e.TickWithoutMetrics(t0.Add(2*time.Minute), boom)
	if d.Phase != PhaseRolledBack || !strings.Contains(d.Reason, "no metrics (prometheus: connection refused)") {
		t.Errorf("got %+v", d)
	}
}

// A gateway restart mid-roll-out: the state goes through JSON; the roll-out resumes at the same
// step, the interval counted from LastStepAt, the window measured from the restart on.
func TestResumeAfterRestartContinuesAtTheSameStep(t *testing.T) {
	c := newCluster(t, map[string]int{stable: 100, canary: 0})
	p := basePolicy()
	e := mustNew(t, p, c.weights)
	r := c.runner()
	c.tick(r, e, 0, 0, 0)
	for range 8 { // 80s: step 2 since 60s
		c.tick(r, e, 10*time.Second, 1000, 0)
	}
	saved, err := json.Marshal(c.saved[len(c.saved)-1])
	if err != nil {
		t.Fatal(err)
	}

	// The restart: new process, counters start from zero, state from the file.
	restart := c.now.Add(5 * time.Second)
	c.now = restart
	for _, s := range c.counters {
		*s = metricsource.Snapshot{Start: restart}
	}
	var st State
	if err := json.Unmarshal(saved, &st); err != nil {
		t.Fatal(err)
	}
	e2, err := Resume(st)
	if err != nil {
		t.Fatal(err)
	}
	if cur := e2.Current(); cur.Step != 2 || cur.Weight != 25 || cur.Phase != PhaseProgressing || cur.Weights[stable] != 75 {
		t.Fatalf("resumed at %+v, want step 2 at weight 25", cur)
	}
	if !reflect.DeepEqual(e2.State(), st) {
		t.Errorf("resumed state differs from the saved one:\n%+v\n%+v", e2.State(), st)
	}
	r2 := c.runner()
	// LastStepAt is 60s; the step ends at 120s, 35s after the restart, not 60s after it.
	if d := c.tick(r2, e2, 30*time.Second, 1000, 0); d.Step != 2 {
		t.Fatalf("at 115s: %+v", d)
	}
	if d := c.tick(r2, e2, 5*time.Second, 1000, 0); d.Step != 3 || d.Weight != 50 {
		t.Fatalf("at 120s: %+v, want step 3", d)
	}
	for e2.State().Phase == PhaseProgressing {
		c.tick(r2, e2, 10*time.Second, 1000, 0)
	}
	if got := canaryWeights(c.applied); !reflect.DeepEqual(got, []int{10, 25, 50, 100}) {
		t.Errorf("weights over the restart %v, want 10 25 50 100", got)
	}
	if st := e2.State(); st.Phase != PhasePromoted || st.FinishedAt.Sub(t0) != 4*time.Minute {
		t.Errorf("%s at %v", st.Phase, st.FinishedAt.Sub(t0))
	}
}

func TestResumeRefusesDamagedState(t *testing.T) {
	e := mustNew(t, basePolicy(), map[string]int{stable: 100, canary: 0})
	e.Start(t0, nil)
	good := e.State()
	for name, damage := range map[string]func(*State){
		"unknown phase":   func(s *State) { s.Phase = "exploded" },
		"step too high":   func(s *State) { s.Step = 5 },
		"shares mismatch": func(s *State) { s.StableShares = nil },
		"no last step at": func(s *State) { s.LastStepAt = time.Time{} },
		"invalid policy":  func(s *State) { s.Policy.Interval = 0 },
	} {
		st := cloneState(good)
		damage(&st)
		if _, err := Resume(st); err == nil {
			t.Errorf("%s: resumed", name)
		}
	}
}

func TestApplyFailureLeavesTheEngineAsItWas(t *testing.T) {
	c := newCluster(t, map[string]int{stable: 100, canary: 0})
	e := mustNew(t, basePolicy(), c.weights)
	r := c.runner()
	c.failApply = errors.New("state file: disk full")
	if _, err := r.Tick(context.Background(), e, t0); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("want the Apply error, got %v", err)
	}
	if st := e.State(); st.Phase != PhasePending || st.Step != 0 {
		t.Fatalf("engine moved although Apply failed: %+v", st)
	}
	if d := c.tick(r, e, time.Second, 0, 0); d.Phase != PhaseProgressing || c.weights[canary] != 10 {
		t.Errorf("retry: %+v, weights %v", d, c.weights)
	}
}

func TestStableRoutesKeepTheirRelativeShares(t *testing.T) {
	for _, tc := range []struct {
		shares  []int
		canaryW int
		want    []int
	}{
		{[]int{2, 1}, 25, []int{50, 25}},
		{[]int{1, 1}, 25, []int{38, 37}}, // the tie goes to the first listed
		{[]int{1, 1, 1}, 10, []int{30, 30, 30}},
		{[]int{0, 0}, 50, []int{25, 25}}, // sharesOf gives zeros equal shares
		{[]int{60, 30, 10}, 100, []int{0, 0, 0}},
		{[]int{60, 30, 10}, 0, []int{60, 30, 10}},
		{[]int{1, 1, 1}, 0, []int{34, 33, 33}},
	} {
		names := []string{"a", "b", "c"}[:len(tc.shares)]
		current := map[string]int{}
		for i, n := range names {
			current[n] = tc.shares[i]
		}
		got := distribute("canary", tc.canaryW, names, sharesOf(names, current))
		sum := got["canary"]
		for i, n := range names {
			sum += got[n]
			if got[n] != tc.want[i] {
				t.Errorf("shares %v at canary %d: %s got %d, want %d", tc.shares, tc.canaryW, n, got[n], tc.want[i])
			}
		}
		if sum != 100 || got["canary"] != tc.canaryW {
			t.Errorf("shares %v at canary %d: %v", tc.shares, tc.canaryW, got)
		}
	}
}

func TestFingerprintFollowsThePolicy(t *testing.T) {
	a, b := basePolicy(), basePolicy()
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("equal policies, different fingerprints")
	}
	b.Steps = []int{10, 50, 100}
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("different steps, same fingerprint")
	}
}

func TestStatusSummarisesProgress(t *testing.T) {
	e := mustNew(t, basePolicy(), map[string]int{stable: 100, canary: 0})
	e.Start(t0, nil)
	e.Tick(t0.Add(time.Minute), Window{Requests: 40, P99: 20 * time.Millisecond})
	e.Tick(t0.Add(80*time.Second), Window{Requests: 30, Errors5xx: 0, P99: 30 * time.Millisecond})
	s := e.State().Status()
	if s.Phase != PhaseProgressing || s.Step != 2 || s.Steps != 4 || s.Weight != 25 || s.Weights[stable] != 75 ||
		!s.NextStepAt.Equal(t0.Add(2*time.Minute)) || s.Requests != 30 || s.P99 != "30ms" || s.Checksum != basePolicy().Fingerprint() {
		t.Errorf("status %+v", s)
	}
	if want := "step 2 (weight 25): healthy so far (5xx rate 0%, p99 30ms over 30 requests)"; s.Reason != want {
		t.Errorf("reason %q, want %q", s.Reason, want)
	}
}
