package blueprint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// readBlueprint parses a testdata document, failing the test on any fault.
func readBlueprint(t testing.TB, name string) *Blueprint {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseVamp(doc)
	if err != nil {
		t.Fatalf("parseVamp(%s): %v", name, err)
	}
	return b
}

// mustParse parses an inline document, failing the test on any fault.
func mustParse(t testing.TB, doc string) *Blueprint {
	t.Helper()
	b, err := parseVamp([]byte(doc))
	if err != nil {
		t.Fatalf("parseVamp: %v\n%s", err, doc)
	}
	return b
}

// routing is a cluster gateway's outcome in a form that is easy to compare:
// service → "weight" or "weight|condition|strength".
type routing map[string]route

type route struct {
	Weight    int64
	Condition string
	Strength  int64 // -1: nil
}

func routingOf(t testing.TB, b *Blueprint, cluster, port string) routing {
	t.Helper()
	c := b.Clusters[cluster]
	if c == nil || c.Gateways[port] == nil {
		t.Fatalf("no gateway %s/%s", cluster, port)
	}
	out := routing{}
	for name, r := range c.Gateways[port].Routes {
		if r.Weight == nil {
			t.Fatalf("route %s has no weight after Normalize", name)
		}
		got := route{Weight: *r.Weight, Condition: r.Condition, Strength: -1}
		if r.ConditionStrength != nil {
			got.Strength = *r.ConditionStrength
		}
		out[name] = got
	}
	return out
}

// seedEndState is the scenario's last step written the way HCL would state it.
func seedEndState() *Blueprint {
	service := func(version string) *Service {
		return &Service{Breed: Breed{
			Name:       "sava:" + version,
			Deployable: "cmd:./bin/sava --version " + version,
			Ports:      map[string]string{"webport": "8080/http"},
		}}
	}
	return &Blueprint{
		Name:     "sava",
		Gateways: map[string]string{"9050": "sava_cluster/webport"},
		Clusters: map[string]*Cluster{"sava_cluster": {
			Services: []*Service{service("1.0.0"), service("1.1.0")},
			Gateways: map[string]*ClusterGateway{"webport": {Routes: map[string]*Route{
				"sava:1.0.0": {Weight: Int64(0), Condition: "user-agent == Firefox", ConditionStrength: Int64(100)},
				"sava:1.1.0": {Weight: Int64(100)},
			}}},
		}},
	}
}

// dump renders a blueprint with pointers followed, for failure messages.
func dump(b *Blueprint) string {
	data, _ := json.MarshalIndent(b, "", "  ")
	return string(data)
}

// parseVamp reads one blueprint document the way data "vamp_blueprint" reads each document.
func parseVamp(doc []byte) (*Blueprint, error) { return ParseYAML(doc) }
