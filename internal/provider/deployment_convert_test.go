package provider

import (
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

func svc(name string) serviceModel {
	return serviceModel{Breed: &breedModel{
		Name: types.StringValue(name), Deployable: types.StringValue("cmd:x"), Ports: map[string]string{"webport": "8080/http"},
	}}
}

// weights are the route weights of the "webport" gateway of cluster "c".
func weights(bp *blueprint.Blueprint) map[string]int64 {
	out := map[string]int64{}
	for name, r := range bp.Clusters["c"].Gateways["webport"].Routes {
		out[name] = *r.Weight
	}
	return out
}

func TestPlannedBlueprintMergeRule(t *testing.T) {
	fresh := plannedBlueprint("d", nil, map[string]clusterModel{"c": {Services: []serviceModel{svc("a"), svc("b"), svc("c")}}}, nil)
	if got := weights(fresh); got["a"] != 34 || got["b"] != 33 || got["c"] != 33 {
		t.Errorf("fresh cluster of three: %v, want 34/33/33", got)
	}

	prior := plannedBlueprint("d", nil, map[string]clusterModel{"c": {Services: []serviceModel{svc("a"), svc("b")}}}, nil)
	prior.Clusters["c"].Gateways["webport"].Routes["a"].Weight = blueprint.Int64(80)
	prior.Clusters["c"].Gateways["webport"].Routes["b"].Weight = blueprint.Int64(20)
	prior.Clusters["c"].Gateways["webport"].Sticky = "route"

	// Routing unstated: the running routing stays, a new variant gets 0, a removed one drops out.
	next := plannedBlueprint("d", nil, map[string]clusterModel{"c": {Services: []serviceModel{svc("a"), svc("b"), svc("n")}}}, prior)
	if got := weights(next); got["a"] != 80 || got["b"] != 20 || got["n"] != 0 || len(got) != 3 {
		t.Errorf("merged variant: %v, want a=80 b=20 n=0", got)
	}
	if s := next.Clusters["c"].Gateways["webport"].Sticky; s != "route" {
		t.Errorf("sticky %q, want the running %q", s, "route")
	}
	retired := plannedBlueprint("d", nil, map[string]clusterModel{"c": {Services: []serviceModel{svc("a")}}}, prior)
	if got := weights(retired); len(got) != 1 {
		t.Errorf("after removing b: %v, want only a's route", got)
	}

	// Routing stated: the configuration wins; an unlisted service gets 0.
	stated := map[string]clusterModel{"c": {
		Services: []serviceModel{svc("a"), svc("b")},
		Gateways: map[string]clusterGatewayModel{"webport": {Routes: map[string]routeModel{"b": {Weight: types.Int64Value(100)}}}},
	}}
	if got := weights(plannedBlueprint("d", nil, stated, prior)); got["a"] != 0 || got["b"] != 100 {
		t.Errorf("stated routing: %v, want a=0 b=100", got)
	}
}

func TestFillComputedKeepsWhatIsStated(t *testing.T) {
	cfg := map[string]clusterModel{"c": {
		Services: []serviceModel{svc("a"), svc("b")},
		Gateways: map[string]clusterGatewayModel{"webport": {Routes: map[string]routeModel{
			"a": {Weight: types.Int64Null(), Condition: types.StringValue("has cookie x"), ConditionStrength: types.Int64Null()},
			"b": {Weight: types.Int64Value(100), Condition: types.StringNull(), ConditionStrength: types.Int64Null()},
		}}},
	}}
	bp := plannedBlueprint("d", nil, cfg, nil)
	got := fillComputed(cfg, bp)["c"]
	a, b := got.Gateways["webport"].Routes["a"], got.Gateways["webport"].Routes["b"]
	if a.Weight.ValueInt64() != 0 || a.ConditionStrength.ValueInt64() != 100 {
		t.Errorf("route a planned %v/%v, want weight 0 (merge rule) and strength 100 (HCL default)", a.Weight, a.ConditionStrength)
	}
	if b.Weight.ValueInt64() != 100 || !b.ConditionStrength.IsNull() {
		t.Errorf("route b planned %v/%v, want weight 100 and no strength", b.Weight, b.ConditionStrength)
	}
	if len(got.Gateways["webport"].Routes) != 2 {
		t.Errorf("plan has routes %v: a stated map keeps exactly its keys", got.Gateways["webport"].Routes)
	}
	s := got.Services[0]
	if s.Scale == nil || s.Scale.CPU.ValueFloat64() != 0.2 || s.Scale.Memory.ValueInt64() != 256 || s.Scale.Instances.ValueInt64() != 1 {
		t.Errorf("scale planned %+v, want the defaults 0.2/256/1", s.Scale)
	}
	if s.Breed.EnvironmentVariables != nil || s.HealthChecks != nil {
		t.Errorf("unset environment/health checks became %v/%v, want them left null", s.Breed.EnvironmentVariables, s.HealthChecks)
	}
}

func TestFillWeights(t *testing.T) {
	null, unknown := types.Int64Null(), types.Int64Unknown()
	if got, _ := fillWeights([]types.Int64{null, null, null}); !slices.Equal(got, []int64{34, 33, 33}) {
		t.Errorf("none stated: %v, want 34/33/33", got)
	}
	if got, _ := fillWeights([]types.Int64{types.Int64Value(100), null}); !slices.Equal(got, []int64{100, 0}) {
		t.Errorf("one stated: %v, want 100/0", got)
	}
	if _, ok := fillWeights([]types.Int64{unknown, null}); ok {
		t.Error("an unknown weight was filled")
	}
}

func TestLiveRouting(t *testing.T) {
	recorded := clusterGatewayModel{Routes: map[string]routeModel{"a": {}, "b": {}}}
	ref := func(name string) *gatewayapi.ServiceRef {
		return &gatewayapi.ServiceRef{Runtime: "local", ID: "d/c/" + name, Port: "webport"}
	}
	got := liveRouting(recorded, gatewayapi.Gateway{Sticky: "instance", Routes: []gatewayapi.Route{
		{Name: "d/c/a/webport", Weight: 70, Condition: "has cookie x", Service: ref("a")},
		{Name: "d/c/n/webport", Weight: 0, Service: ref("n")},
		{Name: "d/c/m/webport", Weight: 30, Service: ref("m")},
	}})
	if got.Sticky.ValueString() != "instance" {
		t.Errorf("sticky %v", got.Sticky)
	}
	if a := got.Routes["a"]; a.Weight.ValueInt64() != 70 || a.ConditionStrength.ValueInt64() != 100 {
		t.Errorf("route a %+v, want weight 70 and strength 100 (a condition without one)", a)
	}
	if _, ok := got.Routes["b"]; ok {
		t.Error("route b is gone from the gateway but still in state: the plan would not put it back")
	}
	if _, ok := got.Routes["n"]; ok {
		t.Error("an unlisted route with weight 0 appeared in state: it would show as a diff every plan")
	}
	if m := got.Routes["m"]; m.Weight.ValueInt64() != 30 {
		t.Error("an unlisted route that takes traffic is drift and must show")
	}
}

func TestImportedBlueprint(t *testing.T) {
	strength := 40
	gws := []gatewayapi.Gateway{
		{Name: "other/9000", Routes: []gatewayapi.Route{{Gateway: "other/c/webport", Weight: 100}}},
		{Name: "d/c/webport", Sticky: "route", Routes: []gatewayapi.Route{
			{Name: "d/c/z/webport", Weight: 90, Condition: "has cookie x", ConditionStrength: &strength, Service: &gatewayapi.ServiceRef{ID: "d/c/z"}},
			{Name: "d/c/a/webport", Weight: 10, Service: &gatewayapi.ServiceRef{ID: "d/c/a"}},
		}},
		{Name: "d/9050", Port: 9050, Routes: []gatewayapi.Route{{Name: "c/webport", Gateway: "d/c/webport", Weight: 100}}},
	}
	service := func(id string) runtime.Status {
		return runtime.Status{Service: runtime.Service{ID: id, Deployable: "cmd:x", Ports: map[string]string{"webport": "8080/http"}, CPU: 0.2, MemoryMB: 256, Instances: 1}}
	}
	bp := deployplan.ImportedBlueprint("d", gws, []runtime.Status{service("d/c/a"), service("d/c/z")})
	if bp.Gateways["9050"] != "c/webport" || len(bp.Gateways) != 1 {
		t.Errorf("blueprint gateways %v, want 9050 → c/webport only", bp.Gateways)
	}
	c := bp.Clusters["c"]
	if len(c.Services) != 2 || c.Services[0].Breed.Name != "z" || c.Services[1].Breed.Name != "a" {
		t.Fatalf("services %v, want z then a (route order)", c.Services)
	}
	g := c.Gateways["webport"]
	if g.Sticky != "route" || *g.Routes["z"].Weight != 90 || *g.Routes["z"].ConditionStrength != 40 || g.Routes["z"].Condition != "has cookie x" {
		t.Errorf("cluster gateway %+v not read back", g)
	}
	if len(bp.Validate()) != 0 {
		t.Errorf("imported blueprint does not validate: %v", bp.Validate())
	}
}

func TestAttributePath(t *testing.T) {
	p := blueprint.Path{}.Attr("clusters").Key("c").Attr("services").Index(2).Attr("breed").Attr("name")
	if got := attributePath(p).String(); got != `clusters["c"].services[2].breed.name` {
		t.Errorf("attributePath = %s", got)
	}
}

func TestAddFieldErrors(t *testing.T) {
	var diags diag.Diagnostics
	addFieldErrors(&diags, []*blueprint.FieldError{
		{Summary: "Blueprint is missing", Detail: "give a blueprint"},
		{Path: blueprint.Path{}.Attr("clusters").Key("c").Attr("gateways").Key("webport").Attr("routes").Key("a").Attr("weight"), Summary: "Weight out of range", Detail: "x"},
		{Path: blueprint.Path{}.Attr("clusters").Key("c").Attr("gateways").Key("webport").Attr("routes"), Summary: "Weights do not sum to 100", Detail: "make them sum to 100"},
	})
	if len(diags) != 2 {
		t.Fatalf("got %d diagnostics, want 2 (a range the schema validators check is not reported twice): %v", len(diags), diags)
	}
	if got := diags[1].Detail(); got != `clusters["c"].gateways["webport"].routes: make them sum to 100.` {
		t.Errorf("detail %q does not start with the attribute path", got)
	}
}

// A service without a breed name is one fault: the routes of its cluster, which cannot name it,
// do not add "Route to an unknown service".
func TestFieldErrorsDoNotCascade(t *testing.T) {
	bp := &blueprint.Blueprint{Name: "d", Clusters: map[string]*blueprint.Cluster{"c": {
		Services: []*blueprint.Service{{Breed: blueprint.Breed{Deployable: "cmd:x", Ports: map[string]string{"webport": "8080/http"}}}},
		Gateways: map[string]*blueprint.ClusterGateway{"webport": {Routes: map[string]*blueprint.Route{"sava:1.0.0": {Weight: blueprint.Int64(100)}}}},
	}}}
	errs := bp.Validate()
	var diags diag.Diagnostics
	addFieldErrors(&diags, errs)
	if len(errs) < 2 {
		t.Fatalf("blueprint.Validate gave %d faults; the test needs the cascading one too", len(errs))
	}
	if diags.ErrorsCount() != 1 || diags.Errors()[0].Summary() != "Missing breed name" {
		var got []string
		for _, d := range diags.Errors() {
			got = append(got, d.Summary())
		}
		t.Errorf("diagnostics %q, want only \"Missing breed name\"", got)
	}
}
