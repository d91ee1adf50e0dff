package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

// RolloutPolicy reads the roll-out of doc (the document of gateway name) into the roll-out
// engine's Policy. It checks only what the conversion needs (the durations, each a *FieldError
// at its JSON path); Policy.Validate checks the rest. doc.Rollout must not be nil.
//
// The gateway (which runs roll-outs) and gatewaystore.RolloutKey (with which a controller tells
// the record of the roll-out it wrote from an older one) both read a policy through it, so the
// two always compute the same RolloutKey.
func RolloutPolicy(name string, doc gatewayapi.Gateway) (rollout.Policy, error) {
	in := doc.Rollout
	p := rollout.Policy{
		Gateway:          name,
		Canary:           in.Canary,
		Stable:           slices.Clone(in.Stable),
		Steps:            slices.Clone(in.Steps),
		StepWeight:       in.StepWeight,
		MaxWeight:        in.MaxWeight,
		MaxWaitIntervals: in.MaxWaitIntervals,
		Checks: rollout.Checks{Max5xxRate: in.Checks.Max5xxRate, MinRequests: in.Checks.MinRequests,
			Judge: in.Checks.Judge, Confidence: in.Checks.Confidence, MinEffect: in.Checks.MinEffect},
	}
	if len(p.Stable) == 0 {
		for _, r := range doc.Routes {
			if r.Name != in.Canary {
				p.Stable = append(p.Stable, r.Name)
			}
		}
	}
	var err error
	if p.Interval, err = Duration("rollout.interval", in.Interval, true); err != nil {
		return p, err
	}
	if p.Checks.MaxP99, err = Duration("rollout.checks.max_p99", in.Checks.MaxP99, false); err != nil {
		return p, err
	}
	for i, h := range in.Webhooks {
		t, err := Duration(fmt.Sprintf("rollout.webhooks[%d].timeout", i), h.Timeout, false)
		if err != nil {
			return p, err
		}
		p.Webhooks = append(p.Webhooks, rollout.Webhook{Name: h.Name, Type: rollout.HookType(h.Type), URL: h.URL, Timeout: t, Metadata: maps.Clone(h.Metadata)})
	}
	return p, nil
}

// RolloutKey is the identity of a roll-out: the policy's fingerprint combined with its metric
// source m. A document whose roll-out has another key starts a new roll-out.
func RolloutKey(p rollout.Policy, m *gatewayapi.RolloutMetrics) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", &FieldError{Path: "rollout.metrics", Msg: err.Error()}
	}
	sum := sha256.Sum256(append([]byte(p.Fingerprint()+"\n"), b...))
	return hex.EncodeToString(sum[:8]), nil
}

// Duration reads the duration s of the field at path; "" is 0, or a *FieldError when required.
func Duration(path, s string, required bool) (time.Duration, error) {
	if s == "" {
		if required {
			return 0, &FieldError{Path: path, Msg: `a duration is required, e.g. "1m"`}
		}
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &FieldError{Path: path, Msg: fmt.Sprintf("%q is not a duration; write it like \"30s\", \"1m\" or \"1h30m\"", s)}
	}
	return d, nil
}
