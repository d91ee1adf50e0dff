package routing

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/condition"
)

const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// The article's step 5 gateway: Firefox to 1.0.0 by condition, the rest 100% to 1.1.0, with the
// real condition language.
func benchUserAgentTable(b *testing.B) *Table {
	cond, err := condition.Parse("user-agent == Firefox")
	if err != nil {
		b.Fatal(err)
	}
	p := NewPool()
	return mustNew(b, Spec{Routes: []Route{
		{Name: "sava/sava_cluster/sava:1.0.0/webport", Weight: 0, Condition: cond, ConditionStrength: 100,
			Backends: backends(p, "10.0.0.1:31001", "10.0.0.2:31001")},
		{Name: "sava/sava_cluster/sava:1.1.0/webport", Weight: 100,
			Backends: backends(p, "10.0.0.1:31002", "10.0.0.2:31002")},
	}})
}

func benchChoose(b *testing.B, tbl *Table, reqs ...*http.Request) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := tbl.Choose(reqs[i%len(reqs)], t0, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// Half Firefox (taken by the condition), half Chrome (by weight).
func BenchmarkChoose2RoutesUserAgent(b *testing.B) {
	benchChoose(b, benchUserAgentTable(b), request("User-Agent", firefoxUA), request("User-Agent", chromeUA))
}

func BenchmarkChooseWeighted(b *testing.B) {
	p := NewPool()
	tbl := mustNew(b, Spec{Routes: []Route{
		{Name: "a", Weight: 90, Backends: backends(p, "a:1", "a:2", "a:3")},
		{Name: "b", Weight: 10, Backends: backends(p, "b:1", "b:2", "b:3")},
	}})
	benchChoose(b, tbl, request("User-Agent", chromeUA))
}

func BenchmarkChooseStickyRouteCookie(b *testing.B) {
	p := NewPool()
	tbl := mustNew(b, Spec{Sticky: StickyRoute, CookieName: "vamp_sticky", Routes: []Route{
		{Name: "sava/sava_cluster/sava:1.0.0/webport", Weight: 50, Backends: backends(p, "a:1", "a:2")},
		{Name: "sava/sava_cluster/sava:1.1.0/webport", Weight: 50, Backends: backends(p, "b:1", "b:2")},
	}})
	benchChoose(b, tbl, request("Cookie", "_ga=GA1.2.3; vamp_sticky=sava/sava_cluster/sava:1.1.0/webport; theme=dark"))
}

// 100 routes, each with a header condition that the request does not meet: every condition is
// evaluated, then the weighted choice.
func BenchmarkChoose100RoutesConditions(b *testing.B) {
	p := NewPool()
	routes := make([]Route, 100)
	for i := range routes {
		cond, err := condition.Parse(fmt.Sprintf("header X-Canary-%d has yes", i))
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("route-%d", i)
		routes[i] = Route{Name: name, Weight: 1, Condition: cond, ConditionStrength: 100,
			Backends: backends(p, name+":1")}
	}
	benchChoose(b, mustNew(b, Spec{Routes: routes}), request("User-Agent", chromeUA, "X-Other", "yes"))
}

func BenchmarkChooseParallel(b *testing.B) {
	tbl := benchUserAgentTable(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		reqs := []*http.Request{request("User-Agent", firefoxUA), request("User-Agent", chromeUA)}
		for i := 0; pb.Next(); i++ {
			if _, err := tbl.Choose(reqs[i%2], t0, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The bench gateway of `make bench` (gatewayimage/bench/run.sh): sava:1.0.0 with weight 50 and
// the condition user-agent == Firefox at strength 100%, sava:1.1.0 with weight 50, one instance
// each. A Firefox request takes the condition's route; a Chrome one is refused by the condition
// and goes by weight. The matrix's get-firefox and get-chrome workloads are these two paths.
func benchGatewayTable(b *testing.B) *Table {
	cond, err := condition.Parse("user-agent == Firefox")
	if err != nil {
		b.Fatal(err)
	}
	p := NewPool()
	return mustNew(b, Spec{Routes: []Route{
		{Name: "sava:1.0.0", Weight: 50, Condition: cond, ConditionStrength: 100, Backends: backends(p, "127.0.0.1:18081")},
		{Name: "sava:1.1.0", Weight: 50, Backends: backends(p, "127.0.0.1:18082")},
	}})
}

func BenchmarkChooseBenchGatewayFirefox(b *testing.B) {
	benchChoose(b, benchGatewayTable(b), request("User-Agent", firefoxUA))
}

func BenchmarkChooseBenchGatewayChrome(b *testing.B) {
	benchChoose(b, benchGatewayTable(b), request("User-Agent", chromeUA))
}
