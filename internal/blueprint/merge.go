package blueprint

// Merge is Vamp's merge of a blueprint into a deployment. It returns a new blueprint and changes
// neither input:
//   - the name is base's (next's when base has none: a merged blueprint's own name, such as
//     "sava:1.1.0", is not the deployment's);
//   - blueprint gateways and clusters are merged by key;
//   - services are merged by breed name: a known one is replaced in place, a new one appended;
//   - cluster gateways are merged by port and their routes by service: a route in next replaces
//     base's route, keeping base's weight when it states none; a non-empty sticky replaces base's;
//   - a service new to an existing cluster whose route states no weight gets 0, while the others
//     keep theirs. base's unstated weights are first settled as Normalize would have deployed
//     them (even split), so that the running split survives the merge.
func Merge(base, next *Blueprint) *Blueprint {
	switch {
	case base == nil:
		return next.Clone()
	case next == nil:
		return base.Clone()
	}
	out := base.Clone()
	out.Normalize()
	if out.Name == "" {
		out.Name = next.Name
	}
	for port, target := range next.Gateways {
		if out.Gateways == nil {
			out.Gateways = map[string]string{}
		}
		out.Gateways[port] = target
	}
	for name, nc := range next.Clusters {
		if nc == nil {
			continue
		}
		if out.Clusters == nil {
			out.Clusters = map[string]*Cluster{}
		}
		if oc := out.Clusters[name]; oc != nil {
			oc.merge(nc)
		} else {
			out.Clusters[name] = nc.Clone()
		}
	}
	return out
}

// merge merges next into c (a clone owned by Merge).
func (c *Cluster) merge(next *Cluster) {
	var added []*Service
	for _, s := range next.Services {
		if s == nil {
			continue
		}
		replaced := false
		for i, old := range c.Services {
			if old != nil && old.Breed.Name == s.Breed.Name {
				c.Services[i], replaced = s.Clone(), true
				break
			}
		}
		if !replaced {
			c.Services = append(c.Services, s.Clone())
			added = append(added, s)
		}
	}
	for port, ng := range next.Gateways {
		if ng == nil {
			continue
		}
		if c.Gateways == nil {
			c.Gateways = map[string]*ClusterGateway{}
		}
		g := c.Gateways[port]
		if g == nil {
			c.Gateways[port] = ng.Clone()
			continue
		}
		if ng.Sticky != "" {
			g.Sticky = ng.Sticky
		}
		for name, nr := range ng.Routes {
			r := nr.Clone()
			if r == nil {
				r = &Route{}
			}
			if old := g.Routes[name]; r.Weight == nil && old != nil && old.Weight != nil {
				r.Weight = Int64(*old.Weight)
			}
			if g.Routes == nil {
				g.Routes = map[string]*Route{}
			}
			g.Routes[name] = r
		}
	}
	// Vamp's merge rule: a new variant takes no traffic until a weight says so.
	for _, s := range added {
		for port := range s.Breed.Ports {
			g := c.Gateways[port]
			if g == nil {
				continue // a port no running service has: Normalize splits it evenly
			}
			if g.Routes == nil {
				g.Routes = map[string]*Route{}
			}
			switch r := g.Routes[s.Breed.Name]; {
			case r == nil:
				g.Routes[s.Breed.Name] = &Route{Weight: Int64(0)}
			case r.Weight == nil:
				r.Weight = Int64(0)
			}
		}
	}
}
