package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/health"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/metrics"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/proxy"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/state"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/tcpproxy"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// entry is one gateway of the process.
type entry struct {
	doc        gatewayapi.Gateway // as accepted, with Name and Version
	routing    *proxy.Routing
	routes     map[string]*metrics.Route // by route name, kept across versions
	born       map[string]time.Time      // when each route's counters started
	listener   *listener                 // nil for port 0
	stopHealth func()
	checked    []*routing.Backend // instances that this gateway's health checks probe
	run        *rolloutRun        // the gateway's roll-out, nil without one
	slas       map[string]*slaRun // SLA scaling by route name
	// tcpRoutes are the connection counters of a TCP gateway's routes, by route name.
	tcpRoutes map[string]*tcpproxy.Route
}

type listener struct {
	port int
	ln   net.Listener
	srv  connServer
}

// connServer serves a listener: *proxy.Server for HTTP gateways, *tcpproxy.Server for TCP ones.
type connServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// applyMode says where a gateway document comes from.
type applyMode int

const (
	applyPut        applyMode = iota // the admin API: strict, new version, written to the state file
	applyRestore                     // the state file at start: keeps its version
	applyRediscover                  // the same document again after a discovery change
	applyRollout                     // the roll-out's weights: new version, written with its state
)

// applyError is a refused change: the admin API's status, the JSON path and the message.
type applyError struct {
	status int
	path   string
	msg    string
}

func (e *applyError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

func refuse(status int, path, format string, args ...any) *applyError {
	return &applyError{status: status, path: path, msg: fmt.Sprintf(format, args...)}
}

// apply checks doc whole, builds its table and listener, writes the state file and only then
// swaps it in; any failure leaves everything as it was. ro is the roll-out state that comes with
// doc: the saved one (applyRestore) or the one the roll-out decided (applyRollout). s.mu must
// be held.
func (s *Server) apply(name string, doc gatewayapi.Gateway, mode applyMode, ro *rollout.State) (gatewayapi.Gateway, error) {
	gw, err := s.applyLocked(name, doc, mode, ro)
	result := metrics.ReloadOK
	var ae *applyError
	if errors.As(err, &ae) {
		switch ae.status {
		case http.StatusBadRequest:
			result = metrics.ReloadInvalid
		case http.StatusConflict:
			result = metrics.ReloadConflict
		default:
			result = metrics.ReloadError
		}
	}
	s.metrics.Reload(result)
	return gw, err
}

func (s *Server) applyLocked(name string, doc gatewayapi.Gateway, mode applyMode, ro *rollout.State) (gatewayapi.Gateway, error) {
	if s.stopped {
		return gatewayapi.Gateway{}, refuse(http.StatusServiceUnavailable, "", "the gateway is shutting down")
	}
	doc.Name = name
	doc.RolloutStatus = nil // computed on every GET
	old := s.gateways[name]

	if fe := spec.CheckProtocol(doc); fe != nil {
		return gatewayapi.Gateway{}, refuse(http.StatusBadRequest, fe.Path, "%s", fe.Msg)
	}

	// The roll-out first: one that keeps running owns its routes' weights in doc.
	var run *rolloutRun
	var runState *rollout.State
	var slas map[string]*slaRun
	switch mode {
	case applyPut, applyRestore:
		var err error
		saved := ro
		if mode == applyPut && s.store == nil {
			saved = nil // a PUT without a store: the roll-out of the document, not a saved one
		}
		if run, err = s.prepareRollout(name, &doc, old, saved, mode == applyPut && s.store != nil); err != nil {
			return gatewayapi.Gateway{}, err
		}
		if run != nil {
			st := run.engine.State()
			runState = &st
		}
		if slas, err = s.prepareSLAs(name, doc, old); err != nil {
			if mode == applyPut {
				return gatewayapi.Gateway{}, err
			}
			s.log.Warn("the gateway's SLA scaling cannot run; its routes are served without it", "gateway", name, "error", err)
		}
	default: // the same roll-out and scaling go on
		run, slas = old.run, old.slas
		runState = ro
	}

	compiled, err := spec.Compile(name, doc, spec.Env{
		Pool:    s.pool,
		Gateway: s.tablePointer,
		Source:  func(runtime string) discovery.Source { return s.sources[runtime] },
		Protocol: func(n string) string {
			if e := s.gateways[n]; e != nil {
				return gatewayapi.ProtocolOf(e.doc)
			}
			return ""
		},
		Strict: mode == applyPut,
		Seed:   s.tableSeed(),
	})
	if err != nil {
		return gatewayapi.Gateway{}, refuseCompile(err)
	}
	for _, w := range compiled.Warnings {
		s.log.Warn("service not resolvable; its route has no instances until the runtime knows it", "error", w)
	}
	if mode != applyRediscover {
		if err := s.checkCycle(name, doc); err != nil {
			return gatewayapi.Gateway{}, err
		}
	}

	protocolChanged := old != nil && gatewayapi.ProtocolOf(old.doc) != compiled.Protocol
	if protocolChanged && compiled.Protocol == gatewayapi.ProtocolHTTP {
		if err := s.checkTCPReferrers(name); err != nil {
			return gatewayapi.Gateway{}, err
		}
	}

	// Bind a new port before anything changes, so a taken port refuses the whole change.
	portChanged := old == nil || old.doc.Port != doc.Port
	var newLn *listener
	switch {
	case !portChanged && protocolChanged && old.listener != nil:
		// The same port with the other protocol: a new server on a duplicate of the listening
		// socket takes the next connections while the old one drains its own.
		ln, err := dupListener(old.listener.ln)
		if err != nil {
			return gatewayapi.Gateway{}, refuse(http.StatusInternalServerError, "protocol", "the listener of port %d could not be handed to the %s server: %v; the gateway is unchanged", doc.Port, compiled.Protocol, err)
		}
		newLn = &listener{port: doc.Port, ln: ln}
		portChanged = true // from here on: a listener replaced on the same port
	case portChanged && doc.Port != 0:
		if owner, taken := s.ports[doc.Port]; taken && owner != name {
			return gatewayapi.Gateway{}, refuse(http.StatusConflict, "port", "port %d is already used by gateway %q; choose another port or delete that gateway first", doc.Port, owner)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.BindHost, strconv.Itoa(doc.Port)))
		if err != nil {
			return gatewayapi.Gateway{}, refuse(http.StatusConflict, "port", "cannot listen on port %d: %v; another process holds it, or the gateway may not bind it", doc.Port, err)
		}
		newLn = &listener{port: doc.Port, ln: ln}
	}

	switch {
	case (mode == applyPut || mode == applyRollout) && old != nil:
		doc.Version = old.doc.Version + 1
	case mode == applyPut:
		doc.Version = 1
	case mode == applyRediscover:
		doc.Version = old.doc.Version
	case doc.Version < 1:
		doc.Version = 1
	}
	if mode == applyPut || mode == applyRollout {
		if err := s.save(name, &doc, runState); err != nil {
			if newLn != nil {
				newLn.ln.Close()
			}
			return gatewayapi.Gateway{}, refuse(http.StatusInternalServerError, "", "the change was not applied: %v", err)
		}
	}

	// Commit: nothing below can fail.
	e := old
	if e == nil {
		e = &entry{
			routing:    &proxy.Routing{Name: name, NoRoute: s.metrics.NoRoute(name)},
			routes:     make(map[string]*metrics.Route),
			born:       make(map[string]time.Time),
			stopHealth: func() {},
		}
		s.gateways[name] = e
	}
	routeMetrics := make([]*metrics.Route, len(doc.Routes))
	kept := make(map[string]*metrics.Route, len(doc.Routes))
	for i, r := range doc.Routes {
		m := e.routes[r.Name]
		if m == nil {
			m = s.metrics.NewRoute(name, r.Name)
			e.born[r.Name] = s.now()
		}
		m.SetWeight(r.Weight)
		routeMetrics[i], kept[r.Name] = m, m
	}
	for routeName, m := range e.routes {
		if kept[routeName] == nil {
			m.Forget()
			delete(e.born, routeName)
		}
	}
	e.routes = kept
	// The HTTP proxy counts requests that an HTTP gateway routes through a TCP gateway's table.
	s.proxy.Register(compiled.Table, routeMetrics)
	if compiled.Protocol == gatewayapi.ProtocolTCP {
		e.tcpRoutes = s.registerTCP(name, compiled.Table, doc, e.tcpRoutes)
	} else {
		for _, m := range e.tcpRoutes {
			m.Forget()
		}
		e.tcpRoutes = nil
	}
	hosts := doc.VirtualHosts
	e.routing.VirtualHosts.Store(&hosts)
	previous := e.routing.Table.Load()
	// Passive ejection of an instance this gateway shares with others keeps this table an
	// instance from here on, before the first request routed by it.
	s.pool.InService(name, compiled.Table)
	e.routing.Table.Store(compiled.Table) // from here on new requests use the new table
	e.stopHealth()
	var checked []*routing.Backend
	for _, hc := range compiled.HealthChecks {
		checked = append(checked, hc.Backends...)
	}
	uncheck(e.checked, checked)
	e.checked = checked
	e.stopHealth = health.Start(name, compiled.HealthChecks, s.healthClient, s.log, s.healthSkips)
	if previous != nil {
		s.forgetUnused(previous)
	}
	if portChanged {
		if e.listener != nil {
			delete(s.ports, e.listener.port)
			s.closeListener(e.listener)
			e.listener = nil
		}
		if newLn != nil {
			newLn.srv = s.listenerServer(e.routing, compiled.Protocol)
			e.listener = newLn
			s.ports[newLn.port] = name
			if s.running {
				s.serve(newLn)
			}
		}
	}
	e.doc = doc
	if run != e.run {
		if e.run != nil {
			e.run.cancel() // its goroutine ends; a decision it is applying is refused
		}
		e.run = run
		if run != nil && s.running {
			s.startRollout(run)
		}
	}
	if run != nil && runState != nil {
		run.persisted = *runState
	}
	e.slas = slas
	if mode == applyPut {
		s.log.Info("gateway accepted", "gateway", name, "version", doc.Version, "port", doc.Port, "routes", len(doc.Routes))
	}
	return doc, nil
}

// refuseCompile is spec.Compile's error as the admin API's 400 with its JSON path.
func refuseCompile(err error) *applyError {
	var fe *spec.FieldError
	if errors.As(err, &fe) {
		return refuse(http.StatusBadRequest, fe.Path, "%s", fe.Msg)
	}
	return refuse(http.StatusBadRequest, "", "%v", err)
}

// remove deletes a gateway that no other gateway routes to. s.mu must be held.
func (s *Server) remove(name string) error {
	e := s.gateways[name]
	if e == nil {
		return refuse(http.StatusNotFound, "", "gateway %q does not exist", name)
	}
	if s.stopped {
		return refuse(http.StatusServiceUnavailable, "", "the gateway is shutting down")
	}
	for _, other := range s.sortedNames() {
		for i, r := range s.gateways[other].doc.Routes {
			if r.Gateway == name {
				return refuse(http.StatusConflict, "", "gateway %q routes to %q (routes[%d] %q); change or delete that route first", other, name, i, r.Name)
			}
		}
	}
	if err := s.save(name, nil, nil); err != nil {
		return refuse(http.StatusInternalServerError, "", "the gateway was not deleted: %v", err)
	}
	if e.run != nil {
		e.run.cancel()
	}
	e.stopHealth()
	uncheck(e.checked, nil)
	if e.listener != nil {
		delete(s.ports, e.listener.port)
		s.closeListener(e.listener)
	}
	for _, m := range e.routes {
		m.Forget()
	}
	for _, m := range e.tcpRoutes {
		m.Forget()
	}
	s.tcpMetrics.ForgetGateway(name)
	s.metrics.ForgetGateway(name)
	delete(s.gateways, name)
	s.pool.InService(name, nil)
	s.forgetUnused(e.routing.Table.Load())
	s.metrics.Reload(metrics.ReloadOK)
	s.log.Info("gateway deleted", "gateway", name)
	return nil
}

// uncheck forgets the verdicts of health checks that no longer run: an instance that was marked
// down by a check that has been removed would otherwise never get traffic again.
func uncheck(before, after []*routing.Backend) {
	still := make(map[*routing.Backend]bool, len(after))
	for _, b := range after {
		still[b] = true
	}
	for _, b := range before {
		if !still[b] {
			b.SetHealthy(true)
		}
	}
}

// forgetUnused drops from the pool the instances of a replaced table that no current table
// names any more, so that instances that came and went (discovery) do not pile up. A request
// still in flight on the old table keeps its Backend.
func (s *Server) forgetUnused(old *routing.Table) {
	var gone []*routing.Backend
	for _, r := range old.Routes() {
		gone = append(gone, r.Backends...)
	}
	if len(gone) == 0 {
		return
	}
	inUse := make(map[string]bool)
	for _, e := range s.gateways {
		for _, r := range e.routing.Table.Load().Routes() {
			for _, b := range r.Backends {
				inUse[b.Addr] = true
			}
		}
	}
	for _, b := range gone {
		if !inUse[b.Addr] {
			s.pool.Forget(b.Addr)
			s.proxy.Forget(b)
			s.tcp.Forget(b)
		}
	}
}

// save writes every gateway and roll-out to the state file, with doc and its roll-out state ro
// in place of name's (doc nil: without it; ro nil: no roll-out).
func (s *Server) save(name string, doc *gatewayapi.Gateway, ro *rollout.State) error {
	if s.cfg.StateFile == "" {
		return nil
	}
	f := state.File{Gateways: make([]gatewayapi.Gateway, 0, len(s.gateways)+1), Rollouts: map[string]rollout.State{}}
	for n, e := range s.gateways {
		if n == name {
			continue
		}
		f.Gateways = append(f.Gateways, e.doc)
		if e.run != nil {
			f.Rollouts[n] = e.run.persisted
		}
	}
	if doc != nil {
		f.Gateways = append(f.Gateways, *doc)
		if ro != nil {
			f.Rollouts[name] = *ro
		}
	}
	return state.Save(s.cfg.StateFile, f)
}

func (s *Server) tablePointer(name string) *atomic.Pointer[routing.Table] {
	if e := s.gateways[name]; e != nil {
		return &e.routing.Table
	}
	return nil
}

func (s *Server) sortedNames() []string {
	names := make([]string, 0, len(s.gateways))
	for n := range s.gateways {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkCycle refuses doc when its gateway routes would lead back to itself.
func (s *Server) checkCycle(name string, doc gatewayapi.Gateway) error {
	refs := func(n string) []string {
		if n == name {
			return spec.References(doc)
		}
		if e := s.gateways[n]; e != nil {
			return spec.References(e.doc)
		}
		return nil
	}
	for i, r := range doc.Routes {
		if r.Gateway == "" {
			continue
		}
		if path := findPath(r.Gateway, name, refs, map[string]bool{}); path != nil {
			chain := append([]string{name}, path...)
			return refuse(http.StatusBadRequest, fmt.Sprintf("routes[%d].gateway", i),
				"routes between gateways would form a cycle: %s", strings.Join(chain, " → "))
		}
	}
	return nil
}

// findPath returns a chain of gateways from `from` to `to` following refs, nil if none.
func findPath(from, to string, refs func(string) []string, seen map[string]bool) []string {
	if from == to {
		return []string{to}
	}
	if seen[from] {
		return nil
	}
	seen[from] = true
	for _, next := range refs(from) {
		if rest := findPath(next, to, refs, seen); rest != nil {
			return append([]string{from}, rest...)
		}
	}
	return nil
}

// dependencyOrder sorts gateways so that each comes after the gateways its routes lead to.
func dependencyOrder(docs []gatewayapi.Gateway) ([]gatewayapi.Gateway, error) {
	byName := make(map[string]gatewayapi.Gateway, len(docs))
	for _, d := range docs {
		byName[d.Name] = d
	}
	const (
		visiting = 1
		done     = 2
	)
	mark := make(map[string]int, len(docs))
	var out []gatewayapi.Gateway
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch mark[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("gateways route to each other in a cycle: %s", strings.Join(append(chain, name), " → "))
		}
		mark[name] = visiting
		for _, ref := range spec.References(byName[name]) {
			if _, ok := byName[ref]; ok {
				if err := visit(ref, append(chain, name)); err != nil {
					return err
				}
			}
		}
		mark[name] = done
		out = append(out, byName[name])
		return nil
	}
	names := make([]string, 0, len(docs))
	for _, d := range docs {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func usesServices(doc gatewayapi.Gateway) bool {
	for _, r := range doc.Routes {
		if r.Service != nil {
			return true
		}
	}
	return false
}

// registerTCP names the connection counters of a TCP gateway's table, keeping each route's
// counters across versions (before), and returns them by route name.
func (s *Server) registerTCP(name string, t *routing.Table, doc gatewayapi.Gateway, before map[string]*tcpproxy.Route) map[string]*tcpproxy.Route {
	kept := make(map[string]*tcpproxy.Route, len(doc.Routes))
	ordered := make([]*tcpproxy.Route, len(doc.Routes))
	for i, r := range doc.Routes {
		m := before[r.Name]
		if m == nil {
			m = s.tcpMetrics.Route(name, r.Name)
		}
		ordered[i], kept[r.Name] = m, m
	}
	for routeName, m := range before {
		if kept[routeName] == nil {
			m.Forget()
		}
	}
	s.tcp.Register(t, ordered)
	return kept
}

// checkTCPReferrers refuses to make name an HTTP gateway while a TCP gateway routes to it: a TCP
// connection has no request for an HTTP gateway's conditions.
func (s *Server) checkTCPReferrers(name string) error {
	for _, other := range s.sortedNames() {
		e := s.gateways[other]
		if gatewayapi.ProtocolOf(e.doc) != gatewayapi.ProtocolTCP {
			continue
		}
		for i, r := range e.doc.Routes {
			if r.Gateway == name {
				return refuse(http.StatusConflict, "protocol", "TCP gateway %q routes to %q (routes[%d] %q), and a TCP gateway's routes lead to TCP gateways; change or delete that route first", other, name, i, r.Name)
			}
		}
	}
	return nil
}

// dupListener returns a listener on a duplicate of ln's socket: closing ln then leaves it open.
func dupListener(ln net.Listener) (net.Listener, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("not a TCP listener (%T)", ln)
	}
	f, err := tl.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}

// listenerServer is the server of a gateway's listener for its protocol.
func (s *Server) listenerServer(f *proxy.Routing, protocol string) connServer {
	if protocol == gatewayapi.ProtocolTCP {
		return s.tcp.NewServer(f.Name, &f.Table)
	}
	return s.gatewayServer(f)
}

func (s *Server) gatewayServer(f *proxy.Routing) *proxy.Server {
	return s.proxy.NewServer(f, proxy.ServerOptions{
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.With("gateway", f.Name).Handler(), slog.LevelDebug),
		NetHTTPOnly:       s.cfg.NetHTTPOnly,
	})
}

// serve starts accepting on l.
func (s *Server) serve(l *listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, tcpproxy.ErrServerClosed) {
			s.log.Error("gateway listener failed", "port", l.port, "error", err)
		}
	}()
}

// closeListener stops accepting on l at once (new connections are refused) and lets requests in
// flight finish in the background, up to DrainTimeout.
func (s *Server) closeListener(l *listener) {
	l.ln.Close()
	if l.srv == nil {
		return
	}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
		defer cancel()
		if err := l.srv.Shutdown(ctx); err != nil {
			l.srv.Close()
		}
	}()
}

func splitAddr(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

// tableSeed is the seed of the next routing table: 0 (draw from crypto/rand) unless
// Config.RoutingSeed asks for reproducible orders.
func (s *Server) tableSeed() uint64 {
	if s.cfg.RoutingSeed == 0 {
		return 0
	}
	k := s.tableBuilds.Add(1)
	return max(s.cfg.RoutingSeed+k*0x9E3779B97F4A7C15, 1)
}
