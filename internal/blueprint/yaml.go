package blueprint

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/condition"
	"go.yaml.in/yaml/v3"
)

// YAMLError is one fault in a blueprint document, with where it is.
type YAMLError struct {
	Path   Path // empty for a fault of the document as a whole
	Line   int  // 1-based; 0 when unknown
	Column int  // 1-based; 0 when unknown
	Msg    string
	// Kind names the problem (Vamp's notification name where Vamp's reader finds it too); ""
	// for faults only ParseYAML reports.
	Kind ErrorKind
}

func (e *YAMLError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ", column %d", e.Column)
		}
		b.WriteString(": ")
	}
	if len(e.Path) > 0 {
		b.WriteString(e.Path.YAMLString() + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// YAMLErrors is every fault ParseYAML found, in document order.
type YAMLErrors []*YAMLError

func (es YAMLErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// ParseYAML reads one Vamp blueprint document. It accepts Vamp's flexible forms (see the package
// tests) and reports every fault it finds as YAMLErrors, each naming the YAML path and line.
// Unknown fields are faults: a typo must not pass silently. It checks each value on its own
// (types, units, ports, percentages, condition syntax); rules that relate values to each other are
// Validate's, because a document merged into a deployment may name services it does not define.
func ParseYAML(doc []byte) (*Blueprint, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, YAMLErrors{{Msg: "the blueprint document is empty; it needs at least name and clusters"}}
		}
		return nil, yamlSyntaxError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, YAMLErrors{{Line: next.Line, Msg: "found a second YAML document (after ---); give one blueprint per document"}}
	case !errors.Is(err, io.EOF):
		return nil, yamlSyntaxError(err)
	}
	d := &decoder{}
	b := d.blueprint(&root)
	if len(d.errs) > 0 {
		slices.SortStableFunc(d.errs, func(x, y *YAMLError) int {
			return cmp.Or(cmp.Compare(x.Line, y.Line), cmp.Compare(x.Column, y.Column))
		})
		return nil, d.errs
	}
	return b, nil
}

var yamlErrorLine = regexp.MustCompile(`line (\d+)`)

// yamlSyntaxError turns the YAML library's error into a YAMLError, keeping its line.
func yamlSyntaxError(err error) error {
	e := &YAMLError{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return YAMLErrors{e}
}

// decoder walks the yaml.Node tree along the blueprint schema, collecting faults.
type decoder struct {
	errs YAMLErrors
	// aliased counts the nodes reached through aliases. A small document can reach millions of
	// nodes by aliasing lists of aliases (the "billion laughs"); past maxAliasedNodes the
	// decoder reads aliases as null and reports it once.
	aliased int
	sizes   map[*yaml.Node]int
	// flowKeys reads a list used as a key ([external/1/2]:) as its text, as Vamp does.
	flowKeys bool
}

// maxAliasedNodes is far above what a hand-written blueprint reaches through its aliases.
const maxAliasedNodes = 50_000

// follow resolves n for descending into it, counting what an alias adds.
func (d *decoder) follow(n *yaml.Node) *yaml.Node {
	if n == nil || n.Kind != yaml.AliasNode {
		return resolve(n)
	}
	if d.aliased > maxAliasedNodes {
		return nil
	}
	if d.aliased+d.size(n, 0) > maxAliasedNodes {
		d.fail(n, nil, "the document reaches more than %d values through aliases (*name); write the blueprint out instead", maxAliasedNodes)
		d.aliased = maxAliasedNodes + 1
		return nil
	}
	d.aliased += d.size(n, 0)
	return resolve(n)
}

// size counts the nodes under n, following aliases, memoized so that shared anchors are
// counted in linear time.
func (d *decoder) size(n *yaml.Node, depth int) int {
	if n == nil || depth > maxAliasDepth*4 {
		return 1
	}
	if s, ok := d.sizes[n]; ok {
		return s
	}
	if d.sizes == nil {
		d.sizes = map[*yaml.Node]int{}
	}
	d.sizes[n] = 1 // a cycle back to n counts once
	total := 1
	if n.Kind == yaml.AliasNode {
		total += d.size(n.Alias, depth+1)
	}
	for _, c := range n.Content {
		total += d.size(c, depth+1)
		if total > maxAliasedNodes {
			break
		}
	}
	d.sizes[n] = total
	return total
}

func (d *decoder) fail(n *yaml.Node, p Path, format string, args ...any) {
	d.failKind("", n, p, format, args...)
}

// failKind records a fault of the given kind.
func (d *decoder) failKind(kind ErrorKind, n *yaml.Node, p Path, format string, args ...any) {
	if d.aliased > maxAliasedNodes {
		return // the rest of the document reads aliases as null: its faults would be noise
	}
	e := &YAMLError{Path: p, Msg: fmt.Sprintf(format, args...), Kind: kind}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// maxAliasDepth bounds alias and merge-key chains, which YAML lets point at their own ancestors.
const maxAliasDepth = 16

// resolve follows aliases and unwraps a document node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < maxAliasDepth; i++ {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.DocumentNode && len(n.Content) == 0) ||
		(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n = resolve(n); {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unresolvable alias"
}

// entry is one key/value pair of a mapping.
type entry struct {
	key      string
	keyNode  *yaml.Node
	valNode  *yaml.Node
	valuePos *yaml.Node // where to point at the value (the alias itself, not its anchor)
}

// entries returns a mapping's pairs in document order, with YAML merge keys (<<) expanded and
// duplicate keys reported: `9050` and `"9050"` are the same key here. A null node has no pairs.
func (d *decoder) entries(n *yaml.Node, p Path, what string) ([]entry, bool) {
	return d.entriesDepth(n, p, what, 0)
}

func (d *decoder) entriesDepth(n *yaml.Node, p Path, what string, depth int) ([]entry, bool) {
	m := d.follow(n)
	if isNull(m) {
		return nil, true
	}
	if m.Kind != yaml.MappingNode {
		d.fail(n, p, "expected %s, found %s", what, kindName(m))
		return nil, false
	}
	var out, merged []entry
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		rk := resolve(k)
		if rk != nil && rk.Kind == yaml.ScalarNode && rk.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeEntries(v, p, what, depth)...)
			continue
		}
		if rk != nil && rk.Kind == yaml.SequenceNode && d.flowKeys {
			// Vamp's external route target [host:port] written unquoted: a list as a key.
			var parts []string
			for _, c := range rk.Content {
				if c = resolve(c); c != nil && c.Kind == yaml.ScalarNode {
					parts = append(parts, c.Value)
				}
			}
			rk = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "[" + strings.Join(parts, ", ") + "]", Line: rk.Line, Column: rk.Column}
		}
		if rk == nil || rk.Kind != yaml.ScalarNode {
			d.fail(k, p, "a key must be a single value, found %s", kindName(rk))
			continue
		}
		if first, dup := seen[rk.Value]; dup {
			d.failKind(ErrDuplicateKey, k, p.Key(rk.Value), "%q is given twice (first at line %d); keep one", rk.Value, first.Line)
			continue
		}
		seen[rk.Value] = k
		out = append(out, entry{key: rk.Value, keyNode: k, valNode: d.follow(v), valuePos: v})
	}
	for _, e := range merged {
		if _, explicit := seen[e.key]; !explicit {
			seen[e.key] = e.keyNode
			out = append(out, e)
		}
	}
	return out, true
}

// mergeEntries reads the value of a merge key: a mapping or a list of mappings.
func (d *decoder) mergeEntries(v *yaml.Node, p Path, what string, depth int) []entry {
	if depth >= maxAliasDepth {
		d.fail(v, p, "merge keys (<<) nest too deep")
		return nil
	}
	rv := d.follow(v)
	if rv != nil && rv.Kind == yaml.SequenceNode {
		var out []entry
		for _, item := range rv.Content {
			es, _ := d.entriesDepth(item, p, what, depth+1)
			out = append(out, es...)
		}
		return out
	}
	es, _ := d.entriesDepth(v, p, what, depth+1)
	return es
}

// fields reads a mapping of named fields. An unknown field is a fault naming the field, its path
// and the closest known one.
func (d *decoder) fields(n *yaml.Node, p Path, what string, known ...string) (map[string]entry, bool) {
	es, ok := d.entries(n, p, what)
	if !ok {
		return nil, false
	}
	out := make(map[string]entry, len(es))
	for _, e := range es {
		if !contains(known, e.key) {
			d.fail(e.keyNode, p.Attr(e.key), "unknown field %q%s; the known fields here are %s",
				e.key, suggest(e.key, known), strings.Join(known, ", "))
			continue
		}
		out[e.key] = e
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns ` (did you mean "x"?)` for the known name closest to a misspelt one.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(name), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns the text of a single value; ok is false (and a fault is recorded) for a mapping
// or a list. Null reads as "".
func (d *decoder) scalar(e entry, p Path) (string, bool) {
	if isNull(e.valNode) {
		return "", true
	}
	if e.valNode == nil || e.valNode.Kind != yaml.ScalarNode {
		d.fail(e.valuePos, p, "expected a single value, found %s", kindName(e.valNode))
		return "", false
	}
	return e.valNode.Value, true
}

// percent reads a weight or strength: "50%", "50" or 50, a whole number from 0 to 100.
func (d *decoder) percent(e entry, p Path, field string) *int64 {
	s, ok := d.scalar(e, p)
	if !ok || isNull(e.valNode) {
		return nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 10, 64)
	if err != nil {
		d.fail(e.valuePos, p, "%q: %s is a whole percentage from 0 to 100, e.g. 50%%", s, field)
		return nil
	}
	if v < 0 || v > 100 {
		d.fail(e.valuePos, p, "%q: %s must be from 0%% to 100%%", s, field)
		return nil
	}
	return &v
}

func (d *decoder) blueprint(root *yaml.Node) *Blueprint {
	b := &Blueprint{}
	fs, ok := d.fields(root, nil, "a blueprint mapping (name, gateways, clusters)", "name", "kind", "gateways", "clusters")
	if !ok {
		return b
	}
	if e, ok := fs["kind"]; ok {
		if kind, _ := d.scalar(e, Path{}.Attr("kind")); !strings.EqualFold(kind, "blueprint") && !strings.EqualFold(kind, "blueprints") {
			d.fail(e.valuePos, Path{}.Attr("kind"), "%q: kind must be blueprint (or be left out)", kind)
		}
	}
	if e, ok := fs["name"]; ok {
		b.Name, _ = d.scalar(e, Path{}.Attr("name"))
	}
	if e, ok := fs["gateways"]; ok {
		b.Gateways = d.blueprintGateways(e, Path{}.Attr("gateways"))
	}
	if e, ok := fs["clusters"]; ok {
		p := Path{}.Attr("clusters")
		es, _ := d.entries(e.valNode, p, "a mapping of cluster name to cluster")
		b.Clusters = make(map[string]*Cluster, len(es))
		for _, ce := range es {
			b.Clusters[ce.key] = d.cluster(ce, p.Key(ce.key))
		}
	}
	return b
}

// blueprintGateways reads `9050: sava_cluster/webport` and the long form
// `9050: {routes: {sava_cluster/webport: {weight: 100%}}}`.
func (d *decoder) blueprintGateways(e entry, p Path) map[string]string {
	es, _ := d.entries(e.valNode, p, "a mapping of port to CLUSTER/PORT, e.g. 9050: sava_cluster/webport")
	out := make(map[string]string, len(es))
	for _, ge := range es {
		gp := p.Key(ge.key)
		if isNull(ge.valNode) || ge.valNode.Kind == yaml.ScalarNode {
			out[ge.key], _ = d.scalar(ge, gp)
			continue
		}
		fs, ok := d.fields(ge.valNode, gp, "CLUSTER/PORT or {routes: {CLUSTER/PORT: {weight: 100%}}}", "routes")
		if !ok {
			continue
		}
		routes, _ := d.entries(fs["routes"].valNode, gp.Attr("routes"), "a mapping of CLUSTER/PORT to route")
		if len(routes) != 1 {
			d.fail(ge.valuePos, gp.Attr("routes"), "a blueprint gateway has exactly one route to a cluster port, found %d; "+
				"split traffic in the cluster's gateway, or use a vamp_gateway for several targets", len(routes))
			continue
		}
		r := routes[0]
		rfs, _ := d.fields(r.valNode, gp.Attr("routes").Key(r.key), "a route mapping", "weight")
		if we, ok := rfs["weight"]; ok {
			if w := d.percent(we, gp.Attr("routes").Key(r.key).Attr("weight"), "weight"); w != nil && *w != 100 {
				d.fail(we.valuePos, gp.Attr("routes").Key(r.key).Attr("weight"),
					"the single route of a blueprint gateway takes all traffic: write 100%% or leave the weight out")
			}
		}
		out[ge.key] = r.key
	}
	return out
}

var (
	serviceFields = []string{"breed", "scale", "health_checks", "environment_variables", "marathon", "dialects"}
	breedFields   = []string{"name", "deployable", "ports", "environment_variables", "health_checks"}
	// inlineServiceFields are the fields of a service written without `breed:`, its breed's
	// fields directly beside its scale.
	inlineServiceFields = []string{"name", "deployable", "ports", "environment_variables", "health_checks", "scale", "marathon", "dialects"}
)

// cluster reads {services: ..., gateways: ...}; a cluster may also be one service written in
// place: {breed: ..., scale: ..., gateways: ...}.
func (d *decoder) cluster(e entry, p Path) *Cluster {
	c := &Cluster{}
	known := append([]string{"services", "gateways"}, serviceFields...)
	fs, ok := d.fields(e.valNode, p, "a cluster mapping (services, gateways)", known...)
	if !ok {
		return c
	}
	if g, ok := fs["gateways"]; ok {
		c.Gateways = d.clusterGateways(g, p.Attr("gateways"))
	}
	delete(fs, "gateways")
	if se, ok := fs["services"]; ok {
		delete(fs, "services")
		for _, name := range sortedKeys(fs) {
			d.fail(fs[name].keyNode, p.Attr(name), "%q belongs to a service: put it under services, or write the cluster as one service without services", name)
		}
		c.Services = d.services(se, p.Attr("services"))
		return c
	}
	if _, ok := fs["breed"]; ok {
		c.Services = []*Service{d.serviceFields(fs, p)}
	} else if len(fs) > 0 {
		d.fail(e.keyNode, p, "the cluster has no services; add services: [{breed: {...}}]")
	}
	return c
}

// services reads a list of services, a single service object or a bare breed name.
func (d *decoder) services(e entry, p Path) []*Service {
	n := e.valNode
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		out := make([]*Service, 0, len(n.Content))
		for i, item := range n.Content {
			out = append(out, d.service(entry{valNode: d.follow(item), valuePos: item}, p.Index(i)))
		}
		return out
	default:
		return []*Service{d.service(e, p)}
	}
}

// service reads `{breed: ..., scale: ...}`, a breed written in place (`{name: ..., deployable:
// ...}`), or a bare breed name.
func (d *decoder) service(e entry, p Path) *Service {
	n := e.valNode
	if isNull(n) {
		d.fail(e.valuePos, p, "empty service; write {breed: {name: ..., deployable: ..., ports: ...}}")
		return &Service{}
	}
	if n.Kind == yaml.ScalarNode {
		return &Service{Breed: Breed{Name: n.Value}}
	}
	if n.Kind == yaml.MappingNode && hasKey(n, "breed") {
		fs, _ := d.fields(n, p, "a service mapping", serviceFields...)
		return d.serviceFields(fs, p)
	}
	fs, ok := d.fields(n, p, "a service mapping (breed, scale, health_checks) or a breed name", inlineServiceFields...)
	if !ok {
		return &Service{}
	}
	s := d.serviceFields(fs, p)
	s.Breed, s.HealthChecks = d.breedFields(fs, p, s.HealthChecks)
	return s
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return true
		}
	}
	return false
}

// serviceFields reads the service-level fields; the breed comes from `breed` when present.
func (d *decoder) serviceFields(fs map[string]entry, p Path) *Service {
	s := &Service{}
	if e, ok := fs["health_checks"]; ok {
		s.HealthChecks = d.healthChecks(e, p.Attr("health_checks"))
	}
	if e, ok := fs["breed"]; ok {
		bp := p.Attr("breed")
		if isNull(e.valNode) || e.valNode.Kind == yaml.ScalarNode {
			s.Breed.Name, _ = d.scalar(e, bp)
		} else if bfs, ok := d.fields(e.valNode, bp, "a breed mapping", breedFields...); ok {
			s.Breed, s.HealthChecks = d.breedFields(bfs, bp, s.HealthChecks)
		}
		// Vamp lets a service override its breed's environment variables.
		if ee, ok := fs["environment_variables"]; ok {
			for k, v := range d.environment(ee, p.Attr("environment_variables")) {
				if s.Breed.Environment == nil {
					s.Breed.Environment = map[string]string{}
				}
				s.Breed.Environment[k] = v
			}
		}
	}
	if e, ok := fs["scale"]; ok {
		s.Scale = d.scale(e, p.Attr("scale"))
	}
	if e, ok := fs["marathon"]; ok {
		s.Marathon = d.marathon(e, p.Attr("marathon"))
	}
	if e, ok := fs["dialects"]; ok {
		dfs, _ := d.fields(e.valNode, p.Attr("dialects"), "a mapping of dialects", "marathon")
		if me, ok := dfs["marathon"]; ok {
			s.Marathon = d.marathon(me, p.Attr("dialects").Attr("marathon"))
		}
	}
	return s
}

// breedFields reads a breed's fields. Health checks stated on the service win over the breed's.
func (d *decoder) breedFields(fs map[string]entry, p Path, serviceChecks []HealthCheck) (Breed, []HealthCheck) {
	var b Breed
	if e, ok := fs["name"]; ok {
		b.Name, _ = d.scalar(e, p.Attr("name"))
	}
	if e, ok := fs["deployable"]; ok {
		b.Deployable = d.deployable(e, p.Attr("deployable"))
	}
	if e, ok := fs["ports"]; ok {
		b.Ports = d.ports(e, p.Attr("ports"))
	}
	if e, ok := fs["environment_variables"]; ok {
		b.Environment = d.environment(e, p.Attr("environment_variables"))
	}
	checks := serviceChecks
	if e, ok := fs["health_checks"]; ok && checks == nil {
		checks = d.healthChecks(e, p.Attr("health_checks"))
	}
	return b, checks
}

// deployable reads "magneticio/sava:1.0.0", "cmd:..." or Vamp's {type: docker, definition: ...}.
func (d *decoder) deployable(e entry, p Path) string {
	if isNull(e.valNode) || e.valNode.Kind == yaml.ScalarNode {
		s, _ := d.scalar(e, p)
		return s
	}
	fs, ok := d.fields(e.valNode, p, "a deployable", "type", "definition")
	if !ok {
		return ""
	}
	typ, _ := d.scalar(fs["type"], p.Attr("type"))
	def, _ := d.scalar(fs["definition"], p.Attr("definition"))
	switch strings.ToLower(typ) {
	case "", "docker", "container/docker":
		return def
	case "cmd", "command":
		return "cmd:" + def
	}
	d.fail(fs["type"].valuePos, p.Attr("type"), "%q: deployable type must be docker or cmd", typ)
	return ""
}

// ports reads {webport: 8080/http}; a bare number is an http port.
func (d *decoder) ports(e entry, p Path) map[string]string {
	es, _ := d.entries(e.valNode, p, "a mapping of port name to PORT/PROTOCOL, e.g. webport: 8080/http")
	out := make(map[string]string, len(es))
	for _, pe := range es {
		s, ok := d.scalar(pe, p.Key(pe.key))
		if !ok {
			continue
		}
		port, proto, err := ParsePort(s)
		if err != nil {
			d.fail(pe.valuePos, p.Key(pe.key), "%v", err)
			continue
		}
		out[pe.key] = formatPort(port, proto)
	}
	return out
}

func (d *decoder) environment(e entry, p Path) map[string]string {
	es, _ := d.entries(e.valNode, p, "a mapping of variable name to value")
	out := make(map[string]string, len(es))
	for _, ve := range es {
		out[ve.key], _ = d.scalar(ve, p.Key(ve.key))
	}
	return out
}

// scale reads {cpu, memory, instances}; a field left out takes DefaultScale's value.
func (d *decoder) scale(e entry, p Path) *Scale {
	if isNull(e.valNode) {
		return nil
	}
	fs, ok := d.fields(e.valNode, p, "a scale mapping (cpu, memory, instances)", "cpu", "memory", "instances")
	if !ok {
		return nil
	}
	s := DefaultScale
	if f, ok := fs["cpu"]; ok {
		if v, ok := d.scalar(f, p.Attr("cpu")); ok && !isNull(f.valNode) {
			cpu, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(cpu) || math.IsInf(cpu, 0) {
				d.fail(f.valuePos, p.Attr("cpu"), "%q: cpu is a number of cores, e.g. 0.5", v)
				cpu = 0
			}
			s.CPU = cpu
		}
	}
	if f, ok := fs["memory"]; ok {
		if v, ok := d.scalar(f, p.Attr("memory")); ok && !isNull(f.valNode) {
			mb, err := ParseMemoryMB(v)
			if err != nil {
				d.fail(f.valuePos, p.Attr("memory"), "%v", err)
			}
			s.MemoryMB = mb
		}
	}
	if f, ok := fs["instances"]; ok {
		if v, ok := d.scalar(f, p.Attr("instances")); ok && !isNull(f.valNode) {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				d.fail(f.valuePos, p.Attr("instances"), "%q: instances is a whole number, e.g. 2", v)
			}
			s.Instances = n
		}
	}
	return &s
}

var memoryPattern = regexp.MustCompile(`^\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*$`)

// ParseMemoryMB reads a memory size in whole megabytes: "256MB", "1GB" (= 1024 MB), "256" or
// "512Mi". A number without unit is megabytes.
func ParseMemoryMB(s string) (int64, error) {
	m := memoryPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q: memory is a size such as 256MB or 1GB", s)
	}
	factor := map[string]float64{
		"": 1, "m": 1, "mb": 1, "mi": 1, "mib": 1,
		"g": 1024, "gb": 1024, "gi": 1024, "gib": 1024,
		"k": 1.0 / 1024, "kb": 1.0 / 1024, "ki": 1.0 / 1024, "kib": 1.0 / 1024,
	}[strings.ToLower(m[2])]
	if factor == 0 {
		return 0, fmt.Errorf("%q: unknown memory unit %q; use MB or GB, e.g. 256MB", s, m[2])
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v*factor > 1<<40 {
		return 0, fmt.Errorf("%q: memory is a size such as 256MB or 1GB", s)
	}
	mb := v * factor
	if mb != float64(int64(mb)) {
		return 0, fmt.Errorf("%q: memory must be a whole number of megabytes, e.g. 256MB", s)
	}
	return int64(mb), nil
}

func (d *decoder) healthChecks(e entry, p Path) []HealthCheck {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	items := []*yaml.Node{e.valuePos}
	single := true
	if n.Kind == yaml.SequenceNode {
		items, single = n.Content, false
	}
	out := make([]HealthCheck, 0, len(items))
	for i, item := range items {
		ip := p
		if !single {
			ip = p.Index(i)
		}
		fs, ok := d.fields(item, ip, "a health check mapping",
			"port", "path", "protocol", "initial_delay", "interval", "timeout", "failures")
		if !ok {
			continue
		}
		hc := HealthCheck{Failures: DefaultHealthCheckFailures}
		hc.Port, _ = d.scalar(fs["port"], ip.Attr("port"))
		hc.Path, _ = d.scalar(fs["path"], ip.Attr("path"))
		hc.Protocol, _ = d.scalar(fs["protocol"], ip.Attr("protocol"))
		hc.InitialDelay = d.duration(fs["initial_delay"], ip.Attr("initial_delay"))
		hc.Interval = d.duration(fs["interval"], ip.Attr("interval"))
		hc.Timeout = d.duration(fs["timeout"], ip.Attr("timeout"))
		if f, ok := fs["failures"]; ok && !isNull(f.valNode) {
			v, _ := d.scalar(f, ip.Attr("failures"))
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				d.fail(f.valuePos, ip.Attr("failures"), "%q: failures is a whole number, e.g. 3", v)
			}
			hc.Failures = n
		}
		out = append(out, hc)
	}
	return out
}

// duration reads "10s" or a number of seconds.
func (d *decoder) duration(e entry, p Path) string {
	v, ok := d.scalar(e, p)
	if !ok || v == "" {
		return ""
	}
	if e.valNode.ShortTag() == "!!int" {
		return strings.TrimSpace(v) + "s"
	}
	if _, err := time.ParseDuration(v); err != nil {
		d.fail(e.valuePos, p, "%q: a duration is a number with a unit, e.g. 10s or 1m", v)
	}
	return v
}

// marathon reads a JSON object, written as YAML or as a JSON string, to deep-merge into the
// service's Marathon app.
func (d *decoder) marathon(e entry, p Path) string {
	n := e.valNode
	if isNull(n) {
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		var obj map[string]any
		if err := json.Unmarshal([]byte(n.Value), &obj); err != nil {
			d.fail(e.valuePos, p, "marathon is a JSON object (or a YAML mapping) to merge into the Marathon app: %v", err)
			return ""
		}
		return n.Value
	}
	if n.Kind != yaml.MappingNode {
		d.fail(e.valuePos, p, "marathon is a mapping to merge into the Marathon app, found %s", kindName(n))
		return ""
	}
	var obj any
	if err := n.Decode(&obj); err != nil {
		d.fail(e.valuePos, p, "marathon: %v", err)
		return ""
	}
	data, err := json.Marshal(obj)
	if err != nil {
		d.fail(e.valuePos, p, "marathon must be expressible as JSON (string keys only): %v", err)
		return ""
	}
	return string(data)
}

// clusterGateways reads {webport: {sticky: route, routes: {sava:1.0.0: {weight: 50%}}}}.
func (d *decoder) clusterGateways(e entry, p Path) map[string]*ClusterGateway {
	es, _ := d.entries(e.valNode, p, "a mapping of port name to gateway")
	out := make(map[string]*ClusterGateway, len(es))
	for _, ge := range es {
		gp := p.Key(ge.key)
		g := &ClusterGateway{}
		out[ge.key] = g
		fs, ok := d.fields(ge.valNode, gp, "a gateway mapping (sticky, routes)", "sticky", "routes")
		if !ok {
			continue
		}
		g.Sticky, _ = d.scalar(fs["sticky"], gp.Attr("sticky"))
		if re, ok := fs["routes"]; ok {
			rp := gp.Attr("routes")
			routes, _ := d.entries(re.valNode, rp, "a mapping of service name to route, e.g. sava:1.0.0: {weight: 50%}")
			g.Routes = make(map[string]*Route, len(routes))
			for _, r := range routes {
				g.Routes[r.key] = d.route(r, rp.Key(r.key))
			}
		}
	}
	return out
}

// route reads {weight, condition, condition_strength}. A condition without a strength has
// strength 0%, as in Vamp.
func (d *decoder) route(e entry, p Path) *Route {
	r := &Route{}
	fs, ok := d.fields(e.valNode, p, "a route mapping (weight, condition, condition_strength)", "weight", "condition", "condition_strength")
	if !ok {
		return r
	}
	if f, ok := fs["weight"]; ok {
		r.Weight = d.percent(f, p.Attr("weight"), "weight")
	}
	if f, ok := fs["condition"]; ok {
		r.Condition, _ = d.scalar(f, p.Attr("condition"))
		if r.Condition != "" {
			if _, err := condition.Parse(r.Condition); err != nil {
				d.fail(f.valuePos, p.Attr("condition"), "%q: %v", r.Condition, err)
			}
		}
	}
	if f, ok := fs["condition_strength"]; ok {
		r.ConditionStrength = d.percent(f, p.Attr("condition_strength"), "condition_strength")
	}
	if r.Condition != "" && r.ConditionStrength == nil {
		r.ConditionStrength = Int64(0)
	}
	return r
}
