package emulator

import (
	"fmt"
	"slices"
	"strings"
)

// labelSelector is the ?label= filter of GET /v2/apps (apps.raml): comma
// separated selectors that must all hold, each one of "key", "key==value",
// "key!=value", "key in (a, b)" or "key notin (a, b)".
type labelSelector []labelRequirement

type labelRequirement struct {
	key    string
	op     string // "exists", "==", "!=", "in", "notin"
	values []string
}

func parseLabelSelector(s string) (labelSelector, error) {
	var sel labelSelector
	for _, part := range splitTopLevel(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		req, err := parseRequirement(part)
		if err != nil {
			return nil, err
		}
		sel = append(sel, req)
	}
	return sel, nil
}

// splitTopLevel splits on commas outside parentheses, honouring "\," escapes.
func splitTopLevel(s string) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(parts, cur.String())
}

func parseRequirement(part string) (labelRequirement, error) {
	for _, op := range []string{"==", "!="} {
		if k, v, ok := strings.Cut(part, op); ok {
			return labelRequirement{key: strings.TrimSpace(k), op: op, values: []string{strings.TrimSpace(v)}}, nil
		}
	}
	for _, op := range []string{" notin ", " in "} {
		if k, v, ok := strings.Cut(part, op); ok {
			v = strings.TrimSpace(v)
			if !strings.HasPrefix(v, "(") || !strings.HasSuffix(v, ")") {
				return labelRequirement{}, fmt.Errorf("%q: the set after %q must be in parentheses, e.g. env in (stage, prod)", part, strings.TrimSpace(op))
			}
			var values []string
			for _, item := range strings.Split(v[1:len(v)-1], ",") {
				values = append(values, strings.TrimSpace(item))
			}
			return labelRequirement{key: strings.TrimSpace(k), op: strings.TrimSpace(op), values: values}, nil
		}
	}
	return labelRequirement{key: part, op: "exists"}, nil
}

func (s labelSelector) matches(labels map[string]any) bool {
	for _, req := range s {
		raw, ok := labels[req.key]
		if !ok {
			return false
		}
		v, _ := raw.(string)
		switch req.op {
		case "==", "in":
			if !slices.Contains(req.values, v) {
				return false
			}
		case "!=", "notin":
			if slices.Contains(req.values, v) {
				return false
			}
		}
	}
	return true
}
