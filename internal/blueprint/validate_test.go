package blueprint

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidateValid(t *testing.T) {
	for name, b := range map[string]*Blueprint{
		"seed end state": seedEndState(),
		"all weights 0 (conditional traffic only)": func() *Blueprint {
			b := seedEndState()
			*b.Clusters["sava_cluster"].Gateways["webport"].Routes["sava:1.1.0"].Weight = 0
			return b
		}(),
	} {
		if errs := b.Validate(); len(errs) > 0 {
			t.Errorf("%s: %v", name, errs)
		}
	}
}

// TestValidateRules has a failing case for every rule: the exact path, and a Detail that says
// how to fix it.
func TestValidateRules(t *testing.T) {
	const (
		cluster = `clusters["sava_cluster"]`
		gw      = cluster + `.gateways["webport"]`
		svc0    = cluster + `.services[0]`
	)
	cl := func(b *Blueprint) *Cluster { return b.Clusters["sava_cluster"] }
	routes := func(b *Blueprint) map[string]*Route { return cl(b).Gateways["webport"].Routes }
	tests := []struct {
		name   string
		edit   func(b *Blueprint)
		path   string
		detail string // a part of the fix
	}{
		{"name missing", func(b *Blueprint) { b.Name = "" }, `name`, `set the deployment name, e.g. "sava"`},
		{"name not an id", func(b *Blueprint) { b.Name = "sava/prod" }, `name`, `no "/" or spaces`},
		{"weight above 100", func(b *Blueprint) { *routes(b)["sava:1.1.0"].Weight = 101 }, gw + `.routes["sava:1.1.0"].weight`, "from 0 to 100"},
		{"weight below 0", func(b *Blueprint) { *routes(b)["sava:1.0.0"].Weight = -1 }, gw + `.routes["sava:1.0.0"].weight`, "from 0 to 100"},
		{"weights not summing to 100", func(b *Blueprint) { *routes(b)["sava:1.1.0"].Weight = 90 },
			gw + `.routes`, "the weights are sava:1.0.0=0, sava:1.1.0=90 (sum 90); make them sum to 100, or set all to 0"},
		{"route to an unknown service", func(b *Blueprint) { routes(b)["sava:2.0.0"] = &Route{Weight: Int64(0)} },
			gw + `.routes["sava:2.0.0"]`, `its services are "sava:1.0.0", "sava:1.1.0". Rename the route or add the service`},
		{"route to a service without the port", func(b *Blueprint) {
			cl(b).Services[1].Breed.Ports = map[string]string{"other": "9000/tcp"}
		}, gw + `.routes["sava:1.1.0"]`, `add the port to the breed or remove the route`},
		{"invalid condition", func(b *Blueprint) { routes(b)["sava:1.0.0"].Condition = "user-agent ==" },
			gw + `.routes["sava:1.0.0"].condition`, `at column`},
		{"strength above 100", func(b *Blueprint) { *routes(b)["sava:1.0.0"].ConditionStrength = 101 },
			gw + `.routes["sava:1.0.0"].condition_strength`, "percentage (0 to 100)"},
		{"strength below 0", func(b *Blueprint) { *routes(b)["sava:1.0.0"].ConditionStrength = -5 },
			gw + `.routes["sava:1.0.0"].condition_strength`, "percentage (0 to 100)"},
		{"two services with one name", func(b *Blueprint) {
			cl(b).Services[1].Breed.Name = "sava:1.0.0"
			delete(routes(b), "sava:1.1.0")
			*routes(b)["sava:1.0.0"].Weight = 100
		},
			cluster + `.services[1].breed.name`, "give each variant its own breed name"},
		{"gateway port twice", func(b *Blueprint) { b.Gateways["09050"] = "sava_cluster/webport" },
			`gateways["9050"]`, `"09050" and "9050" are both port 9050; keep one of them`},
		{"gateway port out of range", func(b *Blueprint) { b.Gateways["70000"] = "sava_cluster/webport" },
			`gateways["70000"]`, `write the port as a number, e.g. "9050"`},
		{"gateway port not a number", func(b *Blueprint) { b.Gateways["9050/http"] = "sava_cluster/webport" },
			`gateways["9050/http"]`, `write the port as a number, e.g. "9050"`},
		{"gateway target not cluster/port", func(b *Blueprint) { b.Gateways["9050"] = "sava_cluster" },
			`gateways["9050"]`, `CLUSTER/PORT, e.g. "sava_cluster/webport"`},
		{"gateway target cluster missing", func(b *Blueprint) { b.Gateways["9050"] = "nope/webport" },
			`gateways["9050"]`, `the clusters are "sava_cluster". Name one of them, or add the cluster`},
		{"gateway target port missing", func(b *Blueprint) { b.Gateways["9050"] = "sava_cluster/adminport" },
			`gateways["9050"]`, `its ports are "webport". Name one of them, or add the port to the breeds`},
		{"cluster gateway key not a breed port", func(b *Blueprint) { cl(b).Gateways["adminport"] = &ClusterGateway{} },
			cluster + `.gateways["adminport"]`, `keyed by breed port name ("webport"). Rename it or add the port to a breed`},
		{"breed port protocol", func(b *Blueprint) { cl(b).Services[0].Breed.Ports["webport"] = "8080/udp" },
			svc0 + `.breed.ports["webport"]`, `protocol must be http or tcp, e.g. "8080/http"`},
		{"breed port number", func(b *Blueprint) { cl(b).Services[0].Breed.Ports["webport"] = "0/http" },
			svc0 + `.breed.ports["webport"]`, `out of range 1..65535`},
		{"variants disagree on a port's protocol", func(b *Blueprint) { cl(b).Services[1].Breed.Ports["webport"] = "8080/tcp" },
			cluster + `.services[1].breed.ports["webport"]`, `"webport" is tcp here but http in "sava:1.0.0"; one gateway serves this port for every variant`},
		{"deployable missing", func(b *Blueprint) { cl(b).Services[0].Breed.Deployable = "" },
			svc0 + `.breed.deployable`, `"cmd:COMMAND" for a local process`},
		{"breed name missing", func(b *Blueprint) { cl(b).Services[0].Breed.Name = ""; delete(routes(b), "sava:1.0.0") },
			svc0 + `.breed.name`, `set the breed name, e.g. "sava:1.0.0"`},
		{"cpu not positive", func(b *Blueprint) { cl(b).Services[0].Scale = &Scale{CPU: 0, MemoryMB: 1, Instances: 1} },
			svc0 + `.scale.cpu`, "positive number of cores"},
		{"memory not positive", func(b *Blueprint) { cl(b).Services[0].Scale = &Scale{CPU: 1, MemoryMB: -1, Instances: 1} },
			svc0 + `.scale.memory`, "positive number of megabytes"},
		{"instances not positive", func(b *Blueprint) { cl(b).Services[0].Scale = &Scale{CPU: 1, MemoryMB: 1, Instances: 0} },
			svc0 + `.scale.instances`, "at least 1"},
		{"sticky", func(b *Blueprint) { cl(b).Gateways["webport"].Sticky = "cookie" },
			gw + `.sticky`, `sticky is "route", "instance" or unset`},
		{"health check port", func(b *Blueprint) { cl(b).Services[0].HealthChecks = []HealthCheck{{Port: "adminport"}} },
			svc0 + `.health_checks[0].port`, `use one of "webport"`},
		{"health check protocol", func(b *Blueprint) { cl(b).Services[0].HealthChecks = []HealthCheck{{Protocol: "UDP"}} },
			svc0 + `.health_checks[0].protocol`, `HTTP, HTTPS or TCP`},
		{"health check duration", func(b *Blueprint) { cl(b).Services[0].HealthChecks = []HealthCheck{{Timeout: "5 secs"}} },
			svc0 + `.health_checks[0].timeout`, `a duration such as "10s"`},
		{"no clusters", func(b *Blueprint) { b.Clusters = nil; b.Gateways = nil }, `clusters`, "needs at least one cluster"},
		{"cluster without services", func(b *Blueprint) { cl(b).Services = nil; cl(b).Gateways = nil; b.Gateways = nil },
			cluster + `.services`, "needs at least one service"},
		{"cluster name not an id", func(b *Blueprint) {
			b.Clusters["sava cluster"] = b.Clusters["sava_cluster"]
			delete(b.Clusters, "sava_cluster")
			b.Gateways = nil
		},
			`clusters["sava cluster"]`, "no \"/\" or spaces"},
		{"marathon not JSON", func(b *Blueprint) { cl(b).Services[0].Marathon = "{" },
			svc0 + `.marathon`, "a JSON object to merge into the Marathon app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := seedEndState()
			tt.edit(b)
			errs := b.Validate()
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
			}
			if got := errs[0].Path.String(); got != tt.path {
				t.Errorf("path = %s, want %s", got, tt.path)
			}
			if errs[0].Summary == "" || !strings.Contains(errs[0].Detail, tt.detail) {
				t.Errorf("summary %q detail %q, want detail containing %q", errs[0].Summary, errs[0].Detail, tt.detail)
			}
		})
	}
}

// TestValidateAllAtOnce: all faults are reported, in the same order every time, and b is not
// changed.
func TestValidateAllAtOnce(t *testing.T) {
	b := seedEndState()
	c := b.Clusters["sava_cluster"]
	c.Services[1].Breed.Name = "sava:1.0.0"
	c.Services[0].Breed.Ports["webport"] = "8080/htp"
	c.Gateways["webport"].Routes["sava:1.1.0"].Weight = Int64(50)
	c.Gateways["webport"].Sticky = "sticky"
	b.Gateways["1"] = "x/y"
	b.Clusters["other"] = &Cluster{}
	before := b.Clone()
	var first []string
	for i := range 20 {
		var got []string
		for _, e := range b.Validate() {
			got = append(got, e.Path.String())
		}
		if i == 0 {
			first = got
			continue
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d: %q, run 0: %q", i, got, first)
		}
	}
	want := []string{
		`clusters["other"].services`,
		`clusters["sava_cluster"].services[0].breed.ports["webport"]`,
		`clusters["sava_cluster"].services[1].breed.name`,
		`clusters["sava_cluster"].gateways["webport"].sticky`,
		`clusters["sava_cluster"].gateways["webport"].routes["sava:1.1.0"]`, // its service was renamed
		`clusters["sava_cluster"].gateways["webport"].routes`,
		`gateways["1"]`,
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("paths\n%q\nwant\n%q", first, want)
	}
	if !reflect.DeepEqual(b, before) {
		t.Errorf("Validate changed the blueprint")
	}
}

func TestRemovedWithWeight(t *testing.T) {
	split := func(v1, v11 int64) *Blueprint {
		b := seedEndState()
		rs := b.Clusters["sava_cluster"].Gateways["webport"].Routes
		rs["sava:1.0.0"] = &Route{Weight: Int64(v1)}
		rs["sava:1.1.0"] = &Route{Weight: Int64(v11)}
		return b
	}
	without := func(b *Blueprint, name string) *Blueprint {
		b = b.Clone()
		c := b.Clusters["sava_cluster"]
		for i, s := range c.Services {
			if s.Breed.Name == name {
				c.Services = append(c.Services[:i], c.Services[i+1:]...)
			}
		}
		delete(c.Gateways["webport"].Routes, name)
		return b
	}
	tests := []struct {
		name     string
		old, new *Blueprint
		want     string // "" for no error; else a part of the detail
	}{
		{"removing a variant with weight is refused", split(50, 50), without(split(50, 50), "sava:1.0.0"),
			`service "sava:1.0.0" still has weight 50% in gateway "webport". Set its weight to 0 in an earlier apply first`},
		{"removing a variant at 0% is allowed", split(0, 100), without(split(0, 100), "sava:1.0.0"), ""},
		{"the seed end state can retire sava:1.0.0 (weight 0, only a condition)", seedEndState(), without(seedEndState(), "sava:1.0.0"), ""},
		{"unstated weights count as deployed: a fresh cluster split evenly", readBlueprint(t, "step1_sava.yaml"),
			func() *Blueprint {
				b := readBlueprint(t, "step1_sava.yaml")
				b.Clusters["sava_cluster"].Services[0].Breed.Name = "sava:9"
				return b
			}(), `service "sava:1.0.0" still has weight 100%`},
		{"removing the whole cluster is not this rule's business", split(50, 50), &Blueprint{Name: "sava"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := RemovedWithWeight(tt.old, tt.new)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("got %v, want one error", errs)
			}
			if got := errs[0].Path.String(); got != `clusters["sava_cluster"].services` {
				t.Errorf("path = %s", got)
			}
			if !strings.Contains(errs[0].Detail, tt.want) {
				t.Errorf("detail %q, want %q", errs[0].Detail, tt.want)
			}
		})
	}
}
