package provider

import (
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
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
	dialect := deployplan.DialectKeys(recorded.Marathon.ValueString())
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
		if !dialect["cpus"] && !deployplan.FloatsEqual(scale.CPU.ValueFloat64(), live.CPU) {
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
	return deployplan.HealthCheckEquivalent(runtime.HealthCheck{
		Port: recorded.Port.ValueString(), Path: recorded.Path.ValueString(), Protocol: recorded.Protocol.ValueString(),
		InitialDelay: recorded.InitialDelay.ValueString(), Interval: recorded.Interval.ValueString(), Timeout: recorded.Timeout.ValueString(),
		Failures: recorded.Failures.ValueInt64(),
	}, live)
}
