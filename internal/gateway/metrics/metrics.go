// Package metrics counts what the gateway's routes serve, twice: as Prometheus series on the
// gateway's own registry (for scraping) and as lock-free per-route counters with a latency
// histogram (for the admin API's /stats). Everything a request touches is resolved once per
// route when a routing table is built, so recording a request is a handful of atomic adds.
package metrics

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/eject"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/health"
)

// Reload results, the values of vamp_gateway_config_reloads_total's "result" label.
const (
	ReloadOK       = "ok"       // accepted and swapped in
	ReloadInvalid  = "invalid"  // refused with 400
	ReloadConflict = "conflict" // refused with 409 (port or reference conflict)
	ReloadError    = "error"    // internal failure (state file not writable)
)

// Registry holds the gateway's Prometheus series.
type Registry struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	noRoute        *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	weight         *prometheus.GaugeVec
}

// New returns a registry with the gateway's series and the Go/process collectors.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_requests_total",
			Help: "Requests served by a gateway route, by HTTP status code of the answer.",
		}, []string{"gateway", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vamp_gateway_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its proxied answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"gateway", "route"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_upstream_errors_total",
			Help: "Requests whose instance could not be reached or did not answer (after the retry).",
		}, []string{"gateway", "route"}),
		noRoute: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_no_route_total",
			Help: "Requests answered 503 because no route or instance could take them.",
		}, []string{"gateway"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vamp_gateway_config_reloads_total",
			Help: "Configuration changes by result: ok, invalid (400), conflict (409), error.",
		}, []string{"result"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vamp_gateway_route_weight",
			Help: "Current weight (percent) of a gateway route.",
		}, []string{"gateway", "route"}),
	}
	r.reg.MustRegister(r.requests, r.duration, r.upstreamErrors, r.noRoute, r.reloads, r.weight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, result := range []string{ReloadOK, ReloadInvalid, ReloadConflict, ReloadError} {
		r.reloads.WithLabelValues(result) // export zeros so rate() works from the start
	}
	return r
}

// Handler serves the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// RegisterConnLimit exports the process's connection limit l (--max-conns): the client
// connections open, the limit, how often it was reached, and the dials and accepts that failed
// because the gateway was out of a local resource.
func (r *Registry) RegisterConnLimit(l *connlimit.Limiter) {
	r.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vamp_gateway_client_connections",
			Help: "Client connections open now, of HTTP and TCP gateways (each holds one of --max-conns).",
		}, func() float64 { return float64(l.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vamp_gateway_max_client_connections",
			Help: "The limit on open client connections (--max-conns).",
		}, func() float64 { return float64(l.Max()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vamp_gateway_conn_limit_reached_total",
			Help: "Times a listener found --max-conns client connections open and stopped accepting until one closed (new clients wait in the kernel's listen backlog meanwhile).",
		}, func() float64 { return float64(l.Hits()) }),
	)
	for _, op := range connlimit.Ops {
		for i, errno := range connlimit.ErrnoNames {
			r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "vamp_gateway_resource_exhausted_total",
				Help:        "Dials to instances (op dial: answered 503, or a TCP connection closed) and accepts of clients (op accept: retried) that failed because the gateway itself was out of a local resource (errno); not counted against any instance.",
				ConstLabels: prometheus.Labels{"op": op.String(), "errno": errno},
			}, func() float64 { return float64(l.Exhausted(op, i)) }))
		}
	}
}

// RegisterEjections exports the process's passive ejections (HTTP and TCP gateways): the
// instances ejected, and the ejections withheld because the instance was the last available one
// of a gateway that routes to it.
func (r *Registry) RegisterEjections(e *eject.Ejections) {
	r.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vamp_gateway_ejections_total",
			Help: "Instances taken out of rotation for --eject-for after --eject-after connection failures in a row.",
		}, func() float64 { return float64(e.Ejected()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vamp_gateway_ejections_withheld_total",
			Help: "Ejections not made because the instance was the last available (healthy, not ejected) one of a gateway that routes to it (the one its request was routed by, or another that shares it): passive ejection never leaves a gateway without an instance.",
		}, func() float64 { return float64(e.Withheld()) }),
	)
}

// InstancePool is what the pool of connections to instances (every instance together) does,
// for /metrics: the proxy adds to it where it happens (one atomic add per dial, wait or purge;
// none for a request that finds a pooled connection).
type InstancePool struct {
	// Dials counts the connections dialled to instances, failed ones included.
	Dials atomic.Uint64
	// QueueWaits counts the requests that waited for a connection to their instance because
	// --max-dials-per-host dials to it were in progress; QueueTimeouts those of them whose wait
	// ended after --dial-timeout (sent to another instance, not counted against this one).
	QueueWaits, QueueTimeouts atomic.Uint64
	// Purged counts the idle connections closed by the pool's purge (every 5 s: those past
	// --idle-conn-timeout, and the colder half of those unused since the last purge).
	Purged atomic.Uint64
}

// RegisterInstancePool exports the pool's counters, and open (the connections to instances
// open now, in use and idle) as a gauge.
func (r *Registry) RegisterInstancePool(p *InstancePool, open func() int64) {
	r.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vamp_gateway_instance_connections",
			Help: "Connections to instances open now, in use and idle, every instance together (kept up to --max-conns).",
		}, func() float64 { return float64(open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vamp_gateway_instance_dials_total",
			Help: "Connections dialled to instances, failed ones included. Against requests_total: the share of requests that found no pooled connection.",
		}, func() float64 { return float64(p.Dials.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vamp_gateway_instance_queue_waits_total",
			Help: "Requests that waited for a connection to their instance because --max-dials-per-host dials to it were in progress (they get the first connection given back or dial ended).",
		}, func() float64 { return float64(p.QueueWaits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vamp_gateway_instance_queue_timeouts_total",
			Help: "Waits for a connection to an instance that ended after --dial-timeout: the request went to another instance, and the wait was not counted against this one.",
		}, func() float64 { return float64(p.QueueTimeouts.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vamp_gateway_instance_idle_purged_total",
			Help: "Idle connections to instances closed by the pool's purge every 5 s (HAProxy's pool-purge-delay): those past --idle-conn-timeout and the colder half of those unused since the last purge.",
		}, func() float64 { return float64(p.Purged.Load()) }),
	)
}

// RegisterHealthSkips exports the active health checks of the process (every gateway's) that
// were not made because the gateway itself was out of a local resource.
func (r *Registry) RegisterHealthSkips(h *health.Skips) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "vamp_gateway_health_checks_skipped_total",
		Help: "Active health checks not made because the gateway itself was out of a local resource (file descriptors and the like): the instance kept its state. Logged at most once per 10s.",
	}, func() float64 { return float64(h.Skipped()) }))
}

// Reload counts one configuration change attempt.
func (r *Registry) Reload(result string) { r.reloads.WithLabelValues(result).Inc() }

// NoRoute returns the 503 counter of a gateway.
func (r *Registry) NoRoute(gateway string) prometheus.Counter {
	return r.noRoute.WithLabelValues(gateway)
}

// NewRoute resolves the series of one gateway route. Keep the result for as long as the route
// exists (across table versions) so its counters keep counting.
func (r *Registry) NewRoute(gateway, route string) *Route {
	return &Route{
		reg:            r,
		gateway:        gateway,
		name:           route,
		requestsByCode: r.requests.MustCurryWith(prometheus.Labels{"gateway": gateway, "route": route}),
		duration:       r.duration.WithLabelValues(gateway, route),
		upstreamErrors: r.upstreamErrors.WithLabelValues(gateway, route),
		weight:         r.weight.WithLabelValues(gateway, route),
	}
}

// ForgetGateway removes a deleted gateway's series.
func (r *Registry) ForgetGateway(gateway string) {
	r.noRoute.DeleteLabelValues(gateway)
}

// Route is one gateway route's counters.
type Route struct {
	reg            *Registry
	gateway, name  string
	requestsByCode *prometheus.CounterVec
	duration       prometheus.Observer
	upstreamErrors prometheus.Counter
	weight         prometheus.Gauge
	// codes caches the counter of each status code 100..599 once seen, so a request does not
	// hash label values.
	codes [500]atomic.Pointer[prometheus.Counter]

	requests        atomic.Uint64
	classes         [5]atomic.Uint64
	upstreamErrorsN atomic.Uint64
	latency         Histogram
}

// SetWeight exports the route's current weight.
func (rt *Route) SetWeight(w int) { rt.weight.Set(float64(w)) }

// Forget removes the route's series (the route was removed from its gateway).
func (rt *Route) Forget() {
	labels := prometheus.Labels{"gateway": rt.gateway, "route": rt.name}
	rt.reg.requests.DeletePartialMatch(labels)
	rt.reg.duration.Delete(labels)
	rt.reg.upstreamErrors.Delete(labels)
	rt.reg.weight.Delete(labels)
}

// Observe records one answered request. upstreamError marks a request that no instance answered.
func (rt *Route) Observe(code int, elapsed time.Duration, upstreamError bool) {
	if code >= 100 && code < 600 {
		rt.classes[code/100-1].Add(1)
		c := rt.codes[code-100].Load()
		if c == nil {
			counter := rt.requestsByCode.WithLabelValues(strconv.Itoa(code))
			rt.codes[code-100].CompareAndSwap(nil, &counter)
			c = rt.codes[code-100].Load()
		}
		(*c).Inc()
	}
	if upstreamError {
		rt.upstreamErrorsN.Add(1)
		rt.upstreamErrors.Inc()
	}
	rt.duration.Observe(elapsed.Seconds())
	rt.latency.Record(elapsed)
	// Last, so that a reader who sees the request counted sees everything else about it too.
	rt.requests.Add(1)
}

// Snapshot is a route's counters at one moment.
type Snapshot struct {
	Requests       uint64
	Responses      map[string]uint64 // "1xx".."5xx"
	UpstreamErrors uint64
	P50, P99       time.Duration
}

// Snapshot reads the counters (each exact, not mutually consistent under load).
func (rt *Route) Snapshot() Snapshot {
	s := Snapshot{
		Requests:       rt.requests.Load(),
		Responses:      make(map[string]uint64, 5),
		UpstreamErrors: rt.upstreamErrorsN.Load(),
	}
	for i := range rt.classes {
		s.Responses[strconv.Itoa(i+1)+"xx"] = rt.classes[i].Load()
	}
	s.P50, s.P99 = rt.latency.Quantile(0.50), rt.latency.Quantile(0.99)
	return s
}
