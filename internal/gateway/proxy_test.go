package gateway_test

import (
	"bufio"
	"context"
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

// Design rule 6: 100 weight changes under load from 32 keep-alive clients fail no request.
func TestWeightChangesUnderLoadFailNothing(t *testing.T) {
	const (
		clients  = 32
		minTotal = 20000
		changes  = 100
	)
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	h.put("sava/9050", savaGateway(port, v100, v110, 50, 50))

	var total, failed atomic.Int64
	var firstFailure atomic.Value
	changed := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBrowser(chromeUA)
			done := false
			for !done || total.Load() < minTotal {
				select {
				case <-changed:
					done = true
				default:
				}
				status, body, err := b.get(gatewayURL(port))
				total.Add(1)
				if err != nil || status != http.StatusOK || !strings.HasPrefix(body, "sava:") {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d body %q error %v", status, body, err))
				}
			}
		}()
	}
	start := time.Now()
	for i := 1; i <= changes; i++ {
		w := i % 101
		h.put("sava/9050", savaGateway(port, v100, v110, w, 100-w))
	}
	changing := time.Since(start)
	close(changed)
	wg.Wait()

	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during %d weight changes; first: %v", failed.Load(), total.Load(), changes, firstFailure.Load())
	}
	if total.Load() < minTotal {
		t.Errorf("only %d requests", total.Load())
	}
	if gw, _ := h.admin.Get(context.Background(), "sava/9050"); gw.Version != changes+1 {
		t.Errorf("want version %d after %d accepted changes, got %d", changes+1, changes, gw.Version)
	}
	t.Logf("%d requests from %d clients, %d failed; %d weight changes took %v, the whole load %v",
		total.Load(), clients, failed.Load(), changes, changing.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func TestRetryOnAnotherInstanceWhenOneIsDown(t *testing.T) {
	// No ejection here: every request that picks the dead instance must be retried.
	h := startGateway(t, func(c *gateway.Config) { c.Proxy.EjectAfter = 1 << 30 })
	live := newBackend(t, "live")
	dead := instanceOf(fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	port := freePort(t)
	h.put("app/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "app", Weight: 100, Instances: []gatewayapi.Instance{dead, live.instance()}},
	}})
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 50); got["live"] != 50 {
		t.Errorf("want all 50 answered by the live instance, got %v", got)
	}
	st := h.statsWhen("app/1", "the stats count 50 requests", func(st gatewayapi.Stats) bool { return st.Routes[0].Requests == 50 })
	if st.Routes[0].UpstreamErrors != 0 || st.Routes[0].Responses["2xx"] != 50 {
		t.Errorf("retried requests are not upstream errors: %+v", st.Routes[0])
	}

	// A POST with a body goes elsewhere too when the dial fails: the front end sends no byte of a
	// request before the instance's connection is made, so the dead instance saw nothing of it
	// (issue 18; a body that went out in part is never sent again: proxy.PartialBodyError).
	var statuses []int
	for i := 0; i < 2; i++ {
		resp, err := http.Post(gatewayURL(port), "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[0] != http.StatusOK || statuses[1] != http.StatusOK {
		t.Errorf("two POSTs round-robin over dead and live: want both answered by the live instance, got %v", statuses)
	}
}

func TestPassiveEjectionStopsTrafficToFailingInstance(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) { c.Proxy.EjectAfter = 2 })
	live := newBackend(t, "live")
	// An instance that accepts connections and closes them at once, counting them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := freePort(t)
	h.put("app/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "app", Weight: 100, Instances: []gatewayapi.Instance{instanceOf(ln.Addr().String()), live.instance()}},
	}})
	// The instance got each of these requests (it accepted the connection): it may have
	// processed them, so they are not sent again (502) until it is ejected, after two.
	b := newBrowser(chromeUA)
	seen := map[string]int{}
	for range 20 {
		status, body, err := b.get(gatewayURL(port))
		if err != nil {
			t.Fatal(err)
		}
		seen[fmt.Sprint(status, " ", strings.TrimSpace(body))]++
	}
	if seen["200 live"] != 18 || len(seen) != 2 {
		t.Errorf("want 2 requests answered 502 (not retried) and 18 by the live instance, got %v", seen)
	}
	st := h.stats("app/1")
	if st.Routes[0].Instances[0].Healthy {
		t.Errorf("the failing instance should be ejected: %+v", st.Routes[0].Instances)
	}
	before := accepted.Load()
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 20); got["live"] != 20 {
		t.Errorf("want all 20 answered by the live instance, got %v", got)
	}
	if after := accepted.Load(); after != before || before > 4 {
		t.Errorf("an ejected instance gets no connections: %d before ejection settled, %d after", before, after)
	}
}

func TestActiveHealthCheckMarksInstanceDownAndUp(t *testing.T) {
	h := startGateway(t, nil)
	var sick atomic.Bool
	flaky := newBackend(t, "flaky")
	flaky.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && sick.Load() {
			http.Error(w, "sick", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "flaky")
	})
	steady := newBackend(t, "steady")
	port := freePort(t)
	h.put("app/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{{
		Name: "app", Weight: 100,
		Instances:   []gatewayapi.Instance{flaky.instance(), steady.instance()},
		HealthCheck: &gatewayapi.HealthCheck{Path: "/health", Interval: "20ms", Timeout: "20ms", UnhealthyThreshold: 2, HealthyThreshold: 2},
	}}})
	healthy := func() bool { return h.stats("app/1").Routes[0].Instances[0].Healthy }

	sick.Store(true)
	eventually(t, "the health check marks flaky down", func() bool { return !healthy() })
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 20); got["steady"] != 20 {
		t.Errorf("with flaky down: want all 20 on steady, got %v", got)
	}
	sick.Store(false)
	eventually(t, "the health check brings flaky back", healthy)
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 20); got["flaky"] != 10 {
		t.Errorf("with flaky back: want round-robin 10/10, got %v", got)
	}

	// Removing the health check forgets its verdict: a down instance gets traffic again.
	sick.Store(true)
	eventually(t, "the health check marks flaky down again", func() bool { return !healthy() })
	h.put("app/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{{
		Name: "app", Weight: 100, Instances: []gatewayapi.Instance{flaky.instance(), steady.instance()},
	}}})
	if !healthy() {
		t.Errorf("without a health check the instance must count as healthy")
	}
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 20); got["flaky"] != 10 {
		t.Errorf("without the health check: want round-robin 10/10, got %v", got)
	}
}

func TestStickyRouteCookiePinsClient(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 50, 50)
	gw.Sticky = "route"
	h.put("sava/9050", gw)

	b := newBrowser(chromeUA)
	resp, err := b.client.Get(gatewayURL(port))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "vamp_sava_9050" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Path != "/" || cookie.Value != string(first) {
		t.Fatalf("want an HttpOnly cookie vamp_sava_9050=%s with Path=/, got %v", first, resp.Header["Set-Cookie"])
	}
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest(http.MethodGet, gatewayURL(port), nil)
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		status, body, err := doBody(b.client, req)
		if err != nil || status != http.StatusOK || body != string(first) {
			t.Fatalf("request %d with the cookie: want %s, got %d %q %v", i, first, status, body, err)
		}
	}
}

func TestStickyInstanceCookiePinsClientToOneInstance(t *testing.T) {
	h := startGateway(t, nil)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	port := freePort(t)
	h.put("app/1", gatewayapi.Gateway{Port: port, Sticky: "instance", Routes: []gatewayapi.Route{
		{Name: "app", Weight: 100, Instances: []gatewayapi.Instance{a.instance(), b.instance()}},
	}})
	client := newBrowser(firefoxUA).client
	resp, err := client.Get(gatewayURL(port))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "vamp_app_1" {
		t.Fatalf("want the cookie vamp_app_1, got %v", resp.Header["Set-Cookie"])
	}
	for i := 0; i < 10; i++ {
		req, _ := http.NewRequest(http.MethodGet, gatewayURL(port), nil)
		req.AddCookie(cookies[0])
		if status, body, err := doBody(client, req); err != nil || status != http.StatusOK || body != string(first) {
			t.Fatalf("request %d with the cookie: want instance %s, got %d %q %v", i, first, status, body, err)
		}
	}
}

func doBody(c *http.Client, req *http.Request) (int, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func TestWebsocketUpgradePassesThrough(t *testing.T) {
	h := startGateway(t, nil)
	ws := newBackend(t, "ws")
	ws.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n') // echo one line, upper-cased, to prove both directions
		_, _ = rw.WriteString(strings.ToUpper(line))
		rw.Flush()
	})
	port := freePort(t)
	h.put("ws/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "ws", Weight: 100, Instances: []gatewayapi.Instance{ws.instance()}},
	}})

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	status, r, err := rawUpgrade(conn, "ws.example")
	if err != nil || !strings.Contains(status, "101") {
		t.Fatalf("want 101 Switching Protocols, got %q %v", status, err)
	}
	fmt.Fprint(conn, "hello over the upgraded connection\n")
	echo, err := r.ReadString('\n')
	if err != nil || echo != "HELLO OVER THE UPGRADED CONNECTION\n" {
		t.Errorf("want the echo through the gateway, got %q %v", echo, err)
	}
}

func TestStreamedResponseIsFlushedThrough(t *testing.T) {
	h := startGateway(t, nil)
	release := make(chan struct{})
	stream := newBackend(t, "stream")
	stream.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-release // the second part waits until the client has seen the first
		_, _ = io.WriteString(w, "second\n")
	})
	port := freePort(t)
	h.put("stream/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "stream", Weight: 100, Instances: []gatewayapi.Instance{stream.instance()}},
	}})
	resp, err := http.Get(gatewayURL(port))
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('\n')
	close(release)
	if err != nil || first != "first\n" {
		t.Fatalf("want the first part before the backend finished, got %q %v", first, err)
	}
	if second, err := r.ReadString('\n'); err != nil || second != "second\n" {
		t.Errorf("want the second part, got %q %v", second, err)
	}
}

func TestShutdownDrainsInFlightRequest(t *testing.T) {
	h := startGateway(t, nil)
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := newBackend(t, "slow")
	slow.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	port := freePort(t)
	h.put("slow/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "slow", Weight: 100, Instances: []gatewayapi.Instance{slow.instance()}},
	}})

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		status, body, err := newBrowser(chromeUA).get(gatewayURL(port))
		got <- result{status, body, err}
	}()
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	// Draining: new connections are refused while the slow request is still in flight.
	eventually(t, "the listener is closed for new connections", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if r := <-got; r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Errorf("the in-flight request must finish: got %d %q %v", r.status, r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run after a clean drain: want nil, got %v", err)
	}
}

func TestMetricsAndStatsCountRequests(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	h.put("sava/9050", savaGateway(port, v100, v110, 25, 75))
	newBrowser(chromeUA).count(t, gatewayURL(port), 40)

	st := h.statsWhen("sava/9050", "the stats count 40 requests", func(st gatewayapi.Stats) bool {
		return len(st.Routes) == 2 && st.Routes[0].Requests+st.Routes[1].Requests == 40
	})
	if st.Version != 1 || len(st.Routes) != 2 {
		t.Fatalf("stats: %+v", st)
	}
	for i, want := range []uint64{10, 30} {
		r := st.Routes[i]
		if r.Requests != want || r.Responses["2xx"] != want || r.UpstreamErrors != 0 || r.LatencyP99MS <= 0 || r.LatencyP50MS > r.LatencyP99MS {
			t.Errorf("route %s: want %d requests, all 2xx, latencies set, got %+v", r.Name, want, r)
		}
		if len(r.Instances) != 1 || !r.Instances[0].Healthy {
			t.Errorf("route %s instances: %+v", r.Name, r.Instances)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, h.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	status, body, err := doBody(http.DefaultClient, req)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", status, err)
	}
	for _, line := range []string{
		`vamp_gateway_requests_total{code="200",gateway="sava/9050",route="sava:1.0.0"} 10`,
		`vamp_gateway_requests_total{code="200",gateway="sava/9050",route="sava:1.1.0"} 30`,
		`vamp_gateway_route_weight{gateway="sava/9050",route="sava:1.1.0"} 75`,
		`vamp_gateway_request_duration_seconds_count{gateway="sava/9050",route="sava:1.0.0"} 10`,
		`vamp_gateway_config_reloads_total{result="ok"} 1`,
		`vamp_gateway_upstream_errors_total{gateway="sava/9050",route="sava:1.0.0"} 0`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

func TestAnswerCutMidwayReleasesInstanceAndIsCounted(t *testing.T) {
	h := startGateway(t, nil)
	cut := newBackend(t, "cut")
	cut.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a part")
		rw.Flush()
		conn.Close()
	})
	port := freePort(t)
	h.put("cut/1", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "cut", Weight: 100, Instances: []gatewayapi.Instance{cut.instance()}},
	}})
	if _, _, err := newBrowser(chromeUA).get(gatewayURL(port)); err == nil {
		t.Errorf("want the client to see the answer cut short")
	}
	st := h.statsWhen("cut/1", "the cut request is counted and its instance released", func(st gatewayapi.Stats) bool {
		return st.Routes[0].Requests == 1 && st.Routes[0].Instances[0].Active == 0
	})
	if st.Routes[0].Responses["2xx"] != 1 {
		t.Errorf("the answer began as a 200: %+v", st.Routes[0])
	}
}

// TestNetHTTPOnlyServesThroughReverseProxy: --net-http-only (the way back from the gateway's own
// front end) serves the same split, and serves bodies too.
func TestNetHTTPOnlyServesThroughReverseProxy(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) { c.NetHTTPOnly = true })
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	h.put("sava/9050", savaGateway(port, v100, v110, 50, 50))
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 40); got["sava:1.0.0"] != 20 || got["sava:1.1.0"] != 20 {
		t.Errorf("50/50 through net/http only: want 20 and 20 of 40, got %v", got)
	}
	resp, err := http.Post(gatewayURL(port), "text/plain", strings.NewReader("a body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST through net/http only: %s", resp.Status)
	}
}
