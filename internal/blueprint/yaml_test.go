package blueprint

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseYAMLForms: Vamp's flexible spellings read into the same model.
func TestParseYAMLForms(t *testing.T) {
	svc := func(name string) *Service {
		return &Service{Breed: Breed{Name: name, Deployable: "cmd:" + name, Ports: map[string]string{"web": "8080/http"}}}
	}
	one := func(s *Service, gw map[string]*ClusterGateway) *Blueprint {
		return &Blueprint{Name: "d", Clusters: map[string]*Cluster{"c": {Services: []*Service{s}, Gateways: gw}}}
	}
	withScale := func(sc Scale) *Service { s := svc("s"); s.Scale = &sc; return s }
	withChecks := func(hc ...HealthCheck) *Service { s := svc("s"); s.HealthChecks = hc; return s }
	routes := func(rs map[string]*Route) map[string]*ClusterGateway {
		return map[string]*ClusterGateway{"web": {Routes: rs}}
	}
	const head = "name: d\nclusters:\n  c:\n"
	tests := []struct {
		name string
		doc  string
		want *Blueprint
	}{
		{"services as a list of {breed}", head + "    services:\n      - breed: {name: s, deployable: 'cmd:s', ports: {web: 8080/http}}\n",
			one(svc("s"), nil)},
		{"services as one object", head + "    services: {breed: {name: s, deployable: 'cmd:s', ports: {web: 8080/http}}}\n",
			one(svc("s"), nil)},
		{"breed fields directly in the service", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080/http}}]\n",
			one(svc("s"), nil)},
		{"cluster written as one service", head + "    breed: {name: s, deployable: 'cmd:s', ports: {web: 8080/http}}\n",
			one(svc("s"), nil)},
		{"bare breed name", head + "    services: [ s ]\n",
			one(&Service{Breed: Breed{Name: "s"}}, nil)},
		{"port as a number is http", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}}]\n",
			one(svc("s"), nil)},
		{"port protocol in capitals", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080/HTTP}}]\n",
			one(svc("s"), nil)},
		{"Vamp's deployable object", head + "    services: [{name: s, deployable: {type: cmd, definition: s}, ports: {web: 8080}}]\n",
			one(svc("s"), nil)},
		{"memory 256MB, other scale defaults", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}, scale: {memory: 256MB}}]\n",
			one(withScale(Scale{CPU: 0.2, MemoryMB: 256, Instances: 1}), nil)},
		{"memory 1GB", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}, scale: {cpu: 1, memory: 1GB, instances: 3}}]\n",
			one(withScale(Scale{CPU: 1, MemoryMB: 1024, Instances: 3}), nil)},
		{"memory \"256\" and cpu as text", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}, scale: {cpu: '0.5', memory: '256', instances: '2'}}]\n",
			one(withScale(Scale{CPU: 0.5, MemoryMB: 256, Instances: 2}), nil)},
		{"memory 256 and 0.5GB", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}, scale: {memory: 0.5 GB}}]\n",
			one(withScale(Scale{CPU: 0.2, MemoryMB: 512, Instances: 1}), nil)},
		{"health check durations as text and seconds", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}, health_checks: [{port: web, path: /, initial_delay: 10s, interval: 15, timeout: 1m, failures: 5, protocol: HTTP}]}]\n",
			one(withChecks(HealthCheck{Port: "web", Path: "/", Protocol: "HTTP", InitialDelay: "10s", Interval: "15s", Timeout: "1m", Failures: 5}), nil)},
		{"health check as one object, failures default", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}, health_checks: {port: web}}]\n",
			one(withChecks(HealthCheck{Port: "web", Failures: 3}), nil)},
		{"weights as 50%, \"50\" and 50", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}}]\n    gateways: {web: {routes: {a: {weight: 50%}, b: {weight: '50'}, c: {weight: 0}}}}\n",
			one(svc("s"), routes(map[string]*Route{"a": {Weight: Int64(50)}, "b": {Weight: Int64(50)}, "c": {Weight: Int64(0)}}))},
		{"strength as number and text, condition without strength is 0", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}}]\n" +
			"    gateways: {web: {sticky: instance, routes: {a: {condition: has cookie x, condition_strength: 25}, b: {condition: 'host == x', condition_strength: '100%'}, c: {condition: 'user-agent == Firefox'}, d: }}}\n",
			one(svc("s"), map[string]*ClusterGateway{"web": {Sticky: "instance", Routes: map[string]*Route{
				"a": {Condition: "has cookie x", ConditionStrength: Int64(25)},
				"b": {Condition: "host == x", ConditionStrength: Int64(100)},
				"c": {Condition: "user-agent == Firefox", ConditionStrength: Int64(0)},
				"d": {},
			}}})},
		{"environment variables on breed and service", head + "    services: [{breed: {name: s, deployable: 'cmd:s', ports: {web: 8080}, environment_variables: {A: 1, B: x}}, environment_variables: {B: y}}]\n",
			func() *Blueprint {
				s := svc("s")
				s.Breed.Environment = map[string]string{"A": "1", "B": "y"}
				return one(s, nil)
			}()},
		{"marathon dialect as YAML", head + "    services: [{name: s, deployable: 'cmd:s', ports: {web: 8080}, dialects: {marathon: {labels: {team: a}}}}]\n",
			func() *Blueprint { s := svc("s"); s.Marathon = `{"labels":{"team":"a"}}`; return one(s, nil) }()},
		{"anchors, aliases and merge keys", "name: d\nclusters:\n  c:\n    services:\n      - breed: &b {name: s, deployable: 'cmd:s', ports: {web: 8080}}\n" +
			"  c2:\n    services:\n      - breed: {<<: *b, name: t}\n      - breed: *b\n",
			&Blueprint{Name: "d", Clusters: map[string]*Cluster{
				"c":  {Services: []*Service{svc("s")}},
				"c2": {Services: []*Service{{Breed: Breed{Name: "t", Deployable: "cmd:s", Ports: map[string]string{"web": "8080/http"}}}, svc("s")}},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.doc)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestParseYAMLBlueprintGateways(t *testing.T) {
	for _, doc := range []string{
		"gateways:\n  9050: c/web\n",
		"gateways:\n  \"9050\": c/web\n",
		"gateways:\n  9050: {routes: {c/web: {weight: 100%}}}\n",
		"gateways:\n  9050:\n    routes:\n      c/web:\n",
	} {
		b := mustParse(t, "name: d\n"+doc)
		if want := map[string]string{"9050": "c/web"}; !reflect.DeepEqual(b.Gateways, want) {
			t.Errorf("%q: gateways = %v, want %v", doc, b.Gateways, want)
		}
	}
}

// TestParseYAMLErrors: every fault names its YAML path and line, and says what to do.
func TestParseYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		path string
		line int
		msg  string
	}{
		{"bad port protocol", "name: sava\nclusters:\n  sava_cluster:\n    services:\n      - breed:\n          name: s\n          ports:\n            webport: 8080/htp\n",
			"clusters.sava_cluster.services[0].breed.ports.webport", 8, `"8080/htp": protocol must be http or tcp`},
		{"typo in a field", "name: sava\nclusters:\n  sava_cluster:\n    services:\n      - breed:\n          name: s\n          deployble: x\n",
			"clusters.sava_cluster.services[0].breed.deployble", 7, `unknown field "deployble" (did you mean "deployable"?)`},
		{"unknown top-level field", "name: sava\nclustres: {}\n",
			"clustres", 2, `unknown field "clustres" (did you mean "clusters"?); the known fields here are name, kind, gateways, clusters`},
		{"port used twice as 9050 and \"9050\"", "name: sava\ngateways:\n  9050: c/web\n  \"9050\": c/web\n",
			`gateways.9050`, 4, `"9050" is given twice (first at line 3); keep one`},
		{"weight not a whole percentage", "clusters:\n  c:\n    gateways:\n      web:\n        routes:\n          \"s:1\": {weight: 50.5%}\n",
			`clusters.c.gateways.web.routes["s:1"].weight`, 6, `"50.5%": weight is a whole percentage from 0 to 100, e.g. 50%`},
		{"strength out of range", "clusters:\n  c:\n    gateways:\n      web:\n        routes:\n          s: {condition: has cookie x, condition_strength: 120%}\n",
			`clusters.c.gateways.web.routes.s.condition_strength`, 6, `"120%": condition_strength must be from 0% to 100%`},
		{"bad condition", "clusters:\n  c:\n    gateways:\n      web:\n        routes:\n          s:\n            condition: user-agent ==\n",
			`clusters.c.gateways.web.routes.s.condition`, 7, `"user-agent ==": `},
		{"memory unit", "clusters:\n  c:\n    services: [{name: s, scale: {memory: 256XB}}]\n",
			`clusters.c.services[0].scale.memory`, 3, `unknown memory unit "XB"; use MB or GB`},
		{"memory not whole MB", "clusters:\n  c:\n    services: [{name: s, scale: {memory: 1.5}}]\n",
			`clusters.c.services[0].scale.memory`, 3, `whole number of megabytes`},
		{"duration", "clusters:\n  c:\n    services: [{name: s, health_checks: [{interval: soon}]}]\n",
			`clusters.c.services[0].health_checks[0].interval`, 3, `"soon": a duration is a number with a unit, e.g. 10s`},
		{"list where a value belongs", "name: [a, b]\n", "name", 1, "expected a single value, found a list"},
		{"services beside service fields", "clusters:\n  c:\n    services: []\n    scale: {cpu: 1}\n",
			"clusters.c.scale", 4, `"scale" belongs to a service`},
		{"blueprint gateway with two routes", "gateways:\n  9050: {routes: {a/web: {}, b/web: {}}}\n",
			"gateways.9050.routes", 2, "exactly one route to a cluster port, found 2"},
		{"blueprint gateway route weight", "gateways:\n  9050: {routes: {a/web: {weight: 50%}}}\n",
			"gateways.9050.routes[\"a/web\"].weight", 2, "write 100% or leave the weight out"},
		{"kind", "kind: deployment\n", "kind", 1, `"deployment": kind must be blueprint`},
		{"marathon", "clusters:\n  c:\n    services: [{name: s, marathon: 'not json'}]\n", "clusters.c.services[0].marathon", 3, "marathon is a JSON object"},
		{"route not a mapping", "clusters:\n  c:\n    gateways: {web: {routes: {s: 50%}}}\n", "clusters.c.gateways.web.routes.s", 3, `expected a route mapping (weight, condition, condition_strength), found "50%"`},
		{"second document", "name: a\n---\nname: b\n", "", 2, "give one blueprint per document"},
		{"empty document", "# nothing\n", "", 0, "the blueprint document is empty"},
		{"YAML syntax", "name: a\n  b: c\n", "", 2, "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.doc))
			var errs YAMLErrors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("err = %v, want YAMLErrors", err)
			}
			e := errs[0]
			if e.Path.YAMLString() != tt.path || e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got path %q line %d msg %q\nwant path %q line %d msg containing %q", e.Path.YAMLString(), e.Line, e.Msg, tt.path, tt.line, tt.msg)
			}
			if tt.path != "" && !strings.Contains(err.Error(), tt.path+": ") {
				t.Errorf("Error() = %q does not name the path", err.Error())
			}
		})
	}
}

// TestParseYAMLReportsAllFaults: one parse reports every fault, in document order.
func TestParseYAMLReportsAllFaults(t *testing.T) {
	_, err := ParseYAML([]byte("name: s\nclusters:\n  c:\n    services:\n      - {name: a, ports: {w: 1/udp}}\n      - {name: b, colour: red}\n" +
		"    gateways: {w: {routes: {a: {weight: lots}}}}\n"))
	var errs YAMLErrors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("err = %v, want 3 faults", err)
	}
	if errs[0].Line != 5 || errs[1].Line != 6 || errs[2].Line != 7 {
		t.Errorf("lines %d, %d, %d; want 5, 6, 7", errs[0].Line, errs[1].Line, errs[2].Line)
	}
	if want := "line 6, column 19: clusters.c.services[1].colour: unknown field \"colour\""; !strings.HasPrefix(errs[1].Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", errs[1].Error(), want)
	}
}

// TestParseYAMLAliasBomb: a small document that aliases a big service thousands of times is
// refused instead of being expanded.
func TestParseYAMLAliasBomb(t *testing.T) {
	doc := "name: d\nclusters:\n  c:\n    services:\n      - &s {name: s, deployable: 'cmd:x', ports: {w: 80}, health_checks: [" +
		strings.Repeat("{port: w},", 1000) + "]}\n" + strings.Repeat("      - *s\n", 1000)
	_, err := ParseYAML([]byte(doc))
	var errs YAMLErrors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "the document reaches more than 50000 values through aliases") {
		t.Fatalf("err = %.300v", err)
	}
}
