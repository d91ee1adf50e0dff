package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// The scenario's step 5: Firefox users get sava:1.0.0, everybody else sava:1.1.0.
func TestFirefoxConditionSendsFirefoxToOldVariant(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 0, 100)
	gw.Sticky = "route"
	gw.Routes[0].Condition = "user-agent == Firefox"
	gw.Routes[0].ConditionStrength = intp(100)
	h.put("sava/9050", gw)

	if got := newBrowser(firefoxUA).count(t, gatewayURL(port), 200); got["sava:1.0.0"] != 200 {
		t.Errorf("Firefox: want all 200 on sava:1.0.0, got %v", got)
	}
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 200); got["sava:1.1.0"] != 200 {
		t.Errorf("Chrome: want all 200 on sava:1.1.0, got %v", got)
	}
	// Edge announces "Chrome" in its User-Agent and is neither Firefox nor Chrome to the
	// condition; it takes the weights.
	if got := newBrowser(edgeUA).count(t, gatewayURL(port), 20); got["sava:1.1.0"] != 20 {
		t.Errorf("Edge: want all 20 on sava:1.1.0, got %v", got)
	}
}

func TestWeightsFiftyFiftyAreExact(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	h.put("sava/9050", savaGateway(port, v100, v110, 50, 50))

	got := newBrowser(chromeUA).count(t, gatewayURL(port), 200)
	if got["sava:1.0.0"] != 100 || got["sava:1.1.0"] != 100 {
		t.Errorf("50/50 over 200 requests: want exactly 100/100, got %v", got)
	}
}

func TestConditionStrengthFiftyTakesHalfOfMatching(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 0, 100)
	gw.Routes[0].Condition = "user-agent == Firefox"
	gw.Routes[0].ConditionStrength = intp(50)
	h.put("sava/9050", gw)

	got := newBrowser(firefoxUA).count(t, gatewayURL(port), 200)
	if got["sava:1.0.0"] != 100 || got["sava:1.1.0"] != 100 {
		t.Errorf("strength 50 over 200 Firefox requests: want 100 by the condition and 100 by weight, got %v", got)
	}
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 50); got["sava:1.1.0"] != 50 {
		t.Errorf("Chrome does not match: want all 50 by weight on sava:1.1.0, got %v", got)
	}
}

// The scenario's two gateways: the stable endpoint routes to the internal cluster gateway
// (port 0), which splits by weight.
func TestStableGatewayThroughInternalClusterGateway(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	h.put("sava/sava_cluster/webport", savaGateway(0, v100, v110, 50, 50))
	port := freePort(t)
	h.put("sava/9050", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "sava_cluster", Weight: 100, Gateway: "sava/sava_cluster/webport"},
	}})

	got := newBrowser(chromeUA).count(t, gatewayURL(port), 100)
	if got["sava:1.0.0"] != 50 || got["sava:1.1.0"] != 50 {
		t.Errorf("through the cluster gateway at 50/50: want 50/50, got %v", got)
	}

	// The cluster gateway's weights move traffic behind the stable endpoint at once.
	h.put("sava/sava_cluster/webport", savaGateway(0, v100, v110, 0, 100))
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 20); got["sava:1.1.0"] != 20 {
		t.Errorf("after 0/100 on the cluster gateway: want all on sava:1.1.0, got %v", got)
	}
	h.statsWhen("sava/sava_cluster/webport", "the cluster gateway's stats count the 120 requests that passed through it",
		func(st gatewayapi.Stats) bool { return st.Routes[0].Requests+st.Routes[1].Requests == 120 })

	// The cluster gateway cannot go while the stable one routes to it, nor point back at it.
	err := h.admin.Delete(t.Context(), "sava/sava_cluster/webport")
	if apiErr, ok := err.(*gatewayapi.APIError); !ok || apiErr.Status != http.StatusConflict || !strings.Contains(apiErr.Body.Error, "sava/9050") {
		t.Errorf("deleting a gateway that another routes to: want 409 naming sava/9050, got %v", err)
	}
	back := savaGateway(0, v100, v110, 50, 50)
	back.Routes[1] = gatewayapi.Route{Name: "loop", Weight: 50, Gateway: "sava/9050"}
	if apiErr := h.putErr("sava/sava_cluster/webport", back, http.StatusBadRequest); apiErr.Body.Path != "routes[1].gateway" || !strings.Contains(apiErr.Body.Error, "cycle") {
		t.Errorf("a cycle: want path routes[1].gateway and the word cycle, got %+v", apiErr.Body)
	}
}

func TestNoRouteIs503WithReason(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 0, 0)
	gw.Routes[0].Condition = "user-agent == Firefox"
	h.put("sava/9050", gw)

	status, body, err := newBrowser(chromeUA).get(gatewayURL(port))
	if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, "weights") {
		t.Errorf("all weights 0 and no matching condition: want 503 saying why, got %d %q %v", status, body, err)
	}
	if got := newBrowser(firefoxUA).count(t, gatewayURL(port), 10); got["sava:1.0.0"] != 10 {
		t.Errorf("the condition still serves Firefox: got %v", got)
	}
}

func TestVirtualHostsRestrictTheListener(t *testing.T) {
	h := startGateway(t, nil)
	app := newBackend(t, "app")
	port := freePort(t)
	h.put("app/1", gatewayapi.Gateway{Port: port, VirtualHosts: []string{"sava.example.com"}, Routes: []gatewayapi.Route{
		{Name: "app", Weight: 100, Instances: []gatewayapi.Instance{app.instance()}},
	}})
	for host, want := range map[string]int{"sava.example.com": http.StatusOK, "SAVA.example.com:80": http.StatusOK, "other.example.com": http.StatusNotFound} {
		req, _ := http.NewRequest(http.MethodGet, gatewayURL(port), nil)
		req.Host = host
		status, body, err := doBody(http.DefaultClient, req)
		if err != nil || status != want {
			t.Errorf("Host %s: want %d, got %d %q %v", host, want, status, body, err)
		}
	}
}
