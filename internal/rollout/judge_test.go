package rollout

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// simulation drives an Engine with generated traffic: perInterval requests every interval, split
// by the current weights, each one a 5xx with the route's own probability (one Bernoulli draw per
// request, from a seeded PCG). Ticks come every interval/5, as a gateway ticks every second.
type simulation struct {
	perInterval          int
	canaryErr, stableErr float64
}

type simResult struct {
	st        State
	intervals float64 // from the start to the end (promotion or roll-back)
}

func (s simulation) run(t *testing.T, p Policy, seed uint64) simResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	e := mustNew(t, p, map[string]int{stable: 100, canary: 0})
	now := t0
	e.Start(now, nil)
	tick := p.Interval / 5
	var cw, bw Window
	step := 1
	for i := 0; e.State().Phase == PhaseProgressing; i++ {
		if i > 5*100 {
			t.Fatalf("seed %d: still progressing after 100 intervals: %s", seed, e.State().Reason)
		}
		st := e.State()
		if st.Step != step { // a new step: a new window
			cw, bw, step = Window{}, Window{}, st.Step
		}
		n := s.perInterval / 5
		for range n {
			if rng.IntN(100) < st.Weights[canary] {
				cw.Requests++
				if rng.Float64() < s.canaryErr {
					cw.Errors5xx++
				}
			} else {
				bw.Requests++
				if rng.Float64() < s.stableErr {
					bw.Errors5xx++
				}
			}
		}
		now = now.Add(tick)
		e.TickCompare(now, cw, bw)
	}
	st := e.State()
	return simResult{st: st, intervals: float64(st.FinishedAt.Sub(t0)) / float64(p.Interval)}
}

func statisticalPolicy() Policy {
	p := basePolicy()
	p.Checks = Checks{Judge: JudgeStatistical, MinRequests: 100, MinEffect: 0.01}
	p.MaxWaitIntervals = 3
	return p
}

// 1% errors against a 0.1% baseline passes a 5% threshold, but the statistical judge rolls it
// back at step 1, and says both rates and the p-values.
func TestStatisticalJudgeRollsBackASmallRegression(t *testing.T) {
	sim := simulation{perInterval: 20000, canaryErr: 0.01, stableErr: 0.001}
	for seed := uint64(1); seed <= 5; seed++ {
		r := sim.run(t, statisticalPolicy(), seed)
		if r.st.Phase != PhaseRolledBack || r.st.Step != 1 || !strings.Contains(r.st.Reason, "canary worse than baseline at step 1") {
			t.Fatalf("seed %d: %s at step %d (%s); want rolled back at step 1 as worse", seed, r.st.Phase, r.st.Step, r.st.Reason)
		}
		for _, want := range []string{"5xx rate canary ", " vs baseline ", "p(worse)=", "p(not worse)="} {
			if !strings.Contains(r.st.Reason, want) {
				t.Fatalf("seed %d: reason %q lacks %q", seed, r.st.Reason, want)
			}
		}
		if r.intervals != 1 {
			t.Fatalf("seed %d: rolled back %.1f intervals after the start; want at the end of step 1's first interval", seed, r.intervals)
		}
		t.Logf("seed %d: %s", seed, r.st.Reason)
	}
	// The threshold judge with a 5% limit lets the same canary through.
	p := statisticalPolicy()
	p.Checks = Checks{Max5xxRate: 0.05, MinRequests: 100}
	if r := sim.run(t, p, 1); r.st.Phase != PhasePromoted {
		t.Fatalf("threshold judge at 5%%: %s (%s); want promoted (what the statistical judge fixes)", r.st.Phase, r.st.Reason)
	}
}

// A canary equal to a baseline that itself answers 8% 5xx fails a 5% threshold, but the
// statistical judge promotes it: within steps × (1 + max_wait_intervals) intervals. Of 20 seeded
// roll-outs, the confidence (0.95 for the whole roll-out) allows one, rarely two, to be rolled
// back as falsely worse; none may be rolled back for any other reason or promoted late.
func TestStatisticalJudgePromotesACanaryEqualToANoisyBaseline(t *testing.T) {
	sim := simulation{perInterval: 50000, canaryErr: 0.08, stableErr: 0.08}
	p := statisticalPolicy()
	limit := float64(len(p.Steps) * (1 + p.MaxWaitIntervals))
	promoted, falselyWorse := 0, 0
	for seed := uint64(1); seed <= 20; seed++ {
		r := sim.run(t, p, seed)
		switch {
		case r.st.Phase == PhasePromoted && r.intervals <= limit:
			promoted++
			t.Logf("seed %d: promoted after %.1f intervals (4 steps; bound %v)", seed, r.intervals, limit)
		case r.st.Phase == PhaseRolledBack && strings.Contains(r.st.Reason, "canary worse"):
			falselyWorse++
			t.Logf("seed %d: falsely rolled back: %s", seed, r.st.Reason)
		default:
			t.Fatalf("seed %d: %s after %.1f intervals (%s); want promoted within %v", seed, r.st.Phase, r.intervals, r.st.Reason, limit)
		}
	}
	t.Logf("8%% canary vs 8%% baseline, 20 seeded roll-outs: %d promoted, %d falsely rolled back as worse", promoted, falselyWorse)
	if falselyWorse > 2 {
		t.Fatalf("%d of 20 equal canaries rolled back as worse; confidence 0.95 allows about 1", falselyWorse)
	}
	th := p
	th.Checks = Checks{Max5xxRate: 0.05, MinRequests: 100}
	if r := sim.run(t, th, 1); r.st.Phase != PhaseRolledBack {
		t.Fatalf("threshold judge at 5%%: %s; want rolled back (what the statistical judge fixes)", r.st.Phase)
	}
}

// False roll-backs: 200 seeded roll-outs of a canary equal to its baseline (2% errors both).
// The judge's error control (lookAlpha: Bonferroni over the 4 steps, alpha-spending 2^-k over
// the looks within a step) bounds a wrong "worse" verdict over a whole roll-out to
// 1-confidence = 5%: at most 10 of 200 expected; the test allows the binomial's 99.9% quantile
// (20). Roll-backs because the evidence stayed thin count as false roll-backs too.
func TestStatisticalJudgeFalseRollbackRate(t *testing.T) {
	sim := simulation{perInterval: 20000, canaryErr: 0.02, stableErr: 0.02}
	p := statisticalPolicy()
	var worse, thin, promoted int
	var intervals float64
	for seed := uint64(1); seed <= 200; seed++ {
		r := sim.run(t, p, seed)
		switch {
		case r.st.Phase == PhasePromoted:
			promoted++
			intervals += r.intervals
		case strings.Contains(r.st.Reason, "canary worse"):
			worse++
		default:
			thin++
		}
	}
	t.Logf("200 equal canaries: %d promoted (mean %.2f intervals), %d rolled back as worse, %d as inconclusive; allowed by confidence 0.95: 10 expected at most", promoted, intervals/float64(max(promoted, 1)), worse, thin)
	if worse+thin > 20 {
		t.Fatalf("%d false roll-backs of 200 (%d worse, %d inconclusive); the confidence allows about 10", worse+thin, worse, thin)
	}
}

func TestLookAlphaSpendsAtMostOneMinusConfidence(t *testing.T) {
	sum := 0.0
	for step := 0; step < 4; step++ {
		for k := 1; k <= 60; k++ {
			sum += lookAlpha(0.95, 4, k)
		}
	}
	if sum > 0.05+1e-12 || sum < 0.0499 {
		t.Fatalf("4 steps of 60 looks spend %v; want just under 0.05", sum)
	}
	if a := lookAlpha(0.95, 4, 1); math.Abs(a-0.00625) > 1e-12 {
		t.Fatalf("first look of 4 steps at 0.95: %v, want 0.00625", a)
	}
}

// A step whose canary or baseline is short of min_requests waits; with max_wait_intervals it is
// rolled back 1 + max_wait_intervals intervals after it began, saying what it had.
func TestStatisticalJudgeLowTrafficWaitsThenRollsBack(t *testing.T) {
	p := statisticalPolicy()
	p.Checks.MinRequests = 1000
	p.MaxWaitIntervals = 2
	e := mustNew(t, p, map[string]int{stable: 100, canary: 0})
	e.Start(t0, nil)
	few := Window{Requests: 50}
	for i := 1; i < 15; i++ { // ticks every 12s until the end of the 3rd interval (3 minutes)
		d := e.TickCompare(t0.Add(time.Duration(i)*12*time.Second), few, Window{Requests: 5000})
		if d.Phase != PhaseProgressing {
			t.Fatalf("tick %d (%v): %s (%s); want still waiting until 3 intervals", i, time.Duration(i)*12*time.Second, d.Phase, d.Reason)
		}
	}
	d := e.TickCompare(t0.Add(3*time.Minute), few, Window{Requests: 5000})
	if d.Phase != PhaseRolledBack || !strings.Contains(d.Reason, "had only canary 50, baseline 5000 of 1000 requests each after 3 intervals") {
		t.Fatalf("at 3 intervals: %s (%s); want rolled back for too little traffic", d.Phase, d.Reason)
	}
}

func TestStatisticalJudgeFieldsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Checks)
		path string
	}{
		{func(c *Checks) { c.Judge = "bayes" }, "checks.judge"},
		{func(c *Checks) { c.Confidence = 1 }, "checks.confidence"},
		{func(c *Checks) { c.Confidence = 0.3 }, "checks.confidence"},
		{func(c *Checks) { c.MinEffect = -0.1 }, "checks.min_effect"},
	} {
		p := statisticalPolicy()
		tc.edit(&p.Checks)
		err := p.Validate()
		ve, ok := err.(*ValidationError)
		if !ok || len(ve.Faults) != 1 || ve.Faults[0].Path != tc.path {
			t.Errorf("%+v: got %v, want one fault at %s", p.Checks, err, tc.path)
		}
	}
}
