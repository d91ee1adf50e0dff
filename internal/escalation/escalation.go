// Package escalation is Vamp's escalations: scaling a service variant by its latency SLA. When
// the 99th percentile latency stays above an upper threshold for a whole window the service
// gets more instances; when it stays below a lower threshold for a whole window it gets fewer;
// always between a minimum and a maximum, and never twice within a cooldown.
//
// Escalator is pure and deterministic: the caller passes the time and the p99 samples (from a
// metricsource.Source, one per tick) and gets the wanted instance count back. A runtime driver
// (local dev runtime, Marathon) makes it so through the Scaler interface.
//
// "Stays above for the whole window" is defined on the samples as a step function: each sample
// holds from its time until the next sample. The window [now-Window, now] is covered when there
// is a sample at or before now-Window; it stays above Upper when that sample and every later
// one (up to now) is above Upper. The same goes for below Lower. After a scale, the evidence
// for the next one must be gathered entirely after it (its window starts at or after the
// scale), and the cooldown must have passed; so two scales are at least max(Window, Cooldown)
// apart. An idle service measures a p99 of 0, which is below Lower: idle services shrink to Min.
package escalation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scaler sets the number of instances of a service variant; runtime drivers implement it.
type Scaler interface {
	Scale(ctx context.Context, serviceID string, instances int) error
}

// Policy is the SLA of one service variant. JSON names are the HCL attribute names.
type Policy struct {
	// Service is the runtime's id of the service variant (a Marathon app id, a local service id).
	Service string `json:"service"`
	// Min and Max bound the instances.
	Min int `json:"min"`
	Max int `json:"max"`
	// Upper: a p99 above it for the whole Window scales up. Lower: a p99 below it for the whole
	// Window scales down; 0 never scales down.
	Upper time.Duration `json:"upper"`
	Lower time.Duration `json:"lower,omitempty"`
	// Window is how long the p99 must stay beyond a threshold.
	Window time.Duration `json:"window"`
	// Cooldown is the least time between two scales.
	Cooldown time.Duration `json:"cooldown,omitempty"`
	// Step is how many instances one escalation adds or removes (default 1).
	Step int `json:"step,omitempty"`
}

// Validate checks the policy whole and names each faulty field with its fix.
func (p Policy) Validate() error {
	var faults []string
	fault := func(field, format string, args ...any) {
		faults = append(faults, field+": "+fmt.Sprintf(format, args...))
	}
	if p.Service == "" {
		fault("service", "name the service variant to scale, e.g. \"/sava/sava-1-1-0\"")
	}
	if p.Min < 1 {
		fault("min", "%d: keep at least 1 instance; a scaled-to-zero service has no latency to measure", p.Min)
	}
	if p.Max < p.Min {
		fault("max", "%d is below min %d; raise max or lower min", p.Max, p.Min)
	}
	if p.Upper <= 0 {
		fault("upper", "%v: give the p99 latency above which to scale up, e.g. \"500ms\"", p.Upper)
	}
	if p.Lower < 0 {
		fault("lower", "%v is negative; give e.g. \"100ms\", or 0 to never scale down", p.Lower)
	} else if p.Upper > 0 && p.Lower >= p.Upper {
		fault("lower", "%v is not below upper %v; leave a gap between them so the service does not flap", p.Lower, p.Upper)
	}
	if p.Window <= 0 {
		fault("window", "%v: give how long the p99 must stay beyond a threshold, e.g. \"2m\"", p.Window)
	}
	if p.Cooldown < 0 {
		fault("cooldown", "%v is negative; give e.g. \"5m\", or 0 for no cooldown beyond the window", p.Cooldown)
	}
	if p.Step < 0 {
		fault("step", "%d is negative; give the instances per escalation, e.g. 1", p.Step)
	}
	if len(faults) > 0 {
		return errors.New("invalid escalation: " + strings.Join(faults, "; "))
	}
	return nil
}

func (p Policy) step() int {
	if p.Step == 0 {
		return 1
	}
	return p.Step
}

// Sample is the p99 latency measured at one moment (e.g. over the last tick).
type Sample struct {
	At  time.Time     `json:"at"`
	P99 time.Duration `json:"p99"`
}

// State is what an Escalator needs to continue after a restart.
type State struct {
	Instances   int       `json:"instances"`
	LastScaleAt time.Time `json:"last_scale_at,omitzero"`
}

// Escalator decides the instances of one service variant.
type Escalator struct {
	policy Policy
	st     State
}

// New starts an escalator for a service running instances now (clamped into [Min, Max]; the
// first Tick reports the clamped count if it differs). Give a persisted State to Resume.
func New(p Policy, instances int) (*Escalator, error) {
	return Resume(p, State{Instances: instances})
}

// Resume continues from a persisted State.
func Resume(p Policy, st State) (*Escalator, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Escalator{policy: p, st: st}, nil
}

// State returns the state to persist.
func (e *Escalator) State() State { return e.st }

// Tick decides the instances at now from the p99 samples (in time order; older samples than
// needed are ignored). reason is empty when nothing changed.
func (e *Escalator) Tick(now time.Time, samples []Sample) (instances int, reason string) {
	p := e.policy
	if e.st.Instances < p.Min || e.st.Instances > p.Max {
		was := e.st.Instances
		e.st.Instances = min(max(was, p.Min), p.Max)
		return e.st.Instances, fmt.Sprintf("%d instances is outside min %d and max %d", was, p.Min, p.Max)
	}
	if !e.st.LastScaleAt.IsZero() && now.Sub(e.st.LastScaleAt) < p.Cooldown {
		return e.st.Instances, ""
	}
	start := now.Add(-p.Window)
	if start.Before(e.st.LastScaleAt) {
		return e.st.Instances, "" // no full window of evidence since the last scale
	}
	above, below, covered := true, p.Lower > 0, false
	for _, s := range samples {
		if s.At.After(now) {
			break
		}
		if s.At.Before(e.st.LastScaleAt) {
			continue // measured before the last scale: says nothing about the service now
		}
		if !s.At.After(start) {
			// A sample at or before the window's start holds at the start: the latest one counts.
			covered = true
			above, below = s.P99 > p.Upper, p.Lower > 0 && s.P99 < p.Lower
			continue
		}
		above = above && s.P99 > p.Upper
		below = below && s.P99 < p.Lower
	}
	if !covered {
		return e.st.Instances, ""
	}
	switch {
	case above && e.st.Instances < p.Max:
		return e.scale(now, min(e.st.Instances+p.step(), p.Max), fmt.Sprintf("p99 above %v for %v", p.Upper, p.Window))
	case below && e.st.Instances > p.Min:
		return e.scale(now, max(e.st.Instances-p.step(), p.Min), fmt.Sprintf("p99 below %v for %v", p.Lower, p.Window))
	}
	return e.st.Instances, ""
}

func (e *Escalator) scale(now time.Time, to int, why string) (int, string) {
	from := e.st.Instances
	e.st.Instances, e.st.LastScaleAt = to, now
	return to, fmt.Sprintf("%s: scaled %s from %d to %d instances", why, e.policy.Service, from, to)
}

// Apply runs one Tick and, when the instances change, asks scaler to make it so. When scaling
// fails, the escalator keeps its previous state and the next Tick tries again.
func (e *Escalator) Apply(ctx context.Context, scaler Scaler, now time.Time, samples []Sample) (int, string, error) {
	before := e.st
	n, reason := e.Tick(now, samples)
	if n == before.Instances {
		return n, reason, nil
	}
	if err := scaler.Scale(ctx, e.policy.Service, n); err != nil {
		e.st = before
		return before.Instances, reason, fmt.Errorf("escalation of %s to %d instances: %w", e.policy.Service, n, err)
	}
	return n, reason, nil
}

// Keep returns the samples a Tick at now still needs: those after now-window, and the latest
// one at or before it (it holds at the window's start). Callers that append a sample per tick
// trim with it to stay bounded.
func Keep(samples []Sample, now time.Time, window time.Duration) []Sample {
	start := now.Add(-window)
	i := 0
	for i+1 < len(samples) && !samples[i+1].At.After(start) {
		i++
	}
	return samples[i:]
}
