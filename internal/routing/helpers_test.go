package routing

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// headerContains is the tests' Matcher: the header's value contains a substring.
type headerContains struct{ name, value string }

func (m headerContains) Match(r *http.Request) bool {
	return strings.Contains(r.Header.Get(m.name), m.value)
}

var firefox = headerContains{"User-Agent", "Firefox"}

// t0 is the tests' clock; Choose takes the time as an argument, so no test waits.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func backends(p *Pool, addrs ...string) []*Backend {
	bs := make([]*Backend, len(addrs))
	for i, a := range addrs {
		bs[i] = p.Get(a)
	}
	return bs
}

// mustNew builds a table; without a Seed in spec it uses testSeed, so every run sees the same order.
func mustNew(t testing.TB, spec Spec) *Table {
	t.Helper()
	if spec.Seed == 0 {
		spec.Seed = testSeed
	}
	tbl, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tbl
}

const testSeed = 0x5eed

func request(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://gateway/", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func withCookie(name, value string) *http.Request {
	return request("Cookie", name+"="+value)
}

func mustChoose(t testing.TB, tbl *Table, r *http.Request) Decision {
	t.Helper()
	d, err := tbl.Choose(r, t0, nil)
	if err != nil {
		t.Fatalf("Choose: %v", err)
	}
	return d
}

// routeName is the name of the route a decision ended on.
func routeName(d Decision) string { return d.Table.Routes()[d.Route].Name }

// countRoutes sends n copies of r and counts the routes chosen.
func countRoutes(t testing.TB, tbl *Table, r *http.Request, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for range n {
		counts[routeName(mustChoose(t, tbl, r))]++
	}
	return counts
}

func wantCounts(t testing.TB, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("counts = %v, want %v", got, want)
		}
	}
}

// wantNoRoute asserts a *NoRouteError whose reason contains every part.
func wantNoRoute(t testing.TB, err error, parts ...string) {
	t.Helper()
	var nr *NoRouteError
	if !errors.As(err, &nr) {
		t.Fatalf("error = %v (%T), want *NoRouteError", err, err)
	}
	for _, p := range parts {
		if !strings.Contains(nr.Reason, p) {
			t.Fatalf("reason %q does not contain %q", nr.Reason, p)
		}
	}
}
