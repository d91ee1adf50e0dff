package condition

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Real User-Agent strings, as the browsers send them.
const (
	uaFirefoxDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaFirefoxAndroid = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
	uaFirefoxIOS     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15"
	uaChromeDesktop  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaChromeAndroid  = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaChromeIOS      = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
	uaSafariMac      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
	uaSafariIOS      = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaEdge           = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaEdgeLegacy     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582"
	uaOpera          = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/116.0.0.0"
	uaIE11           = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
	uaMSIE10         = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)"
	uaCurl           = "curl/8.5.0"
)

// opt shapes a test request.
type opt func(*http.Request)

func ua(v string) opt             { return hdr("User-Agent", v) }
func host(v string) opt           { return func(r *http.Request) { r.Host = v } }
func hdr(k, v string) opt         { return func(r *http.Request) { r.Header.Add(k, v) } }
func cookies(line string) opt     { return hdr("Cookie", line) }
func remote(addr string) opt      { return func(r *http.Request) { r.RemoteAddr = addr } }
func method(m string) opt         { return func(r *http.Request) { r.Method = m } }
func target(pathQuery string) opt { return func(r *http.Request) { *r = *newTargetReq(r, pathQuery) } }

func newTargetReq(old *http.Request, pathQuery string) *http.Request {
	r := httptest.NewRequest(old.Method, pathQuery, nil)
	r.Header, r.Host, r.RemoteAddr = old.Header, old.Host, old.RemoteAddr
	return r
}

// req builds a server-side request like the gateway sees: GET / on example.com from 192.0.2.10.
func req(opts ...opt) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	r.RemoteAddr = "192.0.2.10:54321"
	for _, o := range opts {
		o(r)
	}
	return r
}

func mustParse(t testing.TB, src string) *Condition {
	t.Helper()
	c, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return c
}
