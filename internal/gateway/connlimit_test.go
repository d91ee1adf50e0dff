package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// TestMaxConnsIsOneLimitForHTTPAndTCPGateways: --max-conns 1 counts the connections of HTTP and
// TCP gateways together. While an HTTP client holds the one slot, a TCP client is not forwarded
// (its instance sees no connection); once the HTTP client leaves, it is. The metrics say so.
func TestMaxConnsIsOneLimitForHTTPAndTCPGateways(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) { c.MaxConns = 1 })
	if metric(t, h, "vamp_gateway_max_client_connections") != "1" {
		t.Fatalf("vamp_gateway_max_client_connections is not 1:\n%s", scrape(t, h))
	}
	for _, series := range []string{`vamp_gateway_resource_exhausted_total{errno="EMFILE",op="dial"} 0`, `vamp_gateway_resource_exhausted_total{errno="EADDRNOTAVAIL",op="accept"} 0`} {
		if !strings.Contains(scrape(t, h), series+"\n") {
			t.Fatalf("/metrics has no %s:\n%s", series, scrape(t, h))
		}
	}
	web := newBackend(t, "web")
	httpPort, tcpPort := freePort(t), freePort(t)
	h.put("web/1", gatewayapi.Gateway{Port: httpPort, Routes: []gatewayapi.Route{{Name: "web", Weight: 100, Instances: []gatewayapi.Instance{web.instance()}}}})
	echo := newTCPEcho(t, "echo")
	h.put("echo/1", tcpGateway(tcpPort, tcpRoute("echo", 100, echo)))

	httpClient, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer httpClient.Close()
	if err := httpClient.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(httpClient, "GET / HTTP/1.1\r\nHost: web\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(httpClient), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the HTTP client: %v %v", resp, err)
	}
	resp.Body.Close()

	// The TCP client connects (the kernel completes the handshake) but is not forwarded: its
	// listener takes no slot while the HTTP client holds the only one.
	tcpDone := make(chan error, 1)
	go func() {
		_, err := tcpConnection(tcpPort, payloadOf(1000, 1))
		tcpDone <- err
	}()
	// Both listeners wait: the HTTP one before its next accept, the TCP one with the client it
	// accepted.
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, h, "vamp_gateway_conn_limit_reached_total") != "2" {
		if time.Now().After(deadline) {
			t.Fatalf("the limit was not reached twice within 10s:\n%s", scrape(t, h))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := echo.conns.Load(); n != 0 {
		t.Fatalf("the TCP gateway forwarded %d connection(s) while the HTTP client held the only slot", n)
	}
	if got := metric(t, h, "vamp_gateway_client_connections"); got != "1" {
		t.Fatalf("vamp_gateway_client_connections %s with one HTTP client served, want 1", got)
	}
	httpClient.Close()
	if err := <-tcpDone; err != nil {
		t.Fatalf("the TCP client after the HTTP client left: %v", err)
	}
	if n := echo.conns.Load(); n != 1 {
		t.Fatalf("the TCP instance saw %d connections, want 1", n)
	}
}

// metric is the value of an unlabelled series in the gateway's /metrics.
func metric(t *testing.T, h *harness, name string) string {
	t.Helper()
	for _, line := range strings.Split(scrape(t, h), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestMaxConnsRefusesANegativeValue: the flag's bad value is an error that says what to use.
func TestMaxConnsRefusesANegativeValue(t *testing.T) {
	_, err := gateway.New(gateway.Config{AdminInsecureNoToken: true, MaxConns: -5})
	if err == nil || !strings.Contains(err.Error(), "--max-conns -5") || !strings.Contains(err.Error(), "0 for the default") {
		t.Fatalf("gateway.New with MaxConns -5: %v, want an error naming --max-conns and the default", err)
	}
}

// TestHealthChecksSkippedIsExported: the count of health checks not made for want of a local
// resource (health.Skips; counted and logged in the health package's tests) is on /metrics.
func TestHealthChecksSkippedIsExported(t *testing.T) {
	h := startGateway(t, nil)
	if got := metric(t, h, "vamp_gateway_health_checks_skipped_total"); got != "0" {
		t.Fatalf("vamp_gateway_health_checks_skipped_total: %q, want 0:\n%s", got, scrape(t, h))
	}
}
