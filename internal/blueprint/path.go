package blueprint

import (
	"regexp"
	"strconv"
	"strings"
)

// StepKind tells which field of a PathStep is set.
type StepKind uint8

const (
	// StepAttr is an attribute (a YAML field): Attr is set.
	StepAttr StepKind = iota
	// StepKey is a map key: Key is set.
	StepKey
	// StepIndex is a list index: Index is set.
	StepIndex
)

// PathStep is one step of a Path.
type PathStep struct {
	Attr  string
	Key   string
	Index int
	Kind  StepKind
}

// Path locates a value in a blueprint, in terms of the vamp_deployment attributes (which use the
// same names as Vamp's YAML fields). Path values are never modified in place: Attr, Key and Index
// return a new Path.
type Path []PathStep

// Attr returns p extended by an attribute.
func (p Path) Attr(name string) Path { return p.with(PathStep{Kind: StepAttr, Attr: name}) }

// Key returns p extended by a map key.
func (p Path) Key(key string) Path { return p.with(PathStep{Kind: StepKey, Key: key}) }

// Index returns p extended by a list index.
func (p Path) Index(i int) Path { return p.with(PathStep{Kind: StepIndex, Index: i}) }

func (p Path) with(s PathStep) Path {
	out := make(Path, len(p), len(p)+1)
	copy(out, p)
	return append(out, s)
}

// String renders p the way Terraform shows attribute paths:
// `clusters["sava_cluster"].gateways["webport"].routes["sava:1.0.0"].weight`.
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		switch s.Kind {
		case StepAttr:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Attr)
		case StepKey:
			b.WriteString("[" + strconv.Quote(s.Key) + "]")
		case StepIndex:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		}
	}
	return b.String()
}

var bareYAMLKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// YAMLString renders p the way a YAML reader thinks of it:
// `clusters.sava_cluster.services[0].breed.ports.webport`. Keys that are not plain words are
// quoted in brackets: `routes["sava:1.0.0"]`.
func (p Path) YAMLString() string {
	var b strings.Builder
	for i, s := range p {
		switch {
		case s.Kind == StepIndex:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		case s.Kind == StepKey && !bareYAMLKey.MatchString(s.Key):
			b.WriteString("[" + strconv.Quote(s.Key) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Attr + s.Key)
		}
	}
	return b.String()
}

// FieldError is one validation fault: where it is, what is wrong (Summary) and how to fix it
// (Detail).
type FieldError struct {
	Path    Path
	Summary string
	Detail  string
}

func (e *FieldError) Error() string {
	return e.Path.String() + ": " + e.Summary + ": " + e.Detail
}
