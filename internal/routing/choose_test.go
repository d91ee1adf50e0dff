package routing

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func twoRoutes(p *Pool, wa, wb int) Spec {
	return Spec{Routes: []Route{
		{Name: "a", Weight: wa, Backends: backends(p, "10.0.0.1:80")},
		{Name: "b", Weight: wb, Backends: backends(p, "10.0.0.2:80")},
	}}
}

func TestWeightsFiftyFiftyExactPerCycle(t *testing.T) {
	tbl := mustNew(t, twoRoutes(NewPool(), 50, 50))
	var seq strings.Builder
	for range 40 {
		seq.WriteString(routeName(mustChoose(t, tbl, request())))
	}
	// Each cycle of 2 holds one a and one b; which comes first is drawn per cycle.
	s := seq.String()
	firstA := 0
	for c := 0; c < len(s); c += 2 {
		if pair := s[c : c+2]; pair != "ab" && pair != "ba" {
			t.Fatalf("cycle %d is %q, want one a and one b: %s", c/2, pair, s)
		}
		if s[c] == 'a' {
			firstA++
		}
	}
	if firstA == 0 || firstA == 20 {
		t.Fatalf("a came first in %d of 20 cycles: the order within a cycle is not drawn: %s", firstA, s)
	}
	wantCounts(t, countRoutes(t, tbl, request(), 200), map[string]int{"a": 100, "b": 100})
}

// The case: weight 10 is exactly 1 request in each 10 (1,000 requests give exactly
// 100/900), and the request it gets within its cycle is drawn, so every position is seen.
func TestWeightsNinetyTenExactPerCycleRandomPosition(t *testing.T) {
	tbl := mustNew(t, twoRoutes(NewPool(), 90, 10))
	var seq []string
	for range 1000 {
		seq = append(seq, routeName(mustChoose(t, tbl, request())))
	}
	var atPosition [10]int
	total := 0
	for c := 0; c < 100; c++ {
		bs := 0
		for pos, s := range seq[c*10 : c*10+10] {
			if s == "b" {
				bs++
				atPosition[pos]++
				total++
			}
		}
		if bs != 1 {
			t.Fatalf("cycle %d (requests %d..%d) holds %d b, want exactly 1: %v", c, c*10, c*10+9, bs, seq[c*10:c*10+10])
		}
	}
	if total != 100 {
		t.Fatalf("1,000 requests at 90/10 gave b %d times, want exactly 100", total)
	}
	// 100 uniform draws over 10 positions: each position 10 times on average. A fixed
	// interleave puts all 100 at one position; allow the spread of a fair draw (chi-square
	// with 9 degrees of freedom stays below 27.9 with probability 0.999).
	chi := 0.0
	for _, n := range atPosition {
		chi += float64((n-10)*(n-10)) / 10
	}
	if chi > 27.9 {
		t.Fatalf("positions of b within its cycle %v: chi-square %.1f > 27.9, not a uniform draw", atPosition, chi)
	}
	t.Logf("b's position within each cycle of 10, over 100 cycles: %v (chi-square %.1f)", atPosition, chi)
}

// A client that strictly alternates two kinds of request (say Firefox, Chrome) must reach a
// weight-10 route with both kinds. With a fixed interleave the route took every 10th request, so
// only one kind; with a drawn position each cycle gives it either kind at even odds.
func TestWeightsAlternatingClientReachesTheSmallRouteWithBothKinds(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		tbl := mustNew(t, Spec{Seed: seed, Routes: twoRoutes(NewPool(), 90, 10).Routes})
		kinds := map[int]int{}
		for n := range 200 {
			if routeName(mustChoose(t, tbl, request())) == "b" {
				kinds[n%2]++
			}
		}
		if kinds[0] == 0 || kinds[1] == 0 || kinds[0]+kinds[1] != 20 {
			t.Fatalf("seed %d: the weight-10 route got %d even and %d odd requests of 200; want both kinds and 20 in all", seed, kinds[0], kinds[1])
		}
	}
}

// Tables built without a Seed draw one from crypto/rand: two of them order their cycles
// differently (the chance that 100 cycles of 10 agree by accident is 10^-100).
func TestWeightsUnseededTablesDrawTheirOwnOrder(t *testing.T) {
	var seqs [2]strings.Builder
	for i := range seqs {
		tbl, err := New(twoRoutes(NewPool(), 90, 10))
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			seqs[i].WriteString(routeName(mustChoose(t, tbl, request())))
		}
	}
	if seqs[0].String() == seqs[1].String() {
		t.Fatal("two unseeded tables chose in the same order over 1,000 requests")
	}
	if a, b := strings.Count(seqs[0].String(), "b"), strings.Count(seqs[1].String(), "b"); a != 100 || b != 100 {
		t.Fatalf("unseeded tables gave b %d and %d times of 1,000, want exactly 100", a, b)
	}
}

func TestWeightsUnevenThreeWayExact(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 33, Backends: backends(p, "a:1")},
		{Name: "b", Weight: 33, Backends: backends(p, "b:1")},
		{Name: "c", Weight: 34, Backends: backends(p, "c:1")},
	}})
	wantCounts(t, countRoutes(t, tbl, request(), 200), map[string]int{"a": 66, "b": 66, "c": 68})
}

// The article's step 5: Firefox users to 1.0.0 by condition, everybody else to 1.1.0 by weight.
func TestConditionStrength100TakesAllMatchingRestByWeight(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "sava:1.0.0", Weight: 0, Condition: firefox, ConditionStrength: 100, Backends: backends(p, "old:80")},
		{Name: "sava:1.1.0", Weight: 100, Backends: backends(p, "new:80")},
	}})
	ff := request("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
	chrome := request("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36")
	for range 50 {
		if got := routeName(mustChoose(t, tbl, ff)); got != "sava:1.0.0" {
			t.Fatalf("Firefox went to %s", got)
		}
		if got := routeName(mustChoose(t, tbl, chrome)); got != "sava:1.1.0" {
			t.Fatalf("Chrome went to %s", got)
		}
	}
}

func TestConditionStrengthTakesExactShare(t *testing.T) {
	for _, tc := range []struct{ strength, wantTaken int }{{0, 0}, {25, 50}, {50, 100}, {99, 198}, {100, 200}} {
		p := NewPool()
		tbl := mustNew(t, Spec{Routes: []Route{
			{Name: "cond", Weight: 0, Condition: firefox, ConditionStrength: tc.strength, Backends: backends(p, "c:1")},
			{Name: "rest", Weight: 100, Backends: backends(p, "r:1")},
		}})
		got := countRoutes(t, tbl, request("User-Agent", "Firefox"), 200)
		if got["cond"] != tc.wantTaken || got["rest"] != 200-tc.wantTaken {
			t.Errorf("strength %d: counts %v, want cond=%d rest=%d", tc.strength, got, tc.wantTaken, 200-tc.wantTaken)
		}
	}
}

func TestConditionStrength50AlternatesFromFirst(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 0, Condition: firefox, ConditionStrength: 50, Backends: backends(p, "a:1")},
		{Name: "b", Weight: 100, Backends: backends(p, "b:1")},
	}})
	var seq strings.Builder
	for range 6 {
		seq.WriteString(routeName(mustChoose(t, tbl, request("User-Agent", "Firefox"))))
	}
	if seq.String() != "ababab" {
		t.Fatalf("sequence = %s, want ababab", seq.String())
	}
}

// A matching request that the first matching route does not take goes by weight; later
// conditions are not tried.
func TestFirstMatchingConditionDecidesAlone(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "first", Weight: 0, Condition: firefox, ConditionStrength: 0, Backends: backends(p, "1:1")},
		{Name: "second", Weight: 0, Condition: firefox, ConditionStrength: 100, Backends: backends(p, "2:1")},
		{Name: "weighted", Weight: 100, Backends: backends(p, "3:1")},
	}})
	wantCounts(t, countRoutes(t, tbl, request("User-Agent", "Firefox"), 20), map[string]int{"weighted": 20})
}

// Conditional routes take their share of the weighted traffic too (rule 3: over all routes).
func TestConditionalRouteAlsoServesItsWeight(t *testing.T) {
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 50, Condition: firefox, ConditionStrength: 100, Backends: backends(NewPool(), "a:1")},
		{Name: "b", Weight: 50, Backends: backends(NewPool(), "b:1")},
	}})
	wantCounts(t, countRoutes(t, tbl, request("User-Agent", "Chrome"), 100), map[string]int{"a": 50, "b": 50})
	wantCounts(t, countRoutes(t, tbl, request("User-Agent", "Firefox"), 100), map[string]int{"a": 100})
}

func TestAllWeightsZeroServesOnlyConditionalTraffic(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 0, Condition: firefox, ConditionStrength: 50, Backends: backends(p, "a:1")},
		{Name: "b", Weight: 0, Backends: backends(p, "b:1")},
	}})
	taken, refused := 0, 0
	for range 100 {
		d, err := tbl.Choose(request("User-Agent", "Firefox"), t0, nil)
		if err != nil {
			wantNoRoute(t, err, "all route weights", "are 0", "only requests that match a route's condition")
			refused++
			continue
		}
		if routeName(d) != "a" {
			t.Fatalf("went to %s", routeName(d))
		}
		taken++
	}
	if taken != 50 || refused != 50 {
		t.Fatalf("taken %d refused %d, want 50/50", taken, refused)
	}
	_, err := tbl.Choose(request("User-Agent", "Chrome"), t0, nil)
	wantNoRoute(t, err, "all route weights", "are 0")
}

func TestAllWeightsZeroConditionalRouteWithoutInstance(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 0, Condition: firefox, ConditionStrength: 100, Backends: backends(p, "a:1")},
		{Name: "b", Weight: 0, Backends: backends(p, "b:1")},
	}})
	p.Get("a:1").SetHealthy(false)
	_, err := tbl.Choose(request("User-Agent", "Firefox"), t0, nil)
	wantNoRoute(t, err, `route "a"`, "no healthy instance", "all weights are 0")
}

func TestNoRoutesIsNoRouteError(t *testing.T) {
	tbl := mustNew(t, Spec{})
	_, err := tbl.Choose(request(), t0, nil)
	wantNoRoute(t, err, "no routes")
}

func stickySpec(p *Pool, mode Sticky) Spec {
	s := Spec{Sticky: mode, CookieName: "vamp_sticky", Routes: []Route{
		{Name: "a", Weight: 50, Condition: firefox, ConditionStrength: 100, Backends: backends(p, "a:1", "a:2")},
		{Name: "b", Weight: 50, Backends: backends(p, "b:1", "b:2")},
		{Name: "dark", Weight: 0, Backends: backends(p, "d:1")},
	}}
	return s
}

func TestStickyRoute(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, stickySpec(p, StickyRoute))

	t.Run("no cookie: chosen by weight, cookie set", func(t *testing.T) {
		got := map[string]int{}
		for range 4 { // two cycles of 50/50: a and b twice each
			d := mustChoose(t, tbl, request())
			if !d.SetCookie || d.CookieName != "vamp_sticky" || d.CookieValue != routeName(d) {
				t.Fatalf("decision %+v on %s, want a cookie naming that route", d, routeName(d))
			}
			got[routeName(d)]++
		}
		wantCounts(t, got, map[string]int{"a": 2, "b": 2})
	})
	t.Run("valid cookie pins the route, no cookie set", func(t *testing.T) {
		for range 10 {
			d := mustChoose(t, tbl, request("Cookie", `other=1; vamp_sticky="b"; x=y`))
			if routeName(d) != "b" || d.SetCookie {
				t.Fatalf("decision on %s SetCookie %v, want b without cookie", routeName(d), d.SetCookie)
			}
		}
	})
	t.Run("cookie naming a weight 0 or unknown route is re-chosen", func(t *testing.T) {
		for _, v := range []string{"dark", "gone", ""} {
			d := mustChoose(t, tbl, withCookie("vamp_sticky", v))
			if n := routeName(d); (n != "a" && n != "b") || !d.SetCookie || d.CookieValue != n {
				t.Fatalf("cookie %q: decision on %s %+v, want a or b with the cookie reset", v, n, d)
			}
		}
	})
	t.Run("condition is decided before the cookie", func(t *testing.T) {
		d := mustChoose(t, tbl, request("Cookie", "vamp_sticky=b", "User-Agent", "Firefox"))
		if routeName(d) != "a" || d.SetCookie {
			t.Fatalf("decision on %s SetCookie %v, want a by condition and no cookie", routeName(d), d.SetCookie)
		}
	})
	t.Run("pinned route without instance is re-chosen", func(t *testing.T) {
		p.Get("b:1").SetHealthy(false)
		p.Get("b:2").SetHealthy(false)
		defer p.Get("b:1").SetHealthy(true)
		defer p.Get("b:2").SetHealthy(true)
		d := mustChoose(t, tbl, withCookie("vamp_sticky", "b"))
		if routeName(d) != "a" || !d.SetCookie || d.CookieValue != "a" {
			t.Fatalf("decision on %s %+v, want a with cookie a", routeName(d), d)
		}
	})
}

func TestStickyInstance(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, stickySpec(p, StickyInstance))

	d := mustChoose(t, tbl, request())
	if !d.SetCookie || d.CookieValue != d.Backend.Addr {
		t.Fatalf("first decision %+v: want the cookie set to the instance", d)
	}
	for range 10 {
		d := mustChoose(t, tbl, withCookie("vamp_sticky", "b:2"))
		if d.Backend.Addr != "b:2" || routeName(d) != "b" || d.SetCookie {
			t.Fatalf("decision %+v on %s, want b:2 without cookie", d, routeName(d))
		}
	}
	// Unavailable, unknown, or in a route of weight 0: re-chosen by weight, cookie reset.
	p.Get("b:2").Eject(t0, time.Minute)
	for _, v := range []string{"b:2", "nowhere:1", "d:1"} {
		d := mustChoose(t, tbl, withCookie("vamp_sticky", v))
		if d.Backend.Addr == v || !d.SetCookie || d.CookieValue != d.Backend.Addr {
			t.Fatalf("cookie %q: decision %+v, want another instance and the cookie reset", v, d)
		}
	}
	// The cookie's instance failing this request: retry elsewhere and re-pin.
	d, err := tbl.Choose(withCookie("vamp_sticky", "a:1"), t0, p.Get("a:1"))
	if err != nil || d.Backend.Addr == "a:1" || !d.SetCookie {
		t.Fatalf("retry decision %+v, %v: want another instance with the cookie reset", d, err)
	}
}

// With more candidates than lookupScanMax the cookie is looked up in maps; same behaviour.
func TestStickyManyRoutesUsesSameRules(t *testing.T) {
	p := NewPool()
	var routes []Route
	for i := range 10 {
		name := string(rune('a' + i))
		routes = append(routes, Route{Name: name, Weight: 10, Backends: backends(p, name+":1")})
	}
	routes = append(routes, Route{Name: "dark", Weight: 0, Backends: backends(p, "dark:1")})
	for _, mode := range []Sticky{StickyRoute, StickyInstance} {
		tbl := mustNew(t, Spec{Sticky: mode, CookieName: "s", Routes: routes})
		pinned, dark := "g", "dark"
		if mode == StickyInstance {
			pinned, dark = "g:1", "dark:1"
		}
		for range 5 {
			if d := mustChoose(t, tbl, withCookie("s", pinned)); routeName(d) != "g" || d.SetCookie {
				t.Fatalf("mode %d: decision on %s %+v, want g without cookie", mode, routeName(d), d)
			}
		}
		if d := mustChoose(t, tbl, withCookie("s", dark)); routeName(d) == "dark" || !d.SetCookie {
			t.Fatalf("mode %d: cookie to a weight 0 route honoured: %+v", mode, d)
		}
	}
}

func TestRoundRobinInsideRoute(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{{Name: "a", Weight: 100, Backends: backends(p, "1:1", "2:1", "3:1")}}})
	var seq []string
	for range 6 {
		seq = append(seq, mustChoose(t, tbl, request()).Backend.Addr)
	}
	if got := strings.Join(seq, " "); got != "1:1 2:1 3:1 1:1 2:1 3:1" {
		t.Fatalf("sequence %s", got)
	}
}

func TestLeastConnectionsInsideRoute(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Balance: LeastConnections, Routes: []Route{{Name: "a", Weight: 100, Backends: backends(p, "1:1", "2:1", "3:1")}}})
	p.Get("1:1").Acquire()
	p.Get("1:1").Acquire()
	p.Get("3:1").Acquire()
	if got := mustChoose(t, tbl, request()).Backend.Addr; got != "2:1" {
		t.Fatalf("chose %s, want 2:1 (0 active)", got)
	}
	// Each decision acquires what it chose: the loads level out, then ties rotate.
	counts := map[string]int{}
	p.Get("2:1").Acquire()
	for range 8 { // from 2,1,1 in flight to 4,4,4
		d := mustChoose(t, tbl, request())
		d.Backend.Acquire()
		counts[d.Backend.Addr]++
	}
	wantCounts(t, counts, map[string]int{"1:1": 2, "2:1": 3, "3:1": 3})
	for _, a := range []string{"1:1", "2:1", "3:1"} {
		if got := p.Get(a).Active(); got != 4 {
			t.Fatalf("%s active %d, want 4", a, got)
		}
	}
}

func TestUnavailableInstancesSkipped(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{{Name: "a", Weight: 100, Backends: backends(p, "1:1", "2:1", "3:1")}}})
	p.Get("1:1").SetHealthy(false)
	p.Get("3:1").Eject(t0, 10*time.Second)
	for range 6 {
		if got := mustChoose(t, tbl, request()).Backend.Addr; got != "2:1" {
			t.Fatalf("chose %s, want 2:1", got)
		}
	}
	// The ejection ends at t0+10s.
	seen := map[string]bool{}
	for range 6 {
		d, err := tbl.Choose(request(), t0.Add(10*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[d.Backend.Addr] = true
	}
	if !seen["3:1"] || seen["1:1"] {
		t.Fatalf("after the ejection chose %v, want 2:1 and 3:1", seen)
	}
}

func TestRouteWithoutInstanceRechosenByWeight(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 50, Backends: backends(p, "a:1")},
		{Name: "b", Weight: 25, Backends: backends(p, "b:1")},
		{Name: "c", Weight: 25, Backends: backends(p, "c:1")},
		{Name: "empty", Weight: 0},
	}})
	p.Get("a:1").SetHealthy(false)
	// a's half goes to b and c in their 1:1 proportion: exact over 100.
	wantCounts(t, countRoutes(t, tbl, request(), 100), map[string]int{"b": 50, "c": 50})
}

func TestConditionalRouteWithoutInstanceFallsBackToWeights(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 0, Condition: firefox, ConditionStrength: 100, Backends: backends(p, "a:1")},
		{Name: "b", Weight: 100, Backends: backends(p, "b:1")},
	}})
	p.Get("a:1").SetHealthy(false)
	wantCounts(t, countRoutes(t, tbl, request("User-Agent", "Firefox"), 10), map[string]int{"b": 10})
}

func TestNothingAvailableIsNoRouteError(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, twoRoutes(p, 50, 50))
	p.Get("10.0.0.1:80").SetHealthy(false)
	p.Get("10.0.0.2:80").Eject(t0, time.Second)
	_, err := tbl.Choose(request(), t0, nil)
	wantNoRoute(t, err, "no healthy instance in any route of this gateway")
}

func TestExcludeRetriesElsewhere(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 100, Backends: backends(p, "a:1", "a:2")},
		{Name: "b", Weight: 0, Backends: backends(p, "b:1")},
	}})
	for range 4 {
		d, err := tbl.Choose(request(), t0, p.Get("a:1"))
		if err != nil || d.Backend.Addr != "a:2" {
			t.Fatalf("decision %+v, %v: want a:2", d, err)
		}
	}
	// The route's only other instance is down: no instance elsewhere with weight either.
	p.Get("a:2").SetHealthy(false)
	_, err := tbl.Choose(request(), t0, p.Get("a:1"))
	wantNoRoute(t, err, "other than the one that just failed")

	// With weight elsewhere the retry moves to that route.
	tbl2 := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 50, Backends: backends(p, "a:1")},
		{Name: "b", Weight: 50, Backends: backends(p, "b:1")},
	}})
	for range 4 {
		d, err := tbl2.Choose(request(), t0, p.Get("a:1"))
		if err != nil || d.Backend.Addr != "b:1" {
			t.Fatalf("decision %+v, %v: want b:1", d, err)
		}
	}
}

func TestNextFollowsToAnotherGateway(t *testing.T) {
	p := NewPool()
	var inner atomic.Pointer[Table]
	inner.Store(mustNew(t, Spec{Routes: []Route{
		{Name: "v1", Weight: 50, Backends: backends(p, "v1:1")},
		{Name: "v2", Weight: 50, Backends: backends(p, "v2:1")},
	}}))
	outer := mustNew(t, Spec{Routes: []Route{
		{Name: "to-cluster", Weight: 100, Next: &inner},
		{Name: "local", Weight: 0, Backends: backends(p, "l:1")},
	}})
	d := mustChoose(t, outer, request())
	if d.Table != inner.Load() || d.Backend.Addr != routeName(d)+":1" {
		t.Fatalf("decision %+v: want a route of the inner table and its instance", d)
	}
	got := countRoutes(t, outer, request(), 9) // with d, five cycles of the inner 50/50
	got[routeName(d)]++
	wantCounts(t, got, map[string]int{"v1": 5, "v2": 5})

	// Swapping the inner table takes effect for the next request.
	inner.Store(mustNew(t, Spec{Routes: []Route{
		{Name: "v1", Weight: 0, Backends: backends(p, "v1:1")},
		{Name: "v2", Weight: 100, Backends: backends(p, "v2:1")},
	}}))
	wantCounts(t, countRoutes(t, outer, request(), 10), map[string]int{"v2": 10})
}

func TestNextWithoutTableIsRechosen(t *testing.T) {
	p := NewPool()
	var empty atomic.Pointer[Table]
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "gw", Weight: 50, Next: &empty},
		{Name: "local", Weight: 50, Backends: backends(p, "l:1")},
	}})
	wantCounts(t, countRoutes(t, tbl, request(), 10), map[string]int{"local": 10})
}

func TestNextCycleIsNoRouteError(t *testing.T) {
	var self atomic.Pointer[Table]
	self.Store(mustNew(t, Spec{Routes: []Route{{Name: "loop", Weight: 100, Next: &self}}}))
	_, err := self.Load().Choose(request(), t0, nil)
	wantNoRoute(t, err, `route "loop"`, "more than 8 gateways", "cycle")
}

func TestTableKeepsItsOwnCopyOfRoutes(t *testing.T) {
	spec := twoRoutes(NewPool(), 50, 50)
	tbl := mustNew(t, spec)
	spec.Routes[0].Weight = 100
	spec.Routes[0].Backends[0] = nil
	if r := tbl.Routes()[0]; r.Weight != 50 || r.Backends[0] == nil {
		t.Fatalf("table changed with the caller's spec: %+v", r)
	}
}

// 32 goroutines × 1000 requests: the counters are atomics, so the shares stay exact.
func TestConcurrentChoicesAreExact(t *testing.T) {
	p := NewPool()
	tbl := mustNew(t, Spec{Routes: []Route{
		{Name: "a", Weight: 90, Condition: firefox, ConditionStrength: 50, Backends: backends(p, "a:1", "a:2")},
		{Name: "b", Weight: 10, Backends: backends(p, "b:1")},
	}})
	const goroutines, each = 32, 1000
	var wg sync.WaitGroup
	var plainA, plainB, ffA, ffB, a1 atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half of the goroutines send Firefox requests, half others.
			r := request("User-Agent", "Chrome")
			if g%2 == 0 {
				r = request("User-Agent", "Firefox")
			}
			for range each {
				d, err := tbl.Choose(r, t0, nil)
				if err != nil {
					t.Error(err)
					return
				}
				name := routeName(d)
				switch {
				case g%2 == 0 && name == "a":
					ffA.Add(1)
				case g%2 == 0:
					ffB.Add(1)
				case name == "a":
					plainA.Add(1)
				default:
					plainB.Add(1)
				}
				if d.Backend.Addr == "a:1" {
					a1.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// 16000 Firefox requests: 8000 by condition, 8000 by weight; 16000 others by weight. The
	// 24000 weighted ones split 90/10 exactly.
	if got, want := ffA.Load()+plainA.Load(), int64(8000+21600); got != want {
		t.Errorf("a took %d, want %d", got, want)
	}
	if got, want := ffB.Load()+plainB.Load(), int64(2400); got != want {
		t.Errorf("b took %d, want %d", got, want)
	}
	// a's 29600 requests alternate between its two instances.
	if got := a1.Load(); got != 14800 {
		t.Errorf("a:1 took %d, want 14800", got)
	}
}

func TestChooseAllocatesNothing(t *testing.T) {
	p := NewPool()
	for _, mode := range []Sticky{StickyNone, StickyRoute, StickyInstance} {
		for _, balance := range []Balance{RoundRobin, LeastConnections} {
			spec := stickySpec(p, mode)
			spec.Balance = balance
			tbl := mustNew(t, spec)
			reqs := []struct {
				name string
				r    *http.Request
			}{
				{"plain", request("User-Agent", "Chrome")},
				{"firefox", request("User-Agent", "Firefox")},
				{"cookie", request("Cookie", "x=1; vamp_sticky=b:1; vamp_sticky2=b")},
				{"cookie route", request("Cookie", "vamp_sticky=b")},
			}
			for _, rq := range reqs {
				allocs := testing.AllocsPerRun(200, func() {
					if _, err := tbl.Choose(rq.r, t0, nil); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("sticky %d balance %d %s: %.1f allocs per Choose, want 0", mode, balance, rq.name, allocs)
				}
			}
		}
	}
	// The 503 paths allocate nothing either.
	down := mustNew(t, Spec{Routes: []Route{{Name: "x", Weight: 0, Backends: backends(p, "x:1")}}})
	r := request()
	if allocs := testing.AllocsPerRun(100, func() { _, _ = down.Choose(r, t0, nil) }); allocs != 0 {
		t.Errorf("all-zero 503: %.1f allocs, want 0", allocs)
	}
}

// A sticky gateway behind a route to another gateway sets its own cookie.
func TestNextCarriesInnerStickyCookie(t *testing.T) {
	p := NewPool()
	var inner atomic.Pointer[Table]
	inner.Store(mustNew(t, Spec{Sticky: StickyRoute, CookieName: "inner", Routes: []Route{
		{Name: "v1", Weight: 50, Backends: backends(p, "v1:1")},
		{Name: "v2", Weight: 50, Backends: backends(p, "v2:1")},
	}}))
	outer := mustNew(t, Spec{Routes: []Route{{Name: "to-cluster", Weight: 100, Next: &inner}}})
	d := mustChoose(t, outer, request())
	if !d.SetCookie || d.CookieName != "inner" || d.CookieValue != routeName(d) {
		t.Fatalf("decision %+v: want the inner gateway's cookie", d)
	}
	for range 5 {
		if d := mustChoose(t, outer, withCookie("inner", "v2")); routeName(d) != "v2" || d.SetCookie {
			t.Fatalf("decision %+v on %s: want v2 pinned by the inner cookie", d, routeName(d))
		}
	}
}
