package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

func recordedService() serviceModel {
	return serviceModel{
		Breed: &breedModel{Name: types.StringValue("sava:1.0.0"), Deployable: types.StringValue("magneticio/sava:1.0.0"),
			Ports: map[string]string{"webport": "8080/http"}},
		Scale: &scaleModel{CPU: types.Float64Value(0.2), Memory: types.Int64Value(256), Instances: types.Int64Value(2)},
		HealthChecks: []healthCheckModel{{
			Port: types.StringValue("webport"), Path: types.StringValue("/"), Protocol: types.StringValue("http"),
			InitialDelay: types.StringValue("1m"), Interval: types.StringValue("1500ms"), Timeout: types.StringValue("5s"),
			Failures: types.Int64Value(3),
		}},
	}
}

// runtimeForm is recordedService as Marathon reads it back.
func runtimeForm() runtime.Service {
	return runtime.Service{
		Deployable: "magneticio/sava:1.0.0", CPU: 0.2, MemoryMB: 256, Instances: 2,
		HealthChecks: []runtime.HealthCheck{{Port: "webport", Path: "/", Protocol: "HTTP", InitialDelay: "60s", Interval: "2s", Timeout: "5s", Failures: 3}},
	}
}

// TestLiveServiceNormalizes: the runtime's read-back forms are not drift; real changes are,
// except where the marathon dialect or an sla owns the field.
func TestLiveServiceNormalizes(t *testing.T) {
	recorded := recordedService()
	if got := liveService(recorded, runtimeForm(), false); !sameService(got, recorded) {
		t.Errorf("Marathon's read-back forms (\"60s\" for \"1m\", \"2s\" for \"1500ms\", HTTP for http) show as drift: %+v", got.HealthChecks)
	}

	changed := runtimeForm()
	changed.Deployable, changed.Instances, changed.CPU = "magneticio/sava:9.9.9", 5, 1
	changed.Environment = map[string]string{"X": "1"}
	changed.HealthChecks[0].Interval = "30s"
	got := liveService(recorded, changed, false)
	if got.Breed.Deployable.ValueString() != "magneticio/sava:9.9.9" || got.Scale.Instances.ValueInt64() != 5 ||
		got.Scale.CPU.ValueFloat64() != 1 || got.Breed.EnvironmentVariables["X"] != "1" || got.HealthChecks[0].Interval.ValueString() != "30s" {
		t.Errorf("changes behind Terraform's back do not show: %+v %+v %+v", got.Breed, got.Scale, got.HealthChecks)
	}

	if got := liveService(recorded, changed, true); got.Scale.Instances.ValueInt64() != 2 {
		t.Errorf("with an sla, the gateway's count %d shows as drift", got.Scale.Instances.ValueInt64())
	}
	withDialect := recordedService()
	withDialect.Marathon = types.StringValue(`{"cpus": 1, "instances": 5}`)
	if got := liveService(withDialect, changed, false); got.Scale.CPU.ValueFloat64() != 0.2 || got.Scale.Instances.ValueInt64() != 2 {
		t.Errorf("fields the marathon dialect sets show as drift: %+v", got.Scale)
	}

	recordedNoFailures := recordedService()
	recordedNoFailures.HealthChecks[0].Failures = types.Int64Value(0)
	if got := liveService(recordedNoFailures, runtimeForm(), false); got.HealthChecks[0].Failures.ValueInt64() != 0 {
		t.Error("the 3 failures Marathon fills in for an unset count show as drift")
	}
}

func sameService(a, b serviceModel) bool {
	if *a.Breed.Deployable.ValueStringPointer() != *b.Breed.Deployable.ValueStringPointer() || *a.Scale != *b.Scale || len(a.HealthChecks) != len(b.HealthChecks) {
		return false
	}
	for i := range a.HealthChecks {
		if a.HealthChecks[i] != b.HealthChecks[i] {
			return false
		}
	}
	return true
}
