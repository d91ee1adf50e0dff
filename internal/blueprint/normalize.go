package blueprint

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// Normalize fills in what Vamp fills in, in place: DefaultScale for a service without scale,
// canonical ports ("8080" → "8080/http"), health check defaults, an internal gateway for every
// port of every breed with a route for every service that has the port, and the weights and
// strengths left unstated:
//   - a gateway none of whose routes states a weight (a fresh cluster) splits evenly over the
//     services in service order, the remainder going to the first: 3 services → 34/33/33;
//   - otherwise a route without a weight gets 0 (Vamp's merge rule);
//   - a condition without a strength has strength 100 (HCL; Resolve already set Vamp's 0).
//
// Normalize is idempotent and leaves invalid values for Validate to report.
func (b *Blueprint) Normalize() {
	if b == nil {
		return
	}
	for _, c := range b.Clusters {
		if c != nil {
			c.normalize()
		}
	}
}

func (c *Cluster) normalize() {
	for _, s := range c.Services {
		if s != nil {
			s.normalize()
		}
	}
	for _, port := range c.PortNames() {
		if c.Gateways == nil {
			c.Gateways = map[string]*ClusterGateway{}
		}
		if c.Gateways[port] == nil {
			c.Gateways[port] = &ClusterGateway{}
		}
	}
	for port, g := range c.Gateways {
		if g == nil {
			g = &ClusterGateway{}
			c.Gateways[port] = g
		}
		g.normalize(c.ServicesWithPort(port))
	}
}

func (s *Service) normalize() {
	if s.Scale == nil {
		scale := DefaultScale
		s.Scale = &scale
	}
	for name, spec := range s.Breed.Ports {
		if port, proto, err := ParsePort(spec); err == nil {
			s.Breed.Ports[name] = formatPort(port, proto)
		}
	}
	for i := range s.HealthChecks {
		hc := &s.HealthChecks[i]
		hc.Protocol = strings.ToUpper(cmp.Or(hc.Protocol, DefaultHealthCheckProtocol))
		if hc.Path == "" && hc.Protocol != "TCP" {
			hc.Path = DefaultHealthCheckPath
		}
		if hc.Port == "" && len(s.Breed.Ports) == 1 {
			for name := range s.Breed.Ports {
				hc.Port = name
			}
		}
		hc.InitialDelay = cmp.Or(hc.InitialDelay, DefaultHealthCheckInitialDelay)
		hc.Interval = cmp.Or(hc.Interval, DefaultHealthCheckInterval)
		hc.Timeout = cmp.Or(hc.Timeout, DefaultHealthCheckTimeout)
	}
}

// normalize completes one gateway whose port the given services (in route order) have.
func (g *ClusterGateway) normalize(services []string) {
	if g.Routes == nil {
		g.Routes = map[string]*Route{}
	}
	stated := false
	for name, r := range g.Routes {
		if r == nil {
			g.Routes[name] = &Route{}
		} else if r.Weight != nil {
			stated = true
		}
	}
	for _, name := range services {
		if g.Routes[name] == nil {
			g.Routes[name] = &Route{}
		}
	}
	if !stated {
		for name, w := range EvenSplit(services) {
			g.Routes[name].Weight = Int64(w)
		}
	}
	for _, r := range g.Routes {
		if r.Weight == nil {
			r.Weight = Int64(0)
		}
		if r.Condition != "" && r.ConditionStrength == nil {
			r.ConditionStrength = Int64(100)
		}
	}
}

// EvenSplit shares 100% over services in order, the remainder going to the first:
// 3 services → 34, 33, 33.
func EvenSplit(services []string) map[string]int64 {
	out := make(map[string]int64, len(services))
	if len(services) == 0 {
		return out
	}
	n := int64(len(services))
	for i, name := range services {
		out[name] = 100 / n
		if i == 0 {
			out[name] += 100 % n
		}
	}
	return out
}

// PortNames returns the port names of all the cluster's breeds, sorted.
func (c *Cluster) PortNames() []string {
	set := map[string]bool{}
	for _, s := range c.Services {
		if s != nil {
			for name := range s.Breed.Ports {
				set[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// ServicesWithPort returns, in service order and without repeats, the names of the services
// whose breed has the named port.
func (c *Cluster) ServicesWithPort(port string) []string {
	var out []string
	for _, s := range c.Services {
		if s == nil {
			continue
		}
		if _, ok := s.Breed.Ports[port]; ok && !slices.Contains(out, s.Breed.Name) {
			out = append(out, s.Breed.Name)
		}
	}
	return out
}

// Service returns the cluster's service with the given breed name, or nil.
func (c *Cluster) Service(name string) *Service {
	for _, s := range c.Services {
		if s != nil && s.Breed.Name == name {
			return s
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
