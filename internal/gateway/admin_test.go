package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

func TestAdminAPIRequiresToken(t *testing.T) {
	h := startGateway(t, nil)
	for _, tc := range []struct {
		name, path, auth string
		want             int
	}{
		{"no token", "/v1/gateways", "", http.StatusUnauthorized},
		{"wrong token", "/v1/gateways", "Bearer wrong-token", http.StatusUnauthorized},
		{"token without Bearer", "/v1/gateways", testToken, http.StatusUnauthorized},
		{"metrics without token", "/metrics", "", http.StatusUnauthorized},
		{"right token", "/v1/gateways", "Bearer " + testToken, http.StatusOK},
		{"healthz needs none", "/healthz", "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.base+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("GET %s: want %d, got %d", tc.path, tc.want, resp.StatusCode)
			}
		})
	}
	// Without a token the gateway does not start unless told to run unauthenticated.
	t.Setenv(gateway.EnvToken, "")
	if _, err := gateway.New(gateway.Config{AdminListen: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "--admin-insecure-no-token") {
		t.Errorf("New without a token: want an error naming --admin-insecure-no-token, got %v", err)
	}
}

func TestExtraAdminHandlersSitBehindTheToken(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) {
		c.AdminHandlers = map[string]http.Handler{"GET /v1/services/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "services")
		})}
	})
	if err := h.admin.Do(context.Background(), http.MethodGet, "/v1/services/", nil, nil); err != nil {
		t.Errorf("with the token: %v", err)
	}
	resp, err := http.Get(h.base + "/v1/services/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: want 401, got %d", resp.StatusCode)
	}
	_, err = gateway.New(gateway.Config{AdminToken: testToken, AdminHandlers: map[string]http.Handler{"GET /v1/gateways/{x...}": http.NotFoundHandler()}})
	if err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Errorf("a pattern that conflicts with the gateway API: want an error, got %v", err)
	}
}

func TestInvalidConditionRefusedWhilePreviousConfigServes(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	good := h.put("sava/9050", savaGateway(port, v100, v110, 0, 100))
	if good.Version != 1 || good.Name != "sava/9050" {
		t.Fatalf("stored gateway: want name sava/9050 version 1, got %q %d", good.Name, good.Version)
	}

	bad := savaGateway(port, v100, v110, 50, 50)
	bad.Routes[0].Condition = "user-agent == "
	apiErr := h.putErr("sava/9050", bad, http.StatusBadRequest)
	if apiErr.Body.Path != "routes[0].condition" || !strings.Contains(apiErr.Body.Error, "column") {
		t.Errorf("want path routes[0].condition and the column in the message, got %+v", apiErr.Body)
	}
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 50); got["sava:1.1.0"] != 50 {
		t.Errorf("after the refused PUT the previous 0/100 config must serve: got %v", got)
	}
	if gw, _ := h.admin.Get(context.Background(), "sava/9050"); gw.Version != 1 || gw.Routes[0].Weight != 0 {
		t.Errorf("stored gateway changed after a refused PUT: %+v", gw)
	}
}

func TestPutRefusesBadDocumentsWithTheirPath(t *testing.T) {
	h := startGateway(t, nil)
	b := newBackend(t, "a")
	route := func(mut func(*gatewayapi.Route)) gatewayapi.Gateway {
		r := gatewayapi.Route{Name: "a", Weight: 100, Instances: []gatewayapi.Instance{b.instance()}}
		mut(&r)
		return gatewayapi.Gateway{Routes: []gatewayapi.Route{r}}
	}
	for _, tc := range []struct {
		name, path, says string
		gw               gatewayapi.Gateway
	}{
		{"port out of range", "port", "0..65535", gatewayapi.Gateway{Port: 70000}},
		{"unknown sticky", "sticky", "instance", gatewayapi.Gateway{Sticky: "session"}},
		{"unknown balance", "balance", "least-connections", gatewayapi.Gateway{Balance: "random"}},
		{"weights not 100", "routes", "sum to 60", route(func(r *gatewayapi.Route) { r.Weight = 60 })},
		{"weight above 100", "routes[0].weight", "0..100", route(func(r *gatewayapi.Route) { r.Weight = 101 })},
		{"strength above 100", "routes[0].condition_strength", "0..100", route(func(r *gatewayapi.Route) { r.Condition = "has cookie x"; r.ConditionStrength = intp(101) })},
		{"haproxy acl", "routes[0].condition", "HAProxy", route(func(r *gatewayapi.Route) { r.Condition = "< src 10.0.0.0/8 >" })},
		{"two targets", "routes[0]", "exactly one", route(func(r *gatewayapi.Route) { r.Gateway = "x" })},
		{"no target", "routes[0]", "exactly one", route(func(r *gatewayapi.Route) { r.Instances = nil })},
		{"instance port", "routes[0].instances[0].port", "1..65535", route(func(r *gatewayapi.Route) { r.Instances[0].Port = 0 })},
		{"missing gateway", "routes[0].gateway", "does not exist", route(func(r *gatewayapi.Route) { r.Instances = nil; r.Gateway = "nope/1" })},
		{"self reference", "routes[0].gateway", "itself", route(func(r *gatewayapi.Route) { r.Instances = nil; r.Gateway = "bad/1" })},
		{"unknown runtime", "routes[0].service.runtime", "marathon", route(func(r *gatewayapi.Route) {
			r.Instances = nil
			r.Service = &gatewayapi.ServiceRef{Runtime: "marathon", ID: "/sava", Port: "webport"}
		})},
		{"health check path", "routes[0].health_check.path", "start with", route(func(r *gatewayapi.Route) { r.HealthCheck = &gatewayapi.HealthCheck{Path: "health"} })},
		{"health check interval", "routes[0].health_check.interval", "duration", route(func(r *gatewayapi.Route) { r.HealthCheck = &gatewayapi.HealthCheck{Path: "/h", Interval: "often"} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apiErr := h.putErr("bad/1", tc.gw, http.StatusBadRequest)
			if apiErr.Body.Path != tc.path || !strings.Contains(apiErr.Body.Error, tc.says) {
				t.Errorf("want path %q and %q in the message, got %+v", tc.path, tc.says, apiErr.Body)
			}
		})
	}
	dup := route(func(*gatewayapi.Route) {})
	dup.Routes = append(dup.Routes, dup.Routes[0])
	dup.Routes[1].Weight = 0
	if apiErr := h.putErr("bad/1", dup, http.StatusBadRequest); apiErr.Body.Path != "routes[1].name" {
		t.Errorf("duplicate route names: want path routes[1].name, got %+v", apiErr.Body)
	}
	if _, err := h.admin.Get(context.Background(), "bad/1"); !gatewayapi.IsNotFound(err) {
		t.Errorf("nothing refused may be stored: GET bad/1 gave %v", err)
	}

	// Unknown fields are typos, not ignored.
	req, _ := http.NewRequest(http.MethodPut, h.base+"/v1/gateways/bad/1", strings.NewReader(`{"port": 0, "routes": [], "wieght": 5}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "wieght") {
		t.Errorf("unknown field: want 400 naming it, got %d %s", resp.StatusCode, body)
	}
}

func TestRestartRestoresLastAcceptedConfig(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	h.put("sava/9050", savaGateway(port, v100, v110, 100, 0))
	h.put("sava/9050", savaGateway(port, v100, v110, 0, 100)) // version 2: the last accepted
	bad := savaGateway(port, v100, v110, 100, 0)
	bad.Routes[0].Condition = "(user-agent == Firefox"
	_ = h.putErr("sava/9050", bad, http.StatusBadRequest)
	if err := h.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	again := startGateway(t, func(c *gateway.Config) { c.StateFile = h.state })
	gw, err := again.admin.Get(context.Background(), "sava/9050")
	if err != nil || gw.Version != 2 || gw.Routes[1].Weight != 100 {
		t.Fatalf("after restart: want version 2 with sava:1.1.0 at 100, got %+v, %v", gw, err)
	}
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 20); got["sava:1.1.0"] != 20 {
		t.Errorf("after restart the restored config must serve: got %v", got)
	}
}

func TestBrokenStateFileStopsTheStart(t *testing.T) {
	for _, tc := range []struct{ name, content, says string }{
		{"not JSON", `{"format_version": 1, "gateways": [`, "corrupt"},
		{"empty", "", "empty"},
		{"invalid gateway", `{"format_version": 1, "gateways": [{"name": "g/1", "port": 0, "routes": [
			{"name": "a", "weight": 100, "condition": "user-agent ==", "instances": [{"host": "127.0.0.1", "port": 1}]}]}]}`,
			"routes[0].condition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/state.json"
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := gateway.New(gateway.Config{AdminListen: "127.0.0.1:0", AdminToken: testToken, StateFile: path})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("want an error naming %s and saying %q, got %v", path, tc.says, err)
			}
		})
	}
}

// TestStartRemovesStaleTemporaryStateFiles: temporary files of writes that a kill cut short are
// gone after the next start, and the state file itself serves.
func TestStartRemovesStaleTemporaryStateFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte(`{"format_version": 1, "gateways": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"state.json.tmp-1", "state.json.tmp-424242"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"format_ver`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startGateway(t, func(c *gateway.Config) { c.StateFile = path })
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "state.json" {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after the start the directory holds %v (%v), want state.json alone", names, err)
	}
}

func TestStateFileInMissingDirectoryStopsTheStart(t *testing.T) {
	path := t.TempDir() + "/no/such/dir/state.json"
	_, err := gateway.New(gateway.Config{AdminListen: "127.0.0.1:0", AdminToken: testToken, StateFile: path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("want an error naming %s, got %v", path, err)
	}
}

func TestDeleteClosesListenerAndPortConflicts(t *testing.T) {
	h := startGateway(t, nil)
	v100, v110 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	h.put("sava/9050", savaGateway(port, v100, v110, 0, 100))

	// Another gateway on the same port: 409 naming the owner.
	if apiErr := h.putErr("other/9050", savaGateway(port, v100, v110, 0, 100), http.StatusConflict); apiErr.Body.Path != "port" || !strings.Contains(apiErr.Body.Error, "sava/9050") {
		t.Errorf("port of another gateway: want path port naming sava/9050, got %+v", apiErr.Body)
	}
	// A port another process holds: 409 with the bind error; the gateway keeps running.
	busyPort := v100.instance().Port
	if apiErr := h.putErr("other/9050", savaGateway(busyPort, v100, v110, 0, 100), http.StatusConflict); !strings.Contains(apiErr.Body.Error, "address already in use") {
		t.Errorf("port of another process: want the bind error, got %+v", apiErr.Body)
	}

	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 5); got["sava:1.1.0"] != 5 {
		t.Fatalf("before delete: %v", got)
	}
	if err := h.admin.Delete(context.Background(), "sava/9050"); err != nil {
		t.Fatalf("DELETE: %v", err)
	}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := fresh.Get(gatewayURL(port))
	if err == nil || !errors.Is(err, errConnRefused) {
		t.Errorf("after DELETE: want connection refused, got %v", err)
	}
	// The port is free again for another gateway.
	h.put("other/9050", savaGateway(port, v100, v110, 100, 0))
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 5); got["sava:1.0.0"] != 5 {
		t.Errorf("the port's new gateway: %v", got)
	}
	// Moving a gateway to another port closes the old one.
	newPort := freePort(t)
	h.put("other/9050", savaGateway(newPort, v100, v110, 100, 0))
	if _, err := fresh.Get(gatewayURL(port)); !errors.Is(err, errConnRefused) {
		t.Errorf("after moving the port: want the old one refused, got %v", err)
	}
	if got := newBrowser(chromeUA).count(t, gatewayURL(newPort), 5); got["sava:1.0.0"] != 5 {
		t.Errorf("the new port: %v", got)
	}
}
