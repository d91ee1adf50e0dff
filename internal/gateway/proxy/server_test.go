package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Server's connection life cycle on real sockets: parking, idle timeout, Shutdown, hand-off
// to net/http and pipelining.

// serverFor starts a Server with opts in front of the instance at addr and returns it with its
// address (startServer in front_test.go).
func serverFor(t *testing.T, opts ServerOptions, addr string) (*Server, string) {
	t.Helper()
	s, _, a := startServer(t, Options{}, opts, addr)
	return s, a
}

// lockWithin locks mu if it can within d.
func lockWithin(mu *sync.Mutex, d time.Duration) bool {
	for deadline := time.Now().Add(d); !mu.TryLock(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// echoInstance answers every request with its method, path and body.
func echoInstance(t *testing.T) string {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body)) // a gateway that went away reads no answer: the test's client sees it
	}))
	t.Cleanup(inst.Close)
	return inst.Listener.Addr().String()
}

// client is one raw keep-alive connection to the gateway.
type client struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t, conn, bufio.NewReader(conn)}
}

// readsWithin10s makes the client's reads fail after 10 seconds rather than hang.
func (c *client) readsWithin10s() {
	c.t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatal(err)
	}
}

// answer reads one answer and its body, waiting at most 10 seconds.
func (c *client) answer() (*http.Response, string) {
	c.t.Helper()
	c.readsWithin10s()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading an answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading an answer's body: %v", err)
	}
	return resp, string(body)
}

func (c *client) get(path string) string {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	resp, body := c.answer()
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %s %q", path, resp.Status, body)
	}
	return body
}

// closedByServer: the server closes the connection within 10 seconds, sending nothing more.
func (c *client) closedByServer() {
	c.t.Helper()
	c.readsWithin10s()
	if b, err := c.br.ReadByte(); err != io.EOF {
		c.t.Errorf("want the server to close the connection, got byte %q, error %v", b, err)
	}
}

// frontConn is the Server's connection for c, nil when the front end no longer has it.
func (s *Server) frontConn(c *client) *clientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		if fc.remoteAddr == c.conn.LocalAddr().String() {
			return fc
		}
	}
	return nil
}

// waitFor polls cond until it holds, for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// waitParked waits until the front end's side of c is parked.
func (s *Server) waitParked(t *testing.T, c *client, what string) *clientConn {
	t.Helper()
	var fc *clientConn
	waitFor(t, what, func() bool { fc = s.frontConn(c); return fc != nil && fc.state.Load() == stateParked })
	return fc
}

// TestServerParksIdleConnection: a keep-alive connection that waits parks without a buffer or
// request state, and its next request is served by the front end.
func TestServerParksIdleConnection(t *testing.T) {
	t.Parallel()
	s, addr := serverFor(t, ServerOptions{}, echoInstance(t))
	c := dial(t, addr)
	if body := c.get("/first"); body != "GET /first " {
		t.Fatalf("first answer %q", body)
	}
	fc := s.waitParked(t, c, "the connection to park")
	// Parked takes the parker's lock, under which the connection parked and which the parker
	// takes before it resumes it: asked before and after, the reads in between see what the
	// connection did before it parked, and come before whatever it does once resumed.
	if !s.parker.Parked(fc.parkID) {
		t.Fatal("the connection says it is parked, the parker does not have it")
	}
	buf, x := fc.buf != nil, fc.x != nil
	if !s.parker.Parked(fc.parkID) {
		t.Fatal("the connection was resumed before the client sent anything")
	}
	if buf || x {
		t.Errorf("a parked connection holds a buffer (%v) or request state (%v)", buf, x)
	}
	if body := c.get("/second"); body != "GET /second " {
		t.Fatalf("answer after parking %q", body)
	}
	if fc2 := s.frontConn(c); fc2 != fc {
		t.Errorf("after parking the connection is no longer the front end's (handed to net/http?)")
	}
}

// TestServerClosesParkedConnectionAtIdleTimeout: parking keeps the idle timeout.
func TestServerClosesParkedConnectionAtIdleTimeout(t *testing.T) {
	t.Parallel()
	s, addr := serverFor(t, ServerOptions{IdleTimeout: 1500 * time.Millisecond}, echoInstance(t))
	c := dial(t, addr)
	c.get("/")
	s.waitParked(t, c, "the connection to park")
	c.closedByServer()
	waitFor(t, "the server to forget the connection", func() bool { return s.frontConn(c) == nil })
}

// TestServerShutdownFinishesActiveRequests: Shutdown closes the idle and the parked connection
// at once, lets the request in flight finish (its answer says Connection: close), and returns
// after that.
func TestServerShutdownFinishesActiveRequests(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		_, _ = io.WriteString(w, "done "+r.URL.Path) // a gateway that went away reads no answer: the test's client sees it
	}))
	t.Cleanup(inst.Close)
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	s, addr := serverFor(t, ServerOptions{}, inst.Listener.Addr().String())

	parked := dial(t, addr)
	parked.get("/")
	s.waitParked(t, parked, "a connection to park")

	active := dial(t, addr)
	active.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-arrived

	idle := dial(t, addr)
	idle.get("/")
	if fc := s.frontConn(idle); fc == nil {
		t.Fatal("the front end does not track the idle connection")
	} else if st := fc.state.Load(); st != stateIdle {
		t.Logf("the idle connection is in state %d already (parked?): the machine is slow", st)
	}

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- s.Shutdown(ctx)
	}()
	idle.closedByServer()
	parked.closedByServer()
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}
	released = true
	close(release)
	resp, body := active.answer()
	if resp.StatusCode != http.StatusOK || body != "done /slow" || !resp.Close {
		t.Errorf("the request in flight: %s %q, Connection: close %v; want 200 \"done /slow\" with Connection: close", resp.Status, body, resp.Close)
	}
	active.closedByServer()
	select {
	case err := <-shutdown:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown has not returned 10s after the last request was answered")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("the listener still accepts after Shutdown")
	}
}

// TestServerHandedOffConnectionKeepsWorking: after a POST whose head is larger than the front
// end's buffer the connection belongs to net/http, which serves its GETs too, and Shutdown
// closes it.
func TestServerHandedOffConnectionKeepsWorking(t *testing.T) {
	t.Parallel()
	s, addr := serverFor(t, ServerOptions{}, echoInstance(t))
	c := dial(t, addr)
	c.send("POST /orders HTTP/1.1\r\nHost: shop.example\r\nX-Pad: " + strings.Repeat("p", frontBufSize) + "\r\nContent-Length: 5\r\n\r\nhello")
	if resp, body := c.answer(); resp.StatusCode != http.StatusOK || body != "POST /orders hello" {
		t.Fatalf("POST: %s %q", resp.Status, body)
	}
	if s.frontConn(c) != nil {
		t.Errorf("the front end still tracks a connection it handed to net/http")
	}
	if body := c.get("/after"); body != "GET /after " {
		t.Fatalf("GET after the hand-off: %q", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	c.closedByServer()
}

// TestServerPipelinedRequestsAnsweredInOrder: two GETs and a POST in one write; the front end
// answers the GETs and hands the POST, with its bytes, to net/http.
func TestServerPipelinedRequestsAnsweredInOrder(t *testing.T) {
	t.Parallel()
	_, addr := serverFor(t, ServerOptions{}, echoInstance(t))
	c := dial(t, addr)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody" +
		"GET /4 HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, want := range []string{"GET /1 ", "GET /2 ", "POST /3 body", "GET /4 "} {
		if resp, body := c.answer(); resp.StatusCode != http.StatusOK || body != want {
			t.Fatalf("want %q, got %s %q", want, resp.Status, body)
		}
	}
}

// TestServerHandsMalformedHostToNetHTTP: net/http refuses a malformed Host with 400; the front
// end must not forward it instead.
func TestServerHandsMalformedHostToNetHTTP(t *testing.T) {
	t.Parallel()
	// An instance that answers anything: a net/http instance would refuse the Host itself.
	inst := rawInstance(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nforwarded") // a gateway that went away reads no answer: the test's client sees it
		}
	})
	for _, path := range paths {
		_, addr := serverFor(t, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, inst)
		c := dial(t, addr)
		c.send("GET /x HTTP/1.1\r\nHost: shop example/a\r\n\r\n")
		c.readsWithin10s()
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Host") {
			t.Errorf("%s: Host \"shop example/a\" answered %s %q; want net/http's 400 malformed Host header", path.name, resp.Status, body)
		}
	}
}

// TestServerCloseUnparksConnections: Close takes its parked connections back from the parker: a
// stale entry would, at its idle timeout, close the connection a second time (and its socket's
// descriptor number may belong to another socket by then).
func TestServerCloseUnparksConnections(t *testing.T) {
	t.Parallel()
	s, addr := serverFor(t, ServerOptions{}, echoInstance(t))
	c := dial(t, addr)
	c.get("/")
	fc := s.waitParked(t, c, "the connection to park")
	s.Close()
	c.closedByServer()
	waitFor(t, "the parker to let go of the closed connection", func() bool { return !s.parker.Parked(fc.parkID) })
}

// TestServerParkerResumedConnectionIsNotClosedByItsParkingGoroutine: once Park returns true the
// connection is the parker's, which may resume it on another goroutine at once. The goroutine
// that parked it is held (serverHooks.parked) until the resumed one is in the middle of a
// request, and only then leaves serve: it must not close the connection being served (its
// deferred check read the state Resume had set back to active and closed it: commit 1ad061c).
func TestServerParkerResumedConnectionIsNotClosedByItsParkingGoroutine(t *testing.T) {
	t.Parallel()
	arrived, answer := make(chan struct{}), make(chan struct{})
	inst := rawInstance(t, func(c net.Conn) {
		serveRequests(c, func(_ *bufio.Reader, req *http.Request, _ []byte) bool {
			if req.URL.Path == "/held" {
				close(arrived)
				<-answer
			}
			_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(req.URL.Path))+"\r\n\r\n"+req.URL.Path)
			return err == nil
		})
	})
	parked, release := make(chan struct{}), make(chan struct{})
	served := make(chan struct{}, 1)
	var first sync.Once
	hooks := &serverHooks{
		parked: func() {
			// Only the first park is held; the resumed connection parks again later.
			held := false
			first.Do(func() { held = true })
			if held {
				close(parked)
				<-release
			}
		},
		served: func() {
			select {
			case served <- struct{}{}:
			default:
			}
		},
	}
	_, addr := serverFor(t, ServerOptions{parkAfter: 10 * time.Millisecond, hooks: hooks}, inst)
	c := dial(t, addr)
	if body := c.get("/first"); body != "/first" {
		t.Fatalf("first answer %q", body)
	}
	within10s(t, parked, "the connection to park")
	// The parking goroutine is held in readHead. The request resumes the connection on a
	// goroutine of the parker's, which forwards it; the instance holds it.
	c.send("GET /held HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	within10s(t, arrived, "the resumed connection's request to reach the instance")
	close(release)
	// The parking goroutine leaves serve (the resumed one cannot: its request is held).
	within10s(t, served, "the goroutine that parked the connection to leave serve")
	close(answer)
	resp, body := c.answer()
	if resp.StatusCode != http.StatusOK || body != "/held" {
		t.Fatalf("the resumed request's answer: %s %q", resp.Status, body)
	}
	if body := c.get("/after"); body != "/after" {
		t.Fatalf("the next request's answer %q", body)
	}
}

// within10s waits for ch to be closed or to deliver, failing the test after 10 seconds.
func within10s[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10s for %s", what)
	}
}
