package deployplan

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
)

// Dependency references. A service's environment variable may hold ${CLUSTER.host} and
// ${CLUSTER.ports.PORT} (what blueprint.Resolve writes for Vamp's $dependency.host and
// $dependency.ports.NAME; HCL may write them too, as $${backend.host} or $backend.host). As in
// Vamp, they stand for the stable endpoint of the dependency: the gateway's host and the port of
// the cluster's internal gateway for that port, which then listens on a port of its own. They are
// replaced when the service is defined on the runtime, so the runtime starts it with the address.

// PortKey names a cluster port: "CLUSTER/PORT".
func PortKey(cluster, port string) string { return cluster + "/" + port }

// Addresses are what references resolve to: Host, where the gateway's ports are reached, and
// the listening port of each referenced cluster gateway by PortKey. A port not listed is not
// known yet (the apply gives the gateway its port).
type Addresses struct {
	Host  string
	Ports map[string]int
}

// ResolveValue replaces the dependency references of value. known is false when a port it
// references is not in a.Ports (the value is then returned unchanged).
func ResolveValue(value string, a Addresses) (out string, known bool) {
	refs := blueprint.ClusterRefs(value)
	if len(refs) == 0 {
		return value, true
	}
	var sb strings.Builder
	last := 0
	for _, r := range refs {
		sb.WriteString(value[last:r.Start])
		last = r.End
		if r.Parts[1] == "host" {
			sb.WriteString(a.Host)
			continue
		}
		port, ok := a.Ports[PortKey(r.Parts[0], r.Parts[2])]
		if !ok {
			return value, false
		}
		sb.WriteString(strconv.Itoa(port))
	}
	sb.WriteString(value[last:])
	return sb.String(), true
}

// ResolveEnv is env with every value resolved (a new map); known is false when one of them is
// not known yet.
func ResolveEnv(env map[string]string, a Addresses) (out map[string]string, known bool) {
	if env == nil {
		return nil, true
	}
	out = make(map[string]string, len(env))
	known = true
	for k, v := range env {
		rv, ok := ResolveValue(v, a)
		out[k] = rv
		known = known && ok
	}
	return out, known
}

// HasRefs reports whether a value holds a dependency reference.
func HasRefs(value string) bool { return len(blueprint.ClusterRefs(value)) > 0 }

// ReferencedPorts are the cluster ports some service's environment references (PortKey),
// sorted: their cluster gateways need a listening port.
func ReferencedPorts(bp *blueprint.Blueprint) []string {
	set := map[string]bool{}
	for _, c := range bp.Clusters {
		for _, s := range c.Services {
			if s == nil {
				continue
			}
			for _, v := range s.Breed.Environment {
				for _, r := range blueprint.ClusterRefs(v) {
					if r.Parts[1] == "ports" {
						set[PortKey(r.Parts[0], r.Parts[2])] = true
					}
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// dependencies are the clusters each cluster's services reference, by cluster.
func dependencies(bp *blueprint.Blueprint) map[string][]string {
	out := map[string][]string{}
	for cname, c := range bp.Clusters {
		for _, s := range c.Services {
			if s == nil {
				continue
			}
			for _, v := range s.Breed.Environment {
				for _, r := range blueprint.ClusterRefs(v) {
					if dep := r.Parts[0]; !slices.Contains(out[cname], dep) {
						out[cname] = append(out[cname], dep)
					}
				}
			}
		}
		slices.Sort(out[cname])
	}
	return out
}

// ClusterOrder lists the clusters of bp so that every cluster comes after the clusters its
// services reference (then by name): the order an apply deploys them in, so that a dependency's
// gateway listens before its dependants start. cycle is non-nil (the clusters of one cycle,
// first repeated at the end) when the references go round; order is then nil. References to
// clusters bp does not have are left out (RefFaults reports them).
func ClusterOrder(bp *blueprint.Blueprint) (order, cycle []string) {
	deps := dependencies(bp)
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(c string) bool
	visit = func(c string) bool {
		switch state[c] {
		case done:
			return true
		case visiting:
			i := slices.Index(stack, c)
			cycle = append(slices.Clone(stack[i:]), c)
			return false
		}
		state[c] = visiting
		stack = append(stack, c)
		for _, d := range deps[c] {
			if _, ok := bp.Clusters[d]; !ok {
				continue
			}
			if !visit(d) {
				return false
			}
		}
		stack = stack[:len(stack)-1]
		state[c] = done
		order = append(order, c)
		return true
	}
	for _, c := range slices.Sorted(maps.Keys(bp.Clusters)) {
		if !visit(c) {
			return nil, cycle
		}
	}
	return order, nil
}

// RefFaults checks the dependency references of bp's environment variables: each names a
// cluster of the deployment and a port that cluster has, and the references do not go round.
func RefFaults(bp *blueprint.Blueprint) []*blueprint.FieldError {
	var out []*blueprint.FieldError
	clusters := slices.Sorted(maps.Keys(bp.Clusters))
	for _, cname := range clusters {
		c := bp.Clusters[cname]
		for i, s := range c.Services {
			if s == nil {
				continue
			}
			for _, name := range slices.Sorted(maps.Keys(s.Breed.Environment)) {
				p := blueprint.Path{}.Attr("clusters").Key(cname).Attr("services").Index(i).
					Attr("breed").Attr("environment_variables").Key(name)
				reported := map[string]bool{} // an unknown cluster, once per variable
				for _, r := range blueprint.ClusterRefs(s.Breed.Environment[name]) {
					text := s.Breed.Environment[name][r.Start:r.End]
					target := bp.Clusters[r.Parts[0]]
					switch {
					case target == nil && reported[r.Parts[0]]:
					case target == nil:
						reported[r.Parts[0]] = true
						out = append(out, &blueprint.FieldError{Path: p, Summary: "Reference to an unknown cluster",
							Detail: "environment variable " + strconv.Quote(name) + ": " + text + " names cluster " + strconv.Quote(r.Parts[0]) +
								", which deployment " + strconv.Quote(bp.Name) + " does not have (its clusters: " + strings.Join(clusters, ", ") +
								"); reference one of them, or add a cluster " + strconv.Quote(r.Parts[0]) + " that runs the dependency"})
					case r.Parts[1] == "ports" && !slices.Contains(target.PortNames(), r.Parts[2]):
						out = append(out, &blueprint.FieldError{Path: p, Summary: "Reference to an unknown port",
							Detail: "environment variable " + strconv.Quote(name) + ": " + text + " names port " + strconv.Quote(r.Parts[2]) +
								" of cluster " + strconv.Quote(r.Parts[0]) + ", which has the ports " + strings.Join(target.PortNames(), ", ") +
								"; reference one of them, or add the port to a breed of that cluster"})
					}
				}
			}
		}
	}
	if _, cycle := ClusterOrder(bp); cycle != nil {
		p := blueprint.Path{}.Attr("clusters").Key(cycle[0])
		detail := "the clusters' environment variables reference each other in a cycle: " + strings.Join(cycle, " → ") +
			"; a dependency must be running before its dependants start, so remove one of these references"
		if len(cycle) == 2 {
			detail = "a service of cluster " + strconv.Quote(cycle[0]) + " references the cluster's own address; " +
				"a dependency must be running before its dependants start, so reference another cluster"
		}
		out = append(out, &blueprint.FieldError{Path: p, Summary: "Dependency cycle", Detail: detail})
	}
	return out
}
