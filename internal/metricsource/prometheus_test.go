package metricsource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// prometheusBinary finds the Debian package's server; a missing one fails the test, it does
// not skip it.
func prometheusBinary(t *testing.T) string {
	for _, p := range []string{os.Getenv("PROMETHEUS"), "/usr/bin/prometheus"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	t.Fatal("the Prometheus server is missing: run `make tools` (it installs the Debian package `prometheus`), " +
		"or `apt-get install -y prometheus`, or set PROMETHEUS to its path")
	return ""
}

// syncBuffer collects a process's output for the failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is not TCP", l.Addr())
	}
	return addr.Port
}

// startPrometheus runs a real Prometheus on loopback scraping target every second, and waits
// until it has scraped it successfully. It is killed when the test ends.
func startPrometheus(t *testing.T, target string) string {
	bin := prometheusBinary(t)
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vamp-gateway
    static_configs:
      - targets: [%q]
`, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := cmd.Process.Kill(); err != nil {
			t.Errorf("killing %s: %v", bin, err)
		}
		// Killed on purpose: Wait's "signal: killed" is the expected outcome, not a failure.
		t.Logf("%s stopped: %v", bin, <-exited)
	})

	base := "http://" + addr
	up := func() bool {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(`up{job="vamp-gateway"} == 1`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		return json.NewDecoder(resp.Body).Decode(&r) == nil && len(r.Data.Result) == 1
	}
	waitFor(t, 60*time.Second, "Prometheus to scrape the gateway (up == 1)", up, exited, &out)
	return base
}

// waitFor polls cond until it holds, the deadline passes or the process exits.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool, exited chan error, out *syncBuffer) {
	t.Helper()
	deadline := time.After(limit)
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited while waiting for %s: %v\n%s", what, err, out.String())
		case <-deadline:
			t.Fatalf("no %s within %v; prometheus said:\n%s", what, limit, out.String())
		case <-poll.C:
		}
	}
}

// The gateway's series, as the gateway's registry defines them.
type gatewayMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// mu makes a batch of changes appear in one scrape or none (updates write-lock it).
	mu sync.RWMutex
}

func gatewayTarget(t *testing.T) (*gatewayMetrics, string) {
	reg := prometheus.NewRegistry()
	secs := make([]float64, len(bounds))
	for i, b := range bounds {
		secs[i] = b.Seconds()
	}
	m := &gatewayMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vamp_gateway_requests_total", Help: "Requests by route and code."},
			[]string{"gateway", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vamp_gateway_request_duration_seconds", Help: "Latency.", Buckets: secs},
			[]string{"gateway", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	page := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.RLock()
		defer m.mu.RUnlock()
		page.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return m, strings.TrimPrefix(srv.URL, "http://")
}

// Queries that the example of issue 7 writes: an error-rate ratio over a fixed 1m window.
var issueExampleQueries = Queries{
	Requests:  DefaultQueries.Requests,
	ErrorRate: `sum(rate(vamp_gateway_requests_total{gateway="{{gateway}}",route="{{route}}",code=~"5.."}[1m])) / sum(rate(vamp_gateway_requests_total{gateway="{{gateway}}",route="{{route}}"}[1m]))`,
}

func TestPrometheusSourceAgainstARealPrometheus(t *testing.T) {
	const gw, canary, stable = "sava/sava_cluster/webport", "sava/sava_cluster/sava:1.1.0/webport", "sava/sava_cluster/sava:1.0.0/webport"
	m, target := gatewayTarget(t)
	since := time.Now().Add(-time.Second)
	// The series exist from the first scrape on, at zero, so increase() starts from 0.
	m.requests.WithLabelValues(gw, canary, "200")
	m.requests.WithLabelValues(gw, canary, "500")
	m.requests.WithLabelValues(gw, stable, "200").Add(5000) // another route: must not count
	m.duration.WithLabelValues(gw, canary)
	base := startPrometheus(t, target)

	src, err := NewPrometheus(base, DefaultQueries, PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if w, err := src.Window(ctx, gw, canary, since); err != nil || w.Requests != 0 || w.Errors5xx != 0 || w.P99 != 0 {
		t.Fatalf("before any request: %+v, %v", w, err)
	}

	// The canary serves 100 requests: 88 fast, 12 slow 500s (Firefox, in the seed's story).
	m.mu.Lock()
	ok, fail := m.requests.WithLabelValues(gw, canary, "200"), m.requests.WithLabelValues(gw, canary, "500")
	ok.Add(88)
	fail.Add(12)
	inproc := newRoute(since)
	inproc.serve(88, false, 20*time.Millisecond)
	inproc.serve(12, true, 800*time.Millisecond)
	for range 88 {
		m.duration.WithLabelValues(gw, canary).Observe(0.020)
	}
	for range 12 {
		m.duration.WithLabelValues(gw, canary).Observe(0.800)
	}
	m.mu.Unlock()

	var w Window
	waitFor(t, 30*time.Second, "window with the canary's 100 requests", func() bool {
		w, err = src.Window(ctx, gw, canary, since)
		if err != nil {
			t.Fatal(err)
		}
		return w.Requests >= 100
	}, make(chan error), &syncBuffer{})

	// increase() extrapolates the counts a little, but the same for both series of one scrape.
	if w.Requests > 150 {
		t.Errorf("requests %v, want about 100", w.Requests)
	}
	if math.Abs(w.ErrorRate()-0.12) > 1e-9 {
		t.Errorf("5xx rate %v (%v of %v), want 0.12", w.ErrorRate(), w.Errors5xx, w.Requests)
	}
	// Prometheus's histogram_quantile and the in-process estimate agree on the same data.
	want := inproc.snap.Latency.Quantile(0.99)
	if absDiff(w.P99, want) > time.Millisecond || absDiff(want, 958333333*time.Nanosecond) > time.Microsecond {
		t.Errorf("p99 from Prometheus %v, in-process %v, want about 958ms", w.P99, want)
	}

	// The issue's example query: a fraction, turned into a count with the requests.
	ratio, err := NewPrometheus(base, issueExampleQueries, PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wr, err := ratio.Window(ctx, gw, canary, since)
	if err != nil || math.Abs(wr.ErrorRate()-0.12) > 1e-9 || wr.P99 != 0 {
		t.Errorf("error-rate query: %+v, %v", wr, err)
	}

	// Faults come back with what to fix.
	for _, tc := range []struct {
		q    Queries
		want string
	}{
		{Queries{Requests: `sum(vamp_gateway_requests_total{route="{{route}}"`, Errors5xx: "0"}, "bad_data"},
		{Queries{Requests: `vamp_gateway_requests_total{gateway="{{gateway}}",route="{{route}}"}`, Errors5xx: "0"}, "returned 2 series, want one number; aggregate it"},
		{Queries{Requests: `vamp_gateway_requests_total{gateway="{{gateway}}",route="{{route}}"}[1m]`, Errors5xx: "0"}, "returned a matrix"},
	} {
		bad, err := NewPrometheus(base, tc.q, PrometheusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.Window(ctx, gw, canary, since); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "prometheus query requests") {
			t.Errorf("%s: got %v, want %q", tc.q.Requests, err, tc.want)
		}
	}
}

func TestPrometheusConfigurationErrors(t *testing.T) {
	for _, tc := range []struct {
		url  string
		q    Queries
		want string
	}{
		{"prometheus:9090", DefaultQueries, "want an absolute http(s) URL"},
		{"http://user:pw@prom:9090", Queries{Requests: "x"}, "set errors_5xx (a count of 5xx answers) or error_rate"},
		{"http://prom:9090", Queries{Errors5xx: "x"}, "queries.requests: a query is required"},
		{"http://prom:9090", Queries{Requests: "x", Errors5xx: "y", ErrorRate: "z"}, "only one of errors_5xx and error_rate"},
		{"http://prom:9090", Queries{Requests: `sum(x{svc="{{service}}"})`, Errors5xx: "y"}, "queries.requests: unknown placeholder {{service}}; use {{gateway}}, {{route}} or {{window}}"},
	} {
		_, err := NewPrometheus(tc.url, tc.q, PrometheusOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: got %v, want %q", tc.url, tc.q, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("credentials in the error: %v", err)
		}
	}
}

func TestPrometheusQueryTemplating(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.FormValue("query"))
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}`)
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	src, err := NewPrometheus(srv.URL, Queries{Requests: `a{g="{{gateway}}",r="{{ route }}"}[{{window}}]`, Errors5xx: "b"},
		PrometheusOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	w, err := src.Window(context.Background(), `odd"gw\`, "r/1", now.Add(-90500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if want := `a{g="odd\"gw\\",r="r/1"}[91s]`; len(got) == 0 || got[0] != want {
		t.Errorf("query %q, want %q", got, want)
	}
	if w.Requests != 3 || w.Errors5xx != 3 || !w.From.Equal(now.Add(-91*time.Second)) {
		t.Errorf("window %+v", w)
	}
}
