package tcpproxy

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// Metrics are the Prometheus series of TCP gateways. Register Collectors on the gateway's
// registry once.
type Metrics struct {
	connections   *prometheus.CounterVec
	active        *prometheus.GaugeVec
	bytes         *prometheus.CounterVec
	connectErrors *prometheus.CounterVec
	noRoute       *prometheus.CounterVec
}

// NewMetrics returns the series, not yet registered.
func NewMetrics() *Metrics {
	return &Metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_tcp_connections_total",
			Help: "Client connections a TCP gateway route forwarded to an instance.",
		}, []string{"gateway", "route"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vamp_gateway_tcp_active_connections",
			Help: "Connections of a TCP gateway route open now.",
		}, []string{"gateway", "route"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_tcp_bytes_total",
			Help: "Bytes a TCP gateway route carried: direction \"in\" from clients to instances, \"out\" back.",
		}, []string{"gateway", "route", "direction"}),
		connectErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_tcp_connect_errors_total",
			Help: "Failed connects to an instance of a TCP gateway route (each retried on another instance).",
		}, []string{"gateway", "route"}),
		noRoute: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_tcp_no_route_total",
			Help: "Client connections a TCP gateway closed because no route or instance could take them.",
		}, []string{"gateway"}),
	}
}

// Collectors are the series to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.connections, m.active, m.bytes, m.connectErrors, m.noRoute}
}

func (m *Metrics) noRouteFunc(gateway string) func() {
	c := m.noRoute.WithLabelValues(gateway)
	return c.Inc
}

// ForgetGateway removes a deleted gateway's own series (its routes' go with Route.Forget).
func (m *Metrics) ForgetGateway(gateway string) { m.noRoute.DeleteLabelValues(gateway) }

// Route is one TCP gateway route's counters. Keep it for as long as the route exists (across
// table versions) so its counters keep counting.
type Route struct {
	m             *Metrics
	gateway, name string

	connections, bytesIn, bytesOut, connectErrors prometheus.Counter
	activeGauge                                   prometheus.Gauge

	nConnections, nIn, nOut, nConnectErrors atomic.Uint64
	nActive                                 atomic.Int64
}

// Route resolves the series of one route.
func (m *Metrics) Route(gateway, route string) *Route {
	return &Route{
		m: m, gateway: gateway, name: route,
		connections:   m.connections.WithLabelValues(gateway, route),
		bytesIn:       m.bytes.WithLabelValues(gateway, route, "in"),
		bytesOut:      m.bytes.WithLabelValues(gateway, route, "out"),
		connectErrors: m.connectErrors.WithLabelValues(gateway, route),
		activeGauge:   m.active.WithLabelValues(gateway, route),
	}
}

// Forget removes the route's series (the route was removed from its gateway).
func (rt *Route) Forget() {
	labels := prometheus.Labels{"gateway": rt.gateway, "route": rt.name}
	rt.m.connections.Delete(labels)
	rt.m.active.Delete(labels)
	rt.m.bytes.DeletePartialMatch(labels)
	rt.m.connectErrors.Delete(labels)
}

// Stats is the route's counters for the admin API.
func (rt *Route) Stats() *gatewayapi.TCPRouteStats {
	return &gatewayapi.TCPRouteStats{
		Connections:   rt.nConnections.Load(),
		Active:        rt.nActive.Load(),
		BytesIn:       rt.nIn.Load(),
		BytesOut:      rt.nOut.Load(),
		ConnectErrors: rt.nConnectErrors.Load(),
	}
}

func (rt *Route) opened() {
	rt.nConnections.Add(1)
	rt.connections.Inc()
	rt.nActive.Add(1)
	rt.activeGauge.Inc()
}

func (rt *Route) closed() {
	rt.nActive.Add(-1)
	rt.activeGauge.Dec()
}

func (rt *Route) in(n int64) {
	rt.nIn.Add(uint64(n))
	rt.bytesIn.Add(float64(n))
}

func (rt *Route) out(n int64) {
	rt.nOut.Add(uint64(n))
	rt.bytesOut.Add(float64(n))
}

func (rt *Route) connectError() {
	rt.nConnectErrors.Add(1)
	rt.connectErrors.Inc()
}
