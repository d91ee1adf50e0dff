package gateway_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
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
