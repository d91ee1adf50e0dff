// Package deployplan is the planning logic of a vamp_deployment, free of Terraform's framework:
// where a gateway sends traffic (the effective split that a plan shows), which gateways can serve
// no request at all, Vamp's merge rule against the running deployment, which services an apply
// deploys and removes, the gateway documents and names a deployment makes, the deployment an
// import rebuilds from the gateway and the runtime, and the drift rules (which read-back forms of
// a runtime are not a change).
// The provider's resource files convert between Terraform values and these types; the rules
// live here, table-tested.
package deployplan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Route is one route of a gateway as routing sees it, in the gateway's route order.
type Route struct {
	// Name is what the split calls the route: the service (breed) name in a cluster gateway,
	// the route's name in a stand-alone gateway.
	Name   string
	Weight int64
	// Condition is "" for none.
	Condition string
	// Strength is the condition's strength, 0..100 (the effective one: 100 when HCL states
	// none).
	Strength int64
}

// Unserved is the text a split gives traffic that no route takes: the gateway answers 503.
const Unserved = "no route (503)"

// Split states where a gateway's requests go, by the routing rule (design.md, routing
// semantics): conditions first, in route order, each taking its strength of the requests that
// match it (and no earlier condition), then the weights for everything else. One line per
// condition with a strength above 0, then one for the rest:
//
//	user-agent == Firefox -> sava:1.0.0 100%
//	other -> sava:1.1.0 100%
//
// Without conditions the one line starts with "all". Shares are percentages of the requests the
// line describes; routes with no share are left out; requests no route takes are Unserved.
func Split(routes []Route) []string {
	var out []string
	conditional := false
	for _, r := range routes {
		if r.Condition == "" || r.Strength <= 0 {
			continue
		}
		conditional = true
		shares := weightShares(routes, float64(100-r.Strength))
		shares = addShare(shares, r.Name, float64(r.Strength))
		out = append(out, r.Condition+" -> "+formatShares(routes, shares))
	}
	rest := "all"
	if conditional {
		rest = "other"
	}
	return append(out, rest+" -> "+formatShares(routes, weightShares(routes, 100)))
}

// share is one route's part of a line's requests.
type share struct {
	name    string
	percent float64
}

// weightShares splits total percent of the requests by the routes' weights; with every weight
// 0 it goes to Unserved.
func weightShares(routes []Route, total float64) []share {
	if total <= 0 {
		return nil
	}
	var sum int64
	for _, r := range routes {
		sum += r.Weight
	}
	if sum == 0 {
		return []share{{Unserved, total}}
	}
	var out []share
	for _, r := range routes {
		if r.Weight > 0 {
			out = append(out, share{r.Name, total * float64(r.Weight) / float64(sum)})
		}
	}
	return out
}

func addShare(shares []share, name string, percent float64) []share {
	for i := range shares {
		if shares[i].name == name {
			shares[i].percent += percent
			return shares
		}
	}
	return append(shares, share{name, percent})
}

// formatShares writes the shares in route order (Unserved last), e.g. "sava:1.0.0 50%, sava:1.1.0 50%".
func formatShares(routes []Route, shares []share) string {
	rank := func(name string) int {
		for i, r := range routes {
			if r.Name == name {
				return i
			}
		}
		return len(routes)
	}
	parts := make([]string, 0, len(shares))
	for i := 0; i <= len(routes); i++ {
		for _, s := range shares {
			if rank(s.name) == i {
				parts = append(parts, s.name+" "+percent(s.percent))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// percent writes p with at most two decimals: "100%", "33.33%".
func percent(p float64) string {
	return strconv.FormatFloat(math.Round(p*100)/100, 'f', -1, 64) + "%"
}

// ServesNothing reports whether no request can be served: every weight is 0 and no route has a
// condition with a strength above 0.
func ServesNothing(routes []Route) bool {
	for _, r := range routes {
		if r.Weight > 0 || (r.Condition != "" && r.Strength > 0) {
			return false
		}
	}
	return true
}

// ServesNothingDetail explains ServesNothing for the gateway named gateway and says what to do.
func ServesNothingDetail(gateway string, routes []Route) string {
	var names []string
	for _, r := range routes {
		names = append(names, fmt.Sprintf("%q weight %d", r.Name, r.Weight))
	}
	return fmt.Sprintf("Gateway %q would answer every request with 503: every route has weight 0 (%s) and none has a condition "+
		"with a condition_strength above 0. Give the routes weights that sum to 100 (e.g. the variant that should serve weight = 100), "+
		"or give a route a condition with condition_strength above 0 to serve only the requests that match it.",
		gateway, strings.Join(names, ", "))
}
