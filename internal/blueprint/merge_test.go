package blueprint

import (
	"reflect"
	"testing"
)

// TestMergeDoesNotMutate merges every pair of testdata documents and checks that neither input
// changed, comparing with freshly parsed copies.
func TestMergeDoesNotMutate(t *testing.T) {
	docs := []string{"step1_sava.yaml", "step3_sava_1.1.0.yaml", "step4_split_50_50.yaml", "step5_firefox.yaml"}
	for _, a := range docs {
		for _, b := range docs {
			base, next := readBlueprint(t, a), readBlueprint(t, b)
			base.Normalize() // a normalized base has weights that Merge could write through
			wantBase, wantNext := base.Clone(), readBlueprint(t, b)
			out := Merge(base, next)
			if !reflect.DeepEqual(base, wantBase) {
				t.Errorf("Merge(%s, %s) changed base", a, b)
			}
			if !reflect.DeepEqual(next, wantNext) {
				t.Errorf("Merge(%s, %s) changed next", a, b)
			}
			// The result shares nothing with the inputs.
			out.Normalize()
			for _, c := range out.Clusters {
				for _, g := range c.Gateways {
					for _, r := range g.Routes {
						*r.Weight = 77
					}
				}
				for _, s := range c.Services {
					s.Breed.Ports["webport"] = "1/tcp"
				}
			}
			if !reflect.DeepEqual(base, wantBase) || !reflect.DeepEqual(next, wantNext) {
				t.Errorf("Merge(%s, %s) result shares memory with an input", a, b)
			}
		}
	}
}

func TestMerge(t *testing.T) {
	base := func() *Blueprint {
		return mustParse(t, `
name: sava
clusters:
  sava_cluster:
    services:
      - { breed: { name: "sava:1.0.0", deployable: "cmd:v1", ports: { webport: 8080 } }, scale: { instances: 2 } }
      - { breed: { name: "sava:1.1.0", deployable: "cmd:v11", ports: { webport: 8080 } } }
    gateways:
      webport:
        sticky: route
        routes:
          sava:1.0.0: { weight: 70%, condition: "has cookie beta", condition_strength: 50% }
          sava:1.1.0: { weight: 30% }
`)
	}
	tests := []struct {
		name  string
		next  string
		check func(t *testing.T, b *Blueprint)
	}{
		{"a known service is replaced in place and keeps its weight", `
clusters:
  sava_cluster:
    services: { breed: { name: "sava:1.0.0", deployable: "cmd:v1-patched", ports: { webport: 8080 } } }
`, func(t *testing.T, b *Blueprint) {
			c := b.Clusters["sava_cluster"]
			if len(c.Services) != 2 || c.Services[0].Breed.Deployable != "cmd:v1-patched" || *c.Services[0].Scale != DefaultScale {
				t.Errorf("services[0] = %+v, want the replacement (scale replaced too)", c.Services[0])
			}
			want := routing{"sava:1.0.0": {70, "has cookie beta", 50}, "sava:1.1.0": {30, "", -1}}
			if got := routingOf(t, b, "sava_cluster", "webport"); !reflect.DeepEqual(got, want) {
				t.Errorf("routing = %v, want %v", got, want)
			}
		}},
		{"a new variant with a stated weight keeps it", `
clusters:
  sava_cluster:
    services: [ { breed: { name: "sava:1.2.0", deployable: "cmd:v12", ports: { webport: 8080 } } } ]
    gateways: { webport: { routes: { "sava:1.0.0": { weight: 60% }, "sava:1.2.0": { weight: 10% } } } }
`, func(t *testing.T, b *Blueprint) {
			want := routing{"sava:1.0.0": {60, "", -1}, "sava:1.1.0": {30, "", -1}, "sava:1.2.0": {10, "", -1}}
			if got := routingOf(t, b, "sava_cluster", "webport"); !reflect.DeepEqual(got, want) {
				t.Errorf("routing = %v, want %v (a route in next replaces base's condition)", got, want)
			}
			if got := b.Clusters["sava_cluster"].Gateways["webport"].Sticky; got != "route" {
				t.Errorf("sticky = %q, want route kept", got)
			}
		}},
		{"a route that states no weight keeps base's weight", `
clusters:
  sava_cluster:
    gateways: { webport: { sticky: instance, routes: { "sava:1.1.0": { condition: "user-agent == Firefox" } } } }
`, func(t *testing.T, b *Blueprint) {
			if got := b.Clusters["sava_cluster"].Gateways["webport"].Sticky; got != "instance" {
				t.Errorf("sticky = %q, want next's instance", got)
			}
			want := routing{"sava:1.0.0": {70, "has cookie beta", 50}, "sava:1.1.0": {30, "user-agent == Firefox", 0}}
			if got := routingOf(t, b, "sava_cluster", "webport"); !reflect.DeepEqual(got, want) {
				t.Errorf("routing = %v, want %v", got, want)
			}
		}},
		{"a new cluster splits evenly and blueprint gateways merge by port", `
name: other
gateways: { 9060: other_cluster/web }
clusters:
  other_cluster:
    services: [ { name: a, deployable: "cmd:a", ports: { web: 80 } }, { name: b, deployable: "cmd:b", ports: { web: 80 } } ]
`, func(t *testing.T, b *Blueprint) {
			want := routing{"a": {50, "", -1}, "b": {50, "", -1}}
			if got := routingOf(t, b, "other_cluster", "web"); !reflect.DeepEqual(got, want) {
				t.Errorf("routing = %v, want %v", got, want)
			}
			if b.Name != "sava" || b.Gateways["9060"] != "other_cluster/web" {
				t.Errorf("name %q gateways %v", b.Name, b.Gateways)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Merge(base(), mustParse(t, tt.next))
			b.Normalize()
			if errs := b.Validate(); len(errs) > 0 {
				t.Fatalf("Validate: %v", errs)
			}
			tt.check(t, b)
		})
	}
}

func TestMergeNil(t *testing.T) {
	b := seedEndState()
	if got := Merge(nil, b); !reflect.DeepEqual(got, b) || got == b {
		t.Errorf("Merge(nil, b) must be a copy of b")
	}
	if got := Merge(b, nil); !reflect.DeepEqual(got, b) || got == b {
		t.Errorf("Merge(b, nil) must be a copy of b")
	}
}
