package blueprint

import (
	"reflect"
	"slices"
	"testing"
)

// TestSeedStep1 reads the seed's first blueprint unchanged and checks the model and Vamp's names.
func TestSeedStep1(t *testing.T) {
	b := readBlueprint(t, "step1_sava.yaml")
	want := &Blueprint{
		Name:     "sava",
		Gateways: map[string]string{"9050": "sava_cluster/webport"},
		Clusters: map[string]*Cluster{"sava_cluster": {Services: []*Service{{Breed: Breed{
			Name:       "sava:1.0.0",
			Deployable: "magneticio/sava:1.0.0",
			Ports:      map[string]string{"webport": "8080/http"},
		}}}}},
	}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("parsed\n%#v\nwant\n%#v", b, want)
	}
	b.Normalize()
	if errs := b.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	if got, want := b.GatewayNames(), []string{"sava/9050", "sava/sava_cluster/webport"}; !slices.Equal(got, want) {
		t.Errorf("GatewayNames = %q, want %q", got, want)
	}
	if got, want := b.RouteNames(), []string{"sava/sava_cluster/sava:1.0.0/webport"}; !slices.Equal(got, want) {
		t.Errorf("RouteNames = %q, want %q", got, want)
	}
	if got, want := routingOf(t, b, "sava_cluster", "webport"), (routing{"sava:1.0.0": {100, "", -1}}); !reflect.DeepEqual(got, want) {
		t.Errorf("routing = %v, want %v", got, want)
	}
	if got := *b.Clusters["sava_cluster"].Services[0].Scale; got != DefaultScale {
		t.Errorf("scale = %+v, want the default %+v", got, DefaultScale)
	}
}

// TestSeedScenario merges the seed's documents in order, as data "vamp_blueprint" does, and
// checks the routing after every step against the scenario.
func TestSeedScenario(t *testing.T) {
	steps := []struct {
		doc  string
		want routing
	}{
		{"step1_sava.yaml", routing{"sava:1.0.0": {100, "", -1}}},
		// Step 3: the merged variant gets 0%, sava:1.0.0 keeps its 100%.
		{"step3_sava_1.1.0.yaml", routing{"sava:1.0.0": {100, "", -1}, "sava:1.1.0": {0, "", -1}}},
		// Step 4: 50/50.
		{"step4_split_50_50.yaml", routing{"sava:1.0.0": {50, "", -1}, "sava:1.1.0": {50, "", -1}}},
		// Step 5: Firefox → sava:1.0.0 (strength 100%), everything else → sava:1.1.0.
		{"step5_firefox.yaml", routing{"sava:1.0.0": {0, "user-agent == Firefox", 100}, "sava:1.1.0": {100, "", -1}}},
	}
	var deployed *Blueprint
	for _, step := range steps {
		t.Run(step.doc, func(t *testing.T) {
			deployed = Merge(deployed, readBlueprint(t, step.doc))
			deployed.Normalize()
			if errs := deployed.Validate(); len(errs) > 0 {
				t.Fatalf("Validate: %v", errs)
			}
			if deployed.Name != "sava" {
				t.Errorf("deployment name = %q, want sava (a merged blueprint's name is not the deployment's)", deployed.Name)
			}
			if got := routingOf(t, deployed, "sava_cluster", "webport"); !reflect.DeepEqual(got, step.want) {
				t.Errorf("routing = %v, want %v", got, step.want)
			}
		})
	}
	wantRoutes := []string{"sava/sava_cluster/sava:1.0.0/webport", "sava/sava_cluster/sava:1.1.0/webport"}
	if got := deployed.RouteNames(); !slices.Equal(got, wantRoutes) {
		t.Errorf("RouteNames = %q, want %q", got, wantRoutes)
	}
	if got := deployed.Clusters["sava_cluster"].Services[1].Breed.Deployable; got != "magneticio/sava:1.1.0" {
		t.Errorf("merged service deployable = %q", got)
	}

	// The HCL way of stating the end state normalizes to the same routing.
	hcl := seedEndState()
	hcl.Normalize()
	if got, want := routingOf(t, hcl, "sava_cluster", "webport"), routingOf(t, deployed, "sava_cluster", "webport"); !reflect.DeepEqual(got, want) {
		t.Errorf("HCL end state routing = %v, YAML end state = %v", got, want)
	}
}

// TestConditionStrengthDefaults: a condition without strength is 0% in YAML (Vamp) and 100% in
// the model that HCL fills (no strength stated).
func TestConditionStrengthDefaults(t *testing.T) {
	b := Merge(readBlueprint(t, "step1_sava.yaml"), mustParse(t, `
clusters:
  sava_cluster:
    gateways:
      webport:
        routes:
          sava:1.0.0: { condition: "User-Agent = Firefox" }
`))
	b.Normalize()
	want := routing{"sava:1.0.0": {100, "User-Agent = Firefox", 0}}
	if got := routingOf(t, b, "sava_cluster", "webport"); !reflect.DeepEqual(got, want) {
		t.Errorf("YAML: routing = %v, want %v (weight kept, strength 0)", got, want)
	}

	hcl := seedEndState()
	hcl.Clusters["sava_cluster"].Gateways["webport"].Routes["sava:1.0.0"].ConditionStrength = nil
	hcl.Normalize()
	if got := *hcl.Clusters["sava_cluster"].Gateways["webport"].Routes["sava:1.0.0"].ConditionStrength; got != 100 {
		t.Errorf("HCL condition without strength: strength %d, want 100", got)
	}
}
