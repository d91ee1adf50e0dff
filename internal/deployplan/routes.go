package deployplan

import (
	"maps"
	"slices"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
)

// ClusterRoutes are the routes of a cluster's gateway on port in the order the gateway evaluates
// them: the services that have the port, in service order, then routes to services the cluster
// does not list (a refreshed gateway may have them), by name. An unstated weight counts as 0 and
// an unstated strength with a condition as 100 (HCL's default; blueprint YAML states 0).
func ClusterRoutes(c *blueprint.Cluster, port string) []Route {
	if c == nil || c.Gateways[port] == nil {
		return nil
	}
	g := c.Gateways[port]
	order := c.ServicesWithPort(port)
	for _, name := range slices.Sorted(maps.Keys(g.Routes)) {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	var out []Route
	for _, name := range order {
		r := g.Routes[name]
		if r == nil {
			continue
		}
		rt := Route{Name: name, Condition: r.Condition}
		if r.Weight != nil {
			rt.Weight = *r.Weight
		}
		switch {
		case r.Condition == "":
		case r.ConditionStrength != nil:
			rt.Strength = *r.ConditionStrength
		default:
			rt.Strength = 100
		}
		out = append(out, rt)
	}
	return out
}
