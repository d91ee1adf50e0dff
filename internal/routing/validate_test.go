package routing

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

func TestNewRejectsBadSpecsNamingRouteAndFix(t *testing.T) {
	p := NewPool()
	b := func(addr string) []*Backend { return backends(p, addr) }
	var next atomic.Pointer[Table]
	for _, tc := range []struct {
		name     string
		spec     Spec
		wantPath string
		wantMsg  string
	}{
		{"weight above 100", Spec{Routes: []Route{
			{Name: "sava:1.0.0", Weight: 0, Backends: b("a:1")},
			{Name: "sava:1.1.0", Weight: 120, Backends: b("b:1")},
		}}, "routes[1].weight", `routes[1] ("sava:1.1.0"): weight 120 is outside 0..100`},
		{"negative weight", Spec{Routes: []Route{{Name: "a", Weight: -1}}},
			"routes[0].weight", `routes[0] ("a"): weight -1 is outside 0..100`},
		{"weights sum to 90", Spec{Routes: []Route{
			{Name: "a", Weight: 50, Backends: b("a:1")},
			{Name: "b", Weight: 40, Backends: b("b:1")},
		}}, "routes", "weights sum to 90, they must sum to 100 or all be 0"},
		{"strength", Spec{Routes: []Route{{Name: "a", Weight: 100, Condition: firefox, ConditionStrength: 101}}},
			"routes[0].condition_strength", `routes[0] ("a"): condition strength 101 is outside 0..100`},
		{"empty name", Spec{Routes: []Route{{Weight: 100}}}, "routes[0].name", "a route needs a name"},
		{"duplicate name", Spec{Routes: []Route{{Name: "a", Weight: 50}, {Name: "a", Weight: 50}}},
			"routes[1].name", `name "a" is already used by routes[0]`},
		{"backends and next", Spec{Routes: []Route{{Name: "a", Weight: 100, Backends: b("a:1"), Next: &next}}},
			"routes[0].next", "either to another gateway or to instances, not both"},
		{"nil backend", Spec{Routes: []Route{{Name: "a", Weight: 100, Backends: []*Backend{nil}}}},
			"routes[0].backends", "backends[0] is nil"},
		{"instance twice", Spec{Routes: []Route{{Name: "a", Weight: 100, Backends: []*Backend{p.Get("x:1"), p.Get("x:1")}}}},
			"routes[0].backends", `instance "x:1" is listed twice`},
		{"sticky without cookie name", Spec{Sticky: StickyRoute, Routes: []Route{{Name: "a", Weight: 100}}},
			"cookie_name", "a sticky gateway needs a cookie name"},
		{"bad cookie name", Spec{Sticky: StickyInstance, CookieName: "va mp", Routes: []Route{{Name: "a", Weight: 100}}},
			"cookie_name", `cookie name "va mp" has ' ' at position 2`},
		{"route name unfit for cookie", Spec{Sticky: StickyRoute, CookieName: "s", Routes: []Route{{Name: "a;b", Weight: 100}}},
			"routes[0].name", "cannot be in a cookie; rename the route"},
		{"unknown sticky", Spec{Sticky: 7}, "sticky", "sticky mode 7 is unknown"},
		{"unknown balance", Spec{Balance: 9}, "balance", "balance mode 9 is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.spec)
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want *SpecError", err)
			}
			if got := se.Faults[0].Path(); got != tc.wantPath {
				t.Errorf("path = %q, want %q", got, tc.wantPath)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

func TestNewReportsEveryFault(t *testing.T) {
	_, err := New(Spec{Routes: []Route{
		{Name: "a", Weight: 120},
		{Name: "", Weight: 30, Condition: firefox, ConditionStrength: -5},
	}})
	var se *SpecError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v", err)
	}
	var paths []string
	for _, f := range se.Faults {
		paths = append(paths, f.Path())
	}
	if got, want := strings.Join(paths, " "), "routes[0].weight routes[1].name routes[1].condition_strength routes"; got != want {
		t.Fatalf("paths = %s, want %s (error %q)", got, want, err)
	}
}

func TestNewAcceptsValidSpecs(t *testing.T) {
	p := NewPool()
	var next atomic.Pointer[Table]
	for name, spec := range map[string]Spec{
		"no routes":             {},
		"all weights zero":      {Routes: []Route{{Name: "a"}, {Name: "b", Condition: firefox, ConditionStrength: 100}}},
		"route without backend": {Routes: []Route{{Name: "a", Weight: 100}}},
		"route to gateway":      {Routes: []Route{{Name: "a", Weight: 100, Next: &next}}},
		"sticky vamp names": {Sticky: StickyRoute, CookieName: "vamp_sticky", Routes: []Route{
			{Name: "sava/sava_cluster/sava:1.0.0/webport", Weight: 100, Backends: backends(p, "10.0.0.1:31000")}}},
	} {
		if _, err := New(spec); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
