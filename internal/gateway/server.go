// Package gateway is the vamp gateway as a library: gateways (one listener per port) that route
// by weights and conditions, programmed through a token-protected admin API, kept in a state
// file. gatewayimage/ wraps it as a binary; the dev runtime embeds it.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/eject"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/health"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/metrics"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/proxy"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/state"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/tcpproxy"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// Server is a running gateway process: its gateways, their listeners and the admin API.
type Server struct {
	cfg          Config
	log          *slog.Logger
	token        string
	metrics      *metrics.Registry
	proxy        *proxy.Proxy
	tcp          *tcpproxy.Proxy // TCP gateways' data plane
	tcpMetrics   *tcpproxy.Metrics
	pool         *routing.Pool
	healthClient *http.Client
	// healthSkips counts and logs the health checks of every gateway not made for want of a
	// local resource.
	healthSkips *health.Skips
	sources     map[string]discovery.Source
	store       *etcdStore // store mode (etcd); nil without
	// tableBuilds counts routing tables built, for Config.RoutingSeed. Atomic: no lock.
	tableBuilds atomic.Uint64

	// mu serialises every change of gateways (admin API, discovery) and guards the maps.
	mu       sync.Mutex
	gateways map[string]*entry
	ports    map[int]string // port -> gateway name
	running  bool           // Run is serving: new listeners serve at once
	stopped  bool           // Run is draining: no more changes

	admin    http.Handler
	adminLn  net.Listener
	adminSrv *http.Server
	ready    chan struct{}
	serving  sync.WaitGroup // Serve and background Shutdown goroutines
}

// New checks cfg, restores the state file (every gateway validated, its listener bound) and
// returns a Server ready to Run. A state file that cannot be restored is an error naming it.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AdminListen == "" {
		cfg.AdminListen = os.Getenv(EnvAdminListen)
	}
	if cfg.AdminListen == "" {
		cfg.AdminListen = DefaultAdminListen
	}
	if cfg.StateFile == "" {
		cfg.StateFile = os.Getenv(EnvStateFile)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.RolloutTick == 0 {
		cfg.RolloutTick = DefaultRolloutTick
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.StateFile != "" {
		// Fail at start, not at the first PUT, when the state cannot be written where asked.
		if fi, err := os.Stat(filepath.Dir(cfg.StateFile)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("state file %s: its directory %s does not exist; create it or choose another --state-file", cfg.StateFile, filepath.Dir(cfg.StateFile))
		}
	}
	token, err := adminToken(cfg)
	if err != nil {
		return nil, err
	}
	maxConns, nofile, warn, err := connlimit.Resolve(cfg.MaxConns)
	if err != nil {
		return nil, err
	}
	if warn != "" {
		cfg.Logger.Warn(warn)
	}
	cfg.Logger.Info("client connection limit", "max_conns", maxConns, "open_files_limit", nofile, "derived", cfg.MaxConns == 0)
	conns := connlimit.New(maxConns)
	cfg.Proxy.Conns = conns
	cfg.TCP.Conns = conns
	ejections := &eject.Ejections{}
	cfg.Proxy.Ejections = ejections
	cfg.TCP.Ejections = ejections
	cfg.Proxy.Logger = cfg.Logger
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		token:    token,
		metrics:  metrics.New(),
		proxy:    proxy.New(cfg.Proxy),
		pool:     routing.NewPool(),
		sources:  make(map[string]discovery.Source, len(cfg.Sources)),
		gateways: make(map[string]*entry),
		ports:    make(map[int]string),
		ready:    make(chan struct{}),
	}
	s.healthSkips = &health.Skips{}
	s.healthClient = &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
		},
		// A redirect is an answer: the instance is up.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, src := range cfg.Sources {
		if _, dup := s.sources[src.Runtime()]; dup {
			return nil, fmt.Errorf("two discovery sources for runtime %q; give each runtime one source", src.Runtime())
		}
		s.sources[src.Runtime()] = src
	}
	if token == "" {
		s.log.Warn("the admin API runs WITHOUT authentication (--admin-insecure-no-token); anyone who reaches it can reprogram every gateway", "admin", cfg.AdminListen)
	}
	s.metrics.MustRegister(newRolloutCollector(s))
	s.metrics.RegisterConnLimit(conns)
	s.metrics.RegisterEjections(ejections)
	s.metrics.RegisterHealthSkips(s.healthSkips)
	s.metrics.RegisterInstancePool(s.proxy.InstancePool(), s.proxy.InstanceConns)
	s.tcpMetrics = tcpproxy.NewMetrics()
	s.metrics.MustRegister(s.tcpMetrics.Collectors()...)
	tcpOpts := cfg.TCP
	tcpOpts.DialTimeout = cmp.Or(tcpOpts.DialTimeout, cfg.Proxy.DialTimeout)
	tcpOpts.EjectFor = cmp.Or(tcpOpts.EjectFor, cfg.Proxy.EjectFor)
	tcpOpts.EjectAfter = cmp.Or(tcpOpts.EjectAfter, cfg.Proxy.EjectAfter)
	tcpOpts.Logger = cfg.Logger
	s.tcp = tcpproxy.New(tcpOpts, s.tcpMetrics)
	admin, err := s.adminHandler()
	if err != nil {
		return nil, err
	}
	s.admin = admin
	if err := s.restore(); err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.openStore(); err != nil {
		s.closeAll()
		return nil, err
	}
	return s, nil
}

func adminToken(cfg Config) (string, error) {
	token := cfg.AdminToken
	if token == "" && cfg.AdminTokenFile != "" {
		data, err := os.ReadFile(cfg.AdminTokenFile)
		if err != nil {
			return "", fmt.Errorf("admin token file: %w", err)
		}
		token = strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("admin token file %s is empty", cfg.AdminTokenFile)
		}
	}
	if token == "" {
		token = os.Getenv(EnvToken)
	}
	if token == "" && !cfg.AdminInsecureNoToken {
		return "", errors.New("no admin API token: set " + EnvToken + ", --admin-token-file or --admin-token; " +
			"to run the admin API without authentication on a trusted loopback, pass --admin-insecure-no-token")
	}
	if token != "" && cfg.AdminInsecureNoToken {
		return "", errors.New("both an admin token and --admin-insecure-no-token are set; drop one")
	}
	return token, nil
}

// restore applies the state file's gateways, gateways that others route to first.
func (s *Server) restore() error {
	if s.cfg.StateFile == "" {
		s.log.Warn("no --state-file: gateways are kept in memory only and lost on restart")
		return nil
	}
	removed, err := state.RemoveStaleTemps(s.cfg.StateFile)
	if err != nil {
		return err
	}
	if len(removed) > 0 {
		s.log.Info("removed temporary state files left by an earlier run", "files", removed)
	}
	file, found, err := state.Load(s.cfg.StateFile)
	if err != nil {
		return err
	}
	if !found {
		s.log.Info("state file does not exist yet; starting with no gateways", "file", s.cfg.StateFile)
		return nil
	}
	ordered, err := dependencyOrder(file.Gateways)
	if err != nil {
		return fmt.Errorf("state file %s: %w", s.cfg.StateFile, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, doc := range ordered {
		var saved *rollout.State
		if st, ok := file.Rollouts[doc.Name]; ok {
			saved = &st
		}
		if _, err := s.apply(doc.Name, doc, applyRestore, saved); err != nil {
			return fmt.Errorf("state file %s: gateway %q: %w", s.cfg.StateFile, doc.Name, err)
		}
	}
	s.log.Info("restored gateways from the state file", "file", s.cfg.StateFile, "gateways", len(ordered))
	return nil
}

// Listen binds the admin API's address (Run calls it if it was not called). After it returns,
// AdminAddr is known.
func (s *Server) Listen() error {
	if s.adminLn != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("admin API: listen on %s: %w", s.cfg.AdminListen, err)
	}
	if ln, err = s.adminTLS(ln); err != nil {
		return err
	}
	s.adminLn = ln
	s.adminSrv = &http.Server{
		Handler:           s.admin,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// now is the gateway's clock (Config.Clock).
func (s *Server) now() time.Time { return s.cfg.Clock() }

// AdminAddr is the admin API's bound address; nil before Listen.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLn == nil {
		return nil
	}
	return s.adminLn.Addr()
}

// Ready is closed once Run serves the admin API and every restored gateway.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run serves until ctx is done, then stops accepting, lets in-flight requests finish (up to
// DrainTimeout) and returns. It returns nil after a clean drain.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		s.closeAll()
		return err
	}
	adminErr := make(chan error, 1)
	go func() { adminErr <- s.adminSrv.Serve(s.adminLn) }()

	s.mu.Lock()
	s.running = true
	for _, e := range s.gateways {
		if e.listener != nil {
			s.serve(e.listener)
		}
		if e.run != nil {
			s.startRollout(e.run)
		}
	}
	s.mu.Unlock()

	stopDiscovery := s.followDiscovery()
	stopSLAs := s.followSLAs()
	stopStore := s.followStore()
	s.log.Info("gateway serving", "admin", s.adminLn.Addr().String())
	close(s.ready)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-adminErr:
		runErr = fmt.Errorf("admin API stopped: %w", err)
	}
	stopStore()
	stopSLAs()
	stopDiscovery()
	s.drain()
	return runErr
}

// shutdowner is a listener's server: the admin API's http.Server or a gateway's proxy.Server.
type shutdowner struct {
	name string
	srv  interface {
		Shutdown(context.Context) error
		Close() error
	}
}

// drain stops every listener and waits for in-flight requests, up to DrainTimeout.
func (s *Server) drain() {
	s.mu.Lock()
	s.stopped = true
	servers := []shutdowner{{"admin API", s.adminSrv}}
	var runs []*rolloutRun
	for _, e := range s.gateways {
		if e.run != nil {
			e.run.cancel()
			runs = append(runs, e.run)
		}
		e.stopHealth()
		if e.listener != nil {
			servers = append(servers, shutdowner{"gateway " + e.doc.Name, e.listener.srv})
		}
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.srv.Shutdown(ctx); err != nil {
				s.log.Warn("drain timeout: closing connections with requests still in flight", "listener", srv.name, "error", err)
				srv.srv.Close()
			}
		}()
	}
	wg.Wait()
	for _, r := range runs {
		if r.done != nil {
			<-r.done
		}
	}
	s.serving.Wait()
	s.proxy.Close()
	s.log.Info("gateway stopped")
}

// closeAll releases listeners of a Server that never ran (New failed, or Listen failed).
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.gateways {
		e.stopHealth()
		if e.listener != nil {
			e.listener.ln.Close()
		}
	}
	if s.adminLn != nil {
		s.adminLn.Close()
	}
}

// followDiscovery rebuilds the tables of gateways with service routes whenever a source says its
// instances changed. The callback only signals: a source may call it holding its own lock, and
// rebuilding calls back into the source (Resolve).
func (s *Server) followDiscovery() (stop func()) {
	if len(s.sources) == 0 {
		return func() {}
	}
	changed := make(chan struct{}, 1)
	done := make(chan struct{})
	var cancels []func()
	for _, src := range s.sources {
		cancels = append(cancels, src.Subscribe(func() {
			select {
			case changed <- struct{}{}:
			default: // a rebuild is already pending; it will see this change too
			}
		}))
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-changed:
				s.rediscover()
			}
		}
	}()
	return func() {
		for _, c := range cancels {
			c()
		}
		close(done)
		<-finished
	}
}

// rediscover recompiles every gateway with a service route from its stored document.
func (s *Server) rediscover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	for _, name := range s.sortedNames() {
		e := s.gateways[name]
		if !usesServices(e.doc) {
			continue
		}
		if _, err := s.apply(name, e.doc, applyRediscover, nil); err != nil {
			s.log.Warn("instances changed but the gateway could not be rebuilt; it keeps its previous instances", "gateway", name, "error", err)
		}
	}
}
