package proxy

import (
	"context"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// Server is a gateway's listener: the gateway's own HTTP/1.1 front end (conn.go, front.go),
// which reads request heads into pooled buffers and forwards requests with and without bodies
// itself, its own HTTP/2 front end for connections that begin with the HTTP/2 preface (h2c with
// prior knowledge: h2conn.go, h2stream.go), and an http.Server behind them that gets every
// connection the front ends do not take (upgrades, HTTP/1.0, odd or invalid requests; HTTP/2 too
// with NetHTTPOnly), with the bytes already read, and serves it through httputil.ReverseProxy for
// the rest of its life.
//
// Why not net/http for everything: per request it starts a goroutine for a background read,
// fills a header map, and keeps a 4 KiB reader and a 4 KiB writer per connection whether idle
// or not. The front end keeps no buffer while a connection waits (an idle connection costs its
// goroutine and socket only) and makes four reads and writes per request.
type Server struct {
	p       *Proxy
	f       *Routing
	opts    ServerOptions
	netHTTP *http.Server
	handoff *handoffListener
	once    sync.Once
	// parker holds the front end's idle connections without their goroutines; closed with the
	// server (Close, or Shutdown once every connection is gone).
	parker *netpoll.Parker

	shutdown atomic.Bool
	// stopping is closed when the server stops accepting (stop): listeners waiting for a free
	// connection slot (Options.Conns) give up.
	stopping  chan struct{}
	stopOnce  sync.Once
	mu        sync.Mutex
	conns     map[*clientConn]struct{}
	listeners map[net.Listener]struct{}
	done      chan struct{} // closed when the last front-end connection is gone during Shutdown
}

// ServerOptions are a listener's limits. Zero values take the defaults.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request head once it has begun (default 30s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no request for this long, and on
	// the front end one whose client stops sending its request body or stops taking its answer
	// for this long (default 120s).
	IdleTimeout time.Duration
	// ErrorLog receives net/http's connection errors.
	ErrorLog *log.Logger
	// NetHTTPOnly hands every connection to net/http: for comparing the two.
	NetHTTPOnly bool

	// parkAfter is how long a front-end connection waits for its next request with its
	// goroutine before it parks (default netpoll.ParkAfter; 0 where connections do not park).
	// Tests shorten it.
	parkAfter time.Duration
	// hooks are the tests' way into the connection life cycle; nil outside tests.
	hooks *serverHooks
}

// serverHooks let a test hold or observe a front-end connection's goroutine at points where
// the order of two goroutines matters (a connection that parks and is resumed on another).
// Every hook is optional.
type serverHooks struct {
	// parked is called on the goroutine that parked a connection, after Park returned true and
	// before that goroutine leaves serve: the connection is the parker's (it may be resumed
	// on another goroutine meanwhile).
	parked func()
	// served is called as serve returns, after everything serve does on its way out.
	served func()
}

// NewServer returns the listener of front f. No write timeout on a whole answer (streamed answers
// and websockets may last); on the front end a client that takes no byte of an answer for
// IdleTimeout is dropped (StalledWriteError).
func (p *Proxy) NewServer(f *Routing, opts ServerOptions) *Server {
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = 30 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 120 * time.Second
	}
	if opts.parkAfter <= 0 || netpoll.ParkAfter == 0 {
		opts.parkAfter = netpoll.ParkAfter
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge: HTTP/2 from clients
	s := &Server{
		p:         p,
		f:         f,
		opts:      opts,
		handoff:   newHandoffListener(),
		parker:    netpoll.NewParker(),
		stopping:  make(chan struct{}),
		conns:     map[*clientConn]struct{}{},
		listeners: map[net.Listener]struct{}{},
	}
	s.netHTTP = &http.Server{
		Handler:           p.Handler(f),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		Protocols:         protocols,
		ErrorLog:          opts.ErrorLog,
		ConnContext:       withFramedConn,
	}
	return s
}

// Serve accepts connections on ln until it is closed or the server shuts down (then it returns
// http.ErrServerClosed). While the process's connection limit (Options.Conns) is reached it
// accepts nothing: new clients wait in the kernel's listen backlog until a connection closes
// (connlimit.Limiter.Accept, the accept loop of every gateway listener).
func (s *Server) Serve(ln net.Listener) error {
	s.once.Do(func() {
		// net/http serves the handed-off connections until Shutdown closes s.handoff; what
		// Serve returns then (http.ErrServerClosed, net.ErrClosed) says only that.
		go func() { _ = s.netHTTP.Serve(s.handoff) }()
	})
	if !s.track(ln) {
		ln.Close()
		return http.ErrServerClosed
	}
	defer s.untrack(ln)
	lim := s.p.opts.Conns
	err := lim.Accept(ln, s.stopping, s.p.opts.Logger.With("gateway", s.f.Name), func(conn net.Conn) {
		// The slot is the connection's until it closes (remove, or framedConn.Close once
		// net/http has it).
		if s.opts.NetHTTPOnly {
			s.handoff.deliver(newFramedConn(conn, nil, lim))
			return
		}
		c := newClientConn(s, conn)
		if !s.add(c) { // shutting down: the next wait for a slot sees it
			c.close()
			lim.Release()
			return
		}
		go c.serve()
	})
	if err == nil {
		return http.ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, closes idle connections, lets requests in flight finish and then
// closes their connections, and returns when all are gone or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	conns, done := s.stop()
	// Outside the lock: closing a parked connection removes it (s.remove locks s.mu).
	for _, c := range conns {
		if h := c.h2.Load(); h != nil {
			h.goAway() // GOAWAY: the streams begun finish, then it closes
			continue
		}
		c.closeIfIdle()
	}
	netHTTPErr := make(chan error, 1)
	go func() { netHTTPErr <- s.netHTTP.Shutdown(ctx) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.parker.Close() // no connection is left to park
	return <-netHTTPErr
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	conns, _ := s.stop()
	for _, c := range conns {
		if h := c.h2.Load(); h != nil {
			h.closeNow()
			continue
		}
		if c.state.Load() == stateParked && s.parker.Unpark(c.parkID) {
			c.close() // out of the parker's epoll set while its descriptor is still its own
		} else {
			c.closeFromOutside()
		}
	}
	s.parker.Close()
	return s.netHTTP.Close()
}

// stop stops accepting: it closes the listeners and returns the front-end connections of the
// moment, and a channel closed once none is left.
func (s *Server) stop() (conns []*clientConn, done chan struct{}) {
	s.shutdown.Store(true)
	s.stopOnce.Do(func() { close(s.stopping) })
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		ln.Close()
	}
	if len(s.conns) == 0 {
		s.done = closedChan
	} else if s.done == nil {
		s.done = make(chan struct{})
	}
	conns = make([]*clientConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns, s.done
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
}

func (s *Server) add(c *clientConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// remove forgets a connection that closed, and gives its connection slot back (once, however
// often it is called).
func (s *Server) remove(c *clientConn) {
	if s.forget(c) {
		s.p.opts.Conns.Release()
	}
}

// forget forgets a connection that closed or went to net/http (which then holds its slot);
// false if it was forgotten already.
func (s *Server) forget(c *clientConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return false
	}
	delete(s.conns, c)
	if len(s.conns) == 0 && s.done != nil && s.done != closedChan {
		close(s.done)
		s.done = closedChan
	}
	return true
}

// handoffListener is the listener of the net/http server: its connections come from the front
// end, not from a socket.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

// deliver gives c to net/http, or closes it when the server is shutting down.
func (l *handoffListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}
