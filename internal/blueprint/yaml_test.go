package blueprint

import (
	"errors"
	"strings"
	"testing"
)

// TestReadErrors: every fault names its YAML path and line, and says what to do.
func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		path string
		line int
		msg  string
	}{
		{"bad port protocol", "name: sava\nclusters:\n  sava_cluster:\n    services:\n      - breed:\n          name: s\n          deployable: x\n          ports:\n            webport: 8080/htp\n",
			"clusters.sava_cluster.services[0].breed.ports.webport", 9, `"8080/htp": protocol must be http or tcp`},
		{"typo in a field", "name: sava\nclusters:\n  sava_cluster:\n    services:\n      - breed:\n          name: s\n          deployable: x\n          prots: {}\n",
			"clusters.sava_cluster.services[0].breed.prots", 8, `unexpected field "prots" (did you mean "ports"?)`},
		{"unknown top-level field", "name: sava\nclustres: {}\n",
			"clustres", 2, `unexpected field "clustres" (did you mean "clusters"?)`},
		{"port used twice as 9050 and \"9050\"", "name: sava\ngateways:\n  9050: c/web\n  \"9050\": c/web\n",
			`gateways.9050`, 4, `"9050" is given twice (first at line 3); keep one`},
		{"weight not a whole percentage", "name: d\nclusters:\n  c:\n    services: a\n    gateways:\n      web:\n        routes:\n          \"s:1\": {weight: 50.5%}\n",
			`clusters.c.gateways.web.routes["s:1"].weight`, 8, `"50.5%": a percentage is a whole number, e.g. 50%`},
		{"memory unit", "name: d\nclusters:\n  c:\n    services: [{breed: s, scale: {cpu: 1, memory: 256XB}}]\n",
			`clusters.c.services[0].scale.memory`, 4, `unknown memory unit "XB"; use MB or GB`},
		{"time", "name: d\nclusters:\n  c:\n    services: [{breed: s, health_checks: [{port: w, interval: soon}]}]\n",
			`clusters.c.services[0].health_checks[0].interval`, 4, `"soon": a time is a whole number with a unit, e.g. 10s or 1m`},
		{"list where a value belongs", "name: [a, b]\n", "name", 1, "expected a single value, found a list"},
		{"kind", "kind: deployment\nname: d\n", "kind", 1, `kind "deployment": this document is read as a blueprint`},
		{"route not a mapping", "name: d\nclusters:\n  c:\n    services: a\n    gateways: {web: {routes: {s: [50%]}}}\n", "clusters.c.gateways.web.routes.s", 5, `expected a route mapping (weight, condition, condition_strength), found a list`},
		{"YAML syntax", "name: a\n  b: c\n", "", 2, "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadBlueprint([]byte(tt.doc))
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

// TestReadReportsAllFaults: one read reports every fault, in document order.
func TestReadReportsAllFaults(t *testing.T) {
	_, err := ReadBlueprint([]byte("name: s\nclusters:\n  c:\n    services:\n      - {breed: a, scale: {cpu: lots}}\n      - {breed: b, colour: red}\n" +
		"    gateways: {w: {routes: {a: {weight: lots}}}}\n"))
	var errs YAMLErrors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("err = %v, want 3 faults", err)
	}
	if errs[0].Line != 5 || errs[1].Line != 6 || errs[2].Line != 7 {
		t.Errorf("lines %d, %d, %d; want 5, 6, 7", errs[0].Line, errs[1].Line, errs[2].Line)
	}
	if want := "line 6, column 20: clusters.c.services[1].colour: unexpected field \"colour\""; !strings.HasPrefix(errs[1].Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", errs[1].Error(), want)
	}
}

// TestReadAliasBomb: a small document that aliases a big service thousands of times is refused
// instead of being expanded.
func TestReadAliasBomb(t *testing.T) {
	doc := "name: d\nclusters:\n  c:\n    services:\n      - &s {breed: {name: s, deployable: 'cmd:x', ports: {w: 80}}, health_checks: [" +
		strings.Repeat("{port: w},", 1000) + "]}\n" + strings.Repeat("      - *s\n", 1000)
	_, err := ReadBlueprint([]byte(doc))
	var errs YAMLErrors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "the document reaches more than 50000 values through aliases") {
		t.Fatalf("err = %.300v", err)
	}
}

// TestReadAnchorsAndMergeKeys: YAML anchors, aliases and merge keys read as written out.
func TestReadAnchorsAndMergeKeys(t *testing.T) {
	b, _ := deployVamp(t, "name: d\nclusters:\n  c:\n    services:\n      - breed: &b {name: s, deployable: 'cmd:s', ports: {web: 8080}}\n"+
		"  c2:\n    services:\n      - breed: {<<: *b, name: t}\n")
	if got := b.Clusters["c2"].Services[0].Breed; got.Name != "t" || got.Deployable != "cmd:s" || got.Ports["web"] != "8080/http" {
		t.Errorf("breed = %+v", got)
	}
}
