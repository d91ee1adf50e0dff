package deployplan

import (
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	v1 := func(w int64, cond string, strength int64) Route { return Route{"sava:1.0.0", w, cond, strength} }
	v2 := func(w int64) Route { return Route{"sava:1.1.0", w, "", 0} }
	cases := []struct {
		name   string
		routes []Route
		want   []string
	}{
		{"step 1: one variant", []Route{v1(100, "", 0)}, []string{"all -> sava:1.0.0 100%"}},
		{"step 3: the canary at 0% gets nothing", []Route{v1(100, "", 0), v2(0)}, []string{"all -> sava:1.0.0 100%"}},
		{"step 4: 50/50", []Route{v1(50, "", 0), v2(50)}, []string{"all -> sava:1.0.0 50%, sava:1.1.0 50%"}},
		{"step 5: Firefox to 1.0.0, the rest to 1.1.0", []Route{v1(0, "user-agent == Firefox", 100), v2(100)},
			[]string{"user-agent == Firefox -> sava:1.0.0 100%", "other -> sava:1.1.0 100%"}},
		{"step 5 as Vamp adds it: strength 0 takes nothing", []Route{v1(0, "user-agent == Firefox", 0), v2(100)},
			[]string{"all -> sava:1.1.0 100%"}},
		{"a partial strength: the rest of the matches go by weight", []Route{v1(50, "has cookie beta", 60), v2(50)},
			[]string{"has cookie beta -> sava:1.0.0 80%, sava:1.1.0 20%", "other -> sava:1.0.0 50%, sava:1.1.0 50%"}},
		{"only conditional traffic: the rest gets 503", []Route{v1(0, "user-agent == Firefox", 100), v2(0)},
			[]string{"user-agent == Firefox -> sava:1.0.0 100%", "other -> no route (503) 100%"}},
		{"a weak condition without weights", []Route{v1(0, "host == a", 30), v2(0)},
			[]string{"host == a -> sava:1.0.0 30%, no route (503) 70%", "other -> no route (503) 100%"}},
		{"thirds", []Route{{"a", 34, "", 0}, {"b", 33, "", 0}, {"c", 33, "", 0}}, []string{"all -> a 34%, b 33%, c 33%"}},
		{"conditions in route order", []Route{{"a", 0, "x", 100}, {"b", 100, "y", 100}},
			[]string{"x -> a 100%", "y -> b 100%", "other -> b 100%"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Split(tc.routes); !slices.Equal(got, tc.want) {
				t.Errorf("Split = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestServesNothing(t *testing.T) {
	cases := []struct {
		name   string
		routes []Route
		want   bool
	}{
		{"all weights 0, no condition", []Route{{"a", 0, "", 0}, {"b", 0, "", 0}}, true},
		{"a condition of strength 0", []Route{{"a", 0, "has cookie x", 0}, {"b", 0, "", 0}}, true},
		{"a condition with strength", []Route{{"a", 0, "has cookie x", 1}, {"b", 0, "", 0}}, false},
		{"a weight", []Route{{"a", 0, "", 0}, {"b", 100, "", 0}}, false},
		{"no routes", nil, true},
	}
	for _, tc := range cases {
		if got := ServesNothing(tc.routes); got != tc.want {
			t.Errorf("%s: ServesNothing = %v, want %v", tc.name, got, tc.want)
		}
	}
	d := ServesNothingDetail("sava/sava_cluster/webport", []Route{{"sava:1.0.0", 0, "", 0}})
	for _, want := range []string{`"sava/sava_cluster/webport"`, "503", "weight = 100", "condition_strength above 0"} {
		if !strings.Contains(d, want) {
			t.Errorf("detail %q lacks %q", d, want)
		}
	}
}
