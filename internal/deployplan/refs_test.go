package deployplan

import (
	"slices"
	"strings"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
)

// withEnv is a service with a web port and the given environment.
func withEnv(name string, env map[string]string) *blueprint.Service {
	s := svc(name, "cmd:x")
	s.Breed.Environment = env
	return s
}

// shop is a frontend whose BACKEND references the backend, which references the db.
func shop() *blueprint.Blueprint {
	return &blueprint.Blueprint{Name: "shop", Clusters: map[string]*blueprint.Cluster{
		"frontend": {Services: []*blueprint.Service{withEnv("f:1", map[string]string{
			"BACKEND": "http://${backend.host}:${backend.ports.webport}/api", "MODE": "plain $$HOME"})}},
		"backend": {Services: []*blueprint.Service{withEnv("b:1", map[string]string{"DB": "$db.host:$db.ports.webport"})}},
		"db":      {Services: []*blueprint.Service{withEnv("d:1", nil)}},
	}}
}

func TestResolveValue(t *testing.T) {
	a := Addresses{Host: "10.0.0.7", Ports: map[string]int{"backend/webport": 40001}}
	for _, tc := range []struct {
		in, want string
		known    bool
	}{
		{"http://${backend.host}:${backend.ports.webport}/api", "http://10.0.0.7:40001/api", true},
		{"$backend.host:$backend.ports.webport", "10.0.0.7:40001", true}, // Vamp's bare form
		{"${backend.host}", "10.0.0.7", true},
		{"no references, $$ and $HOME stay", "no references, $$ and $HOME stay", true},
		{"$db.host:$db.ports.webport", "$db.host:$db.ports.webport", false}, // db's gateway has no port yet
	} {
		got, known := ResolveValue(tc.in, a)
		if got != tc.want || known != tc.known {
			t.Errorf("ResolveValue(%q) = %q, %v; want %q, %v", tc.in, got, known, tc.want, tc.known)
		}
	}
	env, known := ResolveEnv(map[string]string{"A": "${backend.ports.webport}", "B": "x"}, a)
	if !known || env["A"] != "40001" || env["B"] != "x" {
		t.Errorf("ResolveEnv = %v, %v", env, known)
	}
	if _, known := ResolveEnv(map[string]string{"A": "${db.ports.webport}"}, a); known {
		t.Error("ResolveEnv with a port not given: known, want unknown")
	}
}

func TestReferencedPortsAndOrder(t *testing.T) {
	b := shop()
	if got, want := ReferencedPorts(b), []string{"backend/webport", "db/webport"}; !slices.Equal(got, want) {
		t.Errorf("ReferencedPorts = %v, want %v", got, want)
	}
	order, cycle := ClusterOrder(b)
	if want := []string{"db", "backend", "frontend"}; cycle != nil || !slices.Equal(order, want) {
		t.Errorf("ClusterOrder = %v (cycle %v), want %v: dependencies first", order, cycle, want)
	}
	if faults := RefFaults(b); len(faults) != 0 {
		t.Errorf("RefFaults of a valid blueprint = %v", faults)
	}
}

func TestRefFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		change          func(b *blueprint.Blueprint)
		path, summary   string
		detailFragments []string
	}{
		"unknown cluster": {
			change:          func(b *blueprint.Blueprint) { delete(b.Clusters, "db") },
			path:            `clusters["backend"].services[0].breed.environment_variables["DB"]`,
			summary:         "Reference to an unknown cluster",
			detailFragments: []string{`"DB"`, `cluster "db"`, "backend, frontend", `add a cluster "db"`},
		},
		"unknown port": {
			change: func(b *blueprint.Blueprint) {
				b.Clusters["frontend"].Services[0].Breed.Environment["BACKEND"] = "${backend.ports.admin}"
			},
			path:            `clusters["frontend"].services[0].breed.environment_variables["BACKEND"]`,
			summary:         "Reference to an unknown port",
			detailFragments: []string{`port "admin"`, `cluster "backend"`, "ports webport"},
		},
		"cycle": {
			change: func(b *blueprint.Blueprint) {
				b.Clusters["db"].Services[0].Breed.Environment = map[string]string{"FRONT": "${frontend.host}"}
			},
			path:            `clusters["backend"]`,
			summary:         "Dependency cycle",
			detailFragments: []string{"backend → db → frontend → backend"},
		},
		"own cluster": {
			change: func(b *blueprint.Blueprint) {
				b.Clusters["db"].Services[0].Breed.Environment = map[string]string{"SELF": "${db.ports.webport}"}
			},
			path:            `clusters["db"]`,
			summary:         "Dependency cycle",
			detailFragments: []string{`cluster "db" references the cluster's own address`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := shop()
			tc.change(b)
			faults := RefFaults(b)
			if len(faults) != 1 {
				t.Fatalf("RefFaults = %v, want one fault", faults)
			}
			f := faults[0]
			if f.Path.String() != tc.path || f.Summary != tc.summary {
				t.Errorf("fault at %s %q, want at %s %q", f.Path, f.Summary, tc.path, tc.summary)
			}
			for _, frag := range tc.detailFragments {
				if !strings.Contains(f.Detail, frag) {
					t.Errorf("detail %q does not say %q", f.Detail, frag)
				}
			}
		})
	}
}
