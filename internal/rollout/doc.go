// Package rollout is the progressive roll-out engine of a cluster gateway: it steps a canary
// route's weight up through a declared schedule, judges every step on the canary's own traffic,
// promotes a healthy canary and rolls a failing one back at once. It is pure: Engine takes the
// time and the metrics as arguments and returns a Decision; Runner does the I/O around it
// (metrics from a metricsource.Source, webhooks over HTTP, weights through a callback).
//
// # Schedule
//
// The steps are Policy.Steps (e.g. 10, 25, 50, 100), or StepWeight, 2×StepWeight, ... capped
// by MaxWeight (default 100), MaxWeight always being the last step (step 30, max 80 → 30, 60,
// 80). At a step of canary weight w the canary route gets w and the stable routes share 100-w
// in the proportions they had when the roll-out was created (equally if they all had 0),
// rounded by largest remainder so the weights sum to exactly 100.
//
// # Life of a roll-out
//
//	pending ──Start(gate ok)──► progressing, step 1 ──┬─► step 2 … step N ──► promoted
//	   │                                              └─► rolled_back (any step, at once)
//	   └──Start(gate refused)──► failed (no weight ever changed)
//
// In detail:
//
//   - Start: the pre-rollout webhooks are called (Runner does it); all must answer 2xx within
//     their timeout, else the roll-out ends "failed" with their errors as the reason and the
//     gateway's weights are left as they were. It is not retried: a new roll-out (a new policy
//     fingerprint, or the provider re-creating it) tries again.
//   - Each step begins when its weights are applied (LastStepAt) and lasts at least Interval.
//     Its window is the canary's traffic since LastStepAt.
//   - At every Tick, once the window holds MinRequests: a 5xx rate above Max5xxRate, or a p99
//     above MaxP99, rolls back immediately, even in the middle of the interval: canary 0,
//     stable routes back to their shares of 100, phase "rolled_back", Reason e.g.
//     "rolled back: 5xx rate 12.5% > 1% over 80 requests at step 2 (weight 25)".
//   - When the interval has ended and the window is healthy with at least MinRequests, the
//     roll-out moves to the next step (one step per Tick, whatever the delay) and its window
//     starts afresh.
//   - Promotion: the last step is judged like the others; when its interval ends healthy, the
//     roll-out is "promoted" and the canary gets 100 (a weight change only if the last step was
//     below 100). So a healthy canary with steps 10, 25, 50, 100 makes exactly 4 weight
//     changes and is promoted 4 intervals after the start.
//   - Too few requests: an ended interval short of MinRequests keeps the step and waits (the
//     window keeps growing). With MaxWaitIntervals = k > 0, a step still short when k more
//     intervals have ended (1+k intervals after LastStepAt) is rolled back with a reason that
//     says so; with 0 it waits forever. A failing metric source (TickWithoutMetrics) counts as
//     waiting in the same way.
//
// # Bound on a roll-back
//
// A canary whose answers fail a check is rolled back at the first Tick at which its step's
// window holds MinRequests requests. When it receives at least MinRequests requests per
// Interval, that is within one Interval of the step's start plus one tick period of the
// gateway (which should tick every second), and no later than the end of the
// first step at which it fails. With too little traffic, the bound is (1+MaxWaitIntervals)
// intervals.
//
// # Persistence
//
// State is plain JSON. The gateway persists it whenever a Decision is Changed (together with
// the weights, in one write of its state file) and gives it to Resume after a restart: the
// roll-out continues at the same step, whose interval still counts from LastStepAt. A metric
// source that lost its counters in the restart measures the window from the restart on.
//
// # Wiring into a gateway
//
//	e, err := rollout.New(policy, currentWeights)   // on PUT of a policy (CheckRoutes errors → 400)
//	e, err := rollout.Resume(savedState)            // at start, then apply e.Current().Weights
//	r := &rollout.Runner{Source: src, Apply: swapWeightsAndWriteStateFile}
//	every second, in the roll-out's goroutine:  d, err := r.Tick(ctx, e, time.Now())
//	admin API and /metrics:                      e.State() (phase, step, weights, reason, window)
//
// A changed policy (Policy.Fingerprint) replaces the roll-out with a new one; an unchanged one
// keeps it, terminal or not.
package rollout
