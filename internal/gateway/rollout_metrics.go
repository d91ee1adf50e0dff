package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

// rolloutCollector exports the roll-outs on /metrics, computed from the engines at scrape time
// (so a replaced or deleted roll-out leaves no stale series behind).
type rolloutCollector struct {
	s                               *Server
	step, steps, weight, phase, end *prometheus.Desc
}

var rolloutPhases = []rollout.Phase{rollout.PhasePending, rollout.PhaseProgressing, rollout.PhasePromoted, rollout.PhaseRolledBack, rollout.PhaseFailed}

func newRolloutCollector(s *Server) *rolloutCollector {
	labels := []string{"gateway", "canary"}
	return &rolloutCollector{
		s:      s,
		step:   prometheus.NewDesc("vamp_gateway_rollout_step", "Current step of a gateway's roll-out (1-based; 0 before the start).", labels, nil),
		steps:  prometheus.NewDesc("vamp_gateway_rollout_steps", "Number of steps of a gateway's roll-out.", labels, nil),
		weight: prometheus.NewDesc("vamp_gateway_rollout_weight", "Current weight (percent) of a roll-out's canary route.", labels, nil),
		phase:  prometheus.NewDesc("vamp_gateway_rollout_phase", "1 for the roll-out's current phase, 0 for the others.", append(labels, "phase"), nil),
		end: prometheus.NewDesc("vamp_gateway_rollout_end_info", "1 for a roll-out that has ended (promoted, rolled_back, failed), with the reason.",
			append(labels, "phase", "reason"), nil),
	}
}

func (c *rolloutCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.step, c.steps, c.weight, c.phase, c.end} {
		ch <- d
	}
}

func (c *rolloutCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	var runs []*rolloutRun
	for _, name := range c.s.sortedNames() {
		if r := c.s.gateways[name].run; r != nil {
			runs = append(runs, r)
		}
	}
	c.s.mu.Unlock()
	for _, r := range runs {
		st := r.engine.State().Status()
		ch <- prometheus.MustNewConstMetric(c.step, prometheus.GaugeValue, float64(st.Step), r.gateway, r.canary)
		ch <- prometheus.MustNewConstMetric(c.steps, prometheus.GaugeValue, float64(st.Steps), r.gateway, r.canary)
		ch <- prometheus.MustNewConstMetric(c.weight, prometheus.GaugeValue, float64(st.Weight), r.gateway, r.canary)
		for _, p := range rolloutPhases {
			v := 0.0
			if p == st.Phase {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.phase, prometheus.GaugeValue, v, r.gateway, r.canary, string(p))
		}
		if st.Phase.Terminal() {
			ch <- prometheus.MustNewConstMetric(c.end, prometheus.GaugeValue, 1, r.gateway, r.canary, string(st.Phase), st.Reason)
		}
	}
}
