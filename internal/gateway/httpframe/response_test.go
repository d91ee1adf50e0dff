package httpframe

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

// parseAnswer runs response.parse on a copy of head (parse rewrites header names in place).
func parseAnswer(head, method string) (*Response, error) {
	rs := new(Response)
	buf := []byte(head)
	return rs, rs.Parse(buf, len(buf), method)
}

// TestResponseParseFraming: how the end of each answer's body is found, and whether the
// instance's connection can carry another request after it.
func TestResponseParseFraming(t *testing.T) {
	type framing struct {
		status                               int
		length                               int64
		chunked, untilClose, reusable, empty bool
	}
	for _, tc := range []struct {
		name, head, method string
		want               framing
	}{
		{"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", framing{200, 5, false, false, true, false}},
		{"Content-Length 0", "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", "GET", framing{200, 0, false, false, true, true}},
		{"two equal Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "GET", framing{200, 5, false, false, true, false}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", framing{200, -1, true, false, true, false}},
		{"chunked last of two codings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", "GET", framing{200, -1, true, false, true, false}},
		{"chunked over Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", framing{200, 9, true, false, true, false}},
		{"neither", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", "GET", framing{200, -1, false, true, false, false}},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "HEAD", framing{200, 1234, false, false, true, true}},
		{"HEAD chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", framing{200, -1, false, false, true, true}},
		{"HEAD neither", "HTTP/1.1 200 OK\r\n\r\n", "HEAD", framing{200, -1, false, false, true, true}},
		{"204", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", framing{204, -1, false, false, true, true}},
		{"304", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n", "GET", framing{304, -1, false, false, true, true}},
		{"103", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", "GET", framing{103, -1, false, false, true, true}},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", "GET", framing{200, 1, false, false, true, false}},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", framing{200, 5, false, false, false, false}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\n", "GET", framing{200, 5, false, false, true, false}},
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n", "GET", framing{200, 5, false, false, false, false}},
		{"Connection: close among tokens", "HTTP/1.1 200 OK\r\nConnection: X-A, Close\r\nContent-Length: 5\r\n\r\n", "GET", framing{200, 5, false, false, false, false}},
		{"HTTP/1.0 close", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 5\r\n\r\n", "GET", framing{200, 5, false, false, false, false}},
	} {
		rs, err := parseAnswer(tc.head, tc.method)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := framing{rs.Status, rs.Length, rs.Chunked, rs.UntilClose, rs.Reusable, rs.Bodyless(tc.method)}
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestResponseParseRefusesMalformedHeads: an answer the front end cannot frame for sure is an
// error (a 502), never a guess.
func TestResponseParseRefusesMalformedHeads(t *testing.T) {
	for name, head := range map[string]string{
		"two Content-Lengths": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		// The client could not be told how such a body is coded (net/http's transport: 502).
		"coding other than chunked":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"chunked then another coding": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		"Content-Length list":         "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
		"negative length":             "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"length not a number":         "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
		"empty length":                "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"length too large":            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"two-digit status":            "HTTP/1.1 20 OK\r\n\r\n",
		"status below 100":            "HTTP/1.1 099 Odd\r\n\r\n",
		"status not a number":         "HTTP/1.1 2x0 OK\r\n\r\n",
		"signed status":               "HTTP/1.1 +20 OK\r\n\r\n",
		"no space after status":       "HTTP/1.1 200OK\r\n\r\n",
		"four-digit status":           "HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/2":                      "HTTP/2 200 OK\r\n\r\n",
		"not HTTP":                    "ICY 200 OK\r\n\r\n",
		"lower-case protocol":         "http/1.1 200 OK\r\n\r\n",
		"status line too short":       "HTTP/1.1 2\r\n\r\n",
		"space in header name":        "HTTP/1.1 200 OK\r\nContent Length: 0\r\n\r\n",
		"space before colon":          "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
		"no colon":                    "HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n",
		"obs-fold":                    "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n",
		"control char in value":       "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
		"non-token header name":       "HTTP/1.1 200 OK\r\nX[A]: 1\r\nContent-Length: 0\r\n\r\n",
		"non-ASCII header name":       "HTTP/1.1 200 OK\r\n\xc3\x84: 1\r\nContent-Length: 0\r\n\r\n",
		"empty header name":           "HTTP/1.1 200 OK\r\n: 1\r\nContent-Length: 0\r\n\r\n",
		"empty head":                  "\r\n\r\n",
		"status line only space":      " \r\n\r\n",
	} {
		if _, err := parseAnswer(head, "GET"); err != ErrBadAnswer {
			t.Errorf("%s: %q: err = %v, want ErrBadAnswer", name, head, err)
		}
	}
}

// TestResponseParseRefusesSignedContentLength: net/http's transport refuses a Content-Length
// with a sign (strconv.ParseUint); the front end must not pass it to clients, which refuse it
// too.
// TestResponseParseTakesBareLFLines: head lines that end in a bare LF are taken, as net/http's
// transport takes them (RFC 9112 section 2.2).
func TestResponseParseTakesBareLFLines(t *testing.T) {
	for _, head := range []string{
		"HTTP/1.1 200 OK\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 3\n\n",
	} {
		rs, err := parseAnswer(head, http.MethodGet)
		if err != nil || rs.Status != 200 || rs.Length != 3 {
			t.Errorf("%q: %+v, %v; want 200 with Content-Length 3", head, rs, err)
		}
	}
}

func TestResponseParseRefusesSignedContentLength(t *testing.T) {
	for _, v := range []string{"+5", "-0", "+0"} {
		head := "HTTP/1.1 200 OK\r\nContent-Length: " + v + "\r\n\r\n"
		if _, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head+"hello")), nil); err == nil {
			t.Fatalf("test data: net/http reads Content-Length %q", v)
		}
		if _, err := parseAnswer(head, "GET"); err != ErrBadAnswer {
			t.Errorf("Content-Length %q: err = %v, want ErrBadAnswer", v, err)
		}
	}
}

// TestAppendClientHead: the head the client gets for each kind of answer.
func TestAppendClientHead(t *testing.T) {
	const date = "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
	for _, tc := range []struct {
		name, in, method string
		ch               ClientHead
		want             string
	}{{
		name: "hop-by-hop headers and those Connection names removed",
		in: "HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n" +
			"Proxy-Connection: keep-alive\r\nTe: trailers\r\nUpgrade: h2c\r\nContent-Type: text/plain\r\n" + date +
			"Set-Cookie: a=1\r\nContent-Length: 2\r\nSet-Cookie: b=2\r\n\r\n",
		method: "GET",
		want:   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + date + "Set-Cookie: a=1\r\nContent-Length: 2\r\nSet-Cookie: b=2\r\n\r\n",
	}, {
		name:   "chunked keeps Transfer-Encoding and Trailer, drops Content-Length",
		in:     "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 11\r\n" + date + "Transfer-Encoding: chunked\r\n\r\n",
		method: "GET",
		want:   "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\n" + date + "Transfer-Encoding: chunked\r\n\r\n",
	}, {
		name:   "until close: the coding and Trailer dropped, re-chunked",
		in:     "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\n" + date + "X-A: 1\r\n\r\n",
		method: "GET",
		ch:     ClientHead{Rechunk: true},
		want:   "HTTP/1.1 200 OK\r\n" + date + "X-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	}, {
		name:   "HEAD of a chunked answer",
		in:     "HTTP/1.1 200 OK\r\n" + date + "Transfer-Encoding: chunked\r\n\r\n",
		method: "HEAD",
		want:   "HTTP/1.1 200 OK\r\n" + date + "\r\n",
	}, {
		name:   "sticky cookie and Connection: close",
		in:     "HTTP/1.1 404 Not Found\r\n" + date + "Content-Length: 0\r\n\r\n",
		method: "GET",
		ch:     ClientHead{Cookie: "vamp_route=canary; Path=/; HttpOnly; SameSite=Lax", CloseAfter: true},
		want: "HTTP/1.1 404 Not Found\r\n" + date + "Content-Length: 0\r\nSet-Cookie: vamp_route=canary; Path=/; HttpOnly; SameSite=Lax\r\n" +
			"Connection: close\r\n\r\n",
	}, {
		name:   "status net/http has no text for",
		in:     "HTTP/1.1 599 Whatever\r\n" + date + "Content-Length: 0\r\n\r\n",
		method: "GET",
		want:   "HTTP/1.1 599 status code 599\r\n" + date + "Content-Length: 0\r\n\r\n",
	}, {
		name:   "informational: no Date, cookie or Connection",
		in:     "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nContent-Length: 0\r\n\r\n",
		method: "GET",
		ch:     ClientHead{Informational: true, Cookie: "a=b", CloseAfter: true},
		want:   "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nContent-Length: 0\r\n\r\n",
	}} {
		rs, err := parseAnswer(tc.in, tc.method)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := string(rs.AppendClientHead(nil, tc.ch)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// TestAppendClientHeadAddsDateWhenMissing: RFC 9110 6.6.1, as net/http does; exactly one Date.
func TestAppendClientHeadAddsDateWhenMissing(t *testing.T) {
	rs, err := parseAnswer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(rs.AppendClientHead(nil, ClientHead{}))), nil)
	if err != nil {
		t.Fatal(err)
	}
	if dates := resp.Header.Values("Date"); len(dates) != 1 {
		t.Fatalf("Date headers: %q, want one", dates)
	} else if _, err := http.ParseTime(dates[0]); err != nil {
		t.Errorf("Date %q: %v", dates[0], err)
	}
}

// TestClientHeadKeepsFramingNamedByConnection: an instance's Connection header may name
// Content-Length or Transfer-Encoding; the body passes as framed, so the client must still get
// the framing, or it reads the next answer as part of this one (ReverseProxy drops the headers
// too, but net/http then frames the body itself).
func TestClientHeadKeepsFramingNamedByConnection(t *testing.T) {
	for _, tc := range []struct{ head, body string }{
		{"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\n", "hello"},
		{"HTTP/1.1 200 OK\r\nConnection: keep-alive, Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n"},
	} {
		rs, err := parseAnswer(tc.head, "GET")
		if err != nil {
			t.Fatal(err)
		}
		wire := string(rs.AppendClientHead(nil, ClientHead{})) + tc.body + "HTTP/1.1 204 No Content\r\n\r\n"
		br := bufio.NewReader(strings.NewReader(wire))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "hello" {
			t.Errorf("%q: the client reads the body %q (%v) from %q, want \"hello\"", tc.head, body, err, wire)
			continue
		}
		if next, err := http.ReadResponse(br, nil); err != nil || next.StatusCode != http.StatusNoContent {
			t.Errorf("%q: the next answer on the connection is lost: %v", tc.head, err)
		}
	}
}

// validChunkedBodies are chunked bodies that net/http reads too.
var validChunkedBodies = []string{
	"0\r\n\r\n",
	"5\r\nhello\r\n0\r\n\r\n",
	"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"5;name=value\r\nhello\r\n6;a;b=\"c d\"\r\n world\r\n0;last\r\n\r\n",
	"5 \r\nhello\r\n0\t\r\n\r\n",
	"3\r\nabc\r\n0\r\nX-Checksum: 1\r\nY: 2\r\n\r\n",
	"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
	"00000000000000a\r\n0123456789\r\n000\r\n\r\n",
	"1000\r\n" + strings.Repeat("x", 0x1000) + "\r\n0\r\n\r\n",
	"2\r\n\r\n\r\n0\r\n\r\n", // data that looks like line ends
}

// TestChunkScannerFindsEndAtEverySplit: the body ends exactly after its trailer section however
// it arrives in two reads, and bytes after it are not taken.
func TestChunkScannerFindsEndAtEverySplit(t *testing.T) {
	const next = "HTTP/1.1 200 OK\r\n"
	for _, body := range validChunkedBodies {
		if n := netHTTPChunkedEnd(t, []byte(body+next)); n != len(body) {
			t.Fatalf("test data: net/http ends %q at %d", short(body), n)
		}
		for split := 0; split <= len(body); split++ {
			var s ChunkScanner
			n1, done, err := s.Scan([]byte(body[:split]))
			if err != nil || done != (split == len(body)) || n1 != split {
				t.Fatalf("%q split at %d: first scan = %d, %v, %v", short(body), split, n1, done, err)
			}
			if done {
				continue
			}
			n2, done, err := s.Scan([]byte(body[split:] + next))
			if err != nil || !done || split+n2 != len(body) {
				t.Fatalf("%q split at %d: second scan = %d, %v, %v; want done at %d", short(body), split, n2, done, err, len(body)-split)
			}
		}
	}
}

// TestChunkScannerRefusesMalformedBodies, wherever they are split.
func TestChunkScannerRefusesMalformedBodies(t *testing.T) {
	for name, body := range map[string]string{
		"bad hex":                   "5\r\nhello\r\ng\r\n",
		"no size":                   "\r\nhello\r\n0\r\n\r\n",
		"extension without size":    ";a\r\n",
		"negative size":             "-1\r\n",
		"space before size":         " 5\r\nhello\r\n",
		"missing CRLF after data":   "5\r\nhelloX\r\n0\r\n\r\n",
		"LF without CR after data":  "5\r\nhello\n0\r\n\r\n",
		"CR without LF after data":  "5\r\nhello\r0\r\n\r\n",
		"bare LF after size":        "5\nhello\r\n0\r\n\r\n",
		"CR CR after size":          "5\r\r\nhello\r\n",
		"16 hex digits":             "1234567890abcdef\r\n",
		"16 hex digits, zeros":      "0000000000000001\r\nx\r\n0\r\n\r\n",
		"0x prefix":                 "0x5\r\nhello\r\n",
		"last chunk, bad end":       "0\r\n\rX",
		"extension line too long":   "1;" + strings.Repeat("e", maxChunkLine) + "\r\nx\r\n0\r\n\r\n",
		"trailer line too long":     "0\r\nX: " + strings.Repeat("t", maxChunkLine) + "\r\n\r\n",
		"size line of hex and junk": "5x\r\nhello\r\n",
		"junk after size and space": "5 x\r\nhello\r\n0\r\n\r\n",  // net/http: invalid byte in chunk length
		"space before extension":    "5 ;a\r\nhello\r\n0\r\n\r\n", // net/http refuses it too
		"bare LF in extension":      "1;\nX\r\nA\r\n0\r\n\r\n",    // net/http: chunked line ends with bare LF
		"bare LF ends trailers":     "0\r\nX: 1\r\n\nHTTP/1.1 200 OK\r\n\r\n",
	} {
		// Every split of the short bodies; of the long ones, splits around their start and end.
		for split := 0; split <= len(body); split = nextSplit(split, len(body)) {
			var s ChunkScanner
			_, done1, err1 := s.Scan([]byte(body[:split]))
			var done2 bool
			var err2 error
			if err1 == nil && !done1 {
				_, done2, err2 = s.Scan([]byte(body[split:]))
			}
			if done1 || done2 || (err1 != ErrBadChunk && err2 != ErrBadChunk) {
				t.Errorf("%s, split at %d: done %v/%v, errors %v/%v; want ErrBadChunk", name, split, done1, done2, err1, err2)
				break
			}
		}
	}
}

// nextSplit steps through every position of the first and last 64 bytes of a body, and through
// the middle of a long one in 1 KiB steps.
func nextSplit(split, n int) int {
	if split >= 64 && split < n-64 {
		return min(split+1024, n-64)
	}
	return split + 1
}

// TestChunkScannerEndsWhereNetHTTPEnds: bodies that net/http's client ends elsewhere than the
// scanner would let an instance slip a second answer past the front end into the client's
// connection. The scanner may refuse them; it must not run past net/http's end.
func TestChunkScannerEndsWhereNetHTTPEnds(t *testing.T) {
	const next = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	for _, body := range []string{
		"0\r\nX-A: 1\r\n\n", // the trailer section ended by a bare LF
		"0\r\n\n",
	} {
		data := []byte(body + next)
		want := netHTTPChunkedEnd(t, data)
		if want < 0 {
			continue // net/http refuses it: nothing to disagree about
		}
		var s ChunkScanner
		n, done, err := s.Scan(data)
		if err == nil && (!done || n != want) {
			t.Errorf("%q: net/http's client ends the body at %d, the scanner at %d (done %v): the next answer is relayed as this one's trailer", body+next, want, n, done)
		}
	}
}

// netHTTPChunkedEnd is where net/http's client ends the chunked body at the start of data,
// trailer section included, or -1 when it refuses the body.
func netHTTPChunkedEnd(t testing.TB, data []byte) int {
	const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	r := bytes.NewReader(append([]byte(head), data...))
	br := bufio.NewReader(r) // the size http.Transport reads with
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("net/http does not read the head: %v", err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return -1
	}
	return len(data) - r.Len() - br.Buffered()
}

// FuzzChunkScanner: where the scanner ends a body, net/http's chunked reader reads a complete
// body; where net/http's client reads a body, the scanner ends it at the same byte or refuses it
// (the front end then drops both connections), never elsewhere.
func FuzzChunkScanner(f *testing.F) {
	for _, body := range validChunkedBodies {
		f.Add([]byte(body), uint16(len(body)/2))
	}
	f.Add([]byte("5\r\nhello\r\n0\r\nX: 1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), uint16(3))
	f.Add([]byte("1;\nX\r\n0\r\n\r\n"), uint16(0))
	f.Add([]byte("0\r\nX: a\r\n\nHTTP/1.1 200 OK\r\n\r\n"), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		cut := int(split) % (len(data) + 1)
		var s ChunkScanner
		n, done, err := s.Scan(data[:cut])
		if err == nil && !done {
			var n2 int
			n2, done, err = s.Scan(data[cut:])
			n = cut + n2
		}
		if err != nil && err != ErrBadChunk {
			t.Fatalf("%q: error %v", data, err)
		}
		if done {
			if n > len(data) {
				t.Fatalf("%q: done at %d, past the data", data, n)
			}
			_, rerr := io.Copy(io.Discard, httputil.NewChunkedReader(bytes.NewReader(data[:n])))
			if rerr != nil && !netHTTPChunkLimit(rerr) {
				t.Fatalf("%q: the scanner ends the body at %d; net/http's chunked reader fails on it: %v", data, n, rerr)
			}
		}
		// A request's scanner (strict trailer lines) ends a body where the lenient one does, or
		// refuses it: never elsewhere.
		var lenient ChunkScanner
		ln, ldone, lerr := lenient.Scan(data)
		strict := ChunkScanner{strictTrailers: true}
		if sn, sdone, serr := strict.Scan(data); serr == nil && sdone && (lerr != nil || !ldone || sn != ln) {
			t.Fatalf("%q: the strict scanner ends the body at %d, the lenient one %s", data, sn, scannerEnd(ln, ldone))
		}
		if want := netHTTPChunkedEnd(t, data); want >= 0 && err == nil && (!done || n != want) {
			t.Fatalf("%q: net/http's client ends the body at %d; the scanner %s", data, want, scannerEnd(n, done))
		}
	})
}

// netHTTPChunkLimit: net/http's bounds on chunk lines and overhead, which the front end sets
// differently (maxChunkLine); not a difference in syntax.
func netHTTPChunkLimit(err error) bool {
	return err.Error() == "header line too long" || err.Error() == "chunked encoding contains too much non-data"
}

func scannerEnd(n int, done bool) string {
	if !done {
		return "has not ended it"
	}
	return fmt.Sprintf("ends it at %d", n)
}

// short keeps failure messages readable when a body is large.
func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s... (%d bytes)", s[:80], len(s))
	}
	return s
}
