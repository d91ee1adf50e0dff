package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// TestPassiveEjectionNeverEmptiesAGateway: an HTTP and a TCP gateway, each with two instances
// that refuse connections (--eject-after 1). In each the first instance to fail is ejected and
// the second is not (the last available one): the request is answered 502 after trying both,
// not the routing's 503. /metrics counts both gateways' ejections and withheld ones together.
func TestPassiveEjectionNeverEmptiesAGateway(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) { c.Proxy.EjectAfter = 1 })
	for _, series := range []string{"vamp_gateway_ejections_total", "vamp_gateway_ejections_withheld_total"} {
		if got := metric(t, h, series); got != "0" {
			t.Fatalf("%s before any failure: %q, want 0:\n%s", series, got, scrape(t, h))
		}
	}
	dead := func() gatewayapi.Instance { return instanceOf(fmt.Sprintf("127.0.0.1:%d", freePort(t))) }
	httpPort, tcpPort := freePort(t), freePort(t)
	h.put("web/1", gatewayapi.Gateway{Port: httpPort, Routes: []gatewayapi.Route{{Name: "web", Weight: 100, Instances: []gatewayapi.Instance{dead(), dead()}}}})
	h.put("raw/1", tcpGateway(tcpPort, gatewayapi.Route{Name: "raw", Weight: 100, Instances: []gatewayapi.Instance{dead(), dead()}}))

	resp, err := http.Get(gatewayURL(httpPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("HTTP gateway with both instances refusing: %s, want 502 (both tried)", resp.Status)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("TCP gateway with both instances refusing: read %d bytes, %v; want the connection closed", n, err)
	}
	if got := metric(t, h, "vamp_gateway_ejections_total"); got != "2" {
		t.Errorf("vamp_gateway_ejections_total %q, want 2 (one per gateway)", got)
	}
	// The HTTP request dialled both instances (TCP gateways dial outside the pool), and no
	// connection to an instance is open.
	if got := metric(t, h, "vamp_gateway_instance_dials_total"); got != "2" {
		t.Errorf("vamp_gateway_instance_dials_total %q, want 2 (both instances tried, failed dials counted)", got)
	}
	if got := metric(t, h, "vamp_gateway_instance_connections"); got != "0" {
		t.Errorf("vamp_gateway_instance_connections %q, want 0 (both dials failed)", got)
	}
	if got := metric(t, h, "vamp_gateway_ejections_withheld_total"); got != "2" {
		t.Errorf("vamp_gateway_ejections_withheld_total %q, want 2 (one per gateway)", got)
	}
	st := h.stats("web/1")
	healthy := 0
	for _, in := range st.Routes[0].Instances {
		if in.Healthy {
			healthy++
		}
	}
	if healthy != 1 {
		t.Errorf("HTTP gateway: %d instances in rotation after the failures, want 1: %+v", healthy, st.Routes[0].Instances)
	}
}

// TestSharedInstanceIsNotEjectedWhileAnotherGatewayNeedsIt: gateways A and B share an instance
// (one Backend in the process's pool); it is A's second instance and B's only one. It refuses
// connections, and fails through A (--eject-after 1): A's request is served by its other
// instance, and the ejection is withheld because it would leave B with none. When the instance
// is back, B is served at once instead of answering 503 for --eject-for. Once B is deleted, the
// same failure through A ejects it.
func TestSharedInstanceIsNotEjectedWhileAnotherGatewayNeedsIt(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) { c.Proxy.EjectAfter, c.Proxy.EjectFor = 1, time.Hour })
	shared := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens: refused
	live := newBackend(t, "live")
	portA, portB := freePort(t), freePort(t)
	h.put("a", gatewayapi.Gateway{Port: portA, Routes: []gatewayapi.Route{{Name: "a", Weight: 100, Instances: []gatewayapi.Instance{instanceOf(shared), live.instance()}}}})
	h.put("b", gatewayapi.Gateway{Port: portB, Routes: []gatewayapi.Route{{Name: "b", Weight: 100, Instances: []gatewayapi.Instance{instanceOf(shared)}}}})

	br := newBrowser("test")
	// Round-robin over two: of two requests at least one goes to the shared instance first.
	if seen := br.count(t, gatewayURL(portA), 2); seen["live"] != 2 {
		t.Fatalf("A's answers %v, want both from live (the refused dial retried there)", seen)
	}
	back := serveOn(t, shared, "shared")
	if status, body, err := br.get(gatewayURL(portB)); err != nil || status != http.StatusOK || body != "shared" {
		t.Fatalf("B once its instance is back: %d %q %v; want 200 \"shared\" (not ejected through A)", status, body, err)
	}
	if got := metric(t, h, "vamp_gateway_ejections_withheld_total"); got != "1" && got != "2" {
		t.Errorf("vamp_gateway_ejections_withheld_total %q, want 1 or 2 (the shared instance is B's last)", got)
	}
	if got := metric(t, h, "vamp_gateway_ejections_total"); got != "0" {
		t.Errorf("vamp_gateway_ejections_total %q, want 0", got)
	}

	// B deleted: A alone refers to the instance, which A can do without.
	if err := h.admin.Delete(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	back.Close()
	if seen := br.count(t, gatewayURL(portA), 2); seen["live"] != 2 {
		t.Fatalf("A's answers %v, want both from live", seen)
	}
	if got := metric(t, h, "vamp_gateway_ejections_total"); got != "1" {
		t.Fatalf("vamp_gateway_ejections_total %q after B was deleted, want 1 (the shared instance ejected)", got)
	}
}

// serveOn serves 200 with body on addr (an address that refused connections until now).
func serveOn(t *testing.T, addr, body string) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the instance cannot come back on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
