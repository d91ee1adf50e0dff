package rollout

import "time"

// Status is a roll-out's progress as the admin API shows it, the /metrics page exports it and
// the provider turns it into computed attributes.
type Status struct {
	Phase Phase `json:"phase"`
	// Step is the 1-based current step (0 before the start) of Steps; Weight the canary's.
	Step    int            `json:"step"`
	Steps   int            `json:"steps"`
	Weight  int            `json:"weight"`
	Weights map[string]int `json:"weights"`
	Reason  string         `json:"reason"`
	// Checksum is the policy's Fingerprint.
	Checksum   string    `json:"checksum"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	LastStepAt time.Time `json:"last_step_at,omitzero"`
	// NextStepAt is the earliest moment the next step (or the promotion) can come, while
	// progressing.
	NextStepAt time.Time `json:"next_step_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// The canary's traffic in the current step, as last measured.
	Requests  float64 `json:"requests"`
	ErrorRate float64 `json:"error_rate"`
	P99       string  `json:"p99,omitempty"`
}

// Status summarises the state.
func (s State) Status() Status {
	st := Status{
		Phase:      s.Phase,
		Step:       s.Step,
		Steps:      len(s.Policy.Schedule()),
		Weight:     s.Weights[s.Policy.Canary],
		Weights:    s.Weights,
		Reason:     s.Reason,
		Checksum:   s.Policy.Fingerprint(),
		StartedAt:  s.StartedAt,
		LastStepAt: s.LastStepAt,
		FinishedAt: s.FinishedAt,
		Requests:   s.LastWindow.Requests,
		ErrorRate:  s.LastWindow.ErrorRate(),
		P99:        durationString(s.LastWindow.P99),
	}
	if s.Phase == PhaseProgressing {
		st.NextStepAt = s.LastStepAt.Add(s.Policy.Interval)
	}
	return st
}
