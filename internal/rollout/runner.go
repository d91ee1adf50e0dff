package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/metricsource"
)

// Runner connects an Engine to the world: it measures the canary, calls the webhooks and hands
// decided weights to the gateway. The gateway calls Tick periodically (see the package doc).
type Runner struct {
	Source   metricsource.Source
	Notifier *Notifier
	// Apply makes weights take effect on the gateway's routes (all of them, unless nil: only
	// persist) and persists st with them, ideally in one write of the state file. It is called
	// whenever a decision changed the state. When it fails, the engine is put back as it was and
	// the same decision is retried at the next tick.
	Apply func(ctx context.Context, weights map[string]int, st State) error
	// HookFailed, when set, hears about best-effort webhooks that failed (to log them).
	HookFailed func(call WebhookCall, err error)
}

// Tick advances the roll-out at now: a pending one runs its pre-rollout webhooks and starts
// (or fails); a progressing one is judged on the canary's window since LastStepAt. Returns the
// decision; the error is Apply's (the engine is then unchanged).
func (r *Runner) Tick(ctx context.Context, e *Engine, now time.Time) (Decision, error) {
	before := e.State()
	var d Decision
	switch before.Phase {
	case PhasePending:
		var gate []error
		for _, c := range e.PreRolloutCalls(now) {
			if err := r.Notifier.Call(ctx, c); err != nil {
				gate = append(gate, err)
			}
		}
		d = e.Start(now, errors.Join(gate...))
	case PhaseProgressing:
		if r.Source == nil {
			return e.Current(), fmt.Errorf("roll-out of %q: the runner has no metric source", before.Policy.Gateway)
		}
		w, err := r.Source.Window(ctx, before.Policy.Gateway, before.Policy.Canary, before.LastStepAt)
		var baseline Window
		if err == nil && before.Policy.Checks.statistical() {
			baseline, err = r.baseline(ctx, before)
		}
		if err != nil {
			d = e.TickWithoutMetrics(now, err)
		} else {
			d = e.TickCompare(now, w, baseline)
		}
	default:
		return e.Current(), nil
	}
	if d.Changed && r.Apply != nil {
		var weights map[string]int
		if d.WeightsChanged {
			weights = d.Weights
		}
		if err := r.Apply(ctx, weights, e.State()); err != nil {
			e.restore(before)
			return e.Current(), fmt.Errorf("roll-out of %q: applying %s: %w", before.Policy.Gateway, d.Phase, err)
		}
	}
	for _, c := range d.Webhooks {
		if err := r.Notifier.Call(ctx, c); err != nil && r.HookFailed != nil {
			r.HookFailed(c, err)
		}
	}
	return d, nil
}

// baseline is the stable routes' traffic since the step began, summed (p99: the highest).
func (r *Runner) baseline(ctx context.Context, st State) (Window, error) {
	var sum Window
	for _, route := range st.Policy.Stable {
		w, err := r.Source.Window(ctx, st.Policy.Gateway, route, st.LastStepAt)
		if err != nil {
			return Window{}, fmt.Errorf("baseline route %q: %w", route, err)
		}
		sum.From, sum.To = w.From, w.To
		sum.Requests += w.Requests
		sum.Errors5xx += w.Errors5xx
		sum.P99 = max(sum.P99, w.P99)
	}
	return sum, nil
}
