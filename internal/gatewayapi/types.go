// Package gatewayapi is the wire contract of the gateway's admin API: the JSON documents that
// `PUT/GET /v1/gateways/{name}` and `/stats` carry, and a client for them. The gateway serves it,
// the provider and the tests speak it; neither side knows of the other.
package gatewayapi

import "time"

// Gateway is the body of `PUT /v1/gateways/{name}` and, with Name and Version filled in by the
// server, of `GET /v1/gateways/{name}`.
type Gateway struct {
	// Name is the gateway's name (e.g. "sava/9050", "sava/sava_cluster/webport"). The server takes
	// it from the URL; a PUT body may omit it.
	Name string `json:"name,omitempty"`
	// Version is set by the server: it grows by one with every accepted PUT of this gateway.
	Version int64 `json:"version,omitempty"`
	// Port is the TCP port the gateway listens on. 0 means no listener of its own: the gateway is
	// only reachable as the target of another gateway's route (an internal cluster gateway).
	Port int `json:"port"`
	// Protocol is what the gateway forwards, Vamp's port type: "http" (the default, also when
	// empty) routes each HTTP request by conditions and weights; "tcp" forwards whole TCP
	// connections (layer 4, Vamp's HAProxy `mode tcp`): each accepted connection goes to a route
	// chosen by weight and its bytes are copied both ways. A TCP gateway has no sticky, virtual
	// hosts, conditions or HTTP health-check paths (a health check without a path is a TCP
	// connect check), and its routes to other gateways lead to TCP gateways.
	Protocol string `json:"protocol,omitempty"`
	// Sticky is "", "route" or "instance" (design.md rule 4).
	Sticky string `json:"sticky,omitempty"`
	// Balance chooses the instance inside a route: "round-robin" (default) or "least-connections".
	Balance string `json:"balance,omitempty"`
	// VirtualHosts, when set, restricts the listener to requests whose Host is one of these.
	VirtualHosts []string `json:"virtual_hosts,omitempty"`
	// Routes are evaluated in order for conditions; weights apply to all of them.
	Routes []Route `json:"routes"`
	// Rollout, when set, runs a progressive roll-out of one route of this gateway.
	Rollout *RolloutPolicy `json:"rollout,omitempty"`
	// RolloutStatus is the roll-out's progress, filled in by the server; ignored in a PUT.
	RolloutStatus *RolloutStatus `json:"rollout_status,omitempty"`
}

// Protocols of Gateway.Protocol (Vamp's port types).
const (
	ProtocolHTTP = "http"
	ProtocolTCP  = "tcp"
)

// ProtocolOf is gw's protocol with the default filled in: ProtocolTCP or ProtocolHTTP (also for
// an unknown value, which the gateway refuses).
func ProtocolOf(gw Gateway) string {
	if gw.Protocol == ProtocolTCP {
		return ProtocolTCP
	}
	return ProtocolHTTP
}

// Route is one way out of a gateway. Exactly one of Instances, Gateway and Service is set.
type Route struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	// Condition is an expression of the condition language (design.md), empty for none.
	Condition string `json:"condition,omitempty"`
	// ConditionStrength is the percentage (0..100) of matching requests that this route takes.
	// Omitted with a condition means 100.
	ConditionStrength *int `json:"condition_strength,omitempty"`

	// Instances are static addresses.
	Instances []Instance `json:"instances,omitempty"`
	// Gateway names another gateway of this gateway process; the request is routed by that
	// gateway's table in-process, without a network hop.
	Gateway string `json:"gateway,omitempty"`
	// Service names instances that a runtime discovers (local dev runtime, Marathon tasks).
	Service *ServiceRef `json:"service,omitempty"`

	// HealthCheck enables active HTTP health checks of this route's instances.
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
	// Scale, on a Service route, scales the service by its p99 latency through the gateway (Vamp's
	// escalations); the runtime must be one the gateway can scale.
	Scale *ScalePolicy `json:"scale,omitempty"`
}

// ScalePolicy is a latency SLA of a route's service: when the route's p99 stays above Upper for
// Window the service gets Step more instances, below Lower for Window Step fewer; always within
// Min..Max and never twice within Cooldown. Durations are Go durations ("500ms", "2m").
type ScalePolicy struct {
	Min      int    `json:"min"`
	Max      int    `json:"max"`
	Upper    string `json:"upper"`
	Lower    string `json:"lower,omitempty"`
	Window   string `json:"window"`
	Cooldown string `json:"cooldown,omitempty"`
	Step     int    `json:"step,omitempty"`
}

// ScaleStatus is what a route's SLA scaling did last (in /stats).
type ScaleStatus struct {
	Instances   int       `json:"instances"`
	LastScaleAt time.Time `json:"last_scale_at,omitzero"`
	// Reason is the last scale's reason, or the last error.
	Reason string `json:"reason,omitempty"`
}

// Instance is one address of a route.
type Instance struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// ServiceRef points at instances that a runtime knows: the gateway follows them as they move.
type ServiceRef struct {
	// Runtime is "local" (the dev runtime in the same process) or "marathon".
	Runtime string `json:"runtime"`
	// ID is the runtime's id of the service variant (a Marathon app id, a local service id).
	ID string `json:"id"`
	// Port is the breed's port name, e.g. "webport".
	Port string `json:"port"`
}

// HealthCheck is an active check of every instance of a route: an HTTP GET of Path, or on a TCP
// gateway (Path empty) a TCP connect.
type HealthCheck struct {
	Path string `json:"path,omitempty"`
	// Interval and Timeout are Go durations ("2s"); defaults 2s and 1s.
	Interval string `json:"interval,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
	// UnhealthyThreshold failures in a row mark an instance down (default 2); HealthyThreshold
	// successes in a row bring it back (default 1).
	UnhealthyThreshold int `json:"unhealthy_threshold,omitempty"`
	HealthyThreshold   int `json:"healthy_threshold,omitempty"`
}

// GatewayList is the body of `GET /v1/gateways`.
type GatewayList struct {
	Gateways []Gateway `json:"gateways"`
}

// Stats is the body of `GET /v1/gateways/{name}/stats`.
type Stats struct {
	Name    string       `json:"name"`
	Version int64        `json:"version"`
	Routes  []RouteStats `json:"routes"`
	// Rollout is the gateway's roll-out, if it has one.
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// RouteStats counts what one route has served since the gateway process started.
type RouteStats struct {
	Name     string `json:"name"`
	Weight   int    `json:"weight"`
	Requests uint64 `json:"requests"`
	// Responses counts responses by status class: "1xx" .. "5xx".
	Responses      map[string]uint64 `json:"responses"`
	UpstreamErrors uint64            `json:"upstream_errors"`
	LatencyP50MS   float64           `json:"latency_p50_ms"`
	LatencyP99MS   float64           `json:"latency_p99_ms"`
	Instances      []InstanceStats   `json:"instances"`
	// Scale is the route's SLA scaling, if it has one.
	Scale *ScaleStatus `json:"scale,omitempty"`
	// TCP is the route's connection counters on a TCP gateway (protocol "tcp"); nil on HTTP.
	TCP *TCPRouteStats `json:"tcp,omitempty"`
}

// TCPRouteStats counts the connections of one route of a TCP gateway since the gateway process
// started: Requests of RouteStats stays 0 there.
type TCPRouteStats struct {
	// Connections counts the client connections forwarded to this route's instances.
	Connections uint64 `json:"connections"`
	// Active is the number of those connections open now.
	Active int64 `json:"active"`
	// BytesIn are bytes from clients to instances, BytesOut from instances to clients.
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	// ConnectErrors counts failed connects to this route's instances (each is retried on another
	// instance).
	ConnectErrors uint64 `json:"connect_errors"`
}

// InstanceStats is the gateway's view of one instance.
type InstanceStats struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Healthy bool   `json:"healthy"`
	Active  int64  `json:"active"`
}

// Error is the body of every 4xx/5xx answer of the admin API.
type Error struct {
	Error string `json:"error"`
	// Path is the JSON path of the offending field of a PUT body, e.g. "routes[0].condition".
	Path string `json:"path,omitempty"`
}

// RolloutPolicy is a progressive roll-out on a gateway (internal/rollout's Policy as JSON): the
// canary route's weight steps up through a schedule while its traffic stays healthy; a failed
// check rolls it back at once. While the same policy stands (same checksum), the roll-out owns
// the weights of its routes: a PUT that repeats the policy keeps the roll-out's weights.
type RolloutPolicy struct {
	// Canary is the route of the new variant.
	Canary string `json:"canary"`
	// Stable are the routes to roll back to; empty means every other route of the gateway.
	Stable []string `json:"stable,omitempty"`
	// Steps are the canary weights in increasing order (e.g. [10, 25, 50, 100]); or StepWeight
	// with MaxWeight (default 100): StepWeight, 2×StepWeight, ..., MaxWeight.
	Steps      []int `json:"steps,omitempty"`
	StepWeight int   `json:"step_weight,omitempty"`
	MaxWeight  int   `json:"max_weight,omitempty"`
	// Interval is how long each step is held and measured, a Go duration ("1m").
	Interval string        `json:"interval"`
	Checks   RolloutChecks `json:"checks"`
	// MaxWaitIntervals rolls back a step still short of Checks.MinRequests that many intervals
	// after its own interval ended; 0 waits forever.
	MaxWaitIntervals int              `json:"max_wait_intervals,omitempty"`
	Webhooks         []RolloutWebhook `json:"webhooks,omitempty"`
	// Metrics says where the canary's numbers come from; nil is the gateway's own counters.
	Metrics *RolloutMetrics `json:"metrics,omitempty"`
}

// RolloutChecks say what a healthy step is.
type RolloutChecks struct {
	// Max5xxRate is the highest acceptable fraction of 5xx answers (0.01 = 1%).
	Max5xxRate float64 `json:"max_5xx_rate"`
	// MaxP99 is the highest acceptable p99 latency ("500ms"); empty: no latency check.
	MaxP99 string `json:"max_p99,omitempty"`
	// MinRequests is how many canary requests a step needs before it is judged.
	MinRequests int `json:"min_requests"`
}

// RolloutWebhook is called with a JSON POST: type "pre-rollout" (must answer 2xx or the roll-out
// fails), "step", "rollback" or "promotion".
type RolloutWebhook struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	URL      string            `json:"url"`
	Timeout  string            `json:"timeout,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// RolloutMetrics selects the metric source of a roll-out.
type RolloutMetrics struct {
	// Source is "gateway" (default: the gateway's own per-route counters) or "prometheus".
	Source string `json:"source,omitempty"`
	// PrometheusURL is the Prometheus server (e.g. "http://prometheus:9090") when Source is
	// "prometheus".
	PrometheusURL string `json:"prometheus_url,omitempty"`
	// Queries are PromQL templates with {{gateway}}, {{route}} and {{window}}; nil uses queries
	// over the gateway's own /metrics series.
	Queries *PrometheusQueries `json:"queries,omitempty"`
}

// PrometheusQueries are the PromQL templates of a Prometheus metric source.
type PrometheusQueries struct {
	Requests  string `json:"requests"`
	Errors5xx string `json:"errors_5xx,omitempty"`
	ErrorRate string `json:"error_rate,omitempty"`
	P99       string `json:"p99,omitempty"`
}

// RolloutStatus is a roll-out's progress, filled in by the server (a PUT's value is ignored).
type RolloutStatus struct {
	// Phase is "pending", "progressing", "promoted", "rolled_back" or "failed".
	Phase string `json:"phase"`
	// Step is the 1-based current step (0 before the start) of Steps.
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// Canary is the canary route and Weight its current weight; Weights has every route of the
	// roll-out.
	Canary  string         `json:"canary"`
	Weight  int            `json:"weight"`
	Weights map[string]int `json:"weights"`
	// Reason explains the last decision, e.g. why the canary was rolled back.
	Reason string `json:"reason"`
	// Checksum identifies the policy: an unchanged checksum keeps the roll-out.
	Checksum   string    `json:"checksum"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	LastStepAt time.Time `json:"last_step_at,omitzero"`
	NextStepAt time.Time `json:"next_step_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// The canary's traffic in the current step, as last measured.
	Requests  float64 `json:"requests"`
	ErrorRate float64 `json:"error_rate"`
	P99       string  `json:"p99,omitempty"`
}
