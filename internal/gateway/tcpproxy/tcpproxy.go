// Package tcpproxy is the data plane of TCP gateways (protocol "tcp"): weighted layer-4
// forwarding, what Vamp's HAProxy did in `mode tcp`. For every accepted connection it chooses a
// route by weight with the routing core (the same weighted choice as HTTP gateways: exact per
// cycle, random position within the cycle, so 1,000 connections at 30/70 are exactly 300/700),
// then an available instance of that route (round-robin or least-connections; unhealthy and
// ejected instances are skipped; a failed connect is retried on another instance), and copies
// bytes both ways (splice(2) on Linux, as io.Copy between two *net.TCPConn does), passing on
// half-closes.
//
// A Server reads its gateway's table once per connection: a new table (new weights) takes
// effect for the next connection, and a connection in flight keeps its instance. Shutdown stops
// accepting and waits for the connections in flight (drain).
package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/eject"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// Defaults of Options.
const (
	DefaultDialTimeout = 2 * time.Second
	DefaultIdleTimeout = 10 * time.Minute
	DefaultEjectFor    = 10 * time.Second
	DefaultEjectAfter  = 3
	DefaultAttempts    = 3
)

// Options tune forwarding. Zero values take the defaults.
type Options struct {
	// DialTimeout bounds a connect to an instance.
	DialTimeout time.Duration
	// IdleTimeout closes a connection that carried no byte either way for that long. It is
	// measured in windows of IdleTimeout: a connection is closed at the end of the first whole
	// window without a byte, so between IdleTimeout and twice that after its last byte. An
	// instance or client that takes no byte for IdleTimeout while one is waiting is closed too.
	IdleTimeout time.Duration
	// EjectAfter failed connects in a row take an instance out of rotation for EjectFor.
	EjectAfter int
	EjectFor   time.Duration
	// Ejections counts ejections and withheld ones (routing.Table.Eject: never the last
	// available instance of a gateway), shared with the HTTP proxy (nil: the proxy's own).
	Ejections *eject.Ejections
	// Attempts is how many instances a connection tries before it is given up (HAProxy's
	// `retries`).
	Attempts int
	Logger   *slog.Logger
	// Conns is the process's limit on client connections (--max-conns), shared with the HTTP
	// gateways: each forwarded connection holds a slot, and every listener stops accepting while
	// none is free. nil: no limit.
	Conns *connlimit.Limiter
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.EjectAfter <= 0 {
		o.EjectAfter = DefaultEjectAfter
	}
	if o.EjectFor <= 0 {
		o.EjectFor = DefaultEjectFor
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Ejections == nil {
		o.Ejections = &eject.Ejections{}
	}
	return o
}

// DialError is a failed connect to an instance: the connection was retried on another one.
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string { return fmt.Sprintf("connect to instance %s: %v", e.Addr, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// Proxy is the TCP data plane of one gateway process: the routes' counters by table, the dial
// settings. Servers (one per TCP gateway listener) come from NewServer.
type Proxy struct {
	opts    Options
	metrics *Metrics
	dialer  net.Dialer
	tables  sync.Map // uintptr(*routing.Table) -> *tableRoutes
	// failures counts failed connects in a row per instance (*routing.Backend -> *atomic.Int32).
	failures sync.Map
}

// New returns a Proxy that counts into m.
func New(opts Options, m *Metrics) *Proxy {
	opts = opts.withDefaults()
	return &Proxy{opts: opts, metrics: m, dialer: net.Dialer{Timeout: opts.DialTimeout}}
}

// Forget drops what the proxy keeps of an instance that no table names any more.
func (p *Proxy) Forget(b *routing.Backend) { p.failures.Delete(b) }

// Register names the counters of t's routes (same order as t.Routes()), so a connection that
// the routing core sends to route i of t counts there. An entry lives as long as t.
func (p *Proxy) Register(t *routing.Table, routes []*Route) {
	key := uintptr(unsafe.Pointer(t))
	info := &tableRoutes{routes: routes}
	p.tables.Store(key, info)
	// A later table can be allocated at the same address only after t is garbage; by then its
	// own Store has replaced info, which CompareAndDelete then leaves alone.
	runtime.AddCleanup(t, func(key uintptr) { p.tables.CompareAndDelete(key, info) }, key)
}

type tableRoutes struct{ routes []*Route }

// failureCount is a value of Proxy.failures.
func failureCount(v any) *atomic.Int32 {
	return v.(*atomic.Int32) //nolint:forcetypeassert // failures holds only *atomic.Int32 (its one LoadOrStore)
}

func (p *Proxy) route(d routing.Decision) *Route {
	v, ok := p.tables.Load(uintptr(unsafe.Pointer(d.Table)))
	if !ok {
		return nil
	}
	routes := v.(*tableRoutes).routes //nolint:forcetypeassert // tables holds only *tableRoutes (Store in the table's registration)
	if d.Route < 0 || d.Route >= len(routes) {
		return nil
	}
	return routes[d.Route]
}

// connect chooses a route and an instance of t and connects to it, trying another instance
// (re-chosen by weight, the failed one excluded; ejected after EjectAfter failures in a row)
// after a failed connect. The error
// is a *routing.NoRouteError, *DialErrors joined, or both; or a *connlimit.ResourceError when the
// gateway itself is out of a local resource (EMFILE and the like): that is not the instance's
// failure, so it is neither counted towards ejection nor tried on another instance.
func (p *Proxy) connect(ctx context.Context, t *routing.Table) (*net.TCPConn, *routing.Backend, *Route, error) {
	var failed []error
	var exclude *routing.Backend
	for range p.opts.Attempts {
		now := time.Now()
		// A TCP table has neither conditions nor sticky sessions (the gateway's spec refuses
		// them), so the choice needs no request.
		d, err := t.Choose(nil, now, exclude)
		if err != nil {
			return nil, nil, nil, errors.Join(append(failed, err)...)
		}
		rt := p.route(d)
		c, err := p.dialer.DialContext(ctx, "tcp", d.Backend.Addr)
		if err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				if v, ok := p.failures.Load(d.Backend); ok {
					failureCount(v).Store(0)
				}
				return tc, d.Backend, rt, nil
			}
			c.Close()
			err = fmt.Errorf("not a TCP connection (%T)", c)
		}
		if res := connlimit.Classify(connlimit.OpDial, d.Backend.Addr, err); res != nil {
			p.opts.Conns.CountExhausted(res)
			return nil, nil, nil, errors.Join(append(failed, res)...)
		}
		failed = append(failed, &DialError{Addr: d.Backend.Addr, Err: err})
		if rt != nil {
			rt.connectError()
		}
		v, _ := p.failures.LoadOrStore(d.Backend, new(atomic.Int32))
		if n := failureCount(v).Add(1); int(n) >= p.opts.EjectAfter {
			failureCount(v).Store(0)
			p.opts.Ejections.Eject(p.opts.Logger, t, d.Backend, now, p.opts.EjectFor, p.opts.EjectAfter)
		}
		exclude = d.Backend
	}
	return nil, nil, nil, errors.Join(failed...)
}

// Server accepts the connections of one TCP gateway's listener. Its methods match what the
// gateway needs of any listener's server: Serve, Shutdown, Close.
type Server struct {
	name    string
	p       *Proxy
	table   *atomic.Pointer[routing.Table]
	noRoute func()

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*pair]struct{}
	closing   bool
	idle      chan struct{} // closed when closing and no connection is left
	stopping  chan struct{} // closed when closing: a listener waiting for a connection slot gives up
}

// NewServer returns the server of gateway name, which forwards by the table table points to
// (read once per connection).
func (p *Proxy) NewServer(name string, table *atomic.Pointer[routing.Table]) *Server {
	return &Server{
		name: name, p: p, table: table, noRoute: p.metrics.noRouteFunc(name),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*pair]struct{}),
		idle:      make(chan struct{}),
		stopping:  make(chan struct{}),
	}
}

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = errors.New("tcpproxy: server closed")

// Serve accepts on ln until Shutdown or Close (then it returns ErrServerClosed), forwarding each
// connection. While the process's connection limit (Options.Conns) is reached it accepts
// nothing: new clients wait in the kernel's listen backlog until a connection closes
// (connlimit.Limiter.Accept, the accept loop of every gateway listener).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	lim := s.p.opts.Conns
	err := lim.Accept(ln, s.stopping, s.p.opts.Logger.With("gateway", s.name), func(c net.Conn) {
		client, ok := c.(*net.TCPConn)
		if !ok {
			c.Close()
			lim.Release()
			return
		}
		// The slot is the connection's until handle ends (untrack).
		pr := &pair{client: client}
		if !s.track(pr) { // closing: the next wait for a slot sees it
			client.Close()
			lim.Release()
			return
		}
		go s.handle(pr)
	})
	if err == nil {
		return ErrServerClosed
	}
	return err
}

func (s *Server) track(pr *pair) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[pr] = struct{}{}
	return true
}

func (s *Server) untrack(pr *pair) {
	s.p.opts.Conns.Release()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, pr)
	if s.closing && len(s.conns) == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
}

// stop stops accepting and returns the connections in flight.
func (s *Server) stop() []*pair {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		close(s.stopping)
	}
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	if len(s.conns) == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
	out := make([]*pair, 0, len(s.conns))
	for pr := range s.conns {
		out = append(out, pr)
	}
	return out
}

// Shutdown stops accepting at once and waits until every connection in flight has ended, or
// ctx is done (then it returns ctx's error and the caller may Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	select {
	case <-s.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting and closes every connection in flight.
func (s *Server) Close() error {
	for _, pr := range s.stop() {
		pr.abort()
	}
	return nil
}

// Active is the number of connections in flight.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// pair is one forwarded connection: the client's and the instance's sockets.
type pair struct {
	client *net.TCPConn

	mu       sync.Mutex
	upstream *net.TCPConn
	aborted  bool
}

func (pr *pair) setUpstream(up *net.TCPConn) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.aborted {
		return false
	}
	pr.upstream = up
	return true
}

// abort closes both sockets, ending both copies.
func (pr *pair) abort() {
	pr.mu.Lock()
	pr.aborted = true
	up := pr.upstream
	pr.mu.Unlock()
	pr.client.Close()
	if up != nil {
		up.Close()
	}
}

func (s *Server) handle(pr *pair) {
	defer s.untrack(pr)
	defer pr.abort() // both sockets closed at the end, whatever happened
	t := s.table.Load()
	if t == nil {
		s.noRoute()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	up, backend, rt, err := s.p.connect(ctx, t)
	cancel()
	if err != nil {
		var nr *routing.NoRouteError
		if errors.As(err, &nr) {
			s.noRoute()
		}
		var res *connlimit.ResourceError
		if errors.As(err, &res) {
			s.p.opts.Logger.Warn("the gateway is out of a local resource; connection closed", "gateway", s.name, "error", res)
			return
		}
		s.p.opts.Logger.Debug("connection not forwarded", "gateway", s.name, "client", pr.client.RemoteAddr().String(), "error", err)
		return
	}
	if !pr.setUpstream(up) { // Close came first
		up.Close()
		return
	}
	backend.Acquire()
	defer backend.Release()
	if rt != nil {
		rt.opened()
		defer rt.closed()
	}
	s.pipe(pr, up, rt)
}

// chunk bounds one splice so that the byte counters move while a long transfer runs.
const chunk = 1 << 20

// pipe copies bytes both ways until both directions have ended (end of stream passed on as a
// half-close), a socket fails (both are closed), or the connection is idle.
func (s *Server) pipe(pr *pair, up *net.TCPConn, rt *Route) {
	w := &idleWatch{start: time.Now(), idle: s.p.opts.IdleTimeout, abort: pr.abort}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.copy(1, pr.client, up, func(n int64) { // instance → client
			if rt != nil {
				rt.out(n)
			}
		})
	}()
	w.copy(0, up, pr.client, func(n int64) { // client → instance
		if rt != nil {
			rt.in(n)
		}
	})
	wg.Wait()
}

// idleWatch decides when a connection is idle. Both directions read with deadlines at the same
// window boundaries (start + k·idle); at a boundary each reports whether it moved a byte in
// window k, and the second report of a window closes the connection when neither did. A
// direction that has ended counts as silent. Deciding at boundaries, after each direction's
// copy has returned its count, is what lets the copy stay a splice: its bytes are not visible
// while it runs.
type idleWatch struct {
	start time.Time
	idle  time.Duration
	abort func()

	mu       sync.Mutex
	busy     [2]int64 // last window in which the direction moved a byte (windows count from 1)
	reported [2]int64 // last window the direction has reported
	done     [2]bool
}

// copy moves bytes from src to dst until src's end of stream (then dst is half-closed), an
// error (then both sockets are closed) or idleness.
func (w *idleWatch) copy(dir int, dst, src *net.TCPConn, count func(int64)) {
	window := int64(1)
	for {
		boundary := w.start.Add(time.Duration(window) * w.idle)
		if err := errors.Join(src.SetReadDeadline(boundary), dst.SetWriteDeadline(boundary.Add(w.idle))); err != nil {
			w.abort() // only a closed socket refuses a deadline: abort or Close ended the pair
			return
		}
		lr := &io.LimitedReader{R: src, N: chunk}
		n, err := dst.ReadFrom(lr) // splice(2) between TCP sockets on Linux
		if n > 0 {
			count(n)
			w.mu.Lock()
			w.busy[dir] = window
			w.mu.Unlock()
		}
		switch {
		case err == nil && lr.N == 0: // a whole chunk: go on in the same window
			continue
		case err == nil: // end of stream: pass the half-close on
			if err := dst.CloseWrite(); err != nil {
				w.abort() // dst is reset or closed: the connection cannot carry the other direction either
				return
			}
			w.mu.Lock()
			w.done[dir] = true
			w.mu.Unlock()
			return
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(boundary.Add(w.idle)):
			// The read deadline: splice moves what it read before it waits again, so nothing is
			// pending. (The write deadline, later, means dst took nothing for idle: below.)
			if w.report(dir, window) {
				w.abort()
				return
			}
			window++
		default: // reset, closed by abort or Close, or a peer that took nothing for too long
			w.abort()
			return
		}
	}
}

// report records that dir reached the end of window and says whether the connection is idle:
// the other direction has reported the same window (or has ended) and neither moved a byte in it.
func (w *idleWatch) report(dir int, window int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reported[dir] = window
	other := 1 - dir
	if !w.done[other] && w.reported[other] < window {
		return false // the other direction decides when it reports this window
	}
	return w.busy[dir] < window && w.busy[other] < window
}
