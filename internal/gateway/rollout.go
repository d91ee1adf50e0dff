package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/metrics"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/metricsource"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

// DefaultRolloutTick is how often a roll-out is judged (Config.RolloutTick).
const DefaultRolloutTick = time.Second

// rolloutRun is the roll-out of one gateway: its engine, the runner that measures and applies,
// and the goroutine that ticks it. A run is replaced, never edited: a PUT whose roll-out has
// another key gets a new run, and the old one's pending Apply is refused (see applyRollout).
type rolloutRun struct {
	gateway string
	// key identifies the roll-out: the policy's fingerprint and the metric source. A PUT with the
	// same key keeps the run (and its weights).
	key    string
	canary string
	engine *rollout.Engine
	runner *rollout.Runner
	inproc *metricsource.InProcess // nil with Prometheus

	// tickMu serialises ticks (the background ticker and TickRollouts); tickAt is the time of
	// the tick in progress, the clock of the run's metric source.
	tickMu sync.Mutex
	tickAt time.Time

	// persisted is the engine state that the state file holds (s.mu).
	persisted rollout.State

	cancel context.CancelFunc // stops the goroutine and cancels a tick's webhooks
	done   chan struct{}      // closed when the goroutine has ended
}

func (r *rolloutRun) now() time.Time { return r.tickAt }

// errRolloutReplaced refuses the weights of a run that a PUT has replaced in the meantime.
var errRolloutReplaced = errors.New("the roll-out was replaced by a newer configuration of its gateway")

// prepareRollout turns doc's roll-out into a run: the old one when its key is unchanged (then the
// weights of the roll-out's routes in doc become the roll-out's own: it owns them), one resumed
// from saved (restore), or a new pending one that starts from doc's weights. nil when doc has no
// roll-out. Faults are 400s with the path under "rollout.".
//
// fromStore (store mode): saved is the roll-out state in the store, which wins: the old run goes
// on only when it is exactly there (the leader that decided it), otherwise the run resumes from
// saved, so every replica's roll-out is where the leader left it.
func (s *Server) prepareRollout(name string, doc *gatewayapi.Gateway, old *entry, saved *rollout.State, fromStore bool) (*rolloutRun, error) {
	if doc.Rollout == nil {
		return nil, nil
	}
	policy, err := policyOf(name, *doc)
	if err != nil {
		return nil, err
	}
	key, err := rolloutKey(policy, doc.Rollout.Metrics)
	if err != nil {
		return nil, err
	}
	weights := make(map[string]int, len(doc.Routes))
	for _, r := range doc.Routes {
		weights[r.Name] = r.Weight
	}
	if err := policy.CheckRoutes(weights); err != nil {
		return nil, rolloutFault(err)
	}

	var engine *rollout.Engine
	switch {
	case fromStore && saved != nil && saved.Policy.Fingerprint() == policy.Fingerprint():
		if old != nil && old.run != nil && old.run.key == key && sameRolloutState(old.run.engine.State(), *saved) {
			takeWeights(doc, *saved)
			return old.run, nil
		}
		if engine, err = rollout.Resume(*saved); err != nil {
			s.log.Warn("the stored roll-out cannot be resumed; it starts afresh", "gateway", name, "error", err)
			engine = nil
		} else {
			takeWeights(doc, engine.State())
		}
	case old != nil && old.run != nil && old.run.key == key && old.run.engine.State().Phase != rollout.PhasePending:
		takeWeights(doc, old.run.engine.State())
		return old.run, nil
	case saved != nil && saved.Policy.Fingerprint() == policy.Fingerprint():
		if engine, err = rollout.Resume(*saved); err != nil {
			s.log.Warn("the saved roll-out cannot be resumed; it starts afresh", "gateway", name, "error", err)
			engine = nil
		} else {
			takeWeights(doc, engine.State())
		}
	}
	if engine == nil {
		if engine, err = rollout.New(policy, weights); err != nil {
			return nil, rolloutFault(err)
		}
	}
	run := &rolloutRun{gateway: name, key: key, canary: policy.Canary, engine: engine, cancel: func() {}}
	source, err := s.rolloutSource(run, doc.Rollout.Metrics)
	if err != nil {
		return nil, err
	}
	run.runner = &rollout.Runner{
		Source:   source,
		Notifier: &rollout.Notifier{},
		Apply: func(ctx context.Context, weights map[string]int, st rollout.State) error {
			apply := s.applyRollout
			if s.store != nil {
				apply = func(run *rolloutRun, weights map[string]int, st rollout.State) error {
					return s.storeRollout(ctx, run, weights, st)
				}
			}
			if err := apply(run, weights, st); err != nil {
				return err
			}
			if run.inproc != nil && st.Phase == rollout.PhaseProgressing {
				// The step's window starts now: an exact baseline (Start enters step 1 without
				// having measured anything). Without it (the route is gone, its counters are
				// broken) the weights still stand: the step's window, when measured, says why.
				if err := run.inproc.Mark(name, policy.Canary); err != nil {
					s.log.Warn("roll-out step: no baseline for the canary's window", "gateway", name, "route", policy.Canary, "error", err)
				}
			}
			return nil
		},
		HookFailed: func(call rollout.WebhookCall, err error) {
			s.log.Warn("roll-out webhook failed", "gateway", name, "webhook", call.Hook.Name, "error", err)
		},
	}
	return run, nil
}

// takeWeights gives the routes of a roll-out that has moved weights (progressing or ended by
// promotion or roll-back) the roll-out's weights.
func takeWeights(doc *gatewayapi.Gateway, st rollout.State) {
	switch st.Phase {
	case rollout.PhaseProgressing, rollout.PhasePromoted, rollout.PhaseRolledBack:
	default:
		return
	}
	routes := slices.Clone(doc.Routes)
	for i, r := range routes {
		if w, ok := st.Weights[r.Name]; ok {
			routes[i].Weight = w
		}
	}
	doc.Routes = routes
}

// policyOf reads the roll-out of doc (the gateway name) into the engine's Policy and validates it.
func policyOf(name string, doc gatewayapi.Gateway) (rollout.Policy, error) {
	p, err := spec.RolloutPolicy(name, doc)
	if err != nil {
		return p, refuseCompile(err)
	}
	if err := p.Validate(); err != nil {
		return p, rolloutFault(err)
	}
	return p, nil
}

// duration reads a duration field of a document (spec.Duration), refused with a 400 at its path.
func duration(path, s string, required bool) (time.Duration, error) {
	d, err := spec.Duration(path, s, required)
	if err != nil {
		return 0, refuseCompile(err)
	}
	return d, nil
}

// rolloutFault turns the engine's *ValidationError into a 400 at the first fault's path (the
// message lists them all, so one attempt shows everything to fix).
func rolloutFault(err error) error {
	var ve *rollout.ValidationError
	if !errors.As(err, &ve) || len(ve.Faults) == 0 {
		return refuse(http.StatusBadRequest, "rollout", "%v", err)
	}
	msgs := make([]string, len(ve.Faults))
	for i, f := range ve.Faults {
		msgs[i] = "rollout." + f.Path + ": " + f.Msg
	}
	first := ve.Faults[0]
	msg := first.Msg
	if len(msgs) > 1 {
		msg += " (also " + strings.Join(msgs[1:], "; ") + ")"
	}
	return refuse(http.StatusBadRequest, "rollout."+first.Path, "%s", msg)
}

// rolloutKey is the policy's fingerprint combined with the metric source: a change of either
// is a new roll-out.
func rolloutKey(p rollout.Policy, m *gatewayapi.RolloutMetrics) (string, error) {
	k, err := spec.RolloutKey(p, m)
	if err != nil {
		return "", refuseCompile(err)
	}
	return k, nil
}

// rolloutSource builds the run's metric source: the gateway's own counters by default, or a
// Prometheus server. Both use the tick's time as their clock.
func (s *Server) rolloutSource(run *rolloutRun, m *gatewayapi.RolloutMetrics) (metricsource.Source, error) {
	source := ""
	if m != nil {
		source = m.Source
	}
	switch source {
	case "", "gateway":
		if m != nil && (m.PrometheusURL != "" || m.Queries != nil) {
			return nil, refuse(http.StatusBadRequest, "rollout.metrics.source", "prometheus_url and queries are for source \"prometheus\"; set source = \"prometheus\" or drop them")
		}
		run.inproc = metricsource.NewInProcess(metricsource.CountersFunc(s.routeCounters), run.now)
		return run.inproc, nil
	case "prometheus":
		q := metricsource.DefaultQueries
		if m.Queries != nil {
			q = metricsource.Queries{Requests: m.Queries.Requests, Errors5xx: m.Queries.Errors5xx, ErrorRate: m.Queries.ErrorRate, P99: m.Queries.P99}
		}
		p, err := metricsource.NewPrometheus(m.PrometheusURL, q, metricsource.PrometheusOptions{Now: run.now})
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "rollout.metrics", "%v", err)
		}
		return p, nil
	default:
		return nil, refuse(http.StatusBadRequest, "rollout.metrics.source", "source %q is unknown; use \"gateway\" (the gateway's own counters, the default) or \"prometheus\"", source)
	}
}

// routeCounters is the in-process metric source's view of a route's counters.
func (s *Server) routeCounters(gateway, route string) (metricsource.Snapshot, bool) {
	s.mu.Lock()
	var m *metrics.Route
	var born time.Time
	if e := s.gateways[gateway]; e != nil {
		m, born = e.routes[route], e.born[route]
	}
	s.mu.Unlock()
	if m == nil {
		return metricsource.Snapshot{}, false
	}
	requests, errors5xx, latency := m.Counters()
	return metricsource.Snapshot{
		Start:     born,
		Requests:  requests,
		Errors5xx: errors5xx,
		Latency:   metricsource.Histogram{Bounds: metrics.LatencyBounds, Counts: latency},
	}, true
}

// applyRollout makes a roll-out's decision take effect through the same path as a PUT (checked,
// swapped, written to the state file with the engine state, version bumped, metrics updated);
// weights nil only persists st.
func (s *Server) applyRollout(run *rolloutRun, weights map[string]int, st rollout.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.gateways[run.gateway]
	if e == nil || e.run != run {
		return errRolloutReplaced
	}
	if weights == nil {
		if err := s.save(run.gateway, &e.doc, &st); err != nil {
			return err
		}
		run.persisted = st
		return nil
	}
	doc := e.doc
	doc.Routes = slices.Clone(doc.Routes)
	for i, r := range doc.Routes {
		if w, ok := weights[r.Name]; ok {
			doc.Routes[i].Weight = w
		}
	}
	if _, err := s.apply(run.gateway, doc, applyRollout, &st); err != nil {
		return err
	}
	s.log.Info("roll-out changed the weights", "gateway", run.gateway, "phase", st.Phase, "step", st.Step, "weights", weights, "reason", st.Reason)
	return nil
}

// startRollout starts the run's ticking goroutine (none when Config.RolloutTick is negative:
// then only TickRollouts moves roll-outs). s.mu must be held.
//
// Timing, as the roll-outs guide states it: the first tick runs at once, so a roll-out starts
// when it is PUT (or resumed after a restart), not a tick later; and every tick is judged at a
// time on the grid base + k·tick (onTickGrid), so a step that began at a tick is judged at exactly
// k·tick after it began. A step then passes exactly one interval after it began when the interval
// is a whole number of ticks (otherwise at the first tick after it), and a healthy canary with n
// steps is promoted n intervals after the start. Without the grid the ticker's jitter put a tick
// a hair before the interval's end, and each step lasted one interval plus one tick.
func (s *Server) startRollout(run *rolloutRun) {
	run.done = make(chan struct{})
	if s.cfg.RolloutTick < 0 || run.engine.State().Phase.Terminal() {
		close(run.done)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	go func() {
		defer close(run.done)
		tick := s.cfg.RolloutTick
		base := s.now()
		t := time.NewTicker(tick)
		defer t.Stop()
		if s.tickRollout(ctx, run, base) {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if s.tickRollout(ctx, run, onTickGrid(base, s.now(), tick)) {
					return
				}
			}
		}
	}()
}

// tickRollout judges run once at now; true once the roll-out has ended.
//
// In store mode only the elected replica ticks; the others leave the engine alone (its state
// comes from the store) and keep the ticker going, to tick once they lead.
func (s *Server) tickRollout(ctx context.Context, run *rolloutRun, now time.Time) (ended bool) {
	if !s.ticks() {
		return false
	}
	run.tickMu.Lock()
	defer run.tickMu.Unlock()
	run.tickAt = now
	d, err := run.runner.Tick(ctx, run.engine, now)
	switch {
	case errors.Is(err, errRolloutReplaced):
		return true
	case errors.Is(err, errNotLeader):
	case err != nil:
		s.log.Warn("roll-out step not applied; retrying at the next tick", "gateway", run.gateway, "error", err)
	case d.Changed:
		s.log.Info("roll-out", "gateway", run.gateway, "phase", d.Phase, "step", d.Step, "weight", d.Weight, "reason", d.Reason)
	}
	return d.Phase.Terminal()
}

// TickRollouts judges every roll-out once, at now, and returns when all are done: what the
// background ticker does every Config.RolloutTick, for tests and tools that drive time
// themselves (with a negative RolloutTick they are the only ticks).
func (s *Server) TickRollouts(ctx context.Context, now time.Time) {
	s.mu.Lock()
	var runs []*rolloutRun
	for _, name := range s.sortedNames() {
		if r := s.gateways[name].run; r != nil {
			runs = append(runs, r)
		}
	}
	s.mu.Unlock()
	for _, r := range runs {
		s.tickRollout(ctx, r, now)
	}
}

// rolloutStatus is what the admin API shows of a run; nil without one.
func rolloutStatus(run *rolloutRun) *gatewayapi.RolloutStatus {
	if run == nil {
		return nil
	}
	st := run.engine.State().Status()
	return &gatewayapi.RolloutStatus{
		Phase: string(st.Phase), Step: st.Step, Steps: st.Steps,
		Canary: run.canary, Weight: st.Weight, Weights: st.Weights,
		Reason: st.Reason, Checksum: run.key,
		StartedAt: st.StartedAt, LastStepAt: st.LastStepAt, NextStepAt: st.NextStepAt, FinishedAt: st.FinishedAt,
		Requests: st.Requests, ErrorRate: st.ErrorRate, P99: st.P99,
	}
}

// withStatus is doc as the admin API shows it: with its roll-out's progress.
func withStatus(e *entry) gatewayapi.Gateway {
	doc := e.doc
	doc.RolloutStatus = rolloutStatus(e.run)
	return doc
}

// onTickGrid is now moved to the nearest time base + k·tick: the ticker fires about every tick,
// a little early or late; judged on the grid, the elapsed time of a step that began at a tick is
// an exact multiple of tick.
func onTickGrid(base, now time.Time, tick time.Duration) time.Time {
	k := int64((now.Sub(base) + tick/2) / tick)
	return base.Add(time.Duration(k) * tick)
}
