package rollout

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Policy is a progressive roll-out on one cluster gateway: which route is the canary, which
// routes are stable, the canary weights to step through, how long each step lasts and what a
// healthy step looks like. JSON field names are the HCL attribute names.
type Policy struct {
	// Gateway is the cluster gateway, e.g. "sava/sava_cluster/webport".
	Gateway string `json:"gateway"`
	// Canary is the route that receives the new variant's traffic.
	Canary string `json:"canary"`
	// Stable are the routes that keep the rest; with several, they keep their relative shares.
	Stable []string `json:"stable"`

	// Either Steps, the canary weights in increasing order (e.g. 10, 25, 50, 100), or StepWeight
	// with MaxWeight: StepWeight, 2×StepWeight, ... up to MaxWeight (default 100), MaxWeight
	// itself always being the last step.
	Steps      []int `json:"steps,omitempty"`
	StepWeight int   `json:"step_weight,omitempty"`
	MaxWeight  int   `json:"max_weight,omitempty"`

	// Interval is how long each step is held and measured before the next one.
	Interval time.Duration `json:"interval"`
	Checks   Checks        `json:"checks"`
	// MaxWaitIntervals bounds the wait for MinRequests (or for metrics at all): a step still short
	// of them MaxWaitIntervals intervals after its own interval ended is rolled back. 0 waits
	// forever at the current weight.
	MaxWaitIntervals int `json:"max_wait_intervals,omitempty"`

	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// Checks say what a healthy step is. A step is judged only once its window holds MinRequests.
type Checks struct {
	// Max5xxRate is the highest acceptable fraction of 5xx answers (0.01 = 1%). 0 tolerates no
	// 5xx at all; 1 disables the check.
	Max5xxRate float64 `json:"max_5xx_rate"`
	// MaxP99 is the highest acceptable 99th percentile latency; 0 disables the check.
	MaxP99 time.Duration `json:"max_p99,omitempty"`
	// MinRequests is how many requests the canary must have served in a step before the step is
	// judged (at least 1: a step without traffic proves nothing).
	MinRequests int `json:"min_requests"`
	// Judge is JudgeThreshold ("" too) or JudgeStatistical.
	Judge string `json:"judge,omitempty"`
	// Confidence (statistical judge; 0 means DefaultConfidence) bounds the chance of a wrong
	// verdict over the whole roll-out to 1-Confidence (see lookAlpha).
	Confidence float64 `json:"confidence,omitempty"`
	// MinEffect (statistical judge; 0 means DefaultMinEffect) is the increase of the 5xx rate
	// (absolute: 0.01 = one percentage point) the canary must be shown to stay below to pass.
	MinEffect float64 `json:"min_effect,omitempty"`
}

func (c Checks) statistical() bool { return c.Judge == JudgeStatistical }

func (c Checks) confidence() float64 {
	if c.Confidence == 0 {
		return DefaultConfidence
	}
	return c.Confidence
}

func (c Checks) minEffect() float64 {
	if c.MinEffect == 0 {
		return DefaultMinEffect
	}
	return c.MinEffect
}

// HookType says when a webhook is called.
type HookType string

const (
	// HookPreRollout is called before the first weight change; any failure (error, timeout,
	// non-2xx answer) blocks the start and the roll-out ends failed.
	HookPreRollout HookType = "pre-rollout"
	// HookStep is called after each weight change of a step (best effort).
	HookStep HookType = "step"
	// HookRollback is called after a roll-back took effect (best effort).
	HookRollback HookType = "rollback"
	// HookPromotion is called after the promotion took effect (best effort).
	HookPromotion HookType = "promotion"
)

// DefaultWebhookTimeout applies to a webhook without a timeout.
const DefaultWebhookTimeout = 10 * time.Second

// Webhook is an HTTP endpoint that receives a POST with a JSON Payload, like Flagger's webhooks.
type Webhook struct {
	Name string   `json:"name"`
	Type HookType `json:"type"`
	URL  string   `json:"url"`
	// Timeout of the whole call; 0 means DefaultWebhookTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Metadata is passed through in the payload.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Schedule is the canary weight of each step, in order.
func (p Policy) Schedule() []int {
	if len(p.Steps) > 0 {
		return slices.Clone(p.Steps)
	}
	if p.StepWeight <= 0 {
		return nil
	}
	limit := p.maxWeight()
	var s []int
	for w := p.StepWeight; w < limit; w += p.StepWeight {
		s = append(s, w)
	}
	return append(s, limit)
}

func (p Policy) maxWeight() int {
	if p.MaxWeight == 0 {
		return 100
	}
	return p.MaxWeight
}

// routes is every route the policy moves: the canary first, then the stable ones.
func (p Policy) routes() []string { return append([]string{p.Canary}, p.Stable...) }

// Fingerprint identifies the policy's content. The gateway keeps a running roll-out when a
// configuration change leaves the fingerprint alone, and starts a new one when it changes.
func (p Policy) Fingerprint() string {
	b, _ := json.Marshal(p) // a Policy always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// FieldError is one fault of a Policy at a path of its attributes ("steps[2]",
// "checks.max_5xx_rate"), with a message that says what to do.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// ValidationError lists every fault of a Policy, so one attempt reports everything to fix.
type ValidationError struct{ Faults []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Faults))
	for i, f := range e.Faults {
		parts[i] = f.Error()
	}
	return "invalid roll-out policy: " + strings.Join(parts, "; ")
}

// Validate checks the policy whole. The error is a *ValidationError.
func (p Policy) Validate() error {
	var faults []FieldError
	fault := func(path, format string, args ...any) {
		faults = append(faults, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}

	if p.Gateway == "" {
		fault("gateway", "name the cluster gateway whose routes roll out, e.g. \"sava/sava_cluster/webport\"")
	}
	if p.Canary == "" {
		fault("canary", "name the route of the new variant, e.g. \"sava/sava_cluster/sava:1.1.0/webport\"")
	}
	if len(p.Stable) == 0 {
		fault("stable", "name at least one stable route to roll back to, e.g. [\"sava/sava_cluster/sava:1.0.0/webport\"]")
	}
	seen := map[string]int{}
	for i, s := range p.Stable {
		path := fmt.Sprintf("stable[%d]", i)
		switch first, dup := seen[s]; {
		case s == "":
			fault(path, "a route name is empty; name a route of the gateway")
		case s == p.Canary:
			fault(path, "%q is the canary; a route cannot be canary and stable, remove it from stable", s)
		case dup:
			fault(path, "%q is already stable[%d]; list each stable route once", s, first)
		default:
			seen[s] = i
		}
	}

	switch {
	case len(p.Steps) > 0 && (p.StepWeight != 0 || p.MaxWeight != 0):
		fault("steps", "set either steps or step_weight (with max_weight), not both")
	case len(p.Steps) > 0:
		for i, w := range p.Steps {
			path := fmt.Sprintf("steps[%d]", i)
			if w < 1 || w > 100 {
				fault(path, "weight %d is outside 1..100; a step is the canary's percentage of traffic", w)
			} else if i > 0 && w <= p.Steps[i-1] {
				fault(path, "weight %d is not greater than steps[%d] (%d); list the weights in increasing order, e.g. [10, 25, 50, 100]", w, i-1, p.Steps[i-1])
			}
		}
	case p.StepWeight == 0 && p.MaxWeight == 0:
		fault("steps", "declare the canary weights: steps (e.g. [10, 25, 50, 100]) or step_weight (e.g. 10, with max_weight)")
	default:
		if p.StepWeight < 1 || p.StepWeight > 100 {
			fault("step_weight", "%d is outside 1..100; it is the canary weight added per step, e.g. 10", p.StepWeight)
		}
		if p.MaxWeight != 0 && (p.MaxWeight < 1 || p.MaxWeight > 100) {
			fault("max_weight", "%d is outside 1..100; it is the canary weight of the last step (default 100)", p.MaxWeight)
		} else if p.StepWeight >= 1 && p.StepWeight <= 100 && p.maxWeight() < p.StepWeight {
			fault("max_weight", "%d is below step_weight %d; raise max_weight or lower step_weight", p.MaxWeight, p.StepWeight)
		}
	}

	if p.Interval <= 0 {
		fault("interval", "%v: each step needs a positive interval to be measured, e.g. \"1m\"", p.Interval)
	}
	if r := p.Checks.Max5xxRate; r < 0 || r > 1 || r != r {
		fault("checks.max_5xx_rate", "%v is not a fraction in 0..1; write 1%% as 0.01", r)
	}
	if p.Checks.MaxP99 < 0 {
		fault("checks.max_p99", "%v is negative; give a latency such as \"500ms\", or 0 for no latency check", p.Checks.MaxP99)
	}
	if p.Checks.MinRequests < 1 {
		fault("checks.min_requests", "%d: a step is judged on at least 1 request; set e.g. 20", p.Checks.MinRequests)
	}
	switch p.Checks.Judge {
	case "", JudgeThreshold, JudgeStatistical:
	default:
		fault("checks.judge", "%q is not a judge; use %q (fixed limits, the default) or %q (canary against baseline)", p.Checks.Judge, JudgeThreshold, JudgeStatistical)
	}
	if c := p.Checks.Confidence; c != 0 && !(c >= 0.5 && c < 1) {
		fault("checks.confidence", "%v is not a confidence in 0.5..1 (exclusive); write e.g. 0.95, or leave it out for %v", c, DefaultConfidence)
	}
	if m := p.Checks.MinEffect; m != 0 && !(m > 0 && m < 1) {
		fault("checks.min_effect", "%v is not a 5xx-rate difference in 0..1 (exclusive); write e.g. 0.01 for one percentage point, or leave it out for %v", m, DefaultMinEffect)
	}
	if p.MaxWaitIntervals < 0 {
		fault("max_wait_intervals", "%d is negative; use 0 to wait for requests without a bound", p.MaxWaitIntervals)
	}

	names := map[string]int{}
	for i, h := range p.Webhooks {
		path := fmt.Sprintf("webhooks[%d]", i)
		switch first, dup := names[h.Name]; {
		case h.Name == "":
			fault(path+".name", "a webhook needs a name (it appears in errors and events)")
		case dup:
			fault(path+".name", "%q is already webhooks[%d]; webhook names must be unique", h.Name, first)
		default:
			names[h.Name] = i
		}
		switch h.Type {
		case HookPreRollout, HookStep, HookRollback, HookPromotion:
		default:
			fault(path+".type", "%q is not a webhook type; use %q, %q, %q or %q", h.Type, HookPreRollout, HookStep, HookRollback, HookPromotion)
		}
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fault(path+".url", "want an absolute http(s) URL, e.g. \"https://ci.example.com/hooks/canary\"")
		}
		if h.Timeout < 0 {
			fault(path+".timeout", "%v is negative; give e.g. \"10s\", or 0 for the default %v", h.Timeout, DefaultWebhookTimeout)
		}
	}

	if len(faults) > 0 {
		return &ValidationError{Faults: faults}
	}
	return nil
}

// CheckRoutes checks the policy against the gateway's current route weights: every route the
// policy names exists, and no other route carries weight (the roll-out moves all of the
// weight between the canary and the stable routes). The error is a *ValidationError whose paths
// are the policy's ("canary", "stable[1]") or "routes" for a route outside the policy.
func (p Policy) CheckRoutes(current map[string]int) error {
	var faults []FieldError
	if _, ok := current[p.Canary]; !ok && p.Canary != "" {
		faults = append(faults, FieldError{"canary", fmt.Sprintf("gateway %q has no route %q; name one of its routes: %s", p.Gateway, p.Canary, routeList(current))})
	}
	for i, s := range p.Stable {
		if _, ok := current[s]; !ok && s != "" {
			faults = append(faults, FieldError{fmt.Sprintf("stable[%d]", i), fmt.Sprintf("gateway %q has no route %q; name one of its routes: %s", p.Gateway, s, routeList(current))})
		}
	}
	named := p.routes()
	for _, r := range sortedKeys(current) {
		if current[r] != 0 && !slices.Contains(named, r) {
			faults = append(faults, FieldError{"routes", fmt.Sprintf("route %q has weight %d but is neither the canary nor stable; add it to stable or set its weight to 0", r, current[r])})
		}
	}
	if len(faults) > 0 {
		return &ValidationError{Faults: faults}
	}
	return nil
}

func routeList(m map[string]int) string {
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(keys, ", ")
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
