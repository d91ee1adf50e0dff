package httpframe

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// parseHead runs request.parse on a copy of head (parse rewrites header names in place), as the
// front end does on a connection's buffer.
func parseHead(head string) (*Request, bool) {
	rq := new(Request)
	buf := []byte(head)
	return rq, rq.Parse(buf, len(buf), "192.0.2.7:4321")
}

// TestRequestParseTakesPlainGetAndHead: the requests the front end forwards itself.
func TestRequestParseTakesPlainGetAndHead(t *testing.T) {
	for _, head := range []string{
		"GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n",
		"HEAD /a/b?c=d HTTP/1.1\r\nHost: shop.example:8080\r\nAccept: */*\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		"GET /x HTTP/1.1\r\nhost:a\r\nX-Empty:\r\nX-Tab:\tv\t\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
		"GET /~user/a;b=c/d:e@f!$&'()*+,= HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a?q=%zz;x&y=1/2?3 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nTe: trailers\r\n\r\n",
	} {
		if _, ok := parseHead(head); !ok {
			t.Errorf("%q: parse = false, want the front end to take it", head)
		}
	}
}

// TestRequestParseTakesBodies: requests with a body framed as CheckRequestHead frames it, and the
// head the instance gets for them: one framing header, no Expect.
func TestRequestParseTakesBodies(t *testing.T) {
	for _, tc := range []struct {
		head    string
		framing BodyFraming
		expect  bool
		up      string // in the upstream head
	}{
		{"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", BodyFraming{Length: 5}, false, "Content-Length: 5\r\n"},
		{"PUT /x HTTP/1.1\r\nHost: a\r\ncontent-length: 005\r\nContent-Length: 005\r\n\r\n", BodyFraming{Length: 5}, false, "Content-Length: 5\r\n"},
		{"POST /x HTTP/1.1\r\nHost: a\r\n\r\n", BodyFraming{}, false, "Content-Length: 0\r\n"},
		{"get /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", BodyFraming{Length: 3}, false, "Content-Length: 3\r\n"},
		{"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nTrailer: X-T\r\n\r\n", BodyFraming{Chunked: true}, false, "Trailer: X-T\r\nTransfer-Encoding: chunked\r\n"},
		{"POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n", BodyFraming{Length: 2}, true, "Content-Length: 2\r\n"},
	} {
		rq, ok := parseHead(tc.head)
		if !ok {
			t.Errorf("%q: not taken", tc.head)
			continue
		}
		if rq.Framing != tc.framing || rq.Expect100 != tc.expect || rq.HasBody() != (tc.framing.Chunked || tc.framing.Length > 0) {
			t.Errorf("%q: framing %+v expect %v, want %+v %v", tc.head, rq.Framing, rq.Expect100, tc.framing, tc.expect)
		}
		up := string(rq.AppendUpstreamHead(nil, "192.0.2.7"))
		if !strings.Contains(up, tc.up) || strings.Count(up, "Content-Length") > 1 || strings.Contains(up, "Expect") ||
			strings.Contains(up, "Content-Length") && strings.Contains(up, "Transfer-Encoding") {
			t.Errorf("%q: the instance gets %q, want one framing header %q and no Expect", tc.head, up, tc.up)
		}
		if _, err := CheckRequestHead([]byte(tc.head)); err != nil {
			t.Errorf("%q: taken by the front end but refused by CheckRequestHead: %v", tc.head, err)
		}
	}
}

// TestBodyScanner: where a body ends, fed in every split, and a malformed chunked body refused.
func TestBodyScanner(t *testing.T) {
	for _, tc := range []struct {
		framing BodyFraming
		in      string
		body    int // -1: refused
	}{
		{BodyFraming{Length: 5}, "helloGET", 5},
		{BodyFraming{Chunked: true}, "5;x=\"y\"\r\nhello\r\n0\r\nT: 1\r\n\r\nGET", 27},
		{BodyFraming{Chunked: true}, "0\r\n\r\n", 5},
		{BodyFraming{Chunked: true}, "10000000000000005\r\nhello\r\n0\r\n\r\n", -1},
		{BodyFraming{Chunked: true}, "5\nhello\n0\n\n", -1},
		{BodyFraming{Chunked: true}, "0\r\nX-T: 1\r\r\nGET / HTTP/1.1\r\n\r\n", -1}, // a bare CR ending a trailer
		{BodyFraming{Chunked: true}, "0\r\nX-T: 1\r\n continued\r\n\r\n", -1},       // obs-fold in the trailers
		{BodyFraming{Chunked: true}, "0\r\nX-T 1\r\n\r\n", -1},                      // no colon
		{BodyFraming{Chunked: true}, "0\r\n: 1\r\n\r\n", -1},                        // no name
		{BodyFraming{Chunked: true}, "0\r\nX-T: a\x00b\r\n\r\n", -1},                // NUL in a value
		{BodyFraming{Chunked: true}, "0\r\nX-T: 1\nX-U: 2\r\n\r\n", -1},             // a bare LF
		{BodyFraming{Chunked: true}, "0\r\nX-T:\r\nX-U: \t2 \r\n\r\n", 21},
	} {
		for split := range len(tc.in) + 1 {
			s := NewBodyScanner(tc.framing)
			n1, done, err := s.Scan([]byte(tc.in[:split]))
			n := n1
			if err == nil && !done {
				var n2 int
				n2, done, err = s.Scan([]byte(tc.in[split:]))
				n += n2
			}
			switch {
			case tc.body < 0 && err == nil:
				t.Errorf("%q split at %d: not refused", tc.in, split)
			case tc.body >= 0 && (err != nil || !done || n != tc.body):
				t.Errorf("%q split at %d: %d bytes done=%v err=%v, want a body of %d", tc.in, split, n, done, err, tc.body)
			}
		}
	}
}

// TestRequestParseHandsOffTheRest: everything that is not a plainly well-formed request the front
// end forwards, valid or not, goes to net/http (and is not refused as ambiguous).
func TestRequestParseHandsOffTheRest(t *testing.T) {
	const host = "Host: a\r\n"
	for name, head := range map[string]string{
		"HTTP/1.0":              "GET / HTTP/1.0\r\n" + host + "\r\n",
		"HTTP/2 preface":        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"absolute-form":         "GET http://a/ HTTP/1.1\r\n" + host + "\r\n",
		"asterisk":              "OPTIONS * HTTP/1.1\r\n" + host + "\r\n",
		"GET asterisk":          "GET * HTTP/1.1\r\n" + host + "\r\n",
		"Upgrade":               "GET /ws HTTP/1.1\r\n" + host + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"h2c upgrade":           "GET / HTTP/1.1\r\n" + host + "Http2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
		"two Hosts":             "GET / HTTP/1.1\r\n" + host + "Host: b\r\n\r\n",
		"no Host":               "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
		"empty Host":            "GET / HTTP/1.1\r\nHost: \r\n\r\n",
		"obs-fold":              "GET / HTTP/1.1\r\n" + host + "X-A: one\r\n two\r\n\r\n",
		"bare LF in a header":   "GET / HTTP/1.1\r\n" + host + "X-A: 1\nX-B: 2\r\n\r\n",
		"bare LF after line":    "GET / HTTP/1.1\n" + host + "\r\n",
		"space before colon":    "GET / HTTP/1.1\r\n" + host + "X-A : 1\r\n\r\n",
		"space in name":         "GET / HTTP/1.1\r\n" + host + "X A: 1\r\n\r\n",
		"non-token name":        "GET / HTTP/1.1\r\n" + host + "X(A): 1\r\n\r\n",
		"non-ASCII name":        "GET / HTTP/1.1\r\n" + host + "X-\xc3\x84: 1\r\n\r\n",
		"empty name":            "GET / HTTP/1.1\r\n" + host + ": 1\r\n\r\n",
		"no colon":              "GET / HTTP/1.1\r\n" + host + "X-A 1\r\n\r\n",
		"control char in value": "GET / HTTP/1.1\r\n" + host + "X-A: a\x01b\r\n\r\n",
		"DEL in value":          "GET / HTTP/1.1\r\n" + host + "X-A: a\x7fb\r\n\r\n",
		"NUL in value":          "GET / HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n",
		"CR in value":           "GET / HTTP/1.1\r\n" + host + "X-A: a\rb\r\n\r\n",
		"quote in path":         "GET /a\"b HTTP/1.1\r\n" + host + "\r\n",
		"non-ASCII path":        "GET /caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n",
		"bad escape in path":    "GET /a%zz HTTP/1.1\r\n" + host + "\r\n",
		"short escape in path":  "GET /a%2 HTTP/1.1\r\n" + host + "\r\n",
		"fragment in path":      "GET /a#b HTTP/1.1\r\n" + host + "\r\n",
		"fragment in query":     "GET /a?b#c HTTP/1.1\r\n" + host + "\r\n",
		"non-ASCII query":       "GET /a?b=\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n",
		"two spaces":            "GET  / HTTP/1.1\r\n" + host + "\r\n",
		"space in target":       "GET /a b HTTP/1.1\r\n" + host + "\r\n",
		"no version":            "GET /\r\n" + host + "\r\n",
		"lower-case version":    "GET / http/1.1\r\n" + host + "\r\n",
		"leading blank line":    "\r\nGET / HTTP/1.1\r\n" + host + "\r\n",
		"non-token method":      "G(T / HTTP/1.1\r\n" + host + "\r\n",
		"empty":                 "\r\n\r\n",
		"Expect other":          "POST / HTTP/1.1\r\n" + host + "Expect: something\r\nContent-Length: 1\r\n\r\n",
		"CONNECT":               "CONNECT /x HTTP/1.1\r\n" + host + "\r\n",
		"gzip, chunked":         "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n",
		"conflicting lengths":   "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"length list":           "POST / HTTP/1.1\r\n" + host + "Content-Length: 1, 1\r\n\r\n",
		"signed length":         "POST / HTTP/1.1\r\n" + host + "Content-Length: +1\r\n\r\n",
	} {
		if _, ok := parseHead(head); ok {
			t.Errorf("%s: the front end takes %q, want it handed to net/http", name, head)
		}
	}
}

// TestRequestParseHandsOffMalformedHost: a Host that net/http's server refuses ("400 malformed
// Host header") must reach net/http, not an instance.
func TestRequestParseHandsOffMalformedHost(t *testing.T) {
	for _, h := range []string{"a b", "a/b", "a\tb", "a\"b", "<a>", "caf\xc3\xa9", "a@b", "a\\b", "a{b}"} {
		if httpguts.ValidHostHeader(h) {
			t.Fatalf("test data: %q is a valid Host for net/http", h)
		}
		if _, ok := parseHead("GET / HTTP/1.1\r\nHost: " + h + "\r\n\r\n"); ok {
			t.Errorf("Host %q: the front end takes the request; net/http answers 400 malformed Host header", h)
		}
	}
}

// TestRequestParseLeavesAmbiguousLengthToTheCheck: Content-Length with Transfer-Encoding,
// whatever the method and order, is never the front end's to forward; CheckRequestHead refuses it.
func TestRequestParseLeavesAmbiguousLengthToTheCheck(t *testing.T) {
	for _, head := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
		"PUT /x HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 12\r\nHost: a\r\n\r\n",
		"DELETE /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: identity\r\n\r\n",
	} {
		if _, ok := parseHead(head); ok {
			t.Errorf("%q: the front end takes it", head)
		}
		if _, err := CheckRequestHead([]byte(head)); err == nil {
			t.Errorf("%q: CheckRequestHead lets it through", head)
		}
	}
}

// TestRequestParseBuildsNetHTTPRequest: the *http.Request the routing table reads is what
// net/http would build: canonical header keys, Host out of the map, the path decoded, the query
// as sent.
func TestRequestParseBuildsNetHTTPRequest(t *testing.T) {
	rq := new(Request)
	// A first request with other headers: parse must not let them through to the second.
	old := []byte("GET /old HTTP/1.1\r\nHost: old\r\nX-Old: 1\r\nConnection: close\r\nTe: trailers\r\n\r\n")
	if !rq.Parse(old, len(old), "x") {
		t.Fatal("first request not taken")
	}
	head := "GET /a%2Fb/c?x=1;y=%zz&z HTTP/1.1\r\nHost: Shop.Example:8080\r\nuser-agent: curl/8\r\nx-FOO-bar: 1\r\n" +
		"ACCEPT: text/html\r\naccept: */*\r\nCookie: vamp=r1\r\n\r\n"
	if !rq.Parse([]byte(head), len(head), "192.0.2.7:4321") {
		t.Fatal("request not taken")
	}
	r := &rq.HTTP
	if r.Method != "GET" || r.Host != "Shop.Example:8080" || r.RequestURI != "/a%2Fb/c?x=1;y=%zz&z" ||
		r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.RemoteAddr != "192.0.2.7:4321" || r.Body != http.NoBody {
		t.Errorf("request line: %s %s %s host %s from %s", r.Method, r.RequestURI, r.Proto, r.Host, r.RemoteAddr)
	}
	if r.URL.Path != "/a/b/c" || r.URL.RawPath != "/a%2Fb/c" || r.URL.EscapedPath() != "/a%2Fb/c" || r.URL.RawQuery != "x=1;y=%zz&z" {
		t.Errorf("URL: path %q raw %q query %q", r.URL.Path, r.URL.RawPath, r.URL.RawQuery)
	}
	want := http.Header{
		"User-Agent": {"curl/8"},
		"X-Foo-Bar":  {"1"},
		"Accept":     {"text/html", "*/*"},
		"Cookie":     {"vamp=r1"},
	}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("header = %v, want %v", r.Header, want)
	}
	if c, err := r.Cookie("vamp"); err != nil || c.Value != "r1" {
		t.Errorf("cookie vamp: %v %v", c, err)
	}
	if rq.CloseAfter || rq.teTrailers || len(rq.connection) != 0 {
		t.Errorf("state of the first request kept: close %v, te %v, connection %q", rq.CloseAfter, rq.teTrailers, rq.connection)
	}
	// The same through net/http, for the record.
	nr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(nr.Header, r.Header) || nr.URL.Path != r.URL.Path || nr.URL.RawQuery != r.URL.RawQuery || nr.URL.EscapedPath() != r.URL.EscapedPath() {
		t.Errorf("net/http reads %v %q %q, the front end %v %q %q", nr.Header, nr.URL.Path, nr.URL.RawQuery, r.Header, r.URL.Path, r.URL.RawQuery)
	}
}

// TestRequestParseConnectionOptions: Connection: close and TE: trailers, in any case and among
// other tokens.
func TestRequestParseConnectionOptions(t *testing.T) {
	for _, tc := range []struct {
		headers           string
		closeAfter, teTrl bool
	}{
		{"", false, false},
		{"Connection: keep-alive\r\n", false, false},
		{"Connection: Keep-Alive, CLOSE\r\n", true, false},
		{"connection: x-a\r\nConnection: close\r\n", true, false},
		{"Te: trailers\r\n", false, true},
		{"TE: deflate;q=0.5, Trailers\r\n", false, true},
		{"Te: deflate\r\n", false, false},
	} {
		rq, ok := parseHead("GET / HTTP/1.1\r\nHost: a\r\n" + tc.headers + "\r\n")
		if !ok || rq.CloseAfter != tc.closeAfter || rq.teTrailers != tc.teTrl {
			t.Errorf("%q: taken %v, closeAfter %v, teTrailers %v; want %v %v", tc.headers, ok, rq.CloseAfter, rq.teTrailers, tc.closeAfter, tc.teTrl)
		}
	}
}

// TestAppendUpstreamHead: the instance gets the client's end-to-end headers in their order, and
// the gateway's forwarding headers instead of the client's.
func TestAppendUpstreamHead(t *testing.T) {
	for _, tc := range []struct {
		name, in, clientIP, want string
	}{{
		name: "hop-by-hop and forwarding headers",
		in: "GET /p?q=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Private\r\nX-B: 2\r\n" +
			"X-Private: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n" +
			"Te: trailers, deflate\r\nTrailer: X-Sum\r\nForwarded: for=198.51.100.1\r\nX-Forwarded-For: 198.51.100.1\r\n" +
			"X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\nX-A: 1\r\nX-B: 3\r\nContent-Length: 0\r\n\r\n",
		clientIP: "192.0.2.7",
		want: "GET /p?q=1 HTTP/1.1\r\nHost: shop.example\r\nX-B: 2\r\nAccept: */*\r\nX-A: 1\r\nX-B: 3\r\nTe: trailers\r\n" +
			"X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Host: shop.example\r\nX-Forwarded-Proto: http\r\n\r\n",
	}, {
		name:     "TE without trailers, canonical names, no client address",
		in:       "HEAD /%7Euser HTTP/1.1\r\nhost: a:81\r\nte: deflate\r\nx-request-id: 7\r\n\r\n",
		clientIP: "",
		want:     "HEAD /%7Euser HTTP/1.1\r\nHost: a:81\r\nX-Request-Id: 7\r\nX-Forwarded-Host: a:81\r\nX-Forwarded-Proto: http\r\n\r\n",
	}, {
		name:     "Connection naming an end-to-end header in another case",
		in:       "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-one\r\nConnection: X-TWO\r\nX-One: 1\r\nX-Two: 2\r\nX-Three: 3\r\n\r\n",
		clientIP: "::1",
		want:     "GET / HTTP/1.1\r\nHost: a\r\nX-Three: 3\r\nX-Forwarded-For: ::1\r\nX-Forwarded-Host: a\r\nX-Forwarded-Proto: http\r\n\r\n",
	}} {
		rq, ok := parseHead(tc.in)
		if !ok {
			t.Fatalf("%s: not taken", tc.name)
		}
		if got := string(rq.AppendUpstreamHead(nil, tc.clientIP)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// TestCanonicalTokenMatchesTextproto: the in-place canonical form is net/http's, and names that
// are not tokens are refused.
func TestCanonicalTokenMatchesTextproto(t *testing.T) {
	names := []string{
		"host", "HOST", "content-length", "CONTENT-LENGTH", "x-FOO-bar", "a-", "-a", "x--y", "-", "--", "a",
		"Z", "www-authenticate", "x_y-z", "x.y-z", "1abc", "a1-b2", "!#$%&'*+-.^_`|~", "x-1a", "sec-ch-ua-mobile",
		"te", "tE", "DNT", "x-forwarded-for", "content-md5", "x-b3-traceid", "a-b-c-d-e-f", "ab-CD-eF",
	}
	const alphabet = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ------"
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, 1+rnd.IntN(12))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		names = append(names, string(b))
	}
	for _, name := range names {
		b := []byte(name)
		if !canonicalToken(b) {
			t.Errorf("canonicalToken(%q) refuses a token", name)
			continue
		}
		if want := textproto.CanonicalMIMEHeaderKey(name); string(b) != want {
			t.Errorf("canonicalToken(%q) = %q, textproto says %q", name, b, want)
		}
	}
	for _, name := range []string{"\xc3\x84B", "a b", "a:b", "a\x00", "a(b)", "a\"b", "a\x7f", "a\tb", "a/b", "a@b", "{a}", "a,b", "a\xff"} {
		if canonicalToken([]byte(name)) {
			t.Errorf("canonicalToken(%q) takes a name that is not a token", name)
		}
	}
}

// FuzzRequestParse: whatever the front end takes, net/http's server reads the same way (and
// would not refuse); parse never panics.
func FuzzRequestParse(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n",
		"GET /catalog/items?page=2&sort=price HTTP/1.1\r\nHost: shop.example:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
			"Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
			"Cookie: vamp_route=canary; session=abc123\r\nConnection: keep-alive\r\n\r\n",
		"HEAD /health HTTP/1.1\r\nHost: 10.0.0.5:9000\r\nUser-Agent: kube-probe/1.30\r\n\r\n",
		"GET /api/v1/users/42 HTTP/1.1\r\nhost: api.example\r\naccept: application/json\r\nauthorization: Bearer eyJhbGciOi\r\nx-request-id: 7f3a\r\n\r\n",
		"GET /a%2Fb/%7Euser?q=%zz;x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTe: trailers\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"POST /orders HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
		"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\nX-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
		"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX-Obs: \xe9t\xe9\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	headEnd := []byte("\r\n\r\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		if i := bytes.Index(data, headEnd); i >= 0 {
			data = data[:i+len(headEnd)]
		} else {
			data = append(data, headEnd...)
		}
		buf := bytes.Clone(data)
		rq := new(Request)
		if !rq.Parse(buf, len(buf), "192.0.2.7:4321") {
			return
		}
		if _, err := CheckRequestHead(data); err != nil {
			t.Fatalf("the front end takes %q, which CheckRequestHead refuses: %v", data, err)
		}
		nr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("the front end takes %q; net/http refuses it: %v", data, err)
		}
		if reason := netHTTPServerRefuses(nr); reason != "" {
			t.Fatalf("the front end takes %q; net/http's server answers 400 %s", data, reason)
		}
		r := &rq.HTTP
		if nr.Method != r.Method || nr.RequestURI != r.RequestURI || nr.Host != r.Host ||
			nr.URL.Path != r.URL.Path || nr.URL.RawQuery != r.URL.RawQuery {
			t.Fatalf("%q: net/http reads %s %s (host %q, path %q, query %q), the front end %s %s (host %q, path %q, query %q)", data,
				nr.Method, nr.RequestURI, nr.Host, nr.URL.Path, nr.URL.RawQuery, r.Method, r.RequestURI, r.Host, r.URL.Path, r.URL.RawQuery)
		}
		if _, ok := r.Header["Cache-Control"]; !ok && nr.Header.Get("Pragma") == "no-cache" {
			delete(nr.Header, "Cache-Control") // net/http adds it for HTTP/1.0 caches
		}
		if len(nr.Header) != len(r.Header) || (len(r.Header) > 0 && !reflect.DeepEqual(nr.Header, r.Header)) {
			t.Fatalf("%q: net/http reads headers %q, the front end %q", data, nr.Header, r.Header)
		}
	})
}

// netHTTPServerRefuses says why net/http's server would answer 400 to a request http.ReadRequest
// read (the checks of its conn.readRequest), or "".
func netHTTPServerRefuses(r *http.Request) string {
	if !httpguts.ValidHostHeader(r.Host) {
		return "malformed Host header"
	}
	for k, vv := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return "invalid header name"
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return "invalid header value"
			}
		}
	}
	return ""
}
