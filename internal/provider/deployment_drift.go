package provider

import (
	"cmp"
	"encoding/json"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// liveService is a recorded service updated with what the runtime reports, so that a change
// made behind Terraform's back (scale or image changed in the Marathon UI, a local service
// re-PUT with another instance count) shows in the next plan as an update back to the
// configuration. Only the fields the user manages are compared, and each in the runtime's
// terms: a value the runtime reads back in another form ("60s" for "1m", Marathon's rounding
// up to whole seconds, a default Marathon fills in) counts as unchanged and keeps the recorded
// form, so that it is not shown as drift.
//
// Fields that the service's marathon dialect sets are Marathon's to decide, not the scale's:
// they are not compared. slaOwnsInstances leaves the instance count alone: the gateway's SLA
// scaler changes it between sla.min_instances and sla.max_instances.
func liveService(recorded serviceModel, live runtime.Service, slaOwnsInstances bool) serviceModel {
	out := recorded
	dialect := dialectKeys(recorded.Marathon.ValueString())
	if recorded.Breed != nil {
		breed := *recorded.Breed
		if !dialect["container"] && !dialect["cmd"] && live.Deployable != "" && live.Deployable != breed.Deployable.ValueString() {
			breed.Deployable = types.StringValue(live.Deployable)
		}
		if !dialect["env"] && !maps.Equal(breed.EnvironmentVariables, live.Environment) {
			breed.EnvironmentVariables = nilIfEmpty(live.Environment)
		}
		out.Breed = &breed
	}
	if recorded.Scale != nil {
		scale := *recorded.Scale
		if !dialect["cpus"] && !floatsEqual(scale.CPU.ValueFloat64(), live.CPU) {
			scale.CPU = types.Float64Value(live.CPU)
		}
		if !dialect["mem"] && scale.Memory.ValueInt64() != live.MemoryMB {
			scale.Memory = types.Int64Value(live.MemoryMB)
		}
		if !dialect["instances"] && !slaOwnsInstances && scale.Instances.ValueInt64() != live.Instances {
			scale.Instances = types.Int64Value(live.Instances)
		}
		out.Scale = &scale
	}
	if !dialect["healthChecks"] {
		out.HealthChecks = liveHealthChecks(recorded.HealthChecks, live.HealthChecks)
	}
	return out
}

// liveHealthChecks keeps the recorded checks when the runtime runs equivalent ones; otherwise
// the runtime's checks are the state (the plan then puts the configured ones back).
func liveHealthChecks(recorded []healthCheckModel, live []runtime.HealthCheck) []healthCheckModel {
	same := len(recorded) == len(live)
	for i := 0; same && i < len(live); i++ {
		same = healthCheckEquivalent(recorded[i], live[i])
	}
	if same {
		return recorded
	}
	var out []healthCheckModel
	for _, hc := range live {
		out = append(out, healthCheckModel{
			Port: types.StringValue(hc.Port), Path: nullIfEmpty(hc.Path), Protocol: nullIfEmpty(hc.Protocol),
			InitialDelay: nullIfEmpty(hc.InitialDelay), Interval: nullIfEmpty(hc.Interval), Timeout: nullIfEmpty(hc.Timeout),
			Failures: types.Int64Value(hc.Failures),
		})
	}
	return out
}

func healthCheckEquivalent(recorded healthCheckModel, live runtime.HealthCheck) bool {
	protocol := strings.ToUpper(cmp.Or(recorded.Protocol.ValueString(), blueprint.DefaultHealthCheckProtocol))
	if !strings.EqualFold(protocol, cmp.Or(live.Protocol, blueprint.DefaultHealthCheckProtocol)) ||
		recorded.Port.ValueString() != live.Port {
		return false
	}
	if protocol != "TCP" && cmp.Or(recorded.Path.ValueString(), blueprint.DefaultHealthCheckPath) != cmp.Or(live.Path, blueprint.DefaultHealthCheckPath) {
		return false
	}
	failures := recorded.Failures.ValueInt64()
	if failures != live.Failures && !(failures == 0 && live.Failures == blueprint.DefaultHealthCheckFailures) {
		return false
	}
	return durationEquivalent(recorded.InitialDelay.ValueString(), live.InitialDelay) &&
		durationEquivalent(recorded.Interval.ValueString(), live.Interval) &&
		durationEquivalent(recorded.Timeout.ValueString(), live.Timeout)
}

// durationEquivalent: the same duration, or the same whole seconds once rounded up (Marathon
// keeps seconds). A side that is empty is the runtime's default and matches anything.
func durationEquivalent(recorded, live string) bool {
	if recorded == live || recorded == "" || live == "" {
		return true
	}
	a, errA := time.ParseDuration(recorded)
	b, errB := time.ParseDuration(live)
	if errA != nil || errB != nil {
		return false
	}
	return a == b || math.Ceil(a.Seconds()) == math.Ceil(b.Seconds())
}

// floatsEqual compares CPU shares as Marathon stores them (JSON numbers, no arithmetic).
func floatsEqual(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// dialectKeys are the top-level fields of a service's marathon dialect ("" has none).
func dialectKeys(raw string) map[string]bool {
	var doc map[string]json.RawMessage
	if raw == "" || json.Unmarshal([]byte(raw), &doc) != nil {
		return nil
	}
	out := map[string]bool{}
	for k := range doc {
		out[k] = true
	}
	return out
}
