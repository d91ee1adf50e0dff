// Package spec turns a gateway document of the admin API (gatewayapi.Gateway) into what the
// routing core runs (routing.Spec), checking it whole on the way. Every fault is a *FieldError
// that names the JSON path of the offending field, so a refused PUT says exactly what to fix.
package spec

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/condition"
	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// FieldError is a fault of a gateway document at a JSON path ("routes[0].condition").
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Env is what compiling needs from the running gateway.
type Env struct {
	Pool *routing.Pool
	// Gateway returns the table pointer of another gateway, nil when there is no such gateway.
	Gateway func(name string) *atomic.Pointer[routing.Table]
	// Source returns the discovery source of a runtime, nil when none is registered.
	Source func(runtime string) discovery.Source
	// Protocol returns the protocol (gatewayapi.ProtocolOf) of another existing gateway; nil
	// skips the check that a TCP gateway routes only to TCP gateways.
	Protocol func(name string) string
	// Strict makes a failed service lookup refuse the document (a PUT). Otherwise (restoring the
	// state file, following a discovery change) the route gets no instances until the runtime
	// knows it again, and the fault is returned in Compiled.Warnings.
	Strict bool
	// Seed keys the random order within the table's weighted cycles (routing.Spec.Seed); 0
	// draws one from crypto/rand.
	Seed uint64
}

// HealthCheck is a route's active health check with its defaults filled in.
type HealthCheck struct {
	Route    string
	Backends []*routing.Backend
	// Path is the HTTP path to GET; empty with TCP: a TCP connect is the check.
	Path               string
	TCP                bool
	Interval, Timeout  time.Duration
	UnhealthyThreshold int
	HealthyThreshold   int
}

// Compiled is a checked gateway, ready to be swapped in.
type Compiled struct {
	Spec routing.Spec
	// Protocol is gatewayapi.ProtocolHTTP or gatewayapi.ProtocolTCP.
	Protocol string
	// Table is built from Spec, not yet in service.
	Table        *routing.Table
	HealthChecks []HealthCheck
	// Warnings are service lookups that failed in non-strict mode.
	Warnings []error
}

// Defaults of gatewayapi.HealthCheck.
const (
	DefaultInterval           = 2 * time.Second
	DefaultTimeout            = 1 * time.Second
	DefaultUnhealthyThreshold = 2
	DefaultHealthyThreshold   = 1
)

// Compile checks gw (whose name is name) whole and builds its routing spec. The returned error is
// a *FieldError.
func Compile(name string, gw gatewayapi.Gateway, env Env) (*Compiled, error) {
	out := &Compiled{Spec: routing.Spec{CookieName: CookieName(name), Seed: env.Seed}}
	if gw.Port < 0 || gw.Port > 65535 {
		return nil, fieldErr("port", "port %d is outside 0..65535 (0 = no listener: reachable only through another gateway's route)", gw.Port)
	}
	if err := CheckProtocol(gw); err != nil {
		return nil, err
	}
	out.Protocol = gatewayapi.ProtocolOf(gw)
	tcp := out.Protocol == gatewayapi.ProtocolTCP
	switch gw.Sticky {
	case "":
		out.Spec.Sticky = routing.StickyNone
	case "route":
		out.Spec.Sticky = routing.StickyRoute
	case "instance":
		out.Spec.Sticky = routing.StickyInstance
	default:
		return nil, fieldErr("sticky", "sticky %q is unknown; use \"route\", \"instance\" or leave it out", gw.Sticky)
	}
	switch gw.Balance {
	case "", "round-robin":
		out.Spec.Balance = routing.RoundRobin
	case "least-connections":
		out.Spec.Balance = routing.LeastConnections
	default:
		return nil, fieldErr("balance", "balance %q is unknown; use \"round-robin\" (the default) or \"least-connections\"", gw.Balance)
	}
	for k, vh := range gw.VirtualHosts {
		if strings.TrimSpace(vh) == "" || strings.ContainsAny(vh, " /\t") {
			return nil, fieldErr(fmt.Sprintf("virtual_hosts[%d]", k), "%q is not a host name; write a name such as \"sava.example.com\"", vh)
		}
	}

	names := make(map[string]int, len(gw.Routes))
	sum := 0
	for i, r := range gw.Routes {
		at := func(field string) string { return fmt.Sprintf("routes[%d]%s", i, field) }
		if r.Name == "" {
			return nil, fieldErr(at(".name"), "a route needs a name")
		}
		if first, dup := names[r.Name]; dup {
			return nil, fieldErr(at(".name"), "route name %q is already used by routes[%d]; route names must be unique", r.Name, first)
		}
		names[r.Name] = i
		if r.Weight < 0 || r.Weight > 100 {
			return nil, fieldErr(at(".weight"), "weight %d is outside 0..100 (weights are whole percentages)", r.Weight)
		}
		sum += r.Weight

		rr := routing.Route{Name: r.Name, Weight: r.Weight}
		if r.ConditionStrength != nil && (*r.ConditionStrength < 0 || *r.ConditionStrength > 100) {
			return nil, fieldErr(at(".condition_strength"), "condition strength %d is outside 0..100 (a percentage of the matching requests)", *r.ConditionStrength)
		}
		if strings.TrimSpace(r.Condition) != "" {
			c, err := condition.Parse(r.Condition)
			if err != nil {
				return nil, fieldErr(at(".condition"), "condition %q: %v", r.Condition, err)
			}
			rr.Condition = c
			rr.ConditionStrength = 100
			if r.ConditionStrength != nil {
				rr.ConditionStrength = *r.ConditionStrength
			}
		}

		targets := 0
		for _, set := range []bool{len(r.Instances) > 0, r.Gateway != "", r.Service != nil} {
			if set {
				targets++
			}
		}
		if targets != 1 {
			return nil, fieldErr(at(""), "a route leads to exactly one of \"instances\", \"gateway\" or \"service\"; route %q has %d", r.Name, targets)
		}
		switch {
		case len(r.Instances) > 0:
			seen := make(map[string]int, len(r.Instances))
			for j, in := range r.Instances {
				addr, err := instanceAddr(in)
				if err != nil {
					err.Path = at(fmt.Sprintf(".instances[%d]%s", j, err.Path))
					return nil, err
				}
				if first, dup := seen[addr]; dup {
					return nil, fieldErr(at(fmt.Sprintf(".instances[%d]", j)), "instance %s is already listed as instances[%d]; list each instance once", addr, first)
				}
				seen[addr] = j
				rr.Backends = append(rr.Backends, env.Pool.Get(addr))
			}
		case r.Gateway != "":
			if r.Gateway == name {
				return nil, fieldErr(at(".gateway"), "gateway %q cannot route to itself", name)
			}
			next := env.Gateway(r.Gateway)
			if next == nil {
				return nil, fieldErr(at(".gateway"), "gateway %q does not exist; create it first (PUT /v1/gateways/%s)", r.Gateway, r.Gateway)
			}
			// A TCP connection has no request for an HTTP gateway's conditions and cookies. The
			// other way round is fine: an HTTP gateway may balance its requests by a TCP
			// gateway's weights.
			if tcp && env.Protocol != nil && env.Protocol(r.Gateway) != gatewayapi.ProtocolTCP {
				return nil, fieldErr(at(".gateway"), "gateway %q is an HTTP gateway, and a TCP gateway's routes lead to TCP gateways (a connection has no HTTP request for its conditions); route to a TCP gateway, or to the instances", r.Gateway)
			}
			rr.Next = next
		default:
			backends, err := resolve(r.Service, at(".service"), env)
			if err != nil {
				if env.Strict || errors.Is(err, errNoSource) {
					return nil, err
				}
				out.Warnings = append(out.Warnings, fmt.Errorf("gateway %q route %q: %w", name, r.Name, err))
			}
			rr.Backends = backends
		}

		if r.HealthCheck != nil {
			if r.Gateway != "" {
				return nil, fieldErr(at(".health_check"), "a route to another gateway has no instances to check; put the health check on that gateway's routes")
			}
			hc, err := healthCheck(*r.HealthCheck, tcp)
			if err != nil {
				err.Path = at(".health_check" + err.Path)
				return nil, err
			}
			hc.Route, hc.Backends = r.Name, rr.Backends
			out.HealthChecks = append(out.HealthChecks, hc)
		}
		out.Spec.Routes = append(out.Spec.Routes, rr)
	}
	if sum != 0 && sum != 100 {
		return nil, fieldErr("routes", "the route weights sum to %d; they must sum to 100, or all be 0 (then only requests that match a condition are served)", sum)
	}
	// The routing core checks the same rules and a few of its own (cookie-safe names for sticky
	// gateways); translate its first fault to the document's path.
	t, err := routing.New(out.Spec)
	if err != nil {
		return nil, fromRouting(err)
	}
	out.Table = t
	return out, nil
}

func instanceAddr(in gatewayapi.Instance) (string, *FieldError) {
	if in.Host == "" || strings.ContainsAny(in.Host, " /\t[]") {
		return "", fieldErr(".host", "%q is not a host; write a name or an IP address such as \"10.0.0.5\"", in.Host)
	}
	if in.Port < 1 || in.Port > 65535 {
		return "", fieldErr(".port", "port %d is outside 1..65535", in.Port)
	}
	return net.JoinHostPort(in.Host, strconv.Itoa(in.Port)), nil
}

var errNoSource = errors.New("no discovery source")

// resolve returns the routable (healthy) instances of a service route.
func resolve(ref *gatewayapi.ServiceRef, path string, env Env) ([]*routing.Backend, error) {
	var src discovery.Source
	if env.Source != nil {
		src = env.Source(ref.Runtime)
	}
	if src == nil {
		return nil, &wrapped{errNoSource, fieldErr(path+".runtime",
			"runtime %q has no instance discovery in this gateway; routes with \"service\" work only with a runtime the gateway was started with (the dev runtime's \"local\", or \"marathon\"); use \"instances\" for static addresses", ref.Runtime)}
	}
	if ref.ID == "" {
		return nil, fieldErr(path+".id", "a service route needs the runtime's id of the service variant")
	}
	if ref.Port == "" {
		return nil, fieldErr(path+".port", "a service route needs the breed's port name, e.g. \"webport\"")
	}
	instances, err := src.Resolve(ref.ID, ref.Port)
	if err != nil {
		return nil, fieldErr(path, "runtime %q cannot resolve service %q port %q: %v", ref.Runtime, ref.ID, ref.Port, err)
	}
	var backends []*routing.Backend
	seen := make(map[string]bool, len(instances))
	for _, in := range instances {
		if !in.Healthy {
			continue
		}
		addr := net.JoinHostPort(in.Host, strconv.Itoa(in.Port))
		if !seen[addr] {
			seen[addr] = true
			backends = append(backends, env.Pool.Get(addr))
		}
	}
	return backends, nil
}

// wrapped lets errors.Is see errNoSource while errors.As finds the *FieldError.
type wrapped struct {
	kind  error
	field *FieldError
}

func (w *wrapped) Error() string   { return w.field.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.kind, w.field} }

// CheckProtocol checks gw's protocol, and refuses on a TCP gateway what needs HTTP requests
// (Vamp's StickyPortTypeError and ConditionPortTypeError, and this gateway's HTTP-only features),
// naming the field. Compile calls it; the gateway calls it before it prepares a roll-out or SLA
// scaling, so that their own checks do not hide the reason.
func CheckProtocol(gw gatewayapi.Gateway) *FieldError {
	switch gw.Protocol {
	case "", gatewayapi.ProtocolHTTP:
		return nil
	case gatewayapi.ProtocolTCP:
	default:
		return fieldErr("protocol", "protocol %q is unknown; use \"http\" (the default) or \"tcp\" (layer-4 forwarding of whole connections, Vamp's port type tcp)", gw.Protocol)
	}
	const why = "a TCP gateway (protocol \"tcp\") forwards whole connections and sees no HTTP request"
	switch {
	case gw.Sticky != "":
		return fieldErr("sticky", "%s, so it has no cookie to be sticky with (Vamp: StickyPortTypeError); remove sticky, or use protocol \"http\"", why)
	case len(gw.VirtualHosts) > 0:
		return fieldErr("virtual_hosts", "%s, so it has no Host to match; remove virtual_hosts, or use protocol \"http\"", why)
	case gw.Rollout != nil:
		return fieldErr("rollout", "%s, and a roll-out judges HTTP answers (5xx rate, latency); remove rollout, or use protocol \"http\"", why)
	}
	for i, r := range gw.Routes {
		at := func(field string) string { return fmt.Sprintf("routes[%d].%s", i, field) }
		switch {
		case strings.TrimSpace(r.Condition) != "":
			return fieldErr(at("condition"), "%s, so a condition has nothing to match (Vamp: ConditionPortTypeError); remove the condition, or use protocol \"http\"", why)
		case r.ConditionStrength != nil:
			return fieldErr(at("condition_strength"), "%s and has no conditions; remove condition_strength", why)
		case r.HealthCheck != nil && r.HealthCheck.Path != "":
			return fieldErr(at("health_check.path"), "%s, so it cannot GET %q; leave path out for a TCP connect check", why, r.HealthCheck.Path)
		case r.Scale != nil:
			return fieldErr(at("scale"), "%s, and SLA scaling measures HTTP latency; remove scale, or use protocol \"http\"", why)
		}
	}
	return nil
}

func healthCheck(in gatewayapi.HealthCheck, tcp bool) (HealthCheck, *FieldError) {
	hc := HealthCheck{
		Path: in.Path, TCP: tcp, Interval: DefaultInterval, Timeout: DefaultTimeout,
		UnhealthyThreshold: DefaultUnhealthyThreshold, HealthyThreshold: DefaultHealthyThreshold,
	}
	if !tcp && !strings.HasPrefix(in.Path, "/") {
		return hc, fieldErr(".path", "path %q must start with \"/\", e.g. \"/health\"", in.Path)
	}
	for _, d := range []struct {
		field, value string
		into         *time.Duration
	}{{".interval", in.Interval, &hc.Interval}, {".timeout", in.Timeout, &hc.Timeout}} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			return hc, fieldErr(d.field, "%q is not a positive Go duration; write e.g. \"2s\" or \"500ms\"", d.value)
		}
		*d.into = v
	}
	if hc.Timeout > hc.Interval {
		return hc, fieldErr(".timeout", "timeout %s is longer than the interval %s; a check must end before the next one starts", hc.Timeout, hc.Interval)
	}
	if in.UnhealthyThreshold < 0 {
		return hc, fieldErr(".unhealthy_threshold", "%d is negative; leave it out for the default %d", in.UnhealthyThreshold, DefaultUnhealthyThreshold)
	}
	if in.HealthyThreshold < 0 {
		return hc, fieldErr(".healthy_threshold", "%d is negative; leave it out for the default %d", in.HealthyThreshold, DefaultHealthyThreshold)
	}
	if in.UnhealthyThreshold > 0 {
		hc.UnhealthyThreshold = in.UnhealthyThreshold
	}
	if in.HealthyThreshold > 0 {
		hc.HealthyThreshold = in.HealthyThreshold
	}
	return hc, nil
}

// fromRouting maps the routing core's first fault to the document's field names.
func fromRouting(err error) *FieldError {
	var se *routing.SpecError
	if !errors.As(err, &se) || len(se.Faults) == 0 {
		return fieldErr("", "%v", err)
	}
	f := se.Faults[0]
	field := map[string]string{"backends": "instances", "next": "gateway", "cookie_name": "name"}[f.Field]
	if field == "" {
		field = f.Field
	}
	if f.Route < 0 {
		return fieldErr(field, "%s", f.Message)
	}
	return fieldErr(fmt.Sprintf("routes[%d].%s", f.Route, field), "%s", f.Message)
}

// References lists the gateways that gw's routes lead to.
func References(gw gatewayapi.Gateway) []string {
	var refs []string
	for _, r := range gw.Routes {
		if r.Gateway != "" {
			refs = append(refs, r.Gateway)
		}
	}
	return refs
}

// CookieName is the sticky cookie of a gateway: "vamp_" and the name with every character that
// is not a letter, digit or underscore replaced by "_".
func CookieName(gateway string) string {
	b := []byte("vamp_" + gateway)
	for i := len("vamp_"); i < len(b); i++ {
		c := b[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			b[i] = '_'
		}
	}
	return string(b)
}

// ValidateName checks a gateway name taken from the URL.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("the gateway name is empty; use e.g. /v1/gateways/sava/9050")
	}
	if len(name) > 253 {
		return fmt.Errorf("the gateway name is %d characters long; at most 253 are allowed", len(name))
	}
	for _, seg := range strings.Split(name, "/") {
		switch seg {
		case "":
			return fmt.Errorf("gateway name %q has an empty segment (a leading, trailing or double \"/\")", name)
		case ".", "..":
			return fmt.Errorf("gateway name %q has a %q segment; segments are names like \"sava\" or \"9050\"", name, seg)
		}
	}
	for _, c := range name {
		if c < 0x21 || c == 0x7f {
			return fmt.Errorf("gateway name %q has a space or control character", name)
		}
	}
	if strings.HasSuffix(name, "/stats") {
		return fmt.Errorf("gateway name %q ends in \"/stats\", which addresses a gateway's statistics; choose another name", name)
	}
	return nil
}
