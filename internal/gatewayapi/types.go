// Package gatewayapi is the wire contract of the gateway's admin API: the JSON documents that
// `PUT/GET /v1/gateways/{name}` and `/stats` carry, and a client for them. The gateway serves it,
// the provider and the tests speak it; neither side knows of the other.
package gatewayapi

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
	// Sticky is "", "route" or "instance" (design.md rule 4).
	Sticky string `json:"sticky,omitempty"`
	// Balance chooses the instance inside a route: "round-robin" (default) or "least-connections".
	Balance string `json:"balance,omitempty"`
	// VirtualHosts, when set, restricts the listener to requests whose Host is one of these.
	VirtualHosts []string `json:"virtual_hosts,omitempty"`
	// Routes are evaluated in order for conditions; weights apply to all of them.
	Routes []Route `json:"routes"`
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

// HealthCheck is an active HTTP check of every instance of a route.
type HealthCheck struct {
	Path string `json:"path"`
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
