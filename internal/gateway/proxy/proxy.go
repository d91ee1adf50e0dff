// Package proxy serves a gateway's port and forwards its requests to the instances its routing
// table chooses: HTTP/1.1 requests through the gateway's own HTTP/1.1 front end with pooled
// instance connections (server.go, conn.go, front.go), HTTP/2 (h2c) streams through its own
// HTTP/2 front end by the same forwarding (h2conn.go, h2stream.go), every other connection through
// net/http and httputil.ReverseProxy with Rewrite, whose transport (pooltransport.go) forwards
// over the same pool. Both paths forward by one policy (policy.go: forward, retryFor): one retry
// when the instance provably did not process the request; passive ejection of instances that
// keep failing; the sticky cookie; a plain-text 503 that says why nothing could serve.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/eject"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/metrics"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// Options tune the proxy. Zero values take the defaults below.
type Options struct {
	// DialTimeout bounds connecting to an instance (default 2s).
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds waiting for an instance's response headers after sending the
	// request, and waiting for an instance to take bytes of a request (a write to it that makes no
	// progress for this long fails: StalledWriteError) (default 60s; streamed bodies that move
	// are not limited).
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes keep-alive connections to instances idle this long (default 90s).
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost bounds the idle keep-alive connections kept per instance (0, the
	// default: no bound of its own). Whatever it says, the pool keeps at most as many connections
	// to instances open, in use and idle, as Conns allows client connections (poolBound).
	MaxIdleConnsPerHost int
	// MaxDialsPerHost bounds the dials to one instance in progress at once (default 32): a
	// request that finds no idle connection and every dial taken waits, first come first served,
	// for a connection given back or a dial's end (for at most DialTimeout, QueueTimeoutError),
	// as HAProxy queues requests, instead of dialling one more connection per waiting request.
	MaxDialsPerHost int
	// EjectAfter consecutive connection failures take an instance out of rotation for EjectFor
	// (defaults 3 and 10s), unless it is the last available instance of the table the request
	// was routed by, or of another gateway's table that shares it (routing.Table.Eject).
	EjectAfter int
	EjectFor   time.Duration
	// Ejections counts ejections and withheld ones, shared with the TCP gateways (nil: the
	// proxy's own).
	Ejections *eject.Ejections
	Logger    *slog.Logger
	// Conns is the process's limit on client connections (--max-conns), shared with the TCP
	// gateways: every listener of the proxy stops accepting while it is reached. nil: no limit.
	// Dials that fail because the gateway is out of a local resource are counted in it too.
	Conns *connlimit.Limiter
}

func (o *Options) defaults() {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 60 * time.Second
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.MaxIdleConnsPerHost < 0 {
		o.MaxIdleConnsPerHost = 0
	}
	if o.MaxDialsPerHost <= 0 {
		o.MaxDialsPerHost = DefaultMaxDialsPerHost
	}
	if o.EjectAfter <= 0 {
		o.EjectAfter = 3
	}
	if o.EjectFor <= 0 {
		o.EjectFor = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Ejections == nil {
		o.Ejections = &eject.Ejections{}
	}
}

// DefaultMaxDialsPerHost is Options.MaxDialsPerHost's default.
const DefaultMaxDialsPerHost = 32

// Proxy forwards requests for every gateway of the process over one transport.
type Proxy struct {
	opts Options
	rp   *httputil.ReverseProxy
	// up is the one pool of instance connections, of the front end and the net/http path.
	up      *upstreams
	buffers *bufferPool // ReverseProxy's body-copy buffers
	// tables maps a routing table (by address) to the metrics of its routes. An entry lives as
	// long as its table: a cleanup removes it once the table is garbage, so requests that
	// started on an old table still find their counters.
	tables sync.Map // uintptr -> *tableInfo
	// failures counts consecutive connection failures per instance for passive ejection.
	failures sync.Map // *routing.Backend -> *atomic.Int32
	// io is how the front end reads its sockets (tests set it with setIOMode).
	io ioMode
	// arrivals is the epoll set in which the front end's sockets wait in arrival order (its
	// clients' and its instance connections'); closed by Close.
	arrivals *netpoll.Arrivals
	// streams hands HTTP/2 streams to idle stream workers (startStream); closed is closed by
	// Close, which ends them.
	streams     chan *h2Stream
	idleWorkers atomic.Int32
	// pending holds HTTP/2 streams read and not started yet: they start at the end of the
	// arrival dispatcher's next round (startAfterRound, startPending). Under pendMu, with spare,
	// the buffer startPending gives back.
	pendMu         sync.Mutex
	pending, spare []*h2Stream
	closed         chan struct{}
	closeOnce      sync.Once
}

// setIOMode makes the front end read its sockets the given way (before any Server is made).
func (p *Proxy) setIOMode(m ioMode) {
	p.io, p.up.io = m, m
}

type tableInfo struct{ routes []*metrics.Route }

// New returns a proxy with its own transport.
func New(opts Options) *Proxy {
	opts.defaults()
	p := &Proxy{opts: opts, buffers: &bufferPool{}, arrivals: netpoll.NewArrivals(),
		streams: make(chan *h2Stream), closed: make(chan struct{})}
	p.arrivals.SetAfterRound(p.startPending)
	p.up = &upstreams{
		dialer:       net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second},
		maxIdle:      opts.MaxIdleConnsPerHost,
		keepOpen:     poolBound(opts.Conns.Max()),
		maxDials:     opts.MaxDialsPerHost,
		queueTimeout: opts.DialTimeout,
		idleTimeout:  opts.IdleConnTimeout,
		arrivals:     p.arrivals,
	}
	go p.up.purgeEvery(poolPurgeInterval, p.closed)
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &poolTransport{p: p},
		FlushInterval:  -1, // stream: flush after every write (server-sent events, long polls)
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		BufferPool:     p.buffers,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p
}

// bufferPool reuses the 32 KiB body-copy buffers that ReverseProxy would otherwise allocate for
// every request (httputil.BufferPool).
type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

// InstancePool is the pool's counters (dials, queue waits and time-outs, purges) and InstanceConns
// the connections to instances open now, for /metrics (metrics.Registry.RegisterInstancePool).
func (p *Proxy) InstancePool() *metrics.InstancePool { return &p.up.stats }

// InstanceConns is the number of connections to instances open now, in use and idle.
func (p *Proxy) InstanceConns() int64 { return p.up.open.Load() }

// Close drops idle connections to instances; the front end's connections that finish their
// exchange later are closed too (Close is for shutdown, after the proxy's servers are shut down:
// it also closes the arrival-order epoll set).
func (p *Proxy) Close() {
	p.closeOnce.Do(func() { close(p.closed) })
	p.up.close()
	p.arrivals.Close()
}

// Register makes the per-route metrics of table t known; call it before t is swapped in.
// routes[i] belongs to t.Routes()[i].
func (p *Proxy) Register(t *routing.Table, routes []*metrics.Route) {
	key := uintptr(unsafe.Pointer(t))
	info := &tableInfo{routes: routes}
	p.tables.Store(key, info)
	// A later table can be allocated at the same address only after t is garbage; by then its
	// own Store has replaced info, which CompareAndDelete then leaves alone.
	runtime.AddCleanup(t, func(key uintptr) { p.tables.CompareAndDelete(key, info) }, key)
}

func (p *Proxy) routeMetrics(d routing.Decision) *metrics.Route {
	v, ok := p.tables.Load(uintptr(unsafe.Pointer(d.Table)))
	if !ok {
		return nil
	}
	info, ok := v.(*tableInfo)
	if !ok {
		return nil
	}
	routes := info.routes
	if d.Route < 0 || d.Route >= len(routes) {
		return nil
	}
	return routes[d.Route]
}

// Routing is one gateway's routing state as its listener sees it: its name, its current routing
// table and virtual hosts, and its no-route counter. (Not the front end: that is Server.)
type Routing struct {
	Name string
	// Table is the gateway's current routing table; other gateways' routes point at it too.
	Table atomic.Pointer[routing.Table]
	// VirtualHosts, when not empty, are the only Host names this gateway answers.
	VirtualHosts atomic.Pointer[[]string]
	// NoRoute counts the 503s of this gateway.
	NoRoute prometheus.Counter
}

// Handler serves the requests of f through ReverseProxy: the net/http side of f's Server.
func (p *Proxy) Handler(f *Routing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(f, w, r) })
}

type attemptKey struct{}

// attemptOf is the attempt of a request that ReverseProxy passes to Rewrite or ErrorHandler:
// serve puts one in the context of every request it gives p.rp.
func attemptOf(r *http.Request) *attempt {
	return r.Context().Value(attemptKey{}).(*attempt) //nolint:forcetypeassert // serve sets it on every request p.rp sees
}

// attempt is one request's way through the proxy. The front end and ReverseProxy (Rewrite, the
// transport, ModifyResponse, ErrorHandler) use it on the request's own goroutine: no lock.
type attempt struct {
	in       *http.Request
	table    *routing.Table
	decision routing.Decision
	status   int
	upstream bool // no instance answered
	// seenRound is the arrival-order dispatcher's round that reported the request's first bytes
	// (clientConn.seenRound; 0 on the net/http path: not known). A pooled connection taken for
	// the request may trust that round's report instead of a look of its own (upstreams.take).
	seenRound uint64
	// start is when the request was routed: the pool's idle check (upstreams.take) compares
	// with it instead of reading the clock once more.
	start time.Time
}

func (p *Proxy) serve(f *Routing, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t, d, status, msg := p.routeFor(f, r, start)
	if status != 0 {
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", allowedMethods)
		}
		http.Error(w, msg, status)
		return
	}
	d.Backend.Acquire()
	// finish is deferred: ReverseProxy panics with http.ErrAbortHandler when a body copy fails
	// midway, and the instance must still be released and the request counted.
	att := &attempt{in: r, table: t, decision: d, start: start}
	defer p.finish(att, start)
	// An answer without a Content-Type passes without one: net/http would otherwise sniff one
	// whenever the body's first bytes come with the head (a nil value suppresses that, and
	// ReverseProxy's copy of the instance's own value appends to it). The front end adds none.
	w.Header()["Content-Type"] = nil
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), attemptKey{}, att)))
}

// allowedMethods is the Allow header of the 405 to CONNECT.
const allowedMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"

// routeFor routes request r of gateway f, on every path (net/http's, the HTTP/1.1 front end's,
// HTTP/2's): the routing table and its decision, or the status and text of the refusal: 404 for a
// Host the gateway does not serve, 405 for CONNECT (with Allow: allowedMethods), 503 when no route
// can serve (counted in f.NoRoute).
func (p *Proxy) routeFor(f *Routing, r *http.Request, start time.Time) (t *routing.Table, d routing.Decision, status int, msg string) {
	if hosts := f.VirtualHosts.Load(); hosts != nil && len(*hosts) > 0 && !hostIn(r.Host, *hosts) {
		return nil, d, http.StatusNotFound, fmt.Sprintf("vamp gateway %s: no virtual host %q here; it serves %s", f.Name, r.Host, strings.Join(*hosts, ", "))
	}
	if r.Method == http.MethodConnect {
		// The gateway is its instances' origin, not a forward proxy (RFC 9110 9.3.6).
		return nil, d, http.StatusMethodNotAllowed, "vamp gateway " + f.Name + ": CONNECT is not served here: the gateway is not a forward proxy"
	}
	t = f.Table.Load()
	d, err := t.Choose(r, start, nil)
	if err != nil {
		if f.NoRoute != nil {
			f.NoRoute.Inc()
		}
		return nil, d, http.StatusServiceUnavailable, "vamp gateway " + f.Name + ": " + err.Error()
	}
	return t, d, 0, ""
}

// instanceFailed records that no instance answered the request of att (err says why; logged) and
// returns the answer's status, 502, or 504 after a timeout, and its text: on every path.
func (p *Proxy) instanceFailed(att *attempt, err error) (status int, msg string) {
	var res *connlimit.ResourceError
	if errors.As(err, &res) {
		return p.outOfResource(att, res) // the gateway's own failure, not the instance's
	}
	att.upstream = true
	status = http.StatusBadGateway
	if isTimeout(err) {
		status = http.StatusGatewayTimeout
	}
	att.status = status
	route := att.decision.Table.Routes()[att.decision.Route].Name
	p.opts.Logger.Warn("instance did not answer", "route", route, "instance", att.decision.Backend.Addr, "error", err)
	return status, fmt.Sprintf("vamp gateway: route %q: its instance did not answer (%s)", route, http.StatusText(status))
}

// malformedAnswer records that the instance's answer to att's request broke its framing before
// anything of it went to the client (err: how) and returns the text of the 502.
func malformedAnswer(att *attempt, err error) string {
	att.upstream, att.status = true, http.StatusBadGateway
	route := att.decision.Table.Routes()[att.decision.Route].Name
	return fmt.Sprintf("vamp gateway: route %q: its instance sent a malformed answer (%s)", route, err)
}

// finish ends att's request: counted in its route's metrics, then given back to its instance, in
// that order, so that whoever sees no request active on an instance sees every one it served
// counted (a roll-out's tick right after its traffic, the admin API's stats).
func (p *Proxy) finish(att *attempt, start time.Time) {
	if m := p.routeMetrics(att.decision); m != nil && att.status != 0 {
		m.Observe(att.status, time.Since(start), att.upstream)
	}
	att.decision.Backend.Release()
}

func hostIn(host string, hosts []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, want := range hosts {
		if strings.EqualFold(host, want) {
			return true
		}
	}
	return false
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	att := attemptOf(pr.In)
	pr.SetXForwarded()
	// The query goes on as the client sent it: ReverseProxy drops parameters with ';' or a bad
	// %-escape (so that it and the instance cannot read them differently), but the gateway does
	// not parse them, and an instance that expects them as they came should get them so.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = att.decision.Backend.Addr

	// The inbound Host header is kept (as HAProxy does): instances behind one gateway often
	// serve several virtual hosts.
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	att, ok := resp.Request.Context().Value(attemptKey{}).(*attempt)
	if !ok {
		return nil
	}
	att.status = resp.StatusCode
	if upgradeAsked(att.in) {
		// What the client sends next is HTTP/1.1 again (checked), or not (framedConn).
		switched(att.in.Context(), resp.StatusCode == http.StatusSwitchingProtocols)
	}
	if d := att.decision; d.SetCookie {
		resp.Header.Add("Set-Cookie", stickyCookie(d.CookieName, d.CookieValue))
	}
	return nil
}

// upgradeAsked: the request asks to switch protocols.
func upgradeAsked(r *http.Request) bool { return len(r.Header["Upgrade"]) > 0 }

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	p.answerError(w, r, attemptOf(r), err)
}

// answerError answers a request that no instance answered, and says why in the counters.
func (p *Proxy) answerError(w http.ResponseWriter, r *http.Request, att *attempt, err error) {
	framing := framingFailure(r.Context())
	if framing != nil || errors.As(err, &framing) {
		// The client's body broke the rules of its framing (framedConn): not the instance's fault.
		// First: the failed read also ended the request's context.
		att.status = framing.HTTPStatus()
		w.Header().Set("Connection", "close")
		http.Error(w, framing.Error(), framing.HTTPStatus())
		return
	}
	var body *ClientBodyError
	if r.Context().Err() != nil || errors.As(err, &body) {
		// The client went away (or ended before its body did); nothing to answer and not the
		// instance's fault. 499 is nginx's "client closed request", used here only for the
		// counters. The connection is closed without an answer: none may be made up for a
		// request the instance never answered (net/http would send an empty 200).
		att.status = 499
		panic(http.ErrAbortHandler)
	}
	if upgradeAsked(r) {
		// The switch may have failed after modifyResponse saw the 101: the connection closes.
		switched(r.Context(), false)
		w.Header().Set("Connection", "close")
	}
	status, msg := p.instanceFailed(att, err)
	http.Error(w, msg, status)
}

// outOfResource is the answer to a request whose instance could not be dialled because the
// gateway itself is out of a local resource (a connlimit.ResourceError): a 503 that says so,
// counted (vamp_gateway_resource_exhausted_total) and logged, not as the instance's failure (it
// was not counted towards ejection, retryFor). Both paths answer with it.
func (p *Proxy) outOfResource(att *attempt, res *connlimit.ResourceError) (status int, text string) {
	p.opts.Conns.CountExhausted(res)
	att.status = http.StatusServiceUnavailable
	route := att.decision.Table.Routes()[att.decision.Route].Name
	p.opts.Logger.Warn("the gateway is out of a local resource; request answered 503", "route", route,
		"instance", att.decision.Backend.Addr, "error", res)
	return http.StatusServiceUnavailable, fmt.Sprintf("vamp gateway: route %q: the gateway is out of %s and could not connect to an instance (not the instance's failure); raise the gateway's open-files limit (ulimit -n) or lower --max-conns",
		route, res.Resource())
}

// Forget drops the failure count and the idle connections of an instance that no table names
// any more.
func (p *Proxy) Forget(b *routing.Backend) {
	p.failures.Delete(b)
	p.up.forget(b.Addr)
}

func (p *Proxy) succeeded(b *routing.Backend) {
	if v, ok := p.failures.Load(b); ok {
		if n, ok := v.(*atomic.Int32); ok && n.Load() != 0 {
			n.Store(0)
		}
	}
}

// failed counts a connection failure of b, an instance of a request routed by t; EjectAfter of
// them in a row eject b, unless it is the last available instance of t or of another table in
// service that lists it (eject.Ejections.Eject).
func (p *Proxy) failed(t *routing.Table, b *routing.Backend) {
	v, _ := p.failures.LoadOrStore(b, new(atomic.Int32))
	n := v.(*atomic.Int32) //nolint:forcetypeassert // p.failures holds only *atomic.Int32 (stored here only)
	if n.Add(1) >= int32(p.opts.EjectAfter) {
		n.Store(0)
		p.opts.Ejections.Eject(p.opts.Logger, t, b, time.Now(), p.opts.EjectFor, p.opts.EjectAfter)
	}
}
