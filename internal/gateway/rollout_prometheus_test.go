package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// prometheusFor runs the Debian package's Prometheus on loopback, scraping the gateway's
// /metrics (with the admin token) every second, until the test ends. It returns its URL once it
// has scraped the gateway.
func prometheusFor(t *testing.T, h *harness) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("the Prometheus server is missing: `apt-get install -y prometheus` (make tools installs it)")
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	config := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: vamp-gateway
    authorization: {credentials_file: %q}
    static_configs: [{targets: [%q]}]
`, tokenFile, strings.TrimPrefix(h.base, "http://"))
	if err := os.WriteFile(tokenFile, []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Kill fails only on a process that exited already; Wait reaps it either way, and
		// says only how it ended (killed).
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	eventuallyWithin(t, 60*time.Second, "Prometheus scrapes the gateway", func() bool {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(`up{job="vamp-gateway"} == 1`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct{ Result []json.RawMessage } `json:"data"`
		}
		return json.NewDecoder(resp.Body).Decode(&r) == nil && len(r.Data.Result) == 1
	})
	return base
}

func eventuallyWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", limit, what)
		}
		<-poll.C
	}
}

// A roll-out judged by a real Prometheus that scrapes the gateway's /metrics: the failing canary
// is rolled back on Prometheus's numbers.
func TestRolloutOnPrometheusRollsBackAFailingCanary(t *testing.T) {
	h := startGateway(t, func(c *gateway.Config) { c.RolloutTick = 200 * time.Millisecond })
	prom := prometheusFor(t, h)
	v100, v110 := newBackend(t, "sava:1.0.0"), sava110(t, true)
	port := freePort(t)
	gw := savaGateway(port, v100, v110, 100, 0)
	gw.Rollout = policy()
	gw.Rollout.Steps = []int{50, 100}
	gw.Rollout.Interval = "1h" // a failing check must not wait for the interval
	gw.Rollout.Metrics = &gatewayapi.RolloutMetrics{Source: "prometheus", PrometheusURL: prom}
	h.put(clusterGW, gw)

	firefox := newBrowser(firefoxUA)
	var st *gatewayapi.RolloutStatus
	eventuallyWithin(t, 60*time.Second, "Prometheus's numbers roll the canary back", func() bool {
		_, _, _ = firefox.get(gatewayURL(port)) // traffic for the checks; a failed request counts as one
		st = h.get(clusterGW).RolloutStatus
		return st.Phase != "pending" && st.Phase != "progressing"
	})
	if st.Phase != "rolled_back" || !strings.Contains(st.Reason, "5xx rate") {
		t.Fatalf("want a roll-back on the 5xx rate, got %s: %s", st.Phase, st.Reason)
	}
	t.Logf("rolled back on Prometheus's numbers: %s", st.Reason)
}
