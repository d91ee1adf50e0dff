package metricsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Queries are the PromQL templates of a Prometheus source, one per number. Placeholders:
// {{gateway}} and {{route}} (inserted escaped for a double-quoted PromQL string) and {{window}}
// (the window's length as a PromQL duration in whole seconds, e.g. "90s").
type Queries struct {
	// Requests is the number of requests in the window (a scalar or a one-element vector).
	Requests string `json:"requests"`
	// Errors5xx is the number of 5xx answers in the window. Leave empty to use ErrorRate.
	Errors5xx string `json:"errors_5xx,omitempty"`
	// ErrorRate is the fraction of 5xx answers (0..1), used when Errors5xx is empty; the source
	// turns it into a count with Requests. The example query has this form.
	ErrorRate string `json:"error_rate,omitempty"`
	// P99 is the 99th percentile latency in seconds. Empty: P99 is not measured (stays 0).
	P99 string `json:"p99,omitempty"`
}

// DefaultQueries read the series that the gateway exports on its /metrics page.
var DefaultQueries = Queries{
	Requests:  `sum(increase(vamp_gateway_requests_total{gateway="{{gateway}}",route="{{route}}"}[{{window}}]))`,
	Errors5xx: `sum(increase(vamp_gateway_requests_total{gateway="{{gateway}}",route="{{route}}",code=~"5.."}[{{window}}]))`,
	P99:       `histogram_quantile(0.99, sum by (le) (rate(vamp_gateway_request_duration_seconds_bucket{gateway="{{gateway}}",route="{{route}}"}[{{window}}])))`,
}

// Prometheus is a Source that asks a Prometheus server.
type Prometheus struct {
	base    *url.URL
	queries Queries
	client  *http.Client
	header  http.Header
	now     func() time.Time
}

// PrometheusOptions are the optional parts of a Prometheus source.
type PrometheusOptions struct {
	// Client defaults to a client with a 10s timeout.
	Client *http.Client
	// Header is sent with every query, e.g. Authorization. Never logged or put in errors.
	Header http.Header
	// Now is the clock (time.Now when nil); queries are evaluated at Now.
	Now func() time.Time
}

var placeholder = regexp.MustCompile(`{{\s*([^}]*?)\s*}}`)

// NewPrometheus returns a source querying the Prometheus server at baseURL (e.g.
// "http://127.0.0.1:9090"). Every query template is checked here, so a typo fails at
// configuration time with the field's name.
func NewPrometheus(baseURL string, q Queries, opts PrometheusOptions) (*Prometheus, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus url %q: want an absolute http(s) URL of the Prometheus server, e.g. http://prometheus:9090", redact(baseURL))
	}
	var faults []string
	field := func(name, tmpl string, required bool) {
		if strings.TrimSpace(tmpl) == "" {
			if required {
				faults = append(faults, fmt.Sprintf("queries.%s: a query is required; e.g. %s", name, DefaultQueries.Requests))
			}
			return
		}
		for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
			switch m[1] {
			case "gateway", "route", "window":
			default:
				faults = append(faults, fmt.Sprintf("queries.%s: unknown placeholder {{%s}}; use {{gateway}}, {{route}} or {{window}}", name, m[1]))
			}
		}
	}
	field("requests", q.Requests, true)
	field("errors_5xx", q.Errors5xx, false)
	field("error_rate", q.ErrorRate, false)
	field("p99", q.P99, false)
	switch {
	case q.Errors5xx == "" && q.ErrorRate == "":
		faults = append(faults, "queries: set errors_5xx (a count of 5xx answers) or error_rate (a fraction)")
	case q.Errors5xx != "" && q.ErrorRate != "":
		faults = append(faults, "queries: set only one of errors_5xx and error_rate")
	}
	if len(faults) > 0 {
		return nil, errors.New(strings.Join(faults, "; "))
	}
	p := &Prometheus{base: u, queries: q, client: opts.Client, header: opts.Header, now: opts.Now}
	if p.client == nil {
		p.client = &http.Client{Timeout: 10 * time.Second}
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Window implements Source: it runs the Requests query, then the 5xx one, then P99.
func (p *Prometheus) Window(ctx context.Context, gateway, route string, since time.Time) (Window, error) {
	now := p.now()
	secs := int64(math.Ceil(now.Sub(since).Seconds()))
	if secs < 1 {
		secs = 1
	}
	w := Window{From: now.Add(-time.Duration(secs) * time.Second), To: now}
	values := map[string]string{"gateway": promQuote(gateway), "route": promQuote(route), "window": strconv.FormatInt(secs, 10) + "s"}
	fill := func(tmpl string) string {
		return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
			return values[placeholder.FindStringSubmatch(m)[1]] // NewPrometheus allowed only these names
		})
	}
	run := func(name, tmpl string) (float64, bool, error) {
		v, ok, err := p.query(ctx, fill(tmpl), now)
		if err != nil {
			return 0, false, fmt.Errorf("prometheus query %s for route %q of gateway %q: %w", name, route, gateway, err)
		}
		return v, ok, nil
	}

	// No series (nothing served yet, no 5xx ever) reads as 0; so does NaN from 0/0.
	reqs, ok, err := run("requests", p.queries.Requests)
	if err != nil {
		return Window{}, err
	}
	if ok && !math.IsNaN(reqs) {
		w.Requests = reqs
	}
	if p.queries.Errors5xx != "" {
		v, ok, err := run("errors_5xx", p.queries.Errors5xx)
		if err != nil {
			return Window{}, err
		}
		if ok && !math.IsNaN(v) {
			w.Errors5xx = v
		}
	} else {
		v, ok, err := run("error_rate", p.queries.ErrorRate)
		if err != nil {
			return Window{}, err
		}
		if ok && !math.IsNaN(v) {
			w.Errors5xx = v * w.Requests
		}
	}
	if p.queries.P99 != "" && w.Requests > 0 {
		v, ok, err := run("p99", p.queries.P99)
		if err != nil {
			return Window{}, err
		}
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return Window{}, fmt.Errorf("prometheus query p99 for route %q of gateway %q: no value although the route served %.0f requests; check that the latency histogram is scraped", route, gateway, w.Requests)
		}
		w.P99 = time.Duration(v * float64(time.Second))
	}
	return w, nil
}

// promQuote escapes s for the inside of a double-quoted PromQL string.
func promQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// apiResponse is the envelope of Prometheus's HTTP API.
type apiResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// query runs an instant query at t. ok is false for an empty vector (no such series).
func (p *Prometheus) query(ctx context.Context, promql string, t time.Time) (float64, bool, error) {
	u := p.base.JoinPath("api/v1/query")
	form := url.Values{"query": {promql}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, vs := range p.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("asking %s: %w", redact(u.String()), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, false, fmt.Errorf("reading the answer of %s: %w", redact(u.String()), err)
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, false, fmt.Errorf("%s answered %s with something that is not Prometheus API JSON: %.200q", redact(u.String()), resp.Status, body)
	}
	if r.Status != "success" {
		return 0, false, fmt.Errorf("%s (%s): %s in query %s", r.ErrorType, resp.Status, r.Error, promql)
	}
	switch r.Data.ResultType {
	case "scalar":
		var sample [2]json.RawMessage
		if err := json.Unmarshal(r.Data.Result, &sample); err != nil {
			return 0, false, fmt.Errorf("malformed scalar result: %w", err)
		}
		v, err := sampleValue(sample)
		return v, err == nil, err
	case "vector":
		var vec []struct {
			Value [2]json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return 0, false, fmt.Errorf("malformed vector result: %w", err)
		}
		switch len(vec) {
		case 0:
			return 0, false, nil
		case 1:
			v, err := sampleValue(vec[0].Value)
			return v, err == nil, err
		default:
			return 0, false, fmt.Errorf("query returned %d series, want one number; aggregate it, e.g. sum(...): %s", len(vec), promql)
		}
	default:
		return 0, false, fmt.Errorf("query returned a %s, want a scalar or an instant vector: %s", r.Data.ResultType, promql)
	}
}

// sampleValue reads the value of a [timestamp, "value"] pair; Prometheus sends it as a string.
func sampleValue(s [2]json.RawMessage) (float64, error) {
	var str string
	if err := json.Unmarshal(s[1], &str); err != nil {
		return 0, fmt.Errorf("malformed sample value %s", s[1])
	}
	v, err := strconv.ParseFloat(str, 64) // also parses "NaN", "+Inf"
	if err != nil {
		return 0, fmt.Errorf("malformed sample value %q", str)
	}
	return v, nil
}

// redact drops credentials and the query string from a URL before it goes into an error.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
