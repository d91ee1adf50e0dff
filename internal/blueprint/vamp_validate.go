package blueprint

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ValueRef is one reference in a trait value: $backend.host, ${backend.ports.webport}.
type ValueRef struct {
	// Parts are the dot-separated parts: ["backend", "ports", "webport"].
	Parts []string
	// Start and End locate the reference (with its $ and braces) in the value.
	Start, End int
}

var (
	refBare   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*`)
	refBraced = regexp.MustCompile(`^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$`)
)

// ParseValueRefs finds the references of a trait value. "$$" is a literal "$". A "${...}"
// that is not a dotted name is an error (Vamp: ParserError).
func ParseValueRefs(s string) ([]ValueRef, error) {
	var out []ValueRef
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		switch rest := s[i+1:]; rest[0] {
		case '$':
			i++
		case '{':
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("%q: ${ without a closing }", s)
			}
			name := rest[1:end]
			if !refBraced.MatchString(name) {
				return nil, fmt.Errorf("%q: ${%s} is not a reference such as ${backend.host}", s, name)
			}
			out = append(out, ValueRef{Parts: strings.Split(name, "."), Start: i, End: i + 1 + end + 1})
			i += end + 1
		default:
			if m := refBare.FindString(rest); m != "" {
				out = append(out, ValueRef{Parts: strings.Split(m, "."), Start: i, End: i + 1 + len(m)})
				i += len(m)
			}
		}
	}
	return out, nil
}

func traitNames(ts []Trait) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// refTarget checks the part after the dependency alias against a written-out breed:
// host, ports.NAME, constants.NAME or environment_variables.NAME.
func refTarget(b *VampBreed, parts []string) bool {
	switch {
	case len(parts) == 1 && parts[0] == "host":
		return true
	case len(parts) == 2 && parts[0] == "ports":
		return slices.Contains(traitNames(b.Ports), parts[1])
	case len(parts) == 2 && parts[0] == "constants":
		return slices.Contains(traitNames(b.Constants), parts[1])
	case len(parts) == 2 && parts[0] == "environment_variables":
		return slices.Contains(traitNames(b.Environment), parts[1])
	}
	return false
}

// validateBreed checks a written-out breed as Vamp's BreedReader does, then its written-out
// dependencies.
func (d *decoder) validateBreed(b *VampBreed) {
	if b == nil || b.Ref != "" {
		return
	}
	p := b.path
	for _, g := range []struct {
		attr   string
		ts     []Trait
		strict bool
	}{{"ports", b.Ports, true}, {"constants", b.Constants, true}, {"environment_variables", b.Environment, false}} {
		for _, t := range g.ts {
			tp := t.path
			if g.strict && !strictNamePattern.MatchString(t.Name) && namePattern.MatchString(t.Name) {
				d.failKind(ErrIllegalStrictName, t.node, tp, "%q: a port or constant name has no spaces, \".\", \"/\", \"[\" or \"]\"", t.Name)
			} else if !namePattern.MatchString(t.Name) {
				kind := ErrIllegalName
				if g.strict {
					kind = ErrIllegalStrictName
				}
				d.failKind(kind, t.node, tp, "%q: a name has no spaces, \"/\", \"[\" or \"]\" (an alias is written NAME[ALIAS])", t.Name)
			}
		}
	}
	for _, t := range b.Ports {
		if t.Value == nil {
			d.failKind(ErrMissingPortValue, t.node, t.path, "port %q has no value; give a number and type, e.g. 8080/http", t.Name)
		} else if len(mustRefs(*t.Value)) == 0 {
			if _, _, err := ParsePort(*t.Value); err != nil {
				d.failKind(ErrUnexpectedType, t.node, t.path, "%v", err)
			}
		}
	}
	for _, t := range b.Constants {
		if t.Value == nil {
			d.failKind(ErrMissingConstantValue, t.node, t.path, "constant %q has no value", t.Name)
		}
	}
	d.validateArguments(b.Arguments, p.Attr("arguments"))
	for i, hc := range b.HealthChecks {
		hp := p.Attr("health_checks").Index(i)
		if hc.Port != "" && !slices.Contains(traitNames(b.Ports), hc.Port) {
			d.failKind(ErrUnresolvedPortReference, b.node, hp.Attr("port"), "%q is not a port of breed %q; use one of %s", hc.Port, b.Name, list(traitNames(b.Ports)))
		}
		if hc.Failures < 0 {
			d.failKind(ErrNegativeFailuresNumber, b.node, hp.Attr("failures"), "%d: failures is 0 or more", hc.Failures)
		}
	}
	deps := map[string]*VampBreed{}
	for _, dep := range b.Dependencies {
		deps[dep.Alias] = dep.Breed
	}
	for _, g := range []struct {
		attr string
		ts   []Trait
	}{{"ports", b.Ports}, {"environment_variables", b.Environment}, {"constants", b.Constants}} {
		for _, t := range g.ts {
			if t.Value == nil {
				continue
			}
			tp := t.path
			refs, err := ParseValueRefs(*t.Value)
			if err != nil {
				d.failKind(ErrParser, t.node, tp, "%v", err)
				continue
			}
			for _, r := range refs {
				if len(r.Parts) < 2 {
					continue
				}
				dep, ok := deps[r.Parts[0]]
				switch {
				case !ok:
					d.failKind(ErrUnresolvedDependencyInTraitValue, t.node, tp, "$%s: breed %q has no dependency %q; its dependencies are %s",
						strings.Join(r.Parts, "."), b.Name, r.Parts[0], list(sortedKeys(deps)))
				case dep.Ref == "" && !refTarget(dep, r.Parts[1:]):
					d.failKind(ErrUnresolvedDependencyInTraitValue, t.node, tp, "$%s: dependency %q (breed %q) has no %s",
						strings.Join(r.Parts, "."), r.Parts[0], dep.Name, strings.Join(r.Parts[1:], "."))
				}
			}
		}
	}
	d.nonRecursive(b, map[string]bool{b.Name: true})
	for _, dep := range b.Dependencies {
		d.validateBreed(dep.Breed)
	}
}

func mustRefs(s string) []ValueRef { r, _ := ParseValueRefs(s); return r }

func (d *decoder) nonRecursive(b *VampBreed, visited map[string]bool) bool {
	for _, dep := range b.Dependencies {
		name := dep.Breed.BreedName()
		if visited[name] {
			d.failKind(ErrRecursiveDependencies, b.node, b.path.Attr("dependencies").Key(dep.Alias),
				"breed %q depends on %q, which depends back on it; dependencies cannot form a cycle", b.Name, name)
			return false
		}
		next := map[string]bool{name: true}
		for k := range visited {
			next[k] = true
		}
		if !d.nonRecursive(dep.Breed, next) {
			return false
		}
	}
	return true
}

func (d *decoder) validateArguments(args []Argument, p Path) {
	for i, a := range args {
		if a.Key == "privileged" {
			if _, err := strconv.ParseBool(strings.ToLower(a.Value)); err != nil || (strings.ToLower(a.Value) != "true" && strings.ToLower(a.Value) != "false") {
				d.failKind(ErrInvalidArgumentValue, nil, p.Index(i).Attr("privileged"), "%q: privileged is true or false", a.Value)
			}
		}
	}
}

// validateGateway checks a blueprint gateway or a gateway document.
func (d *decoder) validateGateway(g *VampGateway, at *yaml.Node) {
	p := g.path
	if g.Number < 0 || g.Number > 65535 {
		d.failKind(ErrInvalidGatewayPort, at, p, "%d: a gateway port is from 1 to 65535", g.Number)
	}
	for _, r := range g.Routes {
		if n := len(gatewayPathSegments(r.Path)); n < 1 || n > 4 {
			d.failKind(ErrUnsupportedRoutePath, at, p.Attr("routes").Key(r.Path), "%q: a route path has 1 to 4 parts separated by /", r.Path)
		}
	}
	if g.Type != "http" && g.Sticky != "" {
		d.failKind(ErrStickyPortType, at, p.Attr("sticky"), "gateway %q is a %s port: sticky sessions need http", g.Port, g.Type)
	}
	var sum int64
	all := true
	for _, r := range g.Routes {
		if r.Ref != "" {
			all = false
			continue
		}
		if r.Weight != nil {
			sum += *r.Weight
		}
		if s := r.ConditionStrength; s != nil && (*s < 0 || *s > 100) {
			d.failKind(ErrGatewayRouteConditionStrength, at, p.Attr("routes").Key(r.Path).Attr("condition_strength"), "%d%%: a condition strength is from 0%% to 100%%", *s)
		}
	}
	if all && sum != 0 && sum != 100 {
		d.failKind(ErrGatewayRouteWeight, at, p.Attr("routes"), "the route weights sum to %d%%; make them sum to 100%% (or leave them all out)", sum)
	}
}

// gatewayPathSegments splits a route path on "/"; an external target [host:port] is one part.
func gatewayPathSegments(path string) []string {
	if strings.HasPrefix(path, "[") && strings.HasSuffix(path, "]") {
		return []string{path}
	}
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

// splitTarget reads a blueprint gateway's route path CLUSTER/PORT (or Vamp's older CLUSTER.PORT).
func splitTarget(path string) (cluster, port string, ok bool) {
	if c, p, ok := strings.Cut(path, "/"); ok {
		return c, p, !strings.Contains(p, "/")
	}
	return strings.Cut(path, ".")
}

// validateBlueprint checks what relates the parts of a blueprint, as Vamp's BlueprintReader.
func (d *decoder) validateBlueprint(bp *VampBlueprint, root *yaml.Node, opts ReadOptions) {
	clusters := map[string]*VampCluster{}
	for _, c := range bp.Clusters {
		clusters[c.Name] = c
	}
	allDefault := func(c *VampCluster) bool {
		if len(c.Services) == 0 {
			return false // a cluster stating only gateways, merged into a deployment
		}
		for _, s := range c.Services {
			if s.Breed == nil || s.Breed.Ref != "" {
				return false
			}
		}
		return true
	}
	clusterPorts := func(c *VampCluster) []string {
		var out []string
		for _, s := range c.Services {
			if s.Breed != nil {
				for _, t := range s.Breed.Ports {
					if !slices.Contains(out, t.Name) {
						out = append(out, t.Name)
					}
				}
			}
		}
		return out
	}
	breeds := map[string]*VampBreed{}
	var services []*VampService
	for _, c := range bp.Clusters {
		for _, s := range c.Services {
			services = append(services, s)
			if s.Breed != nil && s.Breed.Ref == "" {
				breeds[s.Breed.Name] = s.Breed
				d.validateBreed(s.Breed)
			}
		}
	}
	// Blueprint gateways reach CLUSTER/PORT.
	for _, g := range bp.Gateways {
		for _, r := range g.Routes {
			cname, port, ok := splitTarget(r.Path)
			c := clusters[cname]
			if !ok || c == nil {
				d.failKind(ErrUnresolvedGatewayPort, g.node, g.path.Attr("routes").Key(r.Path), "%q: there is no cluster %q; a blueprint gateway routes to CLUSTER/PORT, e.g. %s/webport; the clusters are %s",
					r.Path, cname, cname, list(sortedKeys(clusters)))
				continue
			}
			if allDefault(c) && !slices.Contains(clusterPorts(c), port) {
				d.failKind(ErrUnresolvedGatewayPort, g.node, g.path.Attr("routes").Key(r.Path), "%q: no breed of cluster %q has a port %q; its ports are %s",
					r.Path, cname, port, list(clusterPorts(c)))
			}
		}
	}
	// Blueprint environment variables set CLUSTER.NAME.
	for _, t := range bp.Environment {
		tp := t.path
		cname, vname, ok := strings.Cut(t.Name, ".")
		c := clusters[cname]
		if !ok || c == nil {
			d.failKind(ErrUnresolvedEnvironmentVariable, t.node, tp, "%q: a blueprint's environment variable is CLUSTER.NAME and there is no cluster %q; the clusters are %s", t.Name, cname, list(sortedKeys(clusters)))
			continue
		}
		if allDefault(c) {
			found := false
			for _, s := range c.Services {
				found = found || slices.Contains(traitNames(s.Breed.Environment), vname)
			}
			if !found {
				d.failKind(ErrUnresolvedEnvironmentVariable, t.node, tp, "%q: no breed of cluster %q declares the environment variable %q; declare it in the breed (NAME: ~ for no default)", t.Name, cname, vname)
			}
		}
	}
	// References to a dependency given by name reach a breed of this blueprint.
	for _, b := range breeds {
		deps := map[string]*VampBreed{}
		for _, dep := range b.Dependencies {
			if dep.Breed.Ref != "" {
				deps[dep.Alias] = breeds[dep.Breed.Ref]
			}
		}
		for _, g := range []struct {
			attr string
			ts   []Trait
		}{{"ports", b.Ports}, {"environment_variables", b.Environment}, {"constants", b.Constants}} {
			for _, t := range g.ts {
				if t.Value == nil {
					continue
				}
				for _, r := range mustRefs(*t.Value) {
					if len(r.Parts) < 2 {
						continue
					}
					if dep := deps[r.Parts[0]]; dep != nil && !refTarget(dep, r.Parts[1:]) {
						d.failKind(ErrUnresolvedEnvironmentVariable, t.node, t.path, "$%s: breed %q (dependency %q) has no %s",
							strings.Join(r.Parts, "."), dep.Name, r.Parts[0], strings.Join(r.Parts[1:], "."))
					}
				}
			}
		}
	}
	for _, c := range bp.Clusters {
		d.validateClusterGateways(c, allDefault(c), clusterPorts(c), opts.Partial)
	}
	// Blueprint gateways: no condition on a tcp gateway, one gateway per port number.
	seenPort := map[int]string{}
	for _, g := range bp.Gateways {
		if g.Type != "http" {
			for _, r := range g.Routes {
				if r.Condition != "" || r.ConditionRef != "" {
					d.failKind(ErrConditionPortType, g.node, g.path.Attr("routes").Key(r.Path).Attr("condition"), "gateway %q is a tcp port: a condition needs http", g.Port)
				}
			}
		}
		if first, dup := seenPort[g.Number]; dup && g.Number != 0 {
			d.failKind(ErrDuplicateGatewayPort, g.node, g.path, "%q and %q are both port %d; keep one", first, g.path[len(g.path)-1].Key, g.Number)
		}
		seenPort[g.Number] = g.path[len(g.path)-1].Key
	}
	if len(services) == 0 && !opts.Partial {
		d.failKind(ErrNoService, root, Path{}.Attr("clusters"), "the blueprint has no service; add clusters: {NAME: {services: [{breed: ...}]}}")
	}
	seenBreed := map[string]bool{}
	for _, s := range services {
		d.validateArguments(s.Arguments, s.path.Attr("arguments"))
		if s.Breed == nil {
			continue
		}
		name := s.Breed.BreedName()
		if seenBreed[name] {
			d.failKind(ErrNonUniqueBlueprintBreedReference, s.node, s.path.Attr("breed"), "breed %q is used twice; a breed runs in one service of one cluster", name)
		}
		seenBreed[name] = true
		for _, t := range s.Environment {
			tp := t.path
			if t.Value == nil {
				d.failKind(ErrMissingEnvironmentVariable, t.node, tp, "%q has no value; give one or leave it out", t.Name)
			}
			if s.Breed.Ref == "" && !slices.Contains(traitNames(s.Breed.Environment), t.Name) {
				d.failKind(ErrUnresolvedDependencyInTraitValue, t.node, tp, "breed %q declares no environment variable %q; a service overrides only what its breed declares (%s)",
					s.Breed.Name, t.Name, list(traitNames(s.Breed.Environment)))
			}
		}
	}
	for _, b := range breeds {
		for _, dep := range b.Dependencies {
			if !seenBreed[dep.Breed.BreedName()] {
				d.failKind(ErrUnresolvedBreedDependency, b.node, b.path.Attr("dependencies").Key(dep.Alias), "breed %q depends on %q, which no service of the blueprint runs; add a cluster with it",
					b.Name, dep.Breed.BreedName())
			}
		}
	}
	for _, c := range bp.Clusters {
		for i, hc := range c.HealthChecks {
			d.healthCheckPort(c.Services, hc, c.path.Attr("health_checks").Index(i))
		}
		for _, s := range c.Services {
			for i, hc := range s.HealthChecks {
				d.healthCheckPort([]*VampService{s}, hc, s.path.Attr("health_checks").Index(i))
			}
		}
		if c.SLA != nil {
			d.scaleTargets(c.SLA.Escalations, clusters, c.path.Attr("sla"))
		}
	}
}

func (d *decoder) scaleTargets(es []*VampEscalation, clusters map[string]*VampCluster, p Path) {
	for _, e := range es {
		if e.Target != "" && clusters[e.Target] == nil {
			d.failKind(ErrUnresolvedScaleEscalationTarget, nil, p.Attr("escalations"), "escalation target %q is not a cluster of the blueprint", e.Target)
		}
		d.scaleTargets(e.Escalations, clusters, p)
	}
}

func (d *decoder) healthCheckPort(services []*VampService, hc HealthCheck, p Path) {
	ok := hc.Port == "" // the breed's only port (Normalize), else Validate asks for one
	for _, s := range services {
		ok = ok || s.Breed == nil || s.Breed.Ref != "" || slices.Contains(traitNames(s.Breed.Ports), hc.Port)
	}
	if !ok {
		d.failKind(ErrUnresolvedPortReference, nil, p.Attr("port"), "%q is not a port of the service's breed", hc.Port)
	}
	if hc.Failures < 0 {
		d.failKind(ErrNegativeFailuresNumber, nil, p.Attr("failures"), "%d: failures is 0 or more", hc.Failures)
	}
}

// validateClusterGateways checks a cluster's internal gateways and maps the anonymous one onto
// the cluster's only port.
func (d *decoder) validateClusterGateways(c *VampCluster, allDefault bool, ports []string, partial bool) {
	names := map[string]bool{}
	portType := map[string]string{}
	for _, s := range c.Services {
		if s.Breed == nil {
			continue
		}
		names[s.Breed.BreedName()] = true
		for _, t := range s.Breed.Ports {
			if t.Value != nil {
				if _, typ, err := portType2(*t.Value); err == nil {
					portType[t.Name] = typ
				}
			}
		}
	}
	for _, g := range c.Gateways {
		if g.Port == "" {
			for _, s := range c.Services {
				if s.Breed != nil && s.Breed.Ref == "" && len(s.Breed.Ports) > 1 {
					d.failKind(ErrIllegalAnonymousRoutingPortMapping, g.node, g.path, "breed %q has %d ports: name the port this gateway is for (gateways: {PORT: {sticky: ..., routes: ...}})",
						s.Breed.Name, len(s.Breed.Ports))
				}
			}
			if len(ports) == 1 {
				g.Port = ports[0]
			}
		}
		var sum int64
		negative := false
		for _, r := range g.Routes {
			rp := g.path.Attr("routes").Key(r.Path)
			// A document merged into a deployment may route to the deployment's services:
			// Validate checks the merged blueprint.
			if !names[r.Path] && !partial {
				d.failKind(ErrUnresolvedServiceRoute, g.node, rp, "cluster %q has no service %q; route to one of %s", c.Name, r.Path, list(sortedKeys(names)))
			}
			if r.Weight != nil {
				sum += *r.Weight
				negative = negative || *r.Weight < 0
			}
			if s := r.ConditionStrength; s != nil && (*s < 0 || *s > 100) {
				d.failKind(ErrRouteConditionStrength, g.node, rp.Attr("condition_strength"), "%d%%: a condition strength is from 0%% to 100%%", *s)
			}
			if typ := portType[g.Port]; typ == "tcp" && (r.Condition != "" || r.ConditionRef != "") {
				d.failKind(ErrConditionPortType, g.node, rp.Attr("condition"), "port %q is a tcp port: a condition needs http", g.Port)
			}
		}
		if negative || sum > 100 {
			d.failKind(ErrRouteWeight, g.node, g.path.Attr("routes"), "the route weights sum to %d%%; they are from 0%% and sum to at most 100%%", sum)
		}
		if portType[g.Port] == "tcp" && g.Sticky != "" {
			d.failKind(ErrStickyPortType, g.node, g.path.Attr("sticky"), "port %q is a tcp port: sticky sessions need http", g.Port)
		}
		if allDefault && g.Port != "" && !slices.Contains(ports, g.Port) {
			d.failKind(ErrUnresolvedGatewayPort, g.node, g.path, "%q is not a port of the cluster's breeds (%s)", g.Port, list(ports))
		}
	}
}

func portType2(s string) (int, string, error) {
	if len(mustRefs(s)) > 0 {
		return 0, "", errors.New("a reference")
	}
	return portType(s)
}

// ---- SLA ----

func (d *decoder) vSLADocument(root *yaml.Node) *VampSLA {
	s := d.vSLA(entry{valNode: root, valuePos: root}, nil)
	return s
}

// vSLA reads an SLA: a name, {reference: NAME, escalations: ...} or one written out by type.
func (d *decoder) vSLA(e entry, p Path) *VampSLA {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	if isScalar(n) {
		d.vname(e.valuePos, p, n.Value)
		return &VampSLA{Ref: n.Value}
	}
	es, ok := d.ventries(n, p, "an SLA (type, ...) or an SLA name")
	if !ok {
		return nil
	}
	fs := map[string]entry{}
	for _, x := range es {
		fs[x.key] = x
	}
	s := &VampSLA{}
	if ne, ok := fs["name"]; ok {
		s.Name, _ = d.vstring(ne, p.Attr("name"))
	}
	if ee, ok := fs["escalations"]; ok {
		s.Escalations = d.escalations(ee, p.Attr("escalations"))
	}
	if ref, ok := d.reference(fs, p); ok {
		s.Ref = ref
		for _, k := range sortedKeys(fs) {
			if !contains([]string{"reference", "ref", "escalations"}, k) {
				d.failKind(ErrUnexpectedElement, fs[k].keyNode, p.Attr(k), "unexpected field %q beside reference", k)
			}
		}
		return s
	}
	typ, ok := d.vrequired(fs, e.valuePos, p, "type")
	if !ok {
		return s
	}
	s.Type = typ
	switch typ {
	case "response_time_sliding_window":
		tfs := d.vfields(fs["threshold"].valNode, p.Attr("threshold"), "threshold (upper, lower)", "upper", "lower")
		wfs := d.vfields(fs["window"].valNode, p.Attr("window"), "window (interval, cooldown)", "interval", "cooldown")
		s.Upper = d.vint(tfs, e.valuePos, p.Attr("threshold"), "upper")
		s.Lower = d.vint(tfs, e.valuePos, p.Attr("threshold"), "lower")
		s.Interval = d.vint(wfs, e.valuePos, p.Attr("window"), "interval")
		s.Cooldown = d.vint(wfs, e.valuePos, p.Attr("window"), "cooldown")
		for _, k := range sortedKeys(fs) {
			if !contains([]string{"name", "kind", "type", "threshold", "window", "escalations", "metadata"}, k) {
				d.failKind(ErrUnexpectedElement, fs[k].keyNode, p.Attr(k), "unexpected field %q; a response_time_sliding_window SLA has threshold, window and escalations", k)
			}
		}
	case "escalation_only":
	default:
		s.Parameters = map[string]any{}
		for k, x := range fs {
			if !contains([]string{"name", "kind", "type", "escalations", "metadata"}, k) {
				var v any
				_ = x.valNode.Decode(&v)
				s.Parameters[k] = v
			}
		}
	}
	return s
}

func (d *decoder) vint(fs map[string]entry, at *yaml.Node, p Path, name string) int64 {
	s, ok := d.vrequired(fs, at, p, name)
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		d.failKind(ErrUnexpectedType, fs[name].valuePos, p.Attr(name), "%q: %s is a whole number", s, name)
	}
	return v
}

func (d *decoder) vfloat(fs map[string]entry, at *yaml.Node, p Path, name string) float64 {
	s, ok := d.vrequired(fs, at, p, name)
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		d.failKind(ErrUnexpectedType, fs[name].valuePos, p.Attr(name), "%q: %s is a number", s, name)
	}
	return v
}

func (d *decoder) escalations(e entry, p Path) []*VampEscalation {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	items := []*yaml.Node{e.valuePos}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []*VampEscalation
	for i, it := range items {
		out = append(out, d.escalation(entry{valNode: d.follow(it), valuePos: it}, p.Index(i)))
	}
	return out
}

func (d *decoder) escalation(e entry, p Path) *VampEscalation {
	x := &VampEscalation{}
	n := e.valNode
	if isScalar(n) {
		x.Ref = n.Value
		return x
	}
	es, ok := d.ventries(n, p, "an escalation (type, ...) or an escalation name")
	if !ok {
		return x
	}
	if len(es) == 1 && (es[0].key == "to_all" || es[0].key == "to_one") {
		x.Type = es[0].key
		v := es[0]
		if v.valNode != nil && v.valNode.Kind == yaml.MappingNode {
			fs := d.vfields(v.valNode, p.Attr(v.key), "a group escalation (escalations)", "name", "escalations")
			if ee, ok := fs["escalations"]; ok {
				x.Escalations = d.escalations(ee, p.Attr(v.key).Attr("escalations"))
			}
		} else {
			x.Escalations = d.escalations(v, p.Attr(v.key))
		}
		return x
	}
	fs := map[string]entry{}
	for _, f := range es {
		fs[f.key] = f
	}
	if ref, ok := d.reference(fs, p); ok {
		x.Ref = ref
		return x
	}
	typ, ok := d.vrequired(fs, e.valuePos, p, "type")
	if !ok {
		return x
	}
	x.Type = typ
	switch typ {
	case "to_all", "to_one":
		ee, ok := fs["escalations"]
		if !ok {
			d.failKind(ErrMissingPathValue, e.valuePos, p.Attr("escalations"), "a %s escalation lists escalations", typ)
		}
		x.Escalations = d.escalations(ee, p.Attr("escalations"))
	case "scale_instances", "scale_cpu", "scale_memory":
		x.Minimum = d.vfloat(fs, e.valuePos, p, "minimum")
		x.Maximum = d.vfloat(fs, e.valuePos, p, "maximum")
		x.ScaleBy = d.vfloat(fs, e.valuePos, p, "scale_by")
		if te, ok := fs["target"]; ok {
			x.Target, _ = d.vstring(te, p.Attr("target"))
		}
		if typ == "scale_instances" {
			for _, k := range []string{"minimum", "maximum", "scale_by"} {
				if f, ok := fs[k]; ok && f.valNode.ShortTag() == "!!float" {
					d.failKind(ErrUnexpectedType, f.valuePos, p.Attr(k), "%s of scale_instances is a whole number", k)
				}
			}
		}
	default:
		x.Parameters = map[string]any{}
		for k, f := range fs {
			if k != "type" && k != "name" {
				var v any
				_ = f.valNode.Decode(&v)
				x.Parameters[k] = v
			}
		}
	}
	return x
}
