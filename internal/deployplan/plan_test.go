package deployplan

import (
	"slices"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

func svc(name, deployable string) *blueprint.Service {
	return &blueprint.Service{Breed: blueprint.Breed{Name: name, Deployable: deployable, Ports: map[string]string{"webport": "8080/http"}}}
}

func bp(services ...*blueprint.Service) *blueprint.Blueprint {
	return &blueprint.Blueprint{Name: "sava", Gateways: map[string]string{"9050": "sava_cluster/webport"},
		Clusters: map[string]*blueprint.Cluster{"sava_cluster": {Services: services}}}
}

func weights(b *blueprint.Blueprint) map[string]int64 {
	out := map[string]int64{}
	for name, r := range b.Clusters["sava_cluster"].Gateways["webport"].Routes {
		out[name] = *r.Weight
	}
	return out
}

// Vamp's merge rule: a fresh cluster splits evenly; a variant merged into a running cluster
// whose routing is not stated gets 0 and the others keep theirs.
func TestMerge(t *testing.T) {
	step1 := Merge(bp(svc("sava:1.0.0", "cmd:a")), nil)
	if got := weights(step1); got["sava:1.0.0"] != 100 {
		t.Fatalf("step 1 weights %v, want sava:1.0.0 100", got)
	}
	step3 := Merge(bp(svc("sava:1.0.0", "cmd:a"), svc("sava:1.1.0", "cmd:b")), step1)
	if got := weights(step3); got["sava:1.0.0"] != 100 || got["sava:1.1.0"] != 0 {
		t.Errorf("step 3 weights %v, want 1.0.0 100 and the canary 0", got)
	}
	fresh := Merge(bp(svc("sava:1.0.0", "cmd:a"), svc("sava:1.1.0", "cmd:b"), svc("sava:1.2.0", "cmd:c")), nil)
	if got := weights(fresh); got["sava:1.0.0"] != 34 || got["sava:1.1.0"] != 33 || got["sava:1.2.0"] != 33 {
		t.Errorf("a fresh cluster of three: %v, want 34/33/33", got)
	}
}

func TestServicesToDeployAndRemove(t *testing.T) {
	one := Merge(bp(svc("sava:1.0.0", "cmd:a")), nil)
	two := Merge(bp(svc("sava:1.0.0", "cmd:a"), svc("sava:1.1.0", "cmd:b")), one)
	changed := Merge(bp(svc("sava:1.0.0", "cmd:a2"), svc("sava:1.1.0", "cmd:b")), two)
	ids := func(ss []runtime.Service) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	cases := []struct {
		name          string
		prior, next   *blueprint.Blueprint
		deploy, stops []string
	}{
		{"create", nil, one, []string{"sava/sava_cluster/sava:1.0.0"}, nil},
		{"merge a canary: only it deploys", one, two, []string{"sava/sava_cluster/sava:1.1.0"}, nil},
		{"nothing changes", two, two, nil, nil},
		{"a changed deployable redeploys that variant", two, changed, []string{"sava/sava_cluster/sava:1.0.0"}, nil},
		{"retire the old variant", two, Merge(bp(svc("sava:1.1.0", "cmd:b")), two), nil, []string{"sava/sava_cluster/sava:1.0.0"}},
	}
	for _, tc := range cases {
		if got := ids(ServicesToDeploy(tc.prior, tc.next)); !slices.Equal(got, tc.deploy) {
			t.Errorf("%s: deploys %v, want %v", tc.name, got, tc.deploy)
		}
		if got := ServicesToRemove(tc.prior, tc.next); !slices.Equal(got, tc.stops) {
			t.Errorf("%s: removes %v, want %v", tc.name, got, tc.stops)
		}
	}
}

func TestGatewayNamesAndImport(t *testing.T) {
	two := Merge(bp(svc("sava:1.0.0", "cmd:a"), svc("sava:1.1.0", "cmd:b")), nil)
	if got := GatewayNames(two); !slices.Equal(got, []string{"sava/9050", "sava/sava_cluster/webport"}) {
		t.Errorf("GatewayNames = %v", got)
	}
	var gws []gatewayapi.Gateway
	for _, g := range append(ClusterGateways(two, "local"), BlueprintGateways(two)...) {
		g.Gateway.Name = g.Name
		gws = append(gws, g.Gateway)
	}
	var services []runtime.Status
	for _, s := range RuntimeServicesOrdered(two) {
		services = append(services, runtime.Status{Service: s})
	}
	back := ImportedBlueprint("sava", gws, services)
	if back.Gateways["9050"] != "sava_cluster/webport" || len(back.Clusters["sava_cluster"].Services) != 2 {
		t.Fatalf("import gave %+v", back)
	}
	if got := weights(back); got["sava:1.0.0"] != 50 || got["sava:1.1.0"] != 50 {
		t.Errorf("imported weights %v, want 50/50", got)
	}
	// A blueprint gateway with routing of its own is an endpoint, not a plain gateway.
	for i := range gws {
		if gws[i].Name == "sava/9050" {
			gws[i].Sticky = "route"
		}
	}
	if back := ImportedBlueprint("sava", gws, services); len(back.Gateways) != 0 {
		t.Errorf("a sticky stable endpoint was imported into gateways: %v", back.Gateways)
	}
}
