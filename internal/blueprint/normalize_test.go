package blueprint

import (
	"reflect"
	"testing"
)

func TestNormalizeWeights(t *testing.T) {
	three := func() *Blueprint {
		return mustParse(t, `
name: sava
clusters:
  sava_cluster:
    services:
      - { name: "a", deployable: "cmd:a", ports: { webport: 8080 } }
      - { name: "b", deployable: "cmd:b", ports: { webport: 8080 } }
      - { name: "c", deployable: "cmd:c", ports: { webport: 8080, admin: 9000/tcp } }
`)
	}
	tests := []struct {
		name   string
		edit   func(*Blueprint)
		port   string
		weight map[string]int64
	}{
		{"fresh cluster splits evenly, remainder to the first", func(*Blueprint) {}, "webport",
			map[string]int64{"a": 34, "b": 33, "c": 33}},
		{"a port only one service has takes all", func(*Blueprint) {}, "admin",
			map[string]int64{"c": 100}},
		{"stated weights: a service missing from the routes gets 0", func(b *Blueprint) {
			b.Clusters["sava_cluster"].Gateways = map[string]*ClusterGateway{"webport": {Routes: map[string]*Route{
				"a": {Weight: Int64(60)}, "b": {Weight: Int64(40)},
			}}}
		}, "webport", map[string]int64{"a": 60, "b": 40, "c": 0}},
		{"routes without weights at all still split evenly", func(b *Blueprint) {
			b.Clusters["sava_cluster"].Gateways = map[string]*ClusterGateway{"webport": {Routes: map[string]*Route{
				"b": {Condition: "has cookie vamp"},
			}}}
		}, "webport", map[string]int64{"a": 34, "b": 33, "c": 33}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := three()
			tt.edit(b)
			b.Normalize()
			got := map[string]int64{}
			for name, r := range routingOf(t, b, "sava_cluster", tt.port) {
				got[name] = r.Weight
			}
			if !reflect.DeepEqual(got, tt.weight) {
				t.Errorf("weights = %v, want %v", got, tt.weight)
			}
			if errs := b.Validate(); len(errs) > 0 {
				t.Errorf("Validate: %v", errs)
			}
		})
	}
}

func TestEvenSplit(t *testing.T) {
	tests := []struct {
		services []string
		want     map[string]int64
	}{
		{nil, map[string]int64{}},
		{[]string{"a"}, map[string]int64{"a": 100}},
		{[]string{"a", "b"}, map[string]int64{"a": 50, "b": 50}},
		{[]string{"a", "b", "c"}, map[string]int64{"a": 34, "b": 33, "c": 33}},
		{[]string{"a", "b", "c", "d", "e", "f", "g"}, map[string]int64{"a": 16, "b": 14, "c": 14, "d": 14, "e": 14, "f": 14, "g": 14}},
	}
	for _, tt := range tests {
		if got := EvenSplit(tt.services); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("EvenSplit(%q) = %v, want %v", tt.services, got, tt.want)
		}
	}
}

// TestNormalizeIdempotent normalizes every testdata document and a blueprint with all defaults
// to fill, twice, and expects the second pass to change nothing.
func TestNormalizeIdempotent(t *testing.T) {
	docs := []*Blueprint{
		readBlueprint(t, "step1_sava.yaml"),
		readBlueprint(t, "step3_sava_1.1.0.yaml"),
		readBlueprint(t, "step4_split_50_50.yaml"),
		readBlueprint(t, "step5_firefox.yaml"),
		seedEndState(),
		mustParse(t, `
name: x
clusters:
  c:
    breed: { name: s, deployable: "cmd:s", ports: { web: "8080", raw: 9000/TCP } }
    health_checks: [ { }, { port: raw, protocol: tcp } ]
`),
	}
	for i, b := range docs {
		b.Normalize()
		once := b.Clone()
		b.Normalize()
		if !reflect.DeepEqual(b, once) {
			t.Errorf("doc %d: second Normalize changed\n%#v\ninto\n%#v", i, once, b)
		}
	}
}

func TestNormalizeDefaults(t *testing.T) {
	b := mustParse(t, `
name: x
clusters:
  c:
    breed: { name: s, deployable: "cmd:s", ports: { web: "8080" } }
    health_checks: [ { } ]
`)
	b.Normalize()
	s := b.Clusters["c"].Services[0]
	if got, want := s.Breed.Ports["web"], "8080/http"; got != want {
		t.Errorf("port = %q, want %q", got, want)
	}
	want := HealthCheck{Port: "web", Path: "/", Protocol: "HTTP", InitialDelay: "10s", Interval: "10s", Timeout: "5s", Failures: 3}
	if got := s.HealthChecks[0]; got != want {
		t.Errorf("health check = %+v, want %+v", got, want)
	}
	if got := *s.Scale; got != DefaultScale {
		t.Errorf("scale = %+v, want %+v", got, DefaultScale)
	}
}
