package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

func liveClusterGateway(weights map[string]int, policy *gatewayapi.RolloutPolicy) gatewayapi.Gateway {
	gw := gatewayapi.Gateway{Name: "sava/sava_cluster/webport", Rollout: policy}
	for _, svc := range []string{"sava:1.0.0", "sava:1.1.0"} {
		gw.Routes = append(gw.Routes, gatewayapi.Route{
			Name: "sava/sava_cluster/" + svc + "/webport", Weight: weights[svc],
			Service: &gatewayapi.ServiceRef{Runtime: "local", ID: "sava/sava_cluster/" + svc, Port: "webport"},
		})
	}
	return gw
}

func recordedGateway(m *rolloutModel) clusterGatewayModel {
	return clusterGatewayModel{Routes: map[string]routeModel{
		"sava:1.0.0": {Weight: types.Int64Value(100)},
		"sava:1.1.0": {Weight: types.Int64Value(0)},
	}, Rollout: m}
}

// While the gateway runs the recorded policy, Read keeps the configured weights (no drift);
// a different live policy is drift and is read back, weights included.
func TestReadKeepsConfiguredWeightsWhileTheRolloutOwnsThem(t *testing.T) {
	m := &rolloutModel{Canary: types.StringValue("sava:1.1.0"), Steps: []int64{10, 100}, Interval: types.StringValue("30s"), WaitForPromotion: types.BoolValue(true)}
	recorded := recordedGateway(m)
	sent := apiRollout("sava", clusterRollout{"sava_cluster", "webport", "sava/sava_cluster/webport", m})
	if sent.Canary != "sava/sava_cluster/sava:1.1.0/webport" || sent.Interval != "30s" || sent.Checks.MinRequests != defaultRolloutMinRequests || sent.Checks.Max5xxRate != defaultRolloutMax5xxRate {
		t.Fatalf("the PUT's policy: %+v", sent)
	}

	promoted := liveClusterGateway(map[string]int{"sava:1.0.0": 0, "sava:1.1.0": 100}, sent)
	got := withLiveRollout("sava", "sava_cluster", "webport", recorded, liveRouting(recorded, promoted), promoted)
	if got.Routes["sava:1.1.0"].Weight.ValueInt64() != 0 || got.Routes["sava:1.0.0"].Weight.ValueInt64() != 100 || got.Rollout != m {
		t.Errorf("same policy: want the configured 100/0 and the recorded rollout, got %+v", got)
	}

	other := *sent
	other.Steps = []int{50, 100}
	changed := liveClusterGateway(map[string]int{"sava:1.0.0": 50, "sava:1.1.0": 50}, &other)
	got = withLiveRollout("sava", "sava_cluster", "webport", recorded, liveRouting(recorded, changed), changed)
	if got.Routes["sava:1.1.0"].Weight.ValueInt64() != 50 || got.Rollout == nil || len(got.Rollout.Steps) != 2 || got.Rollout.Steps[0] != 50 ||
		got.Rollout.Canary.ValueString() != "sava:1.1.0" || !got.Rollout.WaitForPromotion.ValueBool() {
		t.Errorf("another live policy is drift, read back in HCL form: %+v %+v", got, got.Rollout)
	}
	// Read back, it is what the gateway runs: sending it again keeps that roll-out.
	again := apiRollout("sava", clusterRollout{"sava_cluster", "webport", "sava/sava_cluster/webport", got.Rollout})
	if !samePolicy(again, &other) {
		t.Errorf("the read-back policy does not round-trip:\n got %+v\nwant %+v", again, other)
	}

	none := liveClusterGateway(map[string]int{"sava:1.0.0": 100}, nil)
	if got := withLiveRollout("sava", "sava_cluster", "webport", recorded, liveRouting(recorded, none), none); got.Rollout != nil {
		t.Errorf("a gateway without a roll-out reads as none, got %+v", got.Rollout)
	}
}

// The statistical judge's attributes go to the gateway and are read back as written.
func TestRolloutJudgeAttributesRoundTrip(t *testing.T) {
	m := &rolloutModel{Canary: types.StringValue("sava:1.1.0"), Steps: []int64{10, 100}, Interval: types.StringValue("30s"),
		Judge: types.StringValue("statistical"), Confidence: types.Float64Value(0.99), MinEffect: types.Float64Value(0.02)}
	sent := apiRollout("sava", clusterRollout{"sava_cluster", "webport", "sava/sava_cluster/webport", m})
	if sent.Checks.Judge != "statistical" || sent.Checks.Confidence != 0.99 || sent.Checks.MinEffect != 0.02 {
		t.Fatalf("the PUT's checks: %+v", sent.Checks)
	}
	back := rolloutFromAPI(liveClusterGateway(map[string]int{"sava:1.0.0": 100}, sent), m)
	if back.Judge.ValueString() != "statistical" || back.Confidence.ValueFloat64() != 0.99 || back.MinEffect.ValueFloat64() != 0.02 {
		t.Fatalf("read back: judge %v confidence %v min_effect %v", back.Judge, back.Confidence, back.MinEffect)
	}
	plain := apiRollout("sava", clusterRollout{"sava_cluster", "webport", "sava/sava_cluster/webport",
		&rolloutModel{Canary: types.StringValue("sava:1.1.0"), Steps: []int64{10, 100}}})
	if b := rolloutFromAPI(liveClusterGateway(map[string]int{"sava:1.0.0": 100}, plain), nil); !b.Judge.IsNull() || !b.Confidence.IsNull() || !b.MinEffect.IsNull() {
		t.Fatalf("unset judge attributes must read back null, got %v %v %v", b.Judge, b.Confidence, b.MinEffect)
	}
}
