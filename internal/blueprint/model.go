// Package blueprint is Vamp's blueprint model as this provider understands it: reading Vamp YAML,
// Vamp's merge of a blueprint into a running deployment, normalization (the defaults Vamp fills
// in) and validation with attribute paths and fixes. It is pure code: no Terraform, no HTTP.
//
// The usual flow is ReadArtifacts (each document: Vamp's readers, see vamp_read.go) → Resolve (breeds,
// scales and SLAs referenced by name, aliases, references) → Merge (in order) → Normalize →
// Validate; ReadVampDocuments does it for data "vamp_blueprint". Validate
// checks the blueprint as Normalize would complete it, so it may also be called before Normalize.
package blueprint

import (
	"fmt"
	"strconv"
	"strings"
)

// Blueprint is a deployment's desired shape: its clusters and its blueprint gateways.
type Blueprint struct {
	// Name is the deployment's name, e.g. "sava".
	Name string
	// Gateways maps a port ("9050") to the cluster port it exposes ("sava_cluster/webport").
	Gateways map[string]string
	// Clusters are keyed by cluster name.
	Clusters map[string]*Cluster
}

// Cluster holds the variants of one service and the routing between them.
type Cluster struct {
	// Services are in route order.
	Services []*Service
	// Gateways are the cluster's internal gateways, keyed by breed port name.
	Gateways map[string]*ClusterGateway
}

// Service is a breed placed in a cluster.
type Service struct {
	Breed        Breed
	Scale        *Scale // nil: DefaultScale after Normalize
	HealthChecks []HealthCheck
	// Marathon is a JSON object deep-merged into the service's Marathon app ("" for none).
	Marathon string
	// SLA is the service's scaling by latency (vamp_deployment's sla), nil for none.
	SLA *SLA
}

// SLA is scaling by latency: the gateway keeps the service between MinInstances and
// MaxInstances, Step more when the latency stays above UpperP99 for a Window, Step fewer below
// LowerP99, never twice within Cooldown (durations as "1000ms", "600s").
type SLA struct {
	MinInstances, MaxInstances, Step     int64
	UpperP99, LowerP99, Window, Cooldown string
}

// Breed is a deployable unit.
type Breed struct {
	Name string
	// Deployable is "cmd:..." for a local process, otherwise a docker image.
	Deployable string
	// Ports maps a port name to "port/protocol", e.g. webport → "8080/http".
	Ports       map[string]string
	Environment map[string]string
}

// Scale is the resources of one service. All three fields are stated: zero is not "unset".
type Scale struct {
	CPU       float64
	MemoryMB  int64
	Instances int64
}

// DefaultScale is Vamp's default scale, used when a service states none.
var DefaultScale = Scale{CPU: 0.2, MemoryMB: 256, Instances: 1}

// HealthCheck is one health check of a service. Empty strings are filled by Normalize.
type HealthCheck struct {
	Port, Path, Protocol, InitialDelay, Interval, Timeout string
	Failures                                              int64
}

// Health check defaults that Normalize fills in (Failures is filled by the reader when absent).
const (
	DefaultHealthCheckProtocol     = "HTTP"
	DefaultHealthCheckPath         = "/"
	DefaultHealthCheckInitialDelay = "10s"
	DefaultHealthCheckInterval     = "10s"
	DefaultHealthCheckTimeout      = "5s"
	DefaultHealthCheckFailures     = 3
)

// ClusterGateway is the internal gateway of one cluster port.
type ClusterGateway struct {
	// Sticky is "", "route" or "instance".
	Sticky string
	// Routes are keyed by service (breed) name.
	Routes map[string]*Route
}

// Route is the way from a cluster gateway to one service.
type Route struct {
	// Weight is a whole percentage; nil means not stated (Normalize decides).
	Weight *int64
	// Condition is an expression of internal/condition's language, "" for none.
	Condition string
	// ConditionStrength is the percentage of matching requests this route takes; nil with a
	// condition means 100 (HCL). Resolve sets 0 for a YAML condition without one (Vamp).
	ConditionStrength *int64
}

// Sticky values.
const (
	StickyRoute    = "route"
	StickyInstance = "instance"
)

// GatewayName is Vamp's name of a cluster's internal gateway: "sava/sava_cluster/webport".
func GatewayName(deployment, cluster, port string) string {
	return deployment + "/" + cluster + "/" + port
}

// RouteName is Vamp's name of the route to one service: "sava/sava_cluster/sava:1.0.0/webport".
func RouteName(deployment, cluster, service, port string) string {
	return deployment + "/" + cluster + "/" + service + "/" + port
}

// DeploymentGatewayName is Vamp's name of a blueprint gateway: "sava/9050".
func DeploymentGatewayName(deployment, port string) string {
	return deployment + "/" + port
}

// ParsePort reads a breed port, "8080/http" or "8080/tcp"; a bare "8080" is http. The protocol is
// case-insensitive and returned in lower case.
func ParsePort(s string) (port int, protocol string, err error) {
	num, proto, hasProto := strings.Cut(strings.TrimSpace(s), "/")
	protocol = "http"
	if hasProto {
		protocol = strings.ToLower(strings.TrimSpace(proto))
		if protocol != "http" && protocol != "tcp" {
			return 0, "", fmt.Errorf("%q: protocol must be http or tcp, e.g. \"8080/http\"", s)
		}
	}
	port, err = parsePortNumber(num)
	if err != nil {
		return 0, "", fmt.Errorf("%q: %v, e.g. \"8080/http\"", s, err)
	}
	return port, protocol, nil
}

// parsePortNumber reads a TCP port number 1..65535 in decimal.
func parsePortNumber(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || strings.ContainsAny(s, "+-") {
		return 0, fmt.Errorf("port must be a number from 1 to 65535")
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d is out of range 1..65535", n)
	}
	return n, nil
}

// formatPort is the canonical text of a breed port.
func formatPort(port int, protocol string) string {
	return strconv.Itoa(port) + "/" + protocol
}

// ParseTarget splits a blueprint gateway target "sava_cluster/webport" into cluster and port name.
func ParseTarget(s string) (cluster, port string, err error) {
	cluster, port, ok := strings.Cut(s, "/")
	if !ok || cluster == "" || port == "" || strings.Contains(port, "/") {
		return "", "", fmt.Errorf("%q: a blueprint gateway target is CLUSTER/PORT, e.g. \"sava_cluster/webport\"", s)
	}
	return cluster, port, nil
}

// Int64 returns a pointer to v, for Route weights and strengths.
func Int64(v int64) *int64 { return &v }

// Clone returns a deep copy of b (nil for nil).
func (b *Blueprint) Clone() *Blueprint {
	if b == nil {
		return nil
	}
	out := &Blueprint{Name: b.Name, Gateways: cloneStrings(b.Gateways)}
	if b.Clusters != nil {
		out.Clusters = make(map[string]*Cluster, len(b.Clusters))
		for name, c := range b.Clusters {
			out.Clusters[name] = c.Clone()
		}
	}
	return out
}

// Clone returns a deep copy of c (nil for nil).
func (c *Cluster) Clone() *Cluster {
	if c == nil {
		return nil
	}
	out := &Cluster{}
	if c.Services != nil {
		out.Services = make([]*Service, len(c.Services))
		for i, s := range c.Services {
			out.Services[i] = s.Clone()
		}
	}
	if c.Gateways != nil {
		out.Gateways = make(map[string]*ClusterGateway, len(c.Gateways))
		for port, g := range c.Gateways {
			out.Gateways[port] = g.Clone()
		}
	}
	return out
}

// Clone returns a deep copy of s (nil for nil).
func (s *Service) Clone() *Service {
	if s == nil {
		return nil
	}
	out := &Service{
		Breed: Breed{
			Name:        s.Breed.Name,
			Deployable:  s.Breed.Deployable,
			Ports:       cloneStrings(s.Breed.Ports),
			Environment: cloneStrings(s.Breed.Environment),
		},
		Marathon: s.Marathon,
	}
	if s.Scale != nil {
		scale := *s.Scale
		out.Scale = &scale
	}
	if s.HealthChecks != nil {
		out.HealthChecks = append([]HealthCheck{}, s.HealthChecks...)
	}
	if s.SLA != nil {
		sla := *s.SLA
		out.SLA = &sla
	}
	return out
}

// Clone returns a deep copy of g (nil for nil).
func (g *ClusterGateway) Clone() *ClusterGateway {
	if g == nil {
		return nil
	}
	out := &ClusterGateway{Sticky: g.Sticky}
	if g.Routes != nil {
		out.Routes = make(map[string]*Route, len(g.Routes))
		for name, r := range g.Routes {
			out.Routes[name] = r.Clone()
		}
	}
	return out
}

// Clone returns a deep copy of r (nil for nil).
func (r *Route) Clone() *Route {
	if r == nil {
		return nil
	}
	out := &Route{Condition: r.Condition}
	if r.Weight != nil {
		out.Weight = Int64(*r.Weight)
	}
	if r.ConditionStrength != nil {
		out.ConditionStrength = Int64(*r.ConditionStrength)
	}
	return out
}

func cloneStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
