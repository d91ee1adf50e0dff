package rollout

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/metricsource"
)

// Window is the canary's traffic in the current step (see metricsource.Window).
type Window = metricsource.Window

// Phase is where a roll-out is.
type Phase string

const (
	// PhasePending: declared, not started (the weights are still the gateway's own).
	PhasePending Phase = "pending"
	// PhaseProgressing: the canary is at one of the steps.
	PhaseProgressing Phase = "progressing"
	// PhasePromoted: every step passed; the canary has 100%.
	PhasePromoted Phase = "promoted"
	// PhaseRolledBack: a check failed (or the wait for requests ran out); canary 0, stable 100.
	PhaseRolledBack Phase = "rolled_back"
	// PhaseFailed: a pre-rollout webhook refused the start; no weight was changed.
	PhaseFailed Phase = "failed"
)

// Terminal reports whether the roll-out has ended.
func (p Phase) Terminal() bool {
	return p == PhasePromoted || p == PhaseRolledBack || p == PhaseFailed
}

// State is everything a roll-out needs to continue after a restart. It is plain data: the
// gateway stores it in its state file (encoding/json) and gives it to Resume.
type State struct {
	Policy Policy `json:"policy"`
	Phase  Phase  `json:"phase"`
	// Step is the 1-based number of the current step (Policy.Schedule()[Step-1] is the canary's
	// weight); 0 before the start.
	Step int `json:"step"`
	// StableShares are the stable routes' relative shares, in Policy.Stable's order, taken from
	// the gateway's weights when the roll-out was created.
	StableShares []int `json:"stable_shares"`
	// Weights are the weights the roll-out last set (the gateway's own before the start).
	Weights map[string]int `json:"weights"`
	// StartedAt is when the first step was applied; LastStepAt when the current one was, the
	// start of its interval and of its metric window.
	StartedAt  time.Time `json:"started_at,omitzero"`
	LastStepAt time.Time `json:"last_step_at,omitzero"`
	// FinishedAt is when the roll-out was promoted, rolled back or failed.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Reason explains the last decision: progress, waiting, or why it was rolled back.
	Reason string `json:"reason,omitempty"`
	// LastWindow is the canary's traffic in the current step as last measured.
	LastWindow Window `json:"last_window,omitzero"`
	// LastBaseline is the stable routes' traffic over the same window (statistical judge).
	LastBaseline Window `json:"last_baseline,omitzero"`
	// PriorBaseline is the previous step's LastBaseline, kept for a step at weight 100, whose
	// stable routes get no traffic to compare with (statistical judge).
	PriorBaseline Window `json:"prior_baseline,omitzero"`
	// Looks is the number of the interval (1-based, counted from the step's start) at whose end
	// the statistical judge last compared canary and baseline in this step; 0: not yet.
	Looks int `json:"looks,omitempty"`
}

// WebhookCall is a webhook to call with its payload.
type WebhookCall struct {
	Hook    Webhook
	Payload Payload
}

// Decision is the outcome of one Start or Tick.
type Decision struct {
	Phase Phase
	// Step is the 1-based current step, 0 before the start; Steps is how many there are.
	Step, Steps int
	// Weight is the canary's weight; Weights has every route of the policy and sums to 100.
	Weight  int
	Weights map[string]int
	// WeightsChanged says the gateway must apply Weights now.
	WeightsChanged bool
	// Changed says the State changed in a way worth persisting (phase, step or weights).
	Changed bool
	// Waiting is set while a finished interval waits for MinRequests or for metrics.
	Waiting bool
	Reason  string
	// Webhooks are the best-effort notifications due, to call after Weights took effect.
	Webhooks []WebhookCall
}

// Engine runs one roll-out. It is deterministic: time comes in as arguments, metrics as a
// Window, and it performs no I/O. It is safe for concurrent use (a gateway's admin API may read
// State while the roll-out goroutine ticks).
type Engine struct {
	mu       sync.Mutex
	st       State
	schedule []int
}

// New prepares a roll-out of policy on a gateway whose routes now have the weights current.
// The roll-out is pending until Start.
func New(policy Policy, current map[string]int) (*Engine, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	if err := policy.CheckRoutes(current); err != nil {
		return nil, err
	}
	weights := make(map[string]int, len(current))
	for _, r := range policy.routes() {
		weights[r] = current[r]
	}
	return &Engine{
		st: State{
			Policy:       policy,
			Phase:        PhasePending,
			StableShares: sharesOf(policy.Stable, current),
			Weights:      weights,
			Reason:       "waiting to start",
		},
		schedule: policy.Schedule(),
	}, nil
}

// Resume continues a roll-out from its persisted State, where it was: same phase, same step, the
// step's interval still counted from LastStepAt.
func Resume(st State) (*Engine, error) {
	if err := st.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("resuming roll-out: %w", err)
	}
	schedule := st.Policy.Schedule()
	switch st.Phase {
	case PhasePending, PhaseProgressing, PhasePromoted, PhaseRolledBack, PhaseFailed:
	default:
		return nil, fmt.Errorf("resuming roll-out: phase %q is unknown; the state file is damaged or from a newer gateway", st.Phase)
	}
	if st.Step < 0 || st.Step > len(schedule) || (st.Phase == PhaseProgressing && st.Step == 0) {
		return nil, fmt.Errorf("resuming roll-out: step %d does not fit the policy's %d steps", st.Step, len(schedule))
	}
	if len(st.StableShares) != len(st.Policy.Stable) || slices.ContainsFunc(st.StableShares, func(s int) bool { return s < 0 }) {
		return nil, fmt.Errorf("resuming roll-out: %d stable shares for %d stable routes", len(st.StableShares), len(st.Policy.Stable))
	}
	if st.Phase == PhaseProgressing && st.LastStepAt.IsZero() {
		return nil, fmt.Errorf("resuming roll-out: progressing without last_step_at")
	}
	st = cloneState(st)
	if st.Weights == nil {
		st.Weights = map[string]int{}
	}
	return &Engine{st: st, schedule: schedule}, nil
}

// State returns a copy of the roll-out's state, to persist or to show.
func (e *Engine) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return cloneState(e.st)
}

// Current describes the state without changing it (WeightsChanged false): after Resume, the
// gateway applies its Weights to be sure the routes match the roll-out.
func (e *Engine) Current() Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.decision(false, false)
}

// restore puts back a state returned by State (the runner's undo when applying failed).
func (e *Engine) restore(st State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st = st
}

// Start begins a pending roll-out at now. gate is the result of the pre-rollout webhooks: nil
// lets the first step take effect; an error ends the roll-out failed, weights untouched.
// Start on a roll-out that is not pending changes nothing.
func (e *Engine) Start(now time.Time, gate error) Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st.Phase != PhasePending {
		return e.decision(false, false)
	}
	if gate != nil {
		e.st.Phase, e.st.FinishedAt = PhaseFailed, now
		e.st.Reason = "pre-rollout check refused the start: " + gate.Error()
		return e.decision(false, true)
	}
	e.st.Phase, e.st.StartedAt = PhaseProgressing, now
	return e.enterStep(now, 1, "started")
}

// Tick judges the current step at now with the canary's window since LastStepAt:
//
//   - a window with at least MinRequests that fails a check rolls back at once;
//   - a healthy window whose interval has ended advances one step, or promotes after the last;
//   - an ended interval short of MinRequests waits (at most MaxWaitIntervals more intervals,
//     when set, then rolls back);
//   - otherwise the step continues.
//
// Tick on a roll-out that is not progressing changes nothing.
func (e *Engine) Tick(now time.Time, w Window) Decision {
	return e.TickCompare(now, w, Window{})
}

// TickCompare is Tick with the baseline's window (the stable routes' traffic since LastStepAt),
// which the statistical judge compares the canary with; the threshold judge ignores it.
//
// The statistical judge decides only at the end of each interval of the step (its looks, see
// lookAlpha): with canary and baseline each at MinRequests or more, a canary worse than the
// baseline with the policy's confidence rolls back, one shown not worse by MinEffect passes the
// step, and otherwise the step waits for more traffic (at most MaxWaitIntervals more intervals,
// when set, then rolls back). MaxP99, when set, is checked at each look as a fixed limit.
func (e *Engine) TickCompare(now time.Time, w, baseline Window) Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st.Phase != PhaseProgressing {
		return e.decision(false, false)
	}
	e.st.LastWindow = w
	c := e.st.Policy.Checks
	if c.statistical() {
		e.st.LastBaseline = baseline
		return e.judgeStatistical(now, w, baseline)
	}
	at := e.where()
	if w.Requests >= float64(c.MinRequests) {
		if rate := w.ErrorRate(); rate > c.Max5xxRate {
			return e.rollBack(now, fmt.Sprintf("5xx rate %s > %s over %s requests at %s", percent(rate), percent(c.Max5xxRate), count(w.Requests), at))
		}
		if c.MaxP99 > 0 && w.P99 > c.MaxP99 {
			return e.rollBack(now, fmt.Sprintf("p99 %v > %v over %s requests at %s", w.P99, c.MaxP99, count(w.Requests), at))
		}
		health := fmt.Sprintf("5xx rate %s, p99 %v over %s requests", percent(w.ErrorRate()), w.P99, count(w.Requests))
		if now.Sub(e.st.LastStepAt) < e.st.Policy.Interval {
			e.st.Reason = fmt.Sprintf("%s: healthy so far (%s)", at, health)
			return e.decision(false, false)
		}
		if e.st.Step == len(e.schedule) {
			return e.promote(now, health)
		}
		return e.enterStep(now, e.st.Step+1, fmt.Sprintf("%s passed (%s)", at, health))
	}
	return e.wait(now, fmt.Sprintf("%s of %d requests", count(w.Requests), c.MinRequests))
}

func (e *Engine) judgeStatistical(now time.Time, w, b Window) Decision {
	p := e.st.Policy
	c := p.Checks
	at := e.where()
	baselineFrom := ""
	if e.schedule[e.st.Step-1] == 100 && e.st.Step > 1 {
		// The stable routes get no traffic at weight 100: compare with the previous step's
		// baseline, the last window in which both ran.
		b, baselineFrom = e.st.PriorBaseline, fmt.Sprintf(" (baseline of step %d)", e.st.Step-1)
	}
	have := fmt.Sprintf("canary %s, baseline %s of %d requests each", count(w.Requests), count(b.Requests), c.MinRequests)
	elapsed := now.Sub(e.st.LastStepAt)
	if elapsed < p.Interval {
		e.st.Reason = fmt.Sprintf("%s: measuring, %s so far", at, have)
		return e.decision(false, false)
	}
	intervals := int(elapsed / p.Interval)
	if intervals <= e.st.Looks { // this interval's end has been judged: wait for the next one
		d := e.decision(false, false)
		d.Waiting = true
		return d
	}
	if w.Requests < float64(c.MinRequests) || b.Requests < float64(c.MinRequests) {
		return e.wait(now, have)
	}
	e.st.Looks = intervals
	if c.MaxP99 > 0 && w.P99 > c.MaxP99 {
		return e.rollBack(now, fmt.Sprintf("p99 %v > %v over %s requests at %s", w.P99, c.MaxP99, count(w.Requests), at))
	}
	l := compare(w, b, c.minEffect(), lookAlpha(c.confidence(), len(e.schedule), intervals))
	figures := fmt.Sprintf("%s; canary %s, baseline %s requests%s", l, count(w.Requests), count(b.Requests), baselineFrom)
	switch l.verdict {
	case worse:
		return e.rollBack(now, fmt.Sprintf("canary worse than baseline at %s (%s)", at, figures))
	case notWorse:
		health := "not worse than baseline: " + figures
		if e.st.Step == len(e.schedule) {
			return e.promote(now, health)
		}
		return e.enterStep(now, e.st.Step+1, fmt.Sprintf("%s passed (%s)", at, health))
	}
	if p.MaxWaitIntervals > 0 && intervals > p.MaxWaitIntervals {
		return e.rollBack(now, fmt.Sprintf("%s still inconclusive after %d intervals of %v (max_wait_intervals %d): %s", at, intervals, p.Interval, p.MaxWaitIntervals, figures))
	}
	e.st.Reason = fmt.Sprintf("%s: inconclusive, waiting for more traffic (%s)", at, figures)
	d := e.decision(false, false)
	d.Waiting = true
	return d
}

// TickWithoutMetrics is Tick for a moment when the metric source failed: the step neither
// passes nor fails; an ended interval waits like one short of MinRequests.
func (e *Engine) TickWithoutMetrics(now time.Time, err error) Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st.Phase != PhaseProgressing {
		return e.decision(false, false)
	}
	return e.wait(now, "no metrics ("+err.Error()+")")
}

// wait handles a step that cannot be judged yet: have describes what it has.
func (e *Engine) wait(now time.Time, have string) Decision {
	p := e.st.Policy
	elapsed := now.Sub(e.st.LastStepAt)
	at := e.where()
	if elapsed < p.Interval {
		e.st.Reason = fmt.Sprintf("%s: measuring, %s so far", at, have)
		return e.decision(false, false)
	}
	intervals := int(elapsed / p.Interval)
	if p.MaxWaitIntervals > 0 && intervals > p.MaxWaitIntervals {
		return e.rollBack(now, fmt.Sprintf("%s had only %s after %d intervals of %v (max_wait_intervals %d)", at, have, intervals, p.Interval, p.MaxWaitIntervals))
	}
	e.st.Reason = fmt.Sprintf("%s: waiting, %s after %d interval(s) of %v", at, have, intervals, p.Interval)
	d := e.decision(false, false)
	d.Waiting = true
	return d
}

func (e *Engine) enterStep(now time.Time, step int, why string) Decision {
	e.st.Step, e.st.LastStepAt = step, now
	e.st.PriorBaseline = e.st.LastBaseline
	e.st.LastWindow, e.st.LastBaseline, e.st.Looks = Window{}, Window{}, 0
	weights := distribute(e.st.Policy.Canary, e.schedule[step-1], e.st.Policy.Stable, e.st.StableShares)
	changed := !maps.Equal(weights, e.st.Weights)
	e.st.Weights = weights
	e.st.Reason = fmt.Sprintf("%s; now at %s", why, e.where())
	return e.notify(e.decision(changed, true), HookStep, now)
}

func (e *Engine) promote(now time.Time, health string) Decision {
	weights := distribute(e.st.Policy.Canary, 100, e.st.Policy.Stable, e.st.StableShares)
	changed := !maps.Equal(weights, e.st.Weights)
	e.st.Phase, e.st.FinishedAt, e.st.Weights = PhasePromoted, now, weights
	e.st.Reason = fmt.Sprintf("promoted after %d steps (%s); the last, %s, passed (%s)", len(e.schedule), steps(e.schedule), e.where(), health)
	return e.notify(e.decision(changed, true), HookPromotion, now)
}

func (e *Engine) rollBack(now time.Time, reason string) Decision {
	weights := distribute(e.st.Policy.Canary, 0, e.st.Policy.Stable, e.st.StableShares)
	changed := !maps.Equal(weights, e.st.Weights)
	e.st.Phase, e.st.FinishedAt, e.st.Weights = PhaseRolledBack, now, weights
	e.st.Reason = "rolled back: " + reason
	return e.notify(e.decision(changed, true), HookRollback, now)
}

// where names the current step for reasons: "step 2 (weight 25)".
func (e *Engine) where() string {
	return fmt.Sprintf("step %d (weight %d)", e.st.Step, e.schedule[e.st.Step-1])
}

// decision describes the state.
func (e *Engine) decision(weightsChanged, changed bool) Decision {
	return Decision{
		Phase:          e.st.Phase,
		Step:           e.st.Step,
		Steps:          len(e.schedule),
		Weight:         e.st.Weights[e.st.Policy.Canary],
		Weights:        maps.Clone(e.st.Weights),
		WeightsChanged: weightsChanged,
		Changed:        changed,
		Reason:         e.st.Reason,
	}
}

// notify attaches the webhooks of type t, with payloads describing the state at now.
func (e *Engine) notify(d Decision, t HookType, now time.Time) Decision {
	d.Webhooks = e.calls(t, now)
	return d
}

// PreRolloutCalls are the pre-rollout webhooks to call (all must succeed) before Start at now.
func (e *Engine) PreRolloutCalls(now time.Time) []WebhookCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls(HookPreRollout, now)
}

func (e *Engine) calls(t HookType, at time.Time) []WebhookCall {
	var out []WebhookCall
	for _, h := range e.st.Policy.Webhooks {
		if h.Type == t {
			out = append(out, WebhookCall{Hook: h, Payload: e.payload(h, at)})
		}
	}
	return out
}

func cloneState(st State) State {
	st.Policy.Stable = slices.Clone(st.Policy.Stable)
	st.Policy.Steps = slices.Clone(st.Policy.Steps)
	st.Policy.Webhooks = slices.Clone(st.Policy.Webhooks)
	st.StableShares = slices.Clone(st.StableShares)
	st.Weights = maps.Clone(st.Weights)
	return st
}

// percent writes a fraction as a percentage with at most two decimals: 0.125 → "12.5%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
}

// count writes a request count; Prometheus's extrapolated counts are rounded.
func count(f float64) string { return strconv.FormatFloat(math.Round(f), 'f', -1, 64) }

func steps(s []int) string {
	parts := make([]string, len(s))
	for i, w := range s {
		parts[i] = strconv.Itoa(w)
	}
	return strings.Join(parts, ", ")
}
