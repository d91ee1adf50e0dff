package routing

import (
	"fmt"
	"strings"
)

// Fault is one thing wrong with a Spec.
type Fault struct {
	// Route is the index into Spec.Routes, or -1 for a fault of the Spec as a whole.
	Route int
	// RouteName is Spec.Routes[Route].Name (may be empty: that can be the fault).
	RouteName string
	// Field names what is wrong in snake case: "name", "weight", "condition_strength", "backends",
	// "next", "routes" (the weights together), "sticky", "balance", "cookie_name".
	Field   string
	Message string
}

// Path is where the fault is, e.g. "routes[1].weight" or "cookie_name".
func (f Fault) Path() string {
	if f.Route < 0 {
		return f.Field
	}
	return fmt.Sprintf("routes[%d].%s", f.Route, f.Field)
}

func (f Fault) String() string {
	if f.Route < 0 {
		return f.Message
	}
	return fmt.Sprintf("routes[%d] (%q): %s", f.Route, f.RouteName, f.Message)
}

// SpecError is New's error: every fault found in the Spec, in order.
type SpecError struct{ Faults []Fault }

func (e *SpecError) Error() string {
	parts := make([]string, len(e.Faults))
	for i, f := range e.Faults {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// validate checks spec whole, so that one attempt reports everything to fix.
func validate(spec Spec) error {
	var faults []Fault
	specFault := func(field, format string, args ...any) {
		faults = append(faults, Fault{Route: -1, Field: field, Message: fmt.Sprintf(format, args...)})
	}

	switch spec.Sticky {
	case StickyNone:
	case StickyRoute, StickyInstance:
		if spec.CookieName == "" {
			specFault("cookie_name", "a sticky gateway needs a cookie name")
		} else if i := strings.IndexFunc(spec.CookieName, func(c rune) bool { return !isTokenChar(c) }); i >= 0 {
			specFault("cookie_name", "cookie name %q has %q at position %d; use letters, digits and !#$%%&'*+-.^_`|~ only", spec.CookieName, spec.CookieName[i], i)
		}
	default:
		specFault("sticky", "sticky mode %d is unknown; use StickyNone, StickyRoute or StickyInstance", spec.Sticky)
	}
	if spec.Balance != RoundRobin && spec.Balance != LeastConnections {
		specFault("balance", "balance mode %d is unknown; use RoundRobin or LeastConnections", spec.Balance)
	}

	seen := make(map[string]int, len(spec.Routes))
	sum := 0
	for i, r := range spec.Routes {
		fault := func(field, format string, args ...any) {
			faults = append(faults, Fault{Route: i, RouteName: r.Name, Field: field, Message: fmt.Sprintf(format, args...)})
		}
		switch first, dup := seen[r.Name]; {
		case r.Name == "":
			fault("name", "a route needs a name")
		case dup:
			fault("name", "name %q is already used by routes[%d]; route names must be unique", r.Name, first)
		default:
			seen[r.Name] = i
		}
		if spec.Sticky == StickyRoute && r.Name != "" {
			if j := strings.IndexFunc(r.Name, func(c rune) bool { return !isCookieValueChar(c) }); j >= 0 {
				fault("name", "with sticky = route the name is the cookie value, and %q at position %d cannot be in a cookie; rename the route", r.Name[j], j)
			}
		}
		if r.Weight < 0 || r.Weight > 100 {
			fault("weight", "weight %d is outside 0..100", r.Weight)
		} else {
			sum += r.Weight
		}
		if r.ConditionStrength < 0 || r.ConditionStrength > 100 {
			fault("condition_strength", "condition strength %d is outside 0..100", r.ConditionStrength)
		}
		if r.Next != nil && len(r.Backends) > 0 {
			fault("next", "a route leads either to another gateway or to instances, not both; drop the %d backends or the next gateway", len(r.Backends))
		}
		addrs := make(map[string]int, len(r.Backends))
		for j, b := range r.Backends {
			if b == nil {
				fault("backends", "backends[%d] is nil; get backends from a Pool", j)
				continue
			}
			if first, dup := addrs[b.Addr]; dup {
				fault("backends", "instance %q is listed twice (backends[%d] and backends[%d]); list each instance once", b.Addr, first, j)
				continue
			}
			addrs[b.Addr] = j
			if spec.Sticky == StickyInstance && strings.IndexFunc(b.Addr, func(c rune) bool { return !isCookieValueChar(c) }) >= 0 {
				fault("backends", "with sticky = instance the address is the cookie value, and %q cannot be in a cookie", b.Addr)
			}
		}
	}
	if sum != 0 && sum != 100 {
		specFault("routes", "weights sum to %d, they must sum to 100 or all be 0", sum)
	}
	if len(faults) > 0 {
		return &SpecError{Faults: faults}
	}
	return nil
}

// isTokenChar reports whether c may be in a cookie name (an RFC 7230 token).
func isTokenChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}

// isCookieValueChar reports whether c may be in a cookie value unquoted (RFC 6265 cookie-octet).
func isCookieValueChar(c rune) bool {
	return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\'
}
