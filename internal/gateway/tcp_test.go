package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// tcpEcho is a real TCP server: on every connection it first sends its name and "\n", then
// echoes every byte it reads; after the client's half-close it closes its side.
type tcpEcho struct {
	name  string
	ln    net.Listener
	conns atomic.Int64
}

func newTCPEcho(t testing.TB, name string) *tcpEcho {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &tcpEcho{name: name, ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.WriteString(c, name+"\n")
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return e
}

func (e *tcpEcho) instance() gatewayapi.Instance { return instanceOf(e.ln.Addr().String()) }

// tcpSession is a client connection through a TCP gateway that has read the instance's name.
type tcpSession struct {
	conn *net.TCPConn
	r    *bufio.Reader
	name string
}

func dialTCPGateway(port int) (*tcpSession, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		c.Close()
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("connection %T is not TCP", c)
	}
	s := &tcpSession{conn: tc, r: bufio.NewReader(c)}
	name, err := s.r.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading the instance's name: %w", err)
	}
	s.name = strings.TrimSuffix(name, "\n")
	return s, nil
}

// roundTrip sends payload and reads it back whole.
func (s *tcpSession) roundTrip(payload []byte) error {
	if err := s.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if _, err := s.conn.Write(payload); err != nil {
		return err
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(s.r, got); err != nil {
		return fmt.Errorf("reading the echo of %d bytes: %w", len(payload), err)
	}
	if !bytes.Equal(got, payload) {
		return errors.New("the echo differs from what was sent")
	}
	return nil
}

// finish half-closes, then expects the instance's end of stream with nothing more.
func (s *tcpSession) finish() error {
	defer s.conn.Close()
	if err := s.conn.CloseWrite(); err != nil {
		return err
	}
	rest, err := io.ReadAll(s.r)
	if err != nil {
		return fmt.Errorf("after the half-close: %w", err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d unexpected bytes after the half-close", len(rest))
	}
	return nil
}

// tcpConnection is one whole connection: name, a payload echoed, half-close, end of stream.
func tcpConnection(port int, payload []byte) (string, error) {
	s, err := dialTCPGateway(port)
	if err != nil {
		return "", err
	}
	if err := s.roundTrip(payload); err != nil {
		s.conn.Close()
		return s.name, err
	}
	return s.name, s.finish()
}

func tcpGateway(port int, routes ...gatewayapi.Route) gatewayapi.Gateway {
	return gatewayapi.Gateway{Port: port, Protocol: gatewayapi.ProtocolTCP, Routes: routes}
}

func tcpRoute(name string, weight int, backends ...*tcpEcho) gatewayapi.Route {
	r := gatewayapi.Route{Name: name, Weight: weight}
	for _, b := range backends {
		r.Instances = append(r.Instances, b.instance())
	}
	return r
}

func payloadOf(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

// TestTCPGatewayExactWeights: 1,000 connections at 30/70 go exactly 300/700 (the smooth weighted
// choice per connection), every one echoes its payload through a half-close, and the gateway's
// /stats and /metrics count them per route.
func TestTCPGatewayExactWeights(t *testing.T) {
	h := startGateway(t, nil)
	a, b := newTCPEcho(t, "a"), newTCPEcho(t, "b")
	port := freePort(t)
	h.put("db/5432", tcpGateway(port, tcpRoute("a", 30, a), tcpRoute("b", 70, b)))

	seen := map[string]int{}
	payload := payloadOf(3000, 1)
	for i := range 1000 {
		name, err := tcpConnection(port, payload)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		seen[name]++
	}
	if seen["a"] != 300 || seen["b"] != 700 {
		t.Fatalf("1,000 connections at 30/70 went %v; want exactly a=300 b=700", seen)
	}
	st := h.statsWhen("db/5432", "every connection is closed", func(st gatewayapi.Stats) bool {
		return st.Routes[0].TCP != nil && st.Routes[0].TCP.Active == 0 && st.Routes[1].TCP.Active == 0
	})
	for i, want := range []uint64{300, 700} {
		got := st.Routes[i].TCP
		if got.Connections != want || got.BytesIn != want*3000 || got.BytesOut != want*(3000+2) || got.ConnectErrors != 0 {
			t.Errorf("stats of route %s: %+v; want %d connections, %d bytes in, %d out, no connect errors", st.Routes[i].Name, *got, want, want*3000, want*3002)
		}
	}
	metrics := scrape(t, h)
	for _, line := range []string{
		`vamp_gateway_tcp_connections_total{gateway="db/5432",route="a"} 300`,
		`vamp_gateway_tcp_connections_total{gateway="db/5432",route="b"} 700`,
		`vamp_gateway_tcp_bytes_total{direction="in",gateway="db/5432",route="a"} 900000`,
		`vamp_gateway_tcp_active_connections{gateway="db/5432",route="b"} 0`,
		`vamp_gateway_tcp_connect_errors_total{gateway="db/5432",route="a"} 0`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

func scrape(t *testing.T, h *harness) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

// TestTCPGatewayWeightChangesUnderLoad: 20 weight changes while 8 clients open connection after
// connection (each sends 16 KiB and reads it back whole, then half-closes) and 4 long-lived
// connections exchange a payload after every change. No connection fails, each long-lived one
// keeps its instance, and the connections opened after a change follow the new weights.
func TestTCPGatewayWeightChangesUnderLoad(t *testing.T) {
	h := startGateway(t, nil)
	a, b := newTCPEcho(t, "a"), newTCPEcho(t, "b")
	port := freePort(t)
	h.put("db/5432", tcpGateway(port, tcpRoute("a", 50, a), tcpRoute("b", 50, b)))

	var long []*tcpSession
	for i := range 4 {
		s, err := dialTCPGateway(port)
		if err != nil {
			t.Fatalf("long-lived connection %d: %v", i, err)
		}
		long = append(long, s)
	}

	const workers, perWorkerMax = 8, 5000
	var done, failed atomic.Int64
	var firstErr atomic.Value
	progress := make(chan struct{}, workers*perWorkerMax)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := payloadOf(16<<10, byte(w))
			for range perWorkerMax {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := tcpConnection(port, payload); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				done.Add(1)
				progress <- struct{}{}
			}
		}()
	}
	// Each change waits for 25 connections completed under the previous weights: the load and
	// the changes overlap by construction, not by timing.
	waitProgress := func(n int) {
		for range n {
			select {
			case <-progress:
			case <-time.After(20 * time.Second):
				t.Fatalf("the load stalled: %d connections done, %d failed", done.Load(), failed.Load())
			}
		}
	}
	for change := range 20 {
		waitProgress(25)
		wa := (change * 35) % 101
		h.put("db/5432", tcpGateway(port, tcpRoute("a", wa, a), tcpRoute("b", 100-wa, b)))
		for i, s := range long {
			if err := s.roundTrip(payloadOf(4096, byte(change))); err != nil {
				t.Fatalf("long-lived connection %d after change %d: %v", i, change+1, err)
			}
		}
	}
	waitProgress(25)
	close(stop)
	wg.Wait()
	for i, s := range long {
		if err := s.finish(); err != nil {
			t.Fatalf("long-lived connection %d at its end: %v", i, err)
		}
	}
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d connections failed across 20 weight changes; first: %v", n, done.Load(), firstErr.Load())
	}
	t.Logf("%d connections under load across 20 weight changes, 0 failed; 4 long-lived connections kept their instance", done.Load())

	// Weights put once the load is over (a=37, b=63; the last change under load was 59/41) hold
	// exactly for the next 100 connections: shares are exact per cycle of the new table (here
	// 100 connections), while the load may have stopped anywhere within a cycle of the last one.
	wa := 37
	h.put("db/5432", tcpGateway(port, tcpRoute("a", wa, a), tcpRoute("b", 100-wa, b)))
	seen := map[string]int{}
	for i := range 100 {
		name, err := tcpConnection(port, []byte("x"))
		if err != nil {
			t.Fatalf("connection %d after the changes: %v", i, err)
		}
		seen[name]++
	}
	if seen["a"] != wa || seen["b"] != 100-wa {
		t.Fatalf("100 connections at %d/%d went %v", wa, 100-wa, seen)
	}
}

// TestTCPGatewayDialFailureRetriesAnotherInstance: the first instance refuses connections; each
// connection that tries it is retried on the other instance, the refusing one is ejected after
// --eject-after (3) failures in a row, and the failed connects are counted.
func TestTCPGatewayDialFailureRetriesAnotherInstance(t *testing.T) {
	h := startGateway(t, nil)
	live := newTCPEcho(t, "live")
	dead := gatewayapi.Instance{Host: "127.0.0.1", Port: freePort(t)}
	port := freePort(t)
	h.put("db/5432", tcpGateway(port, gatewayapi.Route{Name: "db", Weight: 100,
		Instances: []gatewayapi.Instance{dead, live.instance()}}))
	for i := range 10 {
		name, err := tcpConnection(port, []byte("ping"))
		if err != nil || name != "live" {
			t.Fatalf("connection %d: instance %q, error %v; want the live instance", i, name, err)
		}
	}
	st := h.stats("db/5432")
	if got := st.Routes[0].TCP; got.Connections != 10 || got.ConnectErrors != 3 {
		t.Fatalf("stats: %+v; want 10 connections and 3 connect errors (round-robin tries the refusing instance every other connection until it is ejected after 3)", *got)
	}
	if st.Routes[0].Instances[0].Healthy {
		t.Fatalf("the refusing instance is not ejected: %+v", st.Routes[0].Instances)
	}
}

// TestTCPGatewayHalfClose: a client that half-closes still gets the instance's answer, which
// the instance sends only after it has read the client's end of stream.
func TestTCPGatewayHalfClose(t *testing.T) {
	h := startGateway(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c) // until the client's half-close
				fmt.Fprintf(c, "read %d bytes", n)
			}()
		}
	}()
	port := freePort(t)
	h.put("svc/7000", tcpGateway(port, gatewayapi.Route{Name: "r", Weight: 100, Instances: []gatewayapi.Instance{instanceOf(ln.Addr().String())}}))
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(payloadOf(100000, 3)); err != nil {
		t.Fatal(err)
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		t.Fatalf("connection %T is not TCP", c)
	}
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(c)
	if err != nil || string(answer) != "read 100000 bytes" {
		t.Fatalf("answer after the half-close: %q, %v; want \"read 100000 bytes\"", answer, err)
	}
}

// TestTCPGatewayDrainOnDelete: deleting a TCP gateway closes its listener at once (new
// connections are refused) while a connection in flight goes on to its end.
func TestTCPGatewayDrainOnDelete(t *testing.T) {
	h := startGateway(t, nil)
	a := newTCPEcho(t, "a")
	port := freePort(t)
	h.put("db/5432", tcpGateway(port, tcpRoute("a", 100, a)))
	s, err := dialTCPGateway(port)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.roundTrip([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := h.admin.Delete(context.Background(), "db/5432"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); !errors.Is(err, errConnRefused) {
		t.Fatalf("a new connection after the delete: %v; want connection refused", err)
	}
	for i := range 3 {
		if err := s.roundTrip(payloadOf(50000, byte(i))); err != nil {
			t.Fatalf("the connection in flight, after the delete: %v", err)
		}
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
}

// TestTCPGatewayIdleTimeout: a connection that carries nothing is closed after the idle
// timeout (and not before it); the instance sees its end too.
func TestTCPGatewayIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	h := startGateway(t, func(c *gateway.Config) { c.TCP.IdleTimeout = idle })
	a := newTCPEcho(t, "a")
	port := freePort(t)
	h.put("db/5432", tcpGateway(port, tcpRoute("a", 100, a)))
	start := time.Now()
	s, err := dialTCPGateway(port)
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	rest, err := io.ReadAll(s.r) // the deadline of 10s bounds it
	elapsed := time.Since(start)
	if err != nil || len(rest) != 0 {
		t.Fatalf("an idle connection: read %q, %v; want the gateway to close it", rest, err)
	}
	if elapsed < idle || elapsed > 2*idle+3*time.Second {
		t.Fatalf("an idle connection was closed after %v; want between %v and about %v", elapsed, idle, 2*idle)
	}
}

// TestTCPGatewayToTCPGateway: a blueprint gateway routes to a cluster gateway (port 0), both
// TCP, as a deployment with a tcp port has them; the cluster gateway's weights decide.
func TestTCPGatewayToTCPGateway(t *testing.T) {
	h := startGateway(t, nil)
	a, b := newTCPEcho(t, "a"), newTCPEcho(t, "b")
	h.put("db/db_cluster/port", tcpGateway(0, tcpRoute("db:1", 50, a), tcpRoute("db:2", 50, b)))
	port := freePort(t)
	h.put("db/5432", tcpGateway(port, gatewayapi.Route{Name: "cluster", Weight: 100, Gateway: "db/db_cluster/port"}))
	seen := map[string]int{}
	for i := range 10 {
		name, err := tcpConnection(port, []byte("hello"))
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		seen[name]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Fatalf("10 connections at 50/50 through the blueprint gateway went %v", seen)
	}
	if st := h.stats("db/db_cluster/port"); st.Routes[0].TCP.Connections != 5 || st.Routes[1].TCP.Connections != 5 {
		t.Fatalf("the cluster gateway's routes counted %+v and %+v connections; want 5 each", *st.Routes[0].TCP, *st.Routes[1].TCP)
	}
}

// TestTCPGatewayValidation: what needs HTTP requests is refused on a TCP gateway, naming the
// field; a TCP gateway routes only to TCP gateways.
func TestTCPGatewayValidation(t *testing.T) {
	h := startGateway(t, nil)
	a := newTCPEcho(t, "a")
	port := freePort(t)
	base := func() gatewayapi.Gateway { return tcpGateway(port, tcpRoute("a", 100, a)) }
	cases := []struct {
		name   string
		edit   func(*gatewayapi.Gateway)
		status int
		path   string
		says   string
	}{
		{"unknown protocol", func(g *gatewayapi.Gateway) { g.Protocol = "udp" }, 400, "protocol", `"http" (the default) or "tcp"`},
		{"sticky", func(g *gatewayapi.Gateway) { g.Sticky = "route" }, 400, "sticky", "StickyPortTypeError"},
		{"virtual hosts", func(g *gatewayapi.Gateway) { g.VirtualHosts = []string{"db.example.com"} }, 400, "virtual_hosts", "remove virtual_hosts"},
		{"condition", func(g *gatewayapi.Gateway) { g.Routes[0].Condition = "user-agent == Firefox" }, 400, "routes[0].condition", "ConditionPortTypeError"},
		{"condition strength", func(g *gatewayapi.Gateway) { g.Routes[0].ConditionStrength = intp(50) }, 400, "routes[0].condition_strength", "remove condition_strength"},
		{"http health check", func(g *gatewayapi.Gateway) {
			g.Routes[0].HealthCheck = &gatewayapi.HealthCheck{Path: "/health"}
		}, 400, "routes[0].health_check.path", "TCP connect check"},
		{"scale", func(g *gatewayapi.Gateway) {
			g.Routes[0].Scale = &gatewayapi.ScalePolicy{Min: 1, Max: 2, Upper: "1s", Window: "1m"}
		}, 400, "routes[0].scale", "remove scale"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := base()
			c.edit(&g)
			err := h.putErr("db/5432", g, c.status)
			if err.Body.Path != c.path || !strings.Contains(err.Body.Error, c.says) {
				t.Fatalf("refusal at %q: %s; want path %q saying %q", err.Body.Path, err.Body.Error, c.path, c.says)
			}
		})
	}

	// A TCP connect health check is fine, and marks a refusing instance down.
	dead := gatewayapi.Instance{Host: "127.0.0.1", Port: freePort(t)}
	g := base()
	g.Routes[0].Instances = append(g.Routes[0].Instances, dead)
	g.Routes[0].HealthCheck = &gatewayapi.HealthCheck{Interval: "50ms", Timeout: "50ms", UnhealthyThreshold: 1}
	version := h.put("db/5432", g).Version
	h.statsWhen("db/5432", "the TCP connect check marks the refusing instance down", func(st gatewayapi.Stats) bool {
		in := st.Routes[0].Instances
		return len(in) == 2 && in[0].Healthy && !in[1].Healthy
	})

	// Protocols meet only their own kind.
	h.put("web/8080", gatewayapi.Gateway{Port: 0, Routes: []gatewayapi.Route{{Name: "w", Weight: 100, Instances: []gatewayapi.Instance{a.instance()}}}})
	toHTTP := tcpGateway(freePort(t), gatewayapi.Route{Name: "x", Weight: 100, Gateway: "web/8080"})
	if err := h.putErr("db/other", toHTTP, 400); err.Body.Path != "routes[0].gateway" || !strings.Contains(err.Body.Error, "lead to TCP gateways") {
		t.Fatalf("a TCP route to an HTTP gateway: %q %s", err.Body.Path, err.Body.Error)
	}
	if got := h.stats("db/5432"); got.Version != version {
		t.Fatalf("refused PUTs changed the gateway: version %d", got.Version)
	}
}

// TestTCPGatewayProtocolChange: a gateway changes protocol in place, on the same port, in the
// order a deployment whose port becomes tcp changes them (cluster gateway first: an HTTP gateway
// may route through a TCP gateway's weights); back to HTTP is refused while a TCP gateway routes
// to it.
func TestTCPGatewayProtocolChange(t *testing.T) {
	h := startGateway(t, nil)
	b := newBackend(t, "web:1")
	port := freePort(t)
	cluster := gatewayapi.Gateway{Routes: []gatewayapi.Route{{Name: "web:1", Weight: 100, Instances: []gatewayapi.Instance{b.instance()}}}}
	entry := gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{{Name: "cluster", Weight: 100, Gateway: "web/web_cluster/webport"}}}
	h.put("web/web_cluster/webport", cluster)
	h.put("web/8080", entry)
	client := newBrowser(chromeUA)
	if got := client.count(t, gatewayURL(port), 2); got["web:1"] != 2 {
		t.Fatalf("HTTP → HTTP: %v", got)
	}

	cluster.Protocol = gatewayapi.ProtocolTCP
	h.put("web/web_cluster/webport", cluster)
	if got := client.count(t, gatewayURL(port), 2); got["web:1"] != 2 {
		t.Fatalf("HTTP → TCP gateway's table: %v", got)
	}
	// Counted at the cluster gateway's routes, across the change.
	h.statsWhen("web/web_cluster/webport", "4 requests are counted", func(st gatewayapi.Stats) bool { return st.Routes[0].Requests == 4 })

	entry.Protocol = gatewayapi.ProtocolTCP
	h.put("web/8080", entry) // the same port: the listening socket is handed over, not rebound
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 3 {
		resp, err := fresh.Get(gatewayURL(port))
		if err != nil {
			t.Fatalf("connection %d through the TCP entry: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "web:1" || resp.Header.Get("X-Forwarded-For") != "" {
			t.Fatalf("connection %d: %q", i, body)
		}
	}
	if st := h.stats("web/web_cluster/webport"); st.Routes[0].TCP == nil || st.Routes[0].TCP.Connections != 3 {
		t.Fatalf("TCP connections of the cluster gateway's route: %+v, want 3", st.Routes[0].TCP)
	}

	cluster.Protocol = ""
	err := h.putErr("web/web_cluster/webport", cluster, 409)
	if err.Body.Path != "protocol" || !strings.Contains(err.Body.Error, `TCP gateway "web/8080" routes to`) {
		t.Fatalf("back to HTTP under a TCP gateway: %q %s", err.Body.Path, err.Body.Error)
	}
	entry.Protocol = ""
	h.put("web/8080", entry)
	h.put("web/web_cluster/webport", cluster)
	if got := client.count(t, gatewayURL(port), 2); got["web:1"] != 2 {
		t.Fatalf("back to HTTP: %v", got)
	}
}

// TestTCPGatewayRestored: a TCP gateway and the TCP cluster gateway it routes to come back from
// the state file after a restart and forward connections by weight.
func TestTCPGatewayRestored(t *testing.T) {
	h := startGateway(t, nil)
	a, b := newTCPEcho(t, "a"), newTCPEcho(t, "b")
	h.put("db/db_cluster/port", tcpGateway(0, tcpRoute("db:1", 50, a), tcpRoute("db:2", 50, b)))
	port := freePort(t)
	h.put("db/5432", tcpGateway(port, gatewayapi.Route{Name: "cluster", Weight: 100, Gateway: "db/db_cluster/port"}))
	if err := h.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	again := startGateway(t, func(c *gateway.Config) { c.StateFile = h.state })
	if gw, err := again.admin.Get(context.Background(), "db/5432"); err != nil || gw.Protocol != gatewayapi.ProtocolTCP {
		t.Fatalf("restored: %+v, %v; want protocol tcp", gw, err)
	}
	seen := map[string]int{}
	for i := range 4 {
		name, err := tcpConnection(port, []byte("after the restart"))
		if err != nil {
			t.Fatalf("connection %d after the restart: %v", i, err)
		}
		seen[name]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Fatalf("4 connections at 50/50 after the restart went %v", seen)
	}
}
