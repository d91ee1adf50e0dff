package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/escalation"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/metricsource"
)

// slaRun scales one route's service by the route's p99 (Vamp's escalations). It samples the p99
// of the route's requests since its previous tick, once per tick, and hands the samples to its
// Escalator; the runtime's Scaler makes the decision real, and discovery brings the new
// instances into the route.
type slaRun struct {
	gateway, route string
	key            string // the policy and the service: an unchanged key keeps the run
	scaler         escalation.Scaler
	window         time.Duration

	mu       sync.Mutex // one tick at a time; guards the fields below
	esc      *escalation.Escalator
	source   *metricsource.InProcess
	tickAt   time.Time
	lastTick time.Time
	samples  []escalation.Sample

	// last is what the admin API shows; it is read under s.mu, which a tick takes (to read the
	// counters) while holding mu, so it must not need mu.
	last atomic.Pointer[gatewayapi.ScaleStatus]
}

// prepareSLAs builds the SLA scaling of doc's routes, keeping old's runs whose key is unchanged.
// Faults are 400s at routes[i].scale.
func (s *Server) prepareSLAs(name string, doc gatewayapi.Gateway, old *entry) (map[string]*slaRun, error) {
	var out map[string]*slaRun
	for i, r := range doc.Routes {
		if r.Scale == nil {
			continue
		}
		at := fmt.Sprintf("routes[%d].scale", i)
		if r.Service == nil {
			return nil, refuse(http.StatusBadRequest, at, "scaling needs a service route (\"service\"): the gateway scales a runtime's service, not static instances")
		}
		scaler := s.cfg.Scalers[r.Service.Runtime]
		if scaler == nil {
			return nil, refuse(http.StatusBadRequest, at, "this gateway cannot scale services of runtime %q; remove scale or run the gateway with that runtime's scaler", r.Service.Runtime)
		}
		p := escalation.Policy{Service: r.Service.ID, Min: r.Scale.Min, Max: r.Scale.Max, Step: r.Scale.Step}
		var err error
		for _, d := range []struct {
			field, value string
			to           *time.Duration
		}{{"upper", r.Scale.Upper, &p.Upper}, {"lower", r.Scale.Lower, &p.Lower}, {"window", r.Scale.Window, &p.Window}, {"cooldown", r.Scale.Cooldown, &p.Cooldown}} {
			if *d.to, err = duration(at+"."+d.field, d.value, false); err != nil {
				return nil, err
			}
		}
		if err := p.Validate(); err != nil {
			return nil, refuse(http.StatusBadRequest, at, "%v", err)
		}
		keyJSON, _ := json.Marshal(p)
		key := r.Service.Runtime + "\n" + string(keyJSON)
		if out == nil {
			out = map[string]*slaRun{}
		}
		if old != nil && old.slas[r.Name] != nil && old.slas[r.Name].key == key {
			out[r.Name] = old.slas[r.Name]
			continue
		}
		instances := 0
		if src := s.sources[r.Service.Runtime]; src != nil {
			if found, err := src.Resolve(r.Service.ID, r.Service.Port); err == nil {
				instances = len(found)
			}
		}
		esc, err := escalation.New(p, instances) // the first tick clamps a count outside min..max
		if err != nil {
			return nil, refuse(http.StatusBadRequest, at, "%v", err)
		}
		run := &slaRun{gateway: name, route: r.Name, key: key, scaler: scaler, window: p.Window, esc: esc}
		run.last.Store(&gatewayapi.ScaleStatus{Instances: instances})
		run.source = metricsource.NewInProcess(metricsource.CountersFunc(s.routeCounters), func() time.Time { return run.tickAt })
		out[r.Name] = run
	}
	return out, nil
}

// tick samples the route's p99 since the previous tick and lets the escalator decide.
func (r *slaRun) tick(ctx context.Context, now time.Time) (scaled bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tickAt = now
	w, err := r.source.Window(ctx, r.gateway, r.route, r.lastTick)
	if err != nil {
		return false, err
	}
	r.lastTick = now
	r.samples = escalation.Keep(append(r.samples, escalation.Sample{At: now, P99: w.P99}), now, r.window)
	before := r.esc.State().Instances
	n, reason, err := r.esc.Apply(ctx, r.scaler, now, r.samples)
	st := r.esc.State()
	shown := *r.last.Load()
	shown.Instances, shown.LastScaleAt = st.Instances, st.LastScaleAt
	switch {
	case err != nil:
		shown.Reason = err.Error()
	case n != before:
		shown.Reason = reason
	}
	r.last.Store(&shown)
	return err == nil && n != before, err
}

func (r *slaRun) status() *gatewayapi.ScaleStatus {
	st := *r.last.Load()
	return &st
}

// TickSLAs samples and judges every route's SLA scaling once, at now: what the background
// ticker does every Config.RolloutTick, for tests that drive time themselves.
//
// In store mode only the elected replica scales (see store_election.go).
func (s *Server) TickSLAs(ctx context.Context, now time.Time) {
	if !s.ticks() {
		return
	}
	s.mu.Lock()
	var runs []*slaRun
	for _, name := range s.sortedNames() {
		for _, r := range s.gateways[name].slas {
			runs = append(runs, r)
		}
	}
	s.mu.Unlock()
	for _, r := range runs {
		scaled, err := r.tick(ctx, now)
		switch {
		case err != nil:
			s.log.Warn("SLA scaling failed; trying again at the next tick", "gateway", r.gateway, "route", r.route, "error", err)
		case scaled:
			s.log.Info("SLA scaling", "gateway", r.gateway, "route", r.route, "reason", r.status().Reason)
		}
	}
}

// followSLAs ticks the SLA scaling every Config.RolloutTick until stop (none when negative).
func (s *Server) followSLAs() (stop func()) {
	if s.cfg.RolloutTick < 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.RolloutTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.TickSLAs(ctx, s.now())
			}
		}
	}()
	return func() { cancel(); <-done }
}
