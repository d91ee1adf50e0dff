package blueprint

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// YAMLError is one fault in a blueprint document, with where it is.
type YAMLError struct {
	Path   Path // empty for a fault of the document as a whole
	Line   int  // 1-based; 0 when unknown
	Column int  // 1-based; 0 when unknown
	Msg    string
	// Kind names the problem (Vamp's notification name where Vamp's reader finds it too); ""
	// for a fault of the YAML itself (a key that is not a value, aliases nested too deep).
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
	if e.Kind.Vamp() {
		b.WriteString(" (Vamp: " + string(e.Kind) + ")")
	}
	return b.String()
}

// YAMLErrors is every fault a reader found, in document order.
type YAMLErrors []*YAMLError

func (es YAMLErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

var yamlErrorLine = regexp.MustCompile(`line (\d+)`)

// yamlSyntaxError turns the YAML library's error into a YAMLError, keeping its line.
func yamlSyntaxError(err error) YAMLErrors {
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

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return true
		}
	}
	return false
}
