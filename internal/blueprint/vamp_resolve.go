package blueprint

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vamp-canary/terraform-provider-vamp/internal/condition"
)

// Resolved is a VampBlueprint made deployable: the Blueprint (not yet normalized) and what of
// Vamp's blueprint was read but has no effect here (Notes, for a warning).
type Resolved struct {
	Blueprint *Blueprint
	Notes     []string
}

// HostRef and PortRef are the canonical forms Resolve writes for a dependency's address in an
// environment variable: ${CLUSTER.host} and ${CLUSTER.ports.PORT}, CLUSTER being the cluster that
// runs the dependency. vamp_deployment's apply replaces them with the dependency's stable
// endpoint (the gateway's host, the port its cluster gateway listens on) when it defines the
// service on the runtime (deployplan.ResolveValue).
func HostRef(cluster string) string { return "${" + cluster + ".host}" }

// PortRef is the canonical reference to a port of a cluster; see HostRef.
func PortRef(cluster, port string) string { return "${" + cluster + ".ports." + port + "}" }

// ClusterRefs returns the canonical references ${CLUSTER.host} / ${CLUSTER.ports.PORT} in a
// value Resolve wrote, for the runtime to replace.
func ClusterRefs(value string) []ValueRef {
	var out []ValueRef
	for _, r := range mustRefs(value) {
		if (len(r.Parts) == 2 && r.Parts[1] == "host") || (len(r.Parts) == 3 && r.Parts[1] == "ports") {
			out = append(out, r)
		}
	}
	return out
}

type resolver struct {
	arts  *Artifacts
	bp    *VampBlueprint
	errs  YAMLErrors
	notes []string
	// inline are the breeds written out in the blueprint, by name.
	inline map[string]*VampBreed
	// clusterOf is the cluster running each breed, by breed name.
	clusterOf map[string]string
}

func (r *resolver) fail(kind ErrorKind, p Path, format string, args ...any) {
	r.errs = append(r.errs, &YAMLError{Kind: kind, Path: p, Msg: fmt.Sprintf(format, args...)})
}

func (r *resolver) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// Resolve turns a blueprint read by ReadArtifacts into this provider's Blueprint: breeds, scales
// and SLAs referenced by name are taken from arts (a missing one is ErrMissingArtifact), trait
// aliases resolved (debug[SAVA_DEBUG] is the variable SAVA_DEBUG), blueprint- and service-level
// environment variables applied, dependency references written canonically (see HostRef),
// constants inlined, arguments, dialects and network merged into the Marathon app. What cannot
// be carried out here is ErrNotSupported, naming the field and what to do instead.
func Resolve(bp *VampBlueprint, arts *Artifacts) (*Resolved, error) {
	if arts == nil {
		arts = &Artifacts{}
	}
	r := &resolver{arts: arts, bp: bp, inline: map[string]*VampBreed{}, clusterOf: map[string]string{}}
	for _, c := range bp.Clusters {
		for _, s := range c.Services {
			if s.Breed == nil {
				continue
			}
			r.addInline(s.Breed)
			r.clusterOf[s.Breed.BreedName()] = c.Name
		}
	}
	for _, name := range sortedKeys(arts.Breeds) {
		r.addInline(arts.Breeds[name]) // with the breeds its dependencies write out
	}
	out := &Blueprint{Name: bp.Name, Clusters: map[string]*Cluster{}}
	if len(bp.Metadata) > 0 {
		r.note("metadata of blueprint %q is read and not used", bp.Name)
	}
	if len(bp.Dialects) > 0 {
		r.note("blueprint-level dialects are read and not used: give dialects on the cluster or service")
	}
	blueprintEnv := map[string]map[string]string{} // cluster → name → value
	for _, t := range bp.Environment {
		cname, name, _ := strings.Cut(t.Name, ".")
		if blueprintEnv[cname] == nil {
			blueprintEnv[cname] = map[string]string{}
		}
		if t.Value != nil {
			blueprintEnv[cname][name] = *t.Value
		}
	}
	for _, c := range bp.Clusters {
		out.Clusters[c.Name] = r.cluster(c, blueprintEnv[c.Name])
	}
	if len(bp.Gateways) > 0 {
		out.Gateways = map[string]string{}
	}
	for _, g := range bp.Gateways {
		r.blueprintGateway(g, out)
	}
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	return &Resolved{Blueprint: out, Notes: r.notes}, nil
}

// sla maps a cluster's Vamp SLA onto the services' sla: a response_time_sliding_window SLA
// whose escalations scale instances (scale_instances, directly or in a to_all group) of this
// cluster. Vamp measures the average response time over the window, the gateway here its p99;
// what cannot be mapped is a note, not an error (Vamp ran SLAs beside the deployment too).
func (r *resolver) sla(c *VampCluster) *SLA {
	s := c.SLA
	if s == nil {
		return nil
	}
	if s.Ref != "" {
		if stored := r.arts.SLAs[s.Ref]; stored != nil {
			cp := *stored
			cp.Escalations = append(append([]*VampEscalation{}, stored.Escalations...), s.Escalations...)
			s = &cp
		} else {
			r.fail(ErrMissingArtifact, c.path.Attr("sla"), "SLA %q is referenced but no document gives it: add a document with kind: sla, name: %s, type: response_time_sliding_window, ...", s.Ref, s.Ref)
			return nil
		}
	}
	if s.Type != "response_time_sliding_window" {
		r.note("the SLA of cluster %q (type %q) is read and not applied: the gateway scales by a response_time_sliding_window SLA with a scale_instances escalation", c.Name, s.Type)
		return nil
	}
	var scale []*VampEscalation
	var walk func([]*VampEscalation)
	walk = func(es []*VampEscalation) {
		for _, e := range es {
			switch e.Type {
			case "to_all":
				walk(e.Escalations)
			case "scale_instances":
				if e.Target == "" || e.Target == c.Name {
					scale = append(scale, e)
					continue
				}
				r.note("escalation of cluster %q scaling cluster %q is read and not applied: give cluster %q its own sla", c.Name, e.Target, e.Target)
			default:
				r.note("escalation %q of cluster %q is read and not applied: the gateway runs scale_instances escalations", cmpOrString(e.Type, e.Ref), c.Name)
			}
		}
	}
	walk(s.Escalations)
	if len(scale) != 1 {
		r.note("the SLA of cluster %q has %d scale_instances escalations of its own and is not applied: give it one", c.Name, len(scale))
		return nil
	}
	e := scale[0]
	if e.Minimum != float64(int64(e.Minimum)) || e.Maximum != float64(int64(e.Maximum)) || e.ScaleBy != float64(int64(e.ScaleBy)) {
		r.fail(ErrInvalidValue, c.path.Attr("sla").Attr("escalations"), "scale_instances takes whole numbers of instances")
		return nil
	}
	return &SLA{
		MinInstances: int64(e.Minimum), MaxInstances: int64(e.Maximum), Step: int64(e.ScaleBy),
		UpperP99: strconv.FormatInt(s.Upper, 10) + "ms", LowerP99: strconv.FormatInt(s.Lower, 10) + "ms",
		Window: strconv.FormatInt(s.Interval, 10) + "s", Cooldown: strconv.FormatInt(s.Cooldown, 10) + "s",
	}
}

// addInline records a breed written out in the blueprint, and its dependencies written out.
func (r *resolver) addInline(b *VampBreed) {
	if b == nil || b.Ref != "" || r.inline[b.Name] != nil {
		return
	}
	r.inline[b.Name] = b
	for _, dep := range b.Dependencies {
		r.addInline(dep.Breed)
	}
}

// breed returns the written-out breed of a service or dependency: itself, a breed written out
// elsewhere in the blueprint, or a breed document.
func (r *resolver) breed(b *VampBreed, p Path) *VampBreed {
	if b == nil || b.Ref == "" {
		return b
	}
	if found := r.inline[b.Ref]; found != nil {
		return found
	}
	if found := r.arts.Breeds[b.Ref]; found != nil {
		return found
	}
	r.fail(ErrMissingArtifact, p, "breed %q is referenced but no document gives it: add a document with kind: breed, name: %s, deployable: ... (Vamp took it from its artifact store; there is none here)",
		b.Ref, b.Ref)
	return nil
}

func (r *resolver) cluster(c *VampCluster, blueprintEnv map[string]string) *Cluster {
	out := &Cluster{}
	sla := r.sla(c)
	if len(c.Metadata) > 0 {
		r.note("metadata of cluster %q is read and not used", c.Name)
	}
	for _, s := range c.Services {
		if svc := r.service(c, s, blueprintEnv); svc != nil {
			if sla != nil {
				cp := *sla
				svc.SLA = &cp
			}
			out.Services = append(out.Services, svc)
		}
	}
	for _, g := range c.Gateways {
		r.clusterGateway(c, g, out)
	}
	return out
}

func (r *resolver) service(c *VampCluster, s *VampService, blueprintEnv map[string]string) *Service {
	b := r.breed(s.Breed, s.path.Attr("breed"))
	if b == nil {
		return nil
	}
	bp := s.path.Attr("breed")
	out := &Service{Breed: Breed{Name: b.Name}}
	switch typ := strings.ToLower(b.Deployable.Type); typ {
	case "", "docker", "container/docker":
		out.Breed.Deployable = strings.TrimPrefix(b.Deployable.Definition, "docker://")
	case "cmd", "command":
		out.Breed.Deployable = "cmd:" + b.Deployable.Definition
	default:
		r.fail(ErrNotSupported, bp.Attr("deployable").Attr("type"), "%q: this provider runs docker images (Marathon) and commands (cmd:...); use type docker or leave type out", b.Deployable.Type)
	}
	constants := map[string]map[string]string{} // dependency alias → constant → value
	depCluster := map[string]string{}
	depBreed := map[string]*VampBreed{}
	for _, dep := range b.Dependencies {
		db := r.breed(dep.Breed, bp.Attr("dependencies").Key(dep.Alias))
		if db == nil {
			continue
		}
		depBreed[dep.Alias] = db
		constants[dep.Alias] = map[string]string{}
		for _, t := range db.Constants {
			if t.Value != nil {
				constants[dep.Alias][t.Name] = *t.Value
			}
		}
		cname, ok := r.clusterOf[db.Name]
		if !ok {
			r.fail(ErrUnresolvedBreedDependency, bp.Attr("dependencies").Key(dep.Alias), "breed %q depends on %q, which no cluster of the blueprint runs; add a cluster with it", b.Name, db.Name)
			continue
		}
		depCluster[dep.Alias] = cname
	}
	// expand writes a trait value's references: constants and variables inline, host and ports
	// canonical for the runtime.
	expand := func(value string, p Path, allowAddress bool) string {
		refs, err := ParseValueRefs(value)
		if err != nil {
			r.fail(ErrParser, p, "%v", err)
			return value
		}
		var sb strings.Builder
		last := 0
		for _, ref := range refs {
			sb.WriteString(value[last:ref.Start])
			last = ref.End
			text := value[ref.Start:ref.End]
			if len(ref.Parts) < 2 {
				sb.WriteString(text) // not a dependency reference: the value keeps it
				continue
			}
			alias, what := ref.Parts[0], ref.Parts[1:]
			db := depBreed[alias]
			switch {
			case db == nil:
				r.fail(ErrUnresolvedDependencyInTraitValue, p, "%s: breed %q has no dependency %q", text, b.Name, alias)
			case len(what) == 2 && what[0] == "constants":
				v, ok := constants[alias][what[1]]
				if !ok {
					r.fail(ErrUnresolvedDependencyInTraitValue, p, "%s: breed %q has no constant %q", text, db.Name, what[1])
				}
				sb.WriteString(v)
			case len(what) == 2 && what[0] == "environment_variables":
				v := ""
				for _, t := range db.Environment {
					if t.Name == what[1] && t.Value != nil {
						v = *t.Value
					}
				}
				sb.WriteString(v)
			case !allowAddress:
				r.fail(ErrNotSupported, p, "%s: a port's value cannot depend on another service's address here; give the port a number", text)
			case len(what) == 1 && what[0] == "host":
				sb.WriteString(HostRef(depCluster[alias]))
			case len(what) == 2 && what[0] == "ports":
				if !slices.Contains(traitNames(db.Ports), what[1]) {
					r.fail(ErrUnresolvedEnvironmentVariable, p, "%s: breed %q has no port %q; its ports are %s", text, db.Name, what[1], list(traitNames(db.Ports)))
				}
				sb.WriteString(PortRef(depCluster[alias], what[1]))
			default:
				r.fail(ErrUnresolvedDependencyInTraitValue, p, "%s: a reference is $DEPENDENCY.host, .ports.NAME, .constants.NAME or .environment_variables.NAME", text)
			}
		}
		sb.WriteString(value[last:])
		return sb.String()
	}
	if len(b.Ports) > 0 {
		out.Breed.Ports = map[string]string{}
	}
	for _, t := range b.Ports {
		if t.Value == nil {
			continue
		}
		v := expand(*t.Value, bp.Attr("ports").Key(t.Name), false)
		port, proto, err := ParsePort(v)
		if err != nil {
			r.fail(ErrInvalidValue, bp.Attr("ports").Key(t.Name), "%v", err)
			continue
		}
		out.Breed.Ports[t.Name] = formatPort(port, proto)
	}
	// Variables: the breed's, then the blueprint's CLUSTER.NAME, then the service's; each
	// exported under its alias when it has one.
	values := map[string]*string{}
	exported := map[string]string{}
	for _, t := range b.Environment {
		values[t.Name] = t.Value
		exported[t.Name] = cmpOrString(t.Alias, t.Name)
	}
	for name, v := range blueprintEnv {
		if _, ok := exported[name]; ok {
			values[name] = &v
		}
	}
	for _, t := range s.Environment {
		if _, ok := exported[t.Name]; !ok {
			r.fail(ErrUnresolvedDependencyInTraitValue, s.path.Attr("environment_variables").Key(t.Name), "breed %q declares no environment variable %q", b.Name, t.Name)
			continue
		}
		values[t.Name] = t.Value
	}
	for _, name := range sortedKeys(exported) {
		p := bp.Attr("environment_variables").Key(name)
		v := values[name]
		if v == nil {
			r.fail(ErrMissingEnvironmentVariable, p, "environment variable %q of breed %q has no value: give it in the service (environment_variables: {%s: ...}) or the blueprint (%s.%s: ...)",
				name, b.Name, name, c.Name, name)
			continue
		}
		if out.Breed.Environment == nil {
			out.Breed.Environment = map[string]string{}
		}
		out.Breed.Environment[exported[name]] = expand(*v, p, true)
	}
	if s.Scale != nil {
		if s.Scale.Ref != "" {
			if sc := r.arts.Scales[s.Scale.Ref]; sc != nil {
				scale := *sc
				out.Scale = &scale
			} else {
				r.fail(ErrMissingArtifact, s.path.Attr("scale"), "scale %q is referenced but no document gives it: add a document with kind: scale, name: %s, cpu: ..., memory: ..., instances: ...",
					s.Scale.Ref, s.Scale.Ref)
			}
		} else {
			scale := s.Scale.Scale
			out.Scale = &scale
		}
	}
	// Health checks: the service's, else the cluster's for the ports this breed has, else the
	// breed's. A port given by number names the breed's port with that number.
	checks := s.HealthChecks
	if checks == nil {
		for _, hc := range c.HealthChecks {
			if slices.Contains(traitNames(b.Ports), hc.Port) {
				checks = append(checks, hc)
			}
		}
	}
	if checks == nil {
		checks = b.HealthChecks
	}
	for _, hc := range checks {
		// Vamp passes a relative path (path/to/check) to the health check as it is; a request
		// path starts with "/".
		if hc.Path != "" && !strings.HasPrefix(hc.Path, "/") {
			hc.Path = "/" + hc.Path
		}
		if _, ok := out.Breed.Ports[hc.Port]; !ok {
			for name, spec := range out.Breed.Ports {
				if n, _, err := ParsePort(spec); err == nil && strconv.Itoa(n) == hc.Port {
					hc.Port = name
				}
			}
		}
		out.HealthChecks = append(out.HealthChecks, hc)
	}
	out.Marathon = r.marathon(c, s, b)
	return out
}

// marathon builds the JSON merged into the service's Marathon app from Vamp's arguments
// (docker parameters; privileged), dialects (marathon: the app; docker: container.docker;
// cluster's under the service's) and network.
func (r *resolver) marathon(c *VampCluster, s *VampService, b *VampBreed) string {
	app := map[string]any{}
	docker := map[string]any{}
	args := append(append([]Argument{}, b.Arguments...), s.Arguments...)
	var params []any
	for _, a := range args {
		if a.Key == "privileged" {
			docker["privileged"] = strings.EqualFold(a.Value, "true")
			continue
		}
		params = append(params, map[string]any{"key": a.Key, "value": a.Value})
	}
	if len(params) > 0 {
		docker["parameters"] = params
	}
	for _, ds := range []map[string]any{c.Dialects, s.Dialects} {
		for name, v := range ds {
			m, ok := v.(map[string]any)
			switch {
			case name == "marathon" && ok:
				deepMerge(app, m)
			case name == "docker" && ok:
				deepMerge(docker, m)
			case name == "marathon" || name == "docker":
				r.fail(ErrInvalidValue, s.path.Attr("dialects").Attr(name), "the %s dialect is a mapping", name)
			default:
				r.note("dialect %q of breed %q is read and not used: this provider deploys with Marathon (dialects marathon and docker)", name, b.Name)
			}
		}
	}
	if len(docker) > 0 {
		deepMerge(app, map[string]any{"container": map[string]any{"docker": docker}})
	}
	switch network := cmpOrString(s.Network, c.Network); strings.ToLower(network) {
	case "", "default":
	case "bridge":
		app["networks"] = []any{map[string]any{"mode": "container/bridge"}}
	case "host":
		app["networks"] = []any{map[string]any{"mode": "host"}}
	default:
		app["networks"] = []any{map[string]any{"mode": "container", "name": network}}
	}
	if len(app) == 0 {
		return ""
	}
	data, err := json.Marshal(app)
	if err != nil {
		r.fail(ErrInvalidValue, s.path.Attr("dialects"), "the dialects must be expressible as JSON: %v", err)
		return ""
	}
	return string(data)
}

// deepMerge merges src into dst: mappings key by key, anything else replaced.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
			cp := map[string]any{}
			deepMerge(cp, sm)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

func (r *resolver) clusterGateway(c *VampCluster, g *VampGateway, out *Cluster) {
	port := g.Port
	if port == "" {
		ports := map[string]bool{}
		for _, s := range out.Services {
			for name := range s.Breed.Ports {
				ports[name] = true
			}
		}
		if len(ports) != 1 {
			r.fail(ErrIllegalAnonymousRoutingPortMapping, g.path, "cluster %q has ports %s: name the port this gateway is for (gateways: {PORT: {sticky: ..., routes: ...}})",
				c.Name, list(sortedKeys(ports)))
			return
		}
		port = sortedKeys(ports)[0]
	}
	if len(g.VirtualHosts) > 0 {
		r.fail(ErrNotSupported, g.path.Attr("virtual_hosts"), "virtual hosts of a cluster's internal gateway are not supported: give them to a vamp_gateway in front of the cluster")
	}
	cg := &ClusterGateway{Sticky: g.Sticky, Routes: map[string]*Route{}}
	for _, vr := range g.Routes {
		if route := r.route(vr, g.path.Attr("routes").Key(vr.Path)); route != nil {
			cg.Routes[vr.Path] = route
		}
	}
	if out.Gateways == nil {
		out.Gateways = map[string]*ClusterGateway{}
	}
	out.Gateways[port] = cg
}

// route converts a route; a condition written without strength has strength 0%, as in Vamp.
func (r *resolver) route(vr *VampRoute, p Path) *Route {
	switch {
	case vr.Ref != "":
		r.fail(ErrNotSupported, p, "route %q is a reference to a stored route, and there is no route store here: write the route out ({weight: 50%%, condition: ...})", vr.Ref)
		return nil
	case vr.ConditionRef != "":
		r.fail(ErrNotSupported, p.Attr("condition"), "condition %q is a reference to a stored condition, and there is no condition store here: write the condition out, e.g. condition: user-agent == Firefox", vr.ConditionRef)
		return nil
	case len(vr.Rewrites) > 0:
		r.fail(ErrNotSupported, p.Attr("rewrites"), "path rewrites are not supported by the gateway: rewrite in the service, or route by path with a condition")
	case vr.Balance != "":
		r.fail(ErrNotSupported, p.Attr("balance"), "%q: the gateway balances a route's instances round robin; leave balance out", vr.Balance)
	}
	out := &Route{Weight: vr.Weight, Condition: vr.Condition, ConditionStrength: vr.ConditionStrength}
	if out.Condition != "" {
		if _, err := condition.Parse(out.Condition); err != nil {
			r.fail(ErrInvalidValue, p.Attr("condition"), "%q: %v. Write a condition such as user-agent == Firefox or has cookie vamp", out.Condition, err)
		}
		if out.ConditionStrength == nil {
			out.ConditionStrength = Int64(0)
		}
	}
	return out
}

// blueprintGateway maps a blueprint gateway with one route to CLUSTER/PORT onto
// Blueprint.Gateways; what a blueprint gateway cannot carry here is ErrNotSupported, pointing at
// vamp_gateway.
func (r *resolver) blueprintGateway(g *VampGateway, out *Blueprint) {
	const instead = "use a vamp_gateway resource for a gateway with %s"
	switch {
	case len(g.Routes) != 1:
		r.fail(ErrNotSupported, g.path.Attr("routes"), "a blueprint gateway here routes to one CLUSTER/PORT (the cluster splits traffic between its services); "+instead, "several routes")
		return
	case g.Sticky != "":
		r.fail(ErrNotSupported, g.path.Attr("sticky"), "sticky sessions of a blueprint gateway: set sticky on the cluster's gateway, or "+instead, "sticky sessions")
	case len(g.VirtualHosts) > 0:
		r.fail(ErrNotSupported, g.path.Attr("virtual_hosts"), instead, "virtual hosts")
	}
	vr := g.Routes[0]
	switch {
	case vr.Condition != "" || vr.ConditionRef != "":
		r.fail(ErrNotSupported, g.path.Attr("routes").Key(vr.Path).Attr("condition"), "conditions of a blueprint gateway: put the condition on the cluster's gateway routes")
	case vr.Weight != nil && *vr.Weight != 100:
		r.fail(ErrNotSupported, g.path.Attr("routes").Key(vr.Path).Attr("weight"), "the single route of a blueprint gateway takes all traffic: write 100%% or leave the weight out")
	case vr.Ref != "" || len(vr.Rewrites) > 0 || vr.Balance != "":
		r.fail(ErrNotSupported, g.path.Attr("routes").Key(vr.Path), instead, "route references, rewrites or balance")
	}
	if g.Number <= 0 {
		r.fail(ErrInvalidGatewayPort, g.path, "gateway %q has no port number; give port: 8080 or key it by its number", g.Port)
		return
	}
	cname, port, _ := splitTarget(vr.Path)
	out.Gateways[strconv.Itoa(g.Number)] = cname + "/" + port
	if g.Type == "tcp" {
		r.note("gateway %d is declared tcp: the gateway serves it with the protocol of %s", g.Number, vr.Path)
	}
	if len(g.Metadata) > 0 {
		r.note("metadata of gateway %d is read and not used", g.Number)
	}
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
