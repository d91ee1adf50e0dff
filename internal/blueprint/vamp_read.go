package blueprint

import (
	"bytes"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Artifacts are the Vamp artifacts a set of documents gives, by kind. A document's `kind` says
// what it is (blueprint when left out); a breed, scale or SLA referenced by name in a blueprint is
// looked up here by Resolve.
type Artifacts struct {
	Blueprints []*VampBlueprint
	Breeds     map[string]*VampBreed
	Scales     map[string]*Scale
	SLAs       map[string]*VampSLA
	Gateways   []*VampGateway
}

// ReadOptions change what the readers accept.
type ReadOptions struct {
	// Partial allows a blueprint without services and clusters that state only gateways: a
	// document merged into an earlier one states what changes.
	Partial bool
}

// ReadArtifacts reads every YAML document of doc (separated by ---) as the artifact its `kind`
// names: blueprint (the default), breed, scale, sla or gateway. Faults are YAMLErrors.
func ReadArtifacts(doc []byte, opts ReadOptions) (*Artifacts, error) {
	roots, err := decodeDocuments(doc)
	if err != nil {
		return nil, err
	}
	out := &Artifacts{Breeds: map[string]*VampBreed{}, Scales: map[string]*Scale{}, SLAs: map[string]*VampSLA{}}
	d := &decoder{flowKeys: true}
	for _, root := range roots {
		kind := artifactKind(root)
		switch kind {
		case "", "blueprint":
			if bp := d.vBlueprint(root, opts); bp != nil {
				out.Blueprints = append(out.Blueprints, bp)
			}
		case "breed":
			if b := d.vBreedDocument(root); b != nil {
				d.artifactName(root, has(out.Breeds, b.Name), b.Name)
				out.Breeds[b.Name] = b
			}
		case "scale":
			name, sc := d.vScaleDocument(root)
			if sc != nil {
				d.artifactName(root, has(out.Scales, name), name)
				out.Scales[name] = sc
			}
		case "sla":
			if s := d.vSLADocument(root); s != nil {
				d.artifactName(root, has(out.SLAs, s.Name), s.Name)
				out.SLAs[s.Name] = s
			}
		case "gateway":
			if g := d.vGatewayDocument(root); g != nil {
				out.Gateways = append(out.Gateways, g)
			}
		default:
			d.failKind(ErrInconsistentArtifactKind, root, Path{}.Attr("kind"),
				"%q: kind is blueprint, breed, scale, sla or gateway (or left out for a blueprint)", kind)
		}
	}
	if len(d.errs) > 0 {
		return nil, sortedErrs(d.errs)
	}
	return out, nil
}

// artifactName reports a second artifact of the same kind and name.
func (d *decoder) artifactName(root *yaml.Node, seen bool, name string) {
	if seen {
		d.failKind(ErrDuplicateKey, root, Path{}.Attr("name"), "%q is given twice; give each artifact once", name)
	}
}

func has[V any](m map[string]V, k string) bool { _, ok := m[k]; return ok }

// ReadBlueprint reads one document as Vamp's BlueprintReader does.
func ReadBlueprint(doc []byte) (*VampBlueprint, error) {
	return readOne(doc, func(d *decoder, root *yaml.Node) *VampBlueprint {
		d.checkKind(root, "blueprint")
		return d.vBlueprint(root, ReadOptions{})
	})
}

// ReadBreed reads one document as Vamp's BreedReader does.
func ReadBreed(doc []byte) (*VampBreed, error) {
	return readOne(doc, func(d *decoder, root *yaml.Node) *VampBreed {
		d.checkKind(root, "breed")
		return d.vBreedDocument(root)
	})
}

// ReadSLA reads one document as Vamp's SlaReader does.
func ReadSLA(doc []byte) (*VampSLA, error) {
	return readOne(doc, func(d *decoder, root *yaml.Node) *VampSLA {
		d.checkKind(root, "sla")
		return d.vSLADocument(root)
	})
}

// ReadGateway reads one document as Vamp's GatewayReader does.
func ReadGateway(doc []byte) (*VampGateway, error) {
	return readOne(doc, func(d *decoder, root *yaml.Node) *VampGateway {
		d.checkKind(root, "gateway")
		return d.vGatewayDocument(root)
	})
}

func readOne[T any](doc []byte, read func(*decoder, *yaml.Node) *T) (*T, error) {
	roots, err := decodeDocuments(doc)
	if err != nil {
		return nil, err
	}
	if len(roots) != 1 {
		return nil, YAMLErrors{{Kind: ErrUnexpectedType, Msg: "give one artifact in the document"}}
	}
	d := &decoder{flowKeys: true}
	out := read(d, roots[0])
	if len(d.errs) > 0 {
		return nil, sortedErrs(d.errs)
	}
	return out, nil
}

func decodeDocuments(doc []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var roots []*yaml.Node
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e := yamlSyntaxError(err)
			e[0].Kind = ErrYamlParsing
			return nil, e
		}
		if r := resolve(&root); r != nil && !isNull(r) {
			roots = append(roots, r)
		}
	}
	if len(roots) == 0 {
		return nil, YAMLErrors{{Kind: ErrYamlParsing, Msg: "the document is empty"}}
	}
	return roots, nil
}

func sortedErrs(errs YAMLErrors) YAMLErrors {
	out := append(YAMLErrors{}, errs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (out[j].Line < out[j-1].Line || (out[j].Line == out[j-1].Line && out[j].Column < out[j-1].Column)); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// artifactKind is the document's kind in the singular, lower case ("" when not stated).
func artifactKind(root *yaml.Node) string {
	if root == nil || root.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := resolve(root.Content[i]); k != nil && k.Value == "kind" {
			if v := resolve(root.Content[i+1]); v != nil && v.Kind == yaml.ScalarNode {
				return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v.Value)), "s")
			}
		}
	}
	return ""
}

// checkKind reports a document whose kind is not the reader's (Vamp: InconsistentArtifactKind).
func (d *decoder) checkKind(root *yaml.Node, want string) {
	if k := artifactKind(root); k != "" && k != want {
		d.failKind(ErrInconsistentArtifactKind, root, Path{}.Attr("kind"), "kind %q: this document is read as a %s; write kind: %ss or leave kind out", k, want, want)
	}
}

var (
	namePattern       = regexp.MustCompile(`^[^\s/\[\]]+$`)
	strictNamePattern = regexp.MustCompile(`^[^\s/\[\].]+$`)
	aliasPattern      = regexp.MustCompile(`^(.+?)(\[.+\])?$`)
)

// vname checks a name as Vamp's validateName: no whitespace, "/", "[" or "]".
func (d *decoder) vname(n *yaml.Node, p Path, name string) {
	if !namePattern.MatchString(name) {
		d.failKind(ErrIllegalName, n, p, "%q: a name has no spaces, \"/\", \"[\" or \"]\"", name)
	}
}

// vfields reads a mapping of named fields; an unknown field is Vamp's UnexpectedElement.
func (d *decoder) vfields(n *yaml.Node, p Path, what string, known ...string) map[string]entry {
	es, ok := d.ventries(n, p, what)
	if !ok {
		return nil
	}
	out := make(map[string]entry, len(es))
	for _, e := range es {
		if !contains(known, e.key) {
			d.failKind(ErrUnexpectedElement, e.keyNode, p.Attr(e.key), "unexpected field %q%s; the fields here are %s",
				e.key, suggest(e.key, known), strings.Join(known, ", "))
			continue
		}
		out[e.key] = e
	}
	return out
}

// ventries is entries with Vamp's kind for a value that is not a mapping.
func (d *decoder) ventries(n *yaml.Node, p Path, what string) ([]entry, bool) {
	if m := resolve(n); m != nil && !isNull(m) && m.Kind != yaml.MappingNode {
		d.failKind(ErrUnexpectedType, n, p, "expected %s, found %s", what, kindName(m))
		return nil, false
	}
	return d.entries(n, p, what)
}

// first returns the entry of the first of names present (Vamp's aliases: env for
// environment_variables, dialect for dialects).
func first(fs map[string]entry, names ...string) (entry, string, bool) {
	for _, n := range names {
		if e, ok := fs[n]; ok {
			return e, n, true
		}
	}
	return entry{}, "", false
}

// vstring reads a single value as text ("" and false for null); a mapping or list is
// UnexpectedTypeError.
func (d *decoder) vstring(e entry, p Path) (string, bool) {
	if isNull(e.valNode) {
		return "", false
	}
	if e.valNode.Kind != yaml.ScalarNode {
		d.failKind(ErrUnexpectedType, e.valuePos, p, "expected a single value, found %s", kindName(e.valNode))
		return "", false
	}
	return e.valNode.Value, true
}

// vrequired reads a required single value (MissingPathValueError when absent).
func (d *decoder) vrequired(fs map[string]entry, at *yaml.Node, p Path, name string) (string, bool) {
	e, ok := fs[name]
	if !ok || isNull(e.valNode) {
		d.failKind(ErrMissingPathValue, at, p.Attr(name), "%s is required", name)
		return "", false
	}
	return d.vstring(e, p.Attr(name))
}

func isScalar(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode && !isNull(n) }

// hasAny tells whether the mapping n has one of the keys.
func hasAny(n *yaml.Node, keys ...string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for _, k := range keys {
		if hasKey(n, k) {
			return true
		}
	}
	return false
}

// reference returns a mapping's `reference` (or `ref`) value.
func (d *decoder) reference(fs map[string]entry, p Path) (string, bool) {
	e, name, ok := first(fs, "reference", "ref")
	if !ok {
		return "", false
	}
	s, _ := d.vstring(e, p.Attr(name))
	d.vname(e.valuePos, p.Attr(name), s)
	return s, true
}

// metadata reads Vamp's free-form metadata mapping.
func (d *decoder) vmetadata(fs map[string]entry, p Path) map[string]any {
	e, ok := fs["metadata"]
	if !ok || isNull(e.valNode) {
		return nil
	}
	if e.valNode.Kind != yaml.MappingNode {
		d.failKind(ErrUnsupportedMetadata, e.valuePos, p.Attr("metadata"), "metadata is a mapping, found %s", kindName(e.valNode))
		return nil
	}
	return d.anyMap(e, p.Attr("metadata"))
}

// anyMap decodes a mapping into plain Go values (string keys).
func (d *decoder) anyMap(e entry, p Path) map[string]any {
	if isNull(e.valNode) {
		return nil
	}
	if e.valNode.Kind != yaml.MappingNode {
		d.failKind(ErrUnexpectedType, e.valuePos, p, "expected a mapping, found %s", kindName(e.valNode))
		return nil
	}
	var out map[string]any
	if err := e.valNode.Decode(&out); err != nil {
		d.failKind(ErrUnexpectedType, e.valuePos, p, "%v", err)
		return nil
	}
	return out
}

func (d *decoder) vdialects(fs map[string]entry, p Path) map[string]any {
	e, name, ok := first(fs, "dialects", "dialect")
	if !ok {
		return nil
	}
	return d.anyMap(e, p.Attr(name))
}

// ---- blueprint ----

var blueprintDocFields = []string{"name", "kind", "metadata", "clusters", "gateways", "environment_variables", "env", "dialects", "dialect"}

func (d *decoder) vBlueprint(root *yaml.Node, opts ReadOptions) *VampBlueprint {
	fs := d.vfields(root, nil, "a blueprint mapping (name, clusters, gateways)", blueprintDocFields...)
	if fs == nil {
		return nil
	}
	bp := &VampBlueprint{}
	if _, named := fs["name"]; !named && opts.Partial {
		// A document merged into a deployment takes the deployment's name.
	} else if name, ok := d.vrequired(fs, root, nil, "name"); ok {
		d.vname(fs["name"].valuePos, Path{}.Attr("name"), name)
		bp.Name = name
	}
	bp.Metadata = d.vmetadata(fs, nil)
	bp.Dialects = d.vdialects(fs, nil)
	if e, ok := fs["clusters"]; ok {
		p := Path{}.Attr("clusters")
		es, _ := d.ventries(e.valNode, p, "a mapping of cluster name to cluster")
		for _, ce := range es {
			if c := d.vCluster(ce, p.Key(ce.key), opts); c != nil {
				bp.Clusters = append(bp.Clusters, c)
			}
		}
	}
	if e, ok := fs["gateways"]; ok {
		bp.Gateways = d.vBlueprintGateways(e, Path{}.Attr("gateways"))
	}
	if e, name, ok := first(fs, "environment_variables", "env"); ok {
		bp.Environment = d.traits(e, Path{}.Attr(name), false)
	}
	errsBefore := len(d.errs)
	if errsBefore == 0 {
		d.validateBlueprint(bp, root, opts)
	}
	return bp
}

var clusterFields = []string{"services", "gateways", "health_checks", "network", "sla", "dialects", "dialect", "metadata"}

// vCluster reads a cluster: a breed name, a list of services, or a mapping. A mapping without
// services is one service written in place (everything but gateways and sla belongs to it).
func (d *decoder) vCluster(e entry, p Path, opts ReadOptions) *VampCluster {
	c := &VampCluster{Name: e.key, path: p, node: e.keyNode}
	d.vname(e.keyNode, p, e.key)
	n := e.valNode
	switch {
	case isNull(n):
		if !opts.Partial {
			d.failKind(ErrMissingPathValue, e.keyNode, p, "cluster %q is empty; give a breed, e.g. %s: sava:1.0.0", e.key, e.key)
		}
		return c
	case n.Kind == yaml.ScalarNode:
		c.Services = []*VampService{d.vService(e, p.Attr("services").Index(0))}
		return c
	case n.Kind == yaml.SequenceNode:
		c.Services = d.vServices(e, p.Attr("services"))
		return c
	case n.Kind != yaml.MappingNode:
		d.failKind(ErrUnexpectedType, e.valuePos, p, "expected a cluster, found %s", kindName(n))
		return c
	}
	if !hasKey(n, "services") {
		// The cluster is one service: gateways and sla stay with the cluster.
		all, _ := d.ventries(n, p, "a cluster mapping")
		var rest []*yaml.Node
		for _, ce := range all {
			switch ce.key {
			case "gateways":
				c.Gateways = d.vInternalGateways(ce, p.Attr("gateways"))
			case "sla":
				c.SLA = d.vSLA(ce, p.Attr("sla"))
			default:
				rest = append(rest, ce.keyNode, ce.valuePos)
			}
		}
		if len(rest) == 0 {
			if !opts.Partial {
				d.failKind(ErrMissingPathValue, e.keyNode, p.Attr("services"), "cluster %q has no service; add services: [{breed: ...}]", e.key)
			}
			return c
		}
		svc := &yaml.Node{Kind: yaml.MappingNode, Content: rest, Line: n.Line, Column: n.Column}
		c.Services = []*VampService{d.vService(entry{valNode: svc, valuePos: svc, keyNode: e.keyNode}, p)}
		return c
	}
	fs := d.vfields(n, p, "a cluster mapping (services, gateways, sla, health_checks)", clusterFields...)
	c.Metadata = d.vmetadata(fs, p)
	c.Dialects = d.vdialects(fs, p)
	if se, ok := fs["services"]; ok {
		c.Services = d.vServices(se, p.Attr("services"))
	}
	if ge, ok := fs["gateways"]; ok {
		c.Gateways = d.vInternalGateways(ge, p.Attr("gateways"))
	}
	if he, ok := fs["health_checks"]; ok {
		c.HealthChecks = d.vHealthChecks(he, p.Attr("health_checks"))
	}
	if ne, ok := fs["network"]; ok {
		c.Network, _ = d.vstring(ne, p.Attr("network"))
	}
	if se, ok := fs["sla"]; ok {
		c.SLA = d.vSLA(se, p.Attr("sla"))
	}
	return c
}

// vServices reads a list of services, one service mapping or a bare breed name.
func (d *decoder) vServices(e entry, p Path) []*VampService {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return []*VampService{d.vService(e, p.Index(0))}
	}
	var out []*VampService
	for i, item := range n.Content {
		out = append(out, d.vService(entry{valNode: d.follow(item), valuePos: item}, p.Index(i)))
	}
	return out
}

var serviceDocFields = []string{"breed", "environment_variables", "env", "scale", "arguments", "health_checks", "network", "dialects", "dialect", "health"}

// vService reads a service: a breed name, {breed: ..., scale: ...}, a breed written in place
// ({name: ..., deployable: ...}), or {reference: BREED, scale: ...}.
func (d *decoder) vService(e entry, p Path) *VampService {
	s := &VampService{path: p, node: e.valuePos}
	n := e.valNode
	switch {
	case isNull(n):
		d.failKind(ErrMissingPathValue, e.valuePos, p.Attr("breed"), "empty service; give a breed")
		return s
	case n.Kind == yaml.ScalarNode:
		s.Breed = &VampBreed{Ref: n.Value, path: p.Attr("breed"), node: e.valuePos}
		d.vname(e.valuePos, p.Attr("breed"), n.Value)
		return s
	case n.Kind != yaml.MappingNode:
		d.failKind(ErrUnexpectedType, e.valuePos, p, "expected a service, found %s", kindName(n))
		return s
	}
	if !hasKey(n, "breed") {
		if hasKey(n, "name") {
			// The whole mapping is the breed.
			s.Breed = d.vBreed(entry{valNode: n, valuePos: e.valuePos}, p.Attr("breed"))
			return s
		}
		if hasAny(n, "reference", "ref") {
			fs := d.vfields(n, p, "a service mapping", append([]string{"reference", "ref"}, serviceDocFields...)...)
			ref, _ := d.reference(fs, p)
			s.Breed = &VampBreed{Ref: ref, path: p.Attr("breed")}
			d.vServiceFields(s, fs, p)
			return s
		}
	}
	fs := d.vfields(n, p, "a service mapping (breed, scale, environment_variables, arguments, health_checks)", serviceDocFields...)
	if fs == nil {
		return s
	}
	if be, ok := fs["breed"]; ok {
		s.Breed = d.vBreedOrRef(be, p.Attr("breed"))
	} else {
		d.failKind(ErrMissingPathValue, e.valuePos, p.Attr("breed"), "the service has no breed; add breed: NAME or breed: {name: ..., deployable: ...}")
	}
	d.vServiceFields(s, fs, p)
	return s
}

func (d *decoder) vServiceFields(s *VampService, fs map[string]entry, p Path) {
	if e, name, ok := first(fs, "environment_variables", "env"); ok {
		s.Environment = d.traits(e, p.Attr(name), false)
	}
	if e, ok := fs["scale"]; ok {
		s.Scale = d.vScale(e, p.Attr("scale"))
	}
	if e, ok := fs["arguments"]; ok {
		s.Arguments = d.arguments(e, p.Attr("arguments"))
	}
	if e, ok := fs["health_checks"]; ok {
		s.HealthChecks = d.vHealthChecks(e, p.Attr("health_checks"))
	}
	if e, ok := fs["network"]; ok {
		s.Network, _ = d.vstring(e, p.Attr("network"))
	}
	s.Dialects = d.vdialects(fs, p)
}

// vBreedOrRef reads a breed name, {reference: NAME} or a breed written out.
func (d *decoder) vBreedOrRef(e entry, p Path) *VampBreed {
	n := e.valNode
	if isScalar(n) {
		d.vname(e.valuePos, p, n.Value)
		return &VampBreed{Ref: n.Value, path: p}
	}
	if n != nil && hasAny(n, "reference", "ref") {
		fs := d.vfields(n, p, "a breed reference", "reference", "ref")
		ref, _ := d.reference(fs, p)
		return &VampBreed{Ref: ref, path: p}
	}
	return d.vBreed(e, p)
}

var breedDocFields = []string{"name", "kind", "metadata", "deployable", "ports", "environment_variables", "env", "constants", "arguments", "dependencies", "health_checks"}

func (d *decoder) vBreedDocument(root *yaml.Node) *VampBreed {
	b := d.vBreed(entry{valNode: root, valuePos: root}, nil)
	if b != nil && len(d.errs) == 0 {
		d.validateBreed(b)
	}
	return b
}

// vBreed reads a breed written out.
func (d *decoder) vBreed(e entry, p Path) *VampBreed {
	b := &VampBreed{path: p, node: e.valuePos}
	fs := d.vfields(e.valNode, p, "a breed mapping (name, deployable, ports, environment_variables)", breedDocFields...)
	if fs == nil {
		if isNull(e.valNode) {
			d.failKind(ErrMissingPathValue, e.valuePos, p, "empty breed; give a name or a breed")
		}
		return b
	}
	if name, ok := d.vrequired(fs, e.valuePos, p, "name"); ok {
		d.vname(fs["name"].valuePos, p.Attr("name"), name)
		b.Name = name
	}
	b.Metadata = d.vmetadata(fs, p)
	if de, ok := fs["deployable"]; ok && !isNull(de.valNode) {
		dp := p.Attr("deployable")
		if isScalar(de.valNode) {
			b.Deployable.Definition = de.valNode.Value
		} else {
			dfs := d.vfields(de.valNode, dp, "a deployable (type, definition)", "type", "definition")
			if dfs != nil {
				if t, ok := dfs["type"]; ok {
					b.Deployable.Type, _ = d.vstring(t, dp.Attr("type"))
				}
				b.Deployable.Definition, _ = d.vrequired(dfs, de.valuePos, dp, "definition")
			}
		}
	} else {
		d.failKind(ErrMissingPathValue, e.valuePos, p.Attr("deployable").Attr("definition"),
			"breed %q has no deployable; give a docker image, e.g. deployable: magneticio/sava:1.0.0", b.Name)
	}
	if pe, ok := fs["ports"]; ok {
		b.Ports = d.traits(pe, p.Attr("ports"), false)
	}
	if ee, name, ok := first(fs, "environment_variables", "env"); ok {
		b.Environment = d.traits(ee, p.Attr(name), true)
	}
	if ce, ok := fs["constants"]; ok {
		b.Constants = d.traits(ce, p.Attr("constants"), false)
	}
	if ae, ok := fs["arguments"]; ok {
		b.Arguments = d.arguments(ae, p.Attr("arguments"))
	}
	if he, ok := fs["health_checks"]; ok {
		b.HealthChecks = d.vHealthChecks(he, p.Attr("health_checks"))
	}
	if de, ok := fs["dependencies"]; ok {
		dp := p.Attr("dependencies")
		es, _ := d.ventries(de.valNode, dp, "a mapping of alias to breed")
		for _, dep := range es {
			ap := dp.Key(dep.key)
			var db *VampBreed
			switch n := dep.valNode; {
			case isNull(n):
				d.failKind(ErrMissingPathValue, dep.keyNode, ap, "dependency %q names no breed", dep.key)
				continue
			case n.Kind == yaml.MappingNode && hasKey(n, "breed"):
				fs := d.vfields(n, ap, "a dependency mapping (breed)", "breed")
				db = d.vBreedOrRef(fs["breed"], ap.Attr("breed"))
			default:
				db = d.vBreedOrRef(dep, ap)
			}
			b.Dependencies = append(b.Dependencies, Dependency{Alias: dep.key, Breed: db})
		}
	}
	return b
}

// traits reads ports, environment variables or constants: NAME[ALIAS]: value. With keepAlias
// false the alias is read and dropped, as Vamp does outside a breed.
func (d *decoder) traits(e entry, p Path, keepAlias bool) []Trait {
	es, _ := d.ventries(e.valNode, p, "a mapping of name to value")
	var out []Trait
	for _, te := range es {
		tp := p.Key(te.key)
		if n := te.valNode; n != nil && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) {
			d.failKind(ErrMalformedTrait, te.valuePos, tp, "%q: a value is a single value, found %s", te.key, kindName(n))
			continue
		}
		m := aliasPattern.FindStringSubmatch(te.key)
		t := Trait{Name: te.key, node: te.valuePos, path: tp}
		if m != nil {
			t.Name = m[1]
			if m[2] != "" && keepAlias {
				t.Alias = m[2][1 : len(m[2])-1]
			}
		}
		if !isNull(te.valNode) {
			v := te.valNode.Value
			t.Value = &v
		}
		out = append(out, t)
	}
	return out
}

// arguments reads a list of single-key mappings, a mapping (one argument per key) or one value.
func (d *decoder) arguments(e entry, p Path) []Argument {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	one := func(item *yaml.Node, ip Path) []Argument {
		es, ok := d.entries(item, ip, "an argument mapping")
		if !ok || len(es) != 1 || isNull(es[0].valNode) || es[0].valNode.Kind != yaml.ScalarNode {
			d.failKind(ErrInvalidArgument, item, ip, "an argument is one KEY: VALUE, e.g. - privileged: true")
			return nil
		}
		return []Argument{{Key: es[0].key, Value: es[0].valNode.Value}}
	}
	switch n.Kind {
	case yaml.SequenceNode:
		var out []Argument
		for i, item := range n.Content {
			if r := d.follow(item); r == nil || r.Kind != yaml.MappingNode {
				d.failKind(ErrInvalidArgument, item, p.Index(i), "an argument is one KEY: VALUE, e.g. - privileged: true")
				continue
			}
			out = append(out, one(d.follow(item), p.Index(i))...)
		}
		return out
	case yaml.MappingNode:
		es, _ := d.entries(n, p, "a mapping of arguments")
		var out []Argument
		for _, ae := range es {
			if isNull(ae.valNode) || ae.valNode.Kind != yaml.ScalarNode {
				d.failKind(ErrInvalidArgument, ae.valuePos, p.Key(ae.key), "an argument is one KEY: VALUE, e.g. privileged: true")
				continue
			}
			out = append(out, Argument{Key: ae.key, Value: ae.valNode.Value})
		}
		return out
	}
	d.failKind(ErrInvalidArgument, e.valuePos, p, "arguments are KEY: VALUE pairs, e.g. - privileged: true")
	return nil
}

var healthCheckFields = []string{"path", "port", "initial_delay", "timeout", "interval", "failures", "protocol"}

// vHealthChecks reads one health check or a list: path defaults to /, protocol to HTTP.
func (d *decoder) vHealthChecks(e entry, p Path) []HealthCheck {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	items, single := []*yaml.Node{e.valuePos}, true
	if n.Kind == yaml.SequenceNode {
		items, single = n.Content, false
	}
	out := []HealthCheck{}
	for i, item := range items {
		ip := p
		if !single {
			ip = p.Index(i)
		}
		fs := d.vfields(item, ip, "a health check mapping", healthCheckFields...)
		if fs == nil {
			continue
		}
		hc := HealthCheck{Path: "/", Protocol: "HTTP"}
		if v, ok := fs["path"]; ok {
			if s, ok := d.vstring(v, ip.Attr("path")); ok {
				hc.Path = s
			}
		}
		if v, ok := fs["protocol"]; ok {
			if s, ok := d.vstring(v, ip.Attr("protocol")); ok {
				hc.Protocol = s
			}
		}
		// Vamp requires the port, timings and failures; here they default as in vamp_deployment
		// (Normalize: the breed's only port), so that a check may state only its path.
		if e, ok := fs["port"]; ok {
			hc.Port, _ = d.vstring(e, ip.Attr("port"))
		}
		for _, f := range []struct {
			name string
			to   *string
		}{{"initial_delay", &hc.InitialDelay}, {"timeout", &hc.Timeout}, {"interval", &hc.Interval}} {
			if e, ok := fs[f.name]; ok {
				if s, ok := d.vstring(e, ip.Attr(f.name)); ok {
					dur, err := vampTime(s)
					if err != nil {
						d.failKind(ErrUnexpectedType, e.valuePos, ip.Attr(f.name), "%q: %v", s, err)
					}
					*f.to = dur
				}
			}
		}
		hc.Failures = DefaultHealthCheckFailures
		if e, ok := fs["failures"]; ok {
			if s, ok := d.vstring(e, ip.Attr("failures")); ok {
				v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					d.failKind(ErrUnexpectedType, e.valuePos, ip.Attr("failures"), "%q: failures is a whole number, e.g. 3", s)
				}
				hc.Failures = v
			}
		}
		out = append(out, hc)
	}
	return out
}

var timePattern = regexp.MustCompile(`^\s*(\d+)\s*([a-zA-Z]*)\s*$`)

// vampTime reads Vamp's time: "30s", "1m", "2h" or a number of seconds, as a Go duration.
func vampTime(s string) (string, error) {
	m := timePattern.FindStringSubmatch(s)
	if m == nil {
		return "", errors.New("a time is a whole number with a unit, e.g. 10s or 1m")
	}
	unit := map[string]string{"": "s", "s": "s", "sec": "s", "second": "s", "seconds": "s",
		"m": "m", "min": "m", "minute": "m", "minutes": "m", "h": "h", "hour": "h", "hours": "h"}[strings.ToLower(m[2])]
	if unit == "" {
		return "", errors.New("unknown time unit; use s, m or h, e.g. 10s")
	}
	return m[1] + unit, nil
}

// vScale reads a scale reference (a name, or {reference: NAME}) or a scale written out.
func (d *decoder) vScale(e entry, p Path) *VampScale {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	if isScalar(n) {
		d.vname(e.valuePos, p, n.Value)
		return &VampScale{Ref: n.Value}
	}
	fs := d.vfields(n, p, "a scale mapping (cpu, memory, instances) or a scale name", "name", "reference", "ref", "cpu", "memory", "instances", "metadata")
	if fs == nil {
		return nil
	}
	_, named := fs["name"]
	if ref, ok := d.reference(fs, p); ok {
		return &VampScale{Ref: ref}
	}
	if named {
		d.failKind(ErrEitherReferenceOrAnonymous, e.valuePos, p.Attr("name"), "a scale in a service is written out without a name, or referenced with reference: NAME")
	}
	return &VampScale{Scale: d.scaleFields(fs, p)}
}

// scaleFields reads cpu, memory and instances. Vamp requires cpu and memory; here a field left
// out takes DefaultScale's value, as in vamp_deployment.
func (d *decoder) scaleFields(fs map[string]entry, p Path) Scale {
	sc := DefaultScale
	if e, ok := fs["cpu"]; ok {
		if s, ok := d.vstring(e, p.Attr("cpu")); ok {
			cpu, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(cpu) || math.IsInf(cpu, 0) {
				d.failKind(ErrUnexpectedType, e.valuePos, p.Attr("cpu"), "%q: cpu is a number of cores, e.g. 0.5", s)
			}
			sc.CPU = cpu
		}
	}
	if e, ok := fs["memory"]; ok {
		if s, ok := d.vstring(e, p.Attr("memory")); ok {
			mb, err := ParseMemoryMB(s)
			if err != nil {
				d.failKind(ErrUnexpectedType, e.valuePos, p.Attr("memory"), "%v", err)
			}
			sc.MemoryMB = mb
		}
	}
	if e, ok := fs["instances"]; ok {
		if s, ok := d.vstring(e, p.Attr("instances")); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				d.failKind(ErrUnexpectedType, e.valuePos, p.Attr("instances"), "%q: instances is a whole number, e.g. 2", s)
			}
			sc.Instances = v
		}
	}
	return sc
}

func (d *decoder) vScaleDocument(root *yaml.Node) (string, *Scale) {
	fs := d.vfields(root, nil, "a scale mapping (name, cpu, memory, instances)", "name", "kind", "cpu", "memory", "instances", "metadata")
	if fs == nil {
		return "", nil
	}
	name, _ := d.vrequired(fs, root, nil, "name")
	sc := d.scaleFields(fs, nil)
	return name, &sc
}

// ---- gateways ----

var percentPattern = regexp.MustCompile(`^\s*(-?\d+)\s*%?\s*$`)

// vpercent reads Vamp's percentage: 50, "50%" or "50 %".
func (d *decoder) vpercent(e entry, p Path) *int64 {
	s, ok := d.vstring(e, p)
	if !ok {
		return nil
	}
	m := percentPattern.FindStringSubmatch(s)
	if m == nil {
		d.failKind(ErrUnexpectedType, e.valuePos, p, "%q: a percentage is a whole number, e.g. 50%%", s)
		return nil
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		d.failKind(ErrUnexpectedType, e.valuePos, p, "%q: a percentage is a whole number, e.g. 50%%", s)
		return nil
	}
	return &v
}

// portType reads "8080", "8080/http" or "8080/tcp" into number and type ("web": 0, http).
func portType(s string) (int, string, error) {
	num, proto, hasProto := strings.Cut(strings.TrimSpace(s), "/")
	typ := "http"
	if hasProto {
		typ = strings.ToLower(strings.TrimSpace(proto))
		if typ != "http" && typ != "tcp" {
			return 0, "", errors.New("the port type is http or tcp, e.g. 8080/tcp")
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil {
		n = 0 // a port named, not numbered ("web"): number 0, as documented above
	}
	return n, typ, nil
}

var gatewayFields = []string{"name", "kind", "metadata", "port", "service", "sticky", "virtual_hosts", "selector", "routes", "deployed", "internal", "proxy"}

// vBlueprintGateways reads the blueprint gateways: PORT: CLUSTER/PORT or PORT: {routes: ...},
// the key a port number with an optional type (8080/tcp), or a name with a port field.
func (d *decoder) vBlueprintGateways(e entry, p Path) []*VampGateway {
	es, _ := d.ventries(e.valNode, p, "a mapping of port to gateway")
	var out []*VampGateway
	for _, ge := range es {
		gp := p.Key(ge.key)
		g := &VampGateway{Port: ge.key, path: gp, node: ge.keyNode}
		value := ge.key
		if isScalar(ge.valNode) || isNull(ge.valNode) {
			s, _ := d.vstring(ge, gp)
			g.Routes = []*VampRoute{{Path: s}}
		} else {
			fs := d.vfields(ge.valNode, gp, "a gateway mapping (routes, sticky, virtual_hosts)", gatewayFields...)
			if fs == nil {
				continue
			}
			if pe, ok := fs["port"]; ok {
				value, _ = d.vstring(pe, gp.Attr("port"))
			}
			d.gatewayFields(g, fs, gp)
		}
		n, typ, err := portType(value)
		if err != nil {
			d.failKind(ErrUnexpectedType, ge.keyNode, gp, "%q: %v", value, err)
		}
		g.Number, g.Type = n, typ
		if n, _, _ := portType(ge.key); n != 0 {
			g.Port = strconv.Itoa(n)
		}
		d.validateGateway(g, ge.keyNode)
		out = append(out, g)
	}
	return out
}

// gatewayFields reads sticky, virtual_hosts, routes and metadata.
func (d *decoder) gatewayFields(g *VampGateway, fs map[string]entry, gp Path) {
	if _, ok := fs["name"]; ok {
		d.failKind(ErrNotAnonymous, fs["name"].keyNode, gp.Attr("name"), "a gateway in a blueprint has no name of its own")
	}
	g.Metadata = d.vmetadata(fs, gp)
	if se, ok := fs["sticky"]; ok {
		if s, ok := d.vstring(se, gp.Attr("sticky")); ok && s != "none" {
			if s != StickyRoute && s != StickyInstance {
				d.failKind(ErrIllegalGatewayStickyValue, se.valuePos, gp.Attr("sticky"), "%q: sticky is route, instance or none", s)
			}
			if s != "none" {
				g.Sticky = s
			}
		}
	}
	if ve, ok := fs["virtual_hosts"]; ok && !isNull(ve.valNode) {
		items := []*yaml.Node{ve.valNode}
		if ve.valNode.Kind == yaml.SequenceNode {
			items = ve.valNode.Content
		}
		for _, it := range items {
			it = d.follow(it)
			if it == nil || it.Kind != yaml.ScalarNode || it.ShortTag() != "!!str" {
				d.failKind(ErrIllegalGatewayVirtualHosts, ve.valuePos, gp.Attr("virtual_hosts"), "virtual hosts are host names, e.g. [\"sava.example.com\"]")
				continue
			}
			g.VirtualHosts = append(g.VirtualHosts, it.Value)
		}
	}
	if re, ok := fs["routes"]; ok {
		g.Routes = d.vRoutes(re, gp.Attr("routes"))
	}
	if se, ok := fs["selector"]; ok {
		if s, ok := d.vstring(se, gp.Attr("selector")); ok && strings.TrimSpace(s) != "" {
			d.validateSelector(se.valuePos, gp.Attr("selector"), s)
		}
	}
}

// vRoutes reads routes: one path, a list of paths or {path: route}, or a mapping path → route.
func (d *decoder) vRoutes(e entry, p Path) []*VampRoute {
	n := e.valNode
	var out []*VampRoute
	add := func(path string, re entry, rp Path) { out = append(out, d.vRoute(path, re, rp)) }
	switch {
	case isNull(n):
	case n.Kind == yaml.ScalarNode:
		out = append(out, &VampRoute{Path: n.Value})
	case n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			r := d.follow(item)
			if isScalar(r) {
				out = append(out, &VampRoute{Path: r.Value})
				continue
			}
			es, _ := d.ventries(item, p.Index(i), "a route")
			for _, re := range es {
				add(re.key, re, p.Key(re.key))
			}
		}
	default:
		es, _ := d.ventries(n, p, "a mapping of path to route")
		for _, re := range es {
			add(re.key, re, p.Key(re.key))
		}
	}
	return out
}

var routeFields = []string{"name", "reference", "ref", "metadata", "selector", "weight", "condition", "condition_strength", "rewrites", "balance", "lookup_name", "targets"}

// vRoute reads a route: a reference to a route by name, or {weight, condition, ...}.
func (d *decoder) vRoute(path string, e entry, p Path) *VampRoute {
	r := &VampRoute{Path: path}
	n := e.valNode
	if isNull(n) {
		return r
	}
	if isScalar(n) {
		r.Ref = n.Value
		return r
	}
	fs := d.vfields(n, p, "a route mapping (weight, condition, condition_strength)", routeFields...)
	if fs == nil {
		return r
	}
	_, named := fs["name"]
	if ref, ok := d.reference(fs, p); ok {
		r.Ref = ref
		return r
	}
	if named {
		d.failKind(ErrEitherReferenceOrAnonymous, fs["name"].keyNode, p.Attr("name"), "a route is written out without a name, or referenced with reference: NAME")
	}
	if f, ok := fs["weight"]; ok {
		r.Weight = d.vpercent(f, p.Attr("weight"))
	}
	if f, ok := fs["condition_strength"]; ok {
		r.ConditionStrength = d.vpercent(f, p.Attr("condition_strength"))
	}
	if f, ok := fs["condition"]; ok && !isNull(f.valNode) {
		cp := p.Attr("condition")
		if isScalar(f.valNode) {
			r.Condition = f.valNode.Value
		} else if cfs := d.vfields(f.valNode, cp, "a condition (condition, or reference)", "name", "condition", "reference", "ref", "metadata"); cfs != nil {
			if ref, ok := d.reference(cfs, cp); ok {
				r.ConditionRef = ref
			} else if ce, ok := cfs["condition"]; ok {
				r.Condition, _ = d.vstring(ce, cp.Attr("condition"))
			} else {
				d.failKind(ErrMissingPathValue, f.valuePos, cp.Attr("condition"), "a condition needs condition: EXPRESSION or reference: NAME")
			}
		}
	}
	if f, ok := fs["balance"]; ok {
		if s, ok := d.vstring(f, p.Attr("balance")); ok && s != "default" {
			r.Balance = s
		}
	}
	if f, ok := fs["rewrites"]; ok && !isNull(f.valNode) {
		items := []*yaml.Node{f.valuePos}
		if f.valNode.Kind == yaml.SequenceNode {
			items = f.valNode.Content
		}
		for i, it := range items {
			ip := p.Attr("rewrites").Index(i)
			rn := d.follow(it)
			if isScalar(rn) {
				r.Rewrites = append(r.Rewrites, "ref:"+rn.Value)
				continue
			}
			rfs := d.vfields(rn, ip, "a rewrite (path: ...)", "name", "path", "reference", "ref")
			if rfs == nil {
				continue
			}
			if ref, ok := d.reference(rfs, ip); ok {
				r.Rewrites = append(r.Rewrites, "ref:"+ref)
				continue
			}
			def, ok := d.vrequired(rfs, it, ip, "path")
			if ok && !pathRewritePattern.MatchString(def) {
				d.failKind(ErrUnsupportedPathRewrite, rfs["path"].valuePos, ip.Attr("path"), "%q: a path rewrite is REPLACEMENT if CONDITION, e.g. /new if ^/old$", def)
			}
			r.Rewrites = append(r.Rewrites, def)
		}
	}
	if f, ok := fs["selector"]; ok {
		if s, ok := d.vstring(f, p.Attr("selector")); ok && strings.TrimSpace(s) != "" {
			d.validateSelector(f.valuePos, p.Attr("selector"), s)
			switch segs := gatewayPathSegments(path); {
			case strings.HasPrefix(path, "["):
				d.failKind(ErrRouteSelectorExternalTarget, f.valuePos, p.Attr("selector"), "a route to an external target %s has no selector", path)
			case len(segs) != 1:
				d.failKind(ErrRouteSelectorOnlyRoute, f.valuePos, p.Attr("selector"), "%q: a route with a selector has a one-part path", path)
			}
		}
	}
	return r
}

var pathRewritePattern = regexp.MustCompile(`^(.+)\sif\s(.+)$`)

// vInternalGateways reads a cluster's gateways: PORTNAME: {sticky, routes, virtual_hosts}, or
// one gateway of the cluster's only port written directly ({sticky, routes}).
func (d *decoder) vInternalGateways(e entry, p Path) []*VampGateway {
	n := e.valNode
	if isNull(n) {
		return nil
	}
	if n.Kind == yaml.MappingNode && hasAny(n, "sticky", "routes") {
		g := &VampGateway{Type: "http", path: p, node: e.keyNode}
		fs := d.vfields(n, p, "a gateway mapping (sticky, routes)", gatewayFields...)
		if fs != nil {
			d.internalGateway(g, fs, p)
		}
		return []*VampGateway{g}
	}
	es, _ := d.ventries(n, p, "a mapping of port name to gateway")
	var out []*VampGateway
	for _, ge := range es {
		gp := p.Key(ge.key)
		g := &VampGateway{Port: ge.key, Type: "http", path: gp, node: ge.keyNode}
		fs := d.vfields(ge.valNode, gp, "a gateway mapping (sticky, routes, virtual_hosts)", gatewayFields...)
		if fs != nil {
			d.internalGateway(g, fs, gp)
		}
		out = append(out, g)
	}
	return out
}

func (d *decoder) internalGateway(g *VampGateway, fs map[string]entry, gp Path) {
	if pe, ok := fs["port"]; ok {
		d.failKind(ErrUnexpectedElement, pe.keyNode, gp.Attr("port"), "a cluster gateway is keyed by the breed port's name; it has no port field")
		delete(fs, "port")
	}
	d.gatewayFields(g, fs, gp)
}

var (
	selectorTerm = regexp.MustCompile(`([a-z_]+)\(((?:[^()]|\([^()]*\))*)\)(?:\(((?:[^()]|\([^()]*\))*)\))?`)
	selectorGlue = regexp.MustCompile(`^(?:\s|\(|\)|!|&&|\|\||\band\b|\bor\b|\bnot\b|#)*$`)
)

// validateSelector checks a route selector: terms such as label(app)(sava), id(.*) or
// image(magneticio/.*) (each argument a regular expression) joined by and, or, not and parentheses.
func (d *decoder) validateSelector(n *yaml.Node, p Path, s string) {
	bad := false
	glue := selectorTerm.ReplaceAllStringFunc(s, func(term string) string {
		m := selectorTerm.FindStringSubmatch(term)
		args := 1
		switch m[1] {
		case "label":
			args = 2
		case "id", "name", "kind", "namespace", "image", "host", "port", "ip":
		default:
			bad = true
		}
		if (args == 2) != (strings.HasPrefix(term[len(m[1])+len(m[2])+2:], "(")) {
			bad = true
		}
		for _, a := range []string{m[2], m[3]} {
			if _, err := regexp.Compile(a); err != nil {
				bad = true
			}
		}
		return "#"
	})
	if bad || !selectorGlue.MatchString(glue) {
		d.failKind(ErrInvalidSelector, n, p, "%q: a selector is terms such as label(app)(sava), id(.*) or image(magneticio/.*) joined by and, or, not", s)
	}
}

func (d *decoder) vGatewayDocument(root *yaml.Node) *VampGateway {
	fs := d.vfields(root, nil, "a gateway mapping (name, port, routes)", gatewayFields...)
	if fs == nil {
		return nil
	}
	g := &VampGateway{}
	name, ok := d.vrequired(fs, root, nil, "name")
	if ok {
		if !regexp.MustCompile(`^[^\s\[\]]+$`).MatchString(name) || len(strings.Split(name, "/")) > 4 {
			d.failKind(ErrUnsupportedGatewayName, fs["name"].valuePos, Path{}.Attr("name"), "%q: a gateway name has no spaces or brackets and at most 4 parts separated by /", name)
		}
	}
	delete(fs, "name")
	value := ""
	if pe, ok := fs["port"]; ok {
		value, _ = d.vstring(pe, Path{}.Attr("port"))
	}
	n, typ, err := portType(value)
	if err != nil {
		d.failKind(ErrUnexpectedType, fs["port"].valuePos, Path{}.Attr("port"), "%q: %v", value, err)
	}
	g.Port, g.Number, g.Type = name, n, typ
	if se, ok := fs["service"]; ok {
		sfs := d.vfields(se.valNode, Path{}.Attr("service"), "a service (host, port)", "host", "port")
		if sfs != nil {
			d.vrequired(sfs, se.valuePos, Path{}.Attr("service"), "host")
			d.vrequired(sfs, se.valuePos, Path{}.Attr("service"), "port")
		}
	}
	d.gatewayFields(g, fs, nil)
	d.validateGateway(g, root)
	return g
}
