package gateway_test

// Black-box HTTP conformance of a gateway port: raw client connections (bytes written by hand,
// answers read with http.ReadResponse) against instances that are either real net/http servers
// (recordingInstance) or raw listeners that write their answers byte for byte (rawInstance),
// so that neither side's library hides how the gateway frames, forwards and closes.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// convDeadline bounds every conversation, so that a gateway that hangs fails the test fast.
const convDeadline = 10 * time.Second

// seenRequest is what an instance received.
type seenRequest struct {
	method, uri, host, proto string
	header                   http.Header
	body                     []byte
}

// recorder keeps the requests an instance received, in order.
type recorder struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (rec *recorder) add(r *http.Request, body []byte) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.seen = append(rec.seen, seenRequest{method: r.Method, uri: r.RequestURI, host: r.Host, proto: r.Proto, header: r.Header.Clone(), body: body})
}

func (rec *recorder) all() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.seen...)
}

// last returns the latest request, failing the test if there was none.
func (rec *recorder) last(t *testing.T) seenRequest {
	t.Helper()
	all := rec.all()
	if len(all) == 0 {
		t.Fatal("the instance received no request")
	}
	return all[len(all)-1]
}

// recordingInstance is a real net/http server that records every request (its body read whole)
// and counts its connections; answer writes the response, by default the request target.
type recordingInstance struct {
	recorder
	srv   *httptest.Server
	conns atomic.Int64
}

func newRecordingInstance(t *testing.T, answer http.HandlerFunc) *recordingInstance {
	t.Helper()
	inst := &recordingInstance{}
	if answer == nil {
		answer = func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.RequestURI) }
	}
	inst.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		inst.add(r, body)
		answer(w, r)
	}))
	inst.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			inst.conns.Add(1)
		}
	}
	inst.srv.Start()
	t.Cleanup(inst.srv.Close)
	return inst
}

func (inst *recordingInstance) instance() gatewayapi.Instance {
	return instanceOf(inst.srv.Listener.Addr().String())
}

// rawInstance reads requests with http.ReadRequest (bodies read whole and recorded) and lets
// serve write each answer as raw bytes; serve returns false to close the connection.
type rawInstance struct {
	recorder
	ln    net.Listener
	conns atomic.Int64
}

func newRawInstance(t *testing.T, serve func(conn net.Conn, br *bufio.Reader, req *http.Request) (keep bool)) *rawInstance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inst := &rawInstance{ln: ln}
	var open sync.Map // net.Conn -> struct{}, closed at the end of the test
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(c, _ any) bool {
			if conn, ok := c.(net.Conn); ok {
				conn.Close()
			}
			return true
		})
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			inst.conns.Add(1)
			open.Store(conn, struct{}{})
			_ = conn.SetDeadline(time.Now().Add(convDeadline)) // fails only once closed: then the reads below fail
			go func() {
				defer func() { conn.Close(); open.Delete(conn) }()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, err := io.ReadAll(req.Body)
					if err != nil {
						return
					}
					inst.add(req, body)
					if !serve(conn, br, req) {
						return
					}
				}
			}()
		}
	}()
	return inst
}

func (inst *rawInstance) instance() gatewayapi.Instance { return instanceOf(inst.ln.Addr().String()) }

// confGateway is the gateway name of these tests' one-route gateways.
const confGateway = "conf/1"

// gatewayTo starts a gateway whose one route leads to inst, and returns it with its port.
func gatewayTo(t *testing.T, inst gatewayapi.Instance) (*harness, int) {
	t.Helper()
	h := startGateway(t, nil)
	port := freePort(t)
	h.put(confGateway, gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "app", Weight: 100, Instances: []gatewayapi.Instance{inst}},
	}})
	return h, port
}

// dialGateway opens a raw client connection to a gateway port, closed at the end of the test.
func dialGateway(t *testing.T, port int) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.SetDeadline(time.Now().Add(convDeadline)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, bufio.NewReader(conn)
}

// send writes raw bytes to the gateway in one write.
func send(t *testing.T, conn net.Conn, raw string) {
	t.Helper()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("writing %.60q: %v", raw, err)
	}
}

// sendInBackground writes raw from a goroutine (a big request that the gateway may refuse
// before reading it all); the returned channel yields the write's error.
func sendInBackground(conn net.Conn, raw []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := conn.Write(raw)
		done <- err
	}()
	return done
}

// getRequest is a minimal HTTP/1.1 GET head with extra header lines.
func getRequest(target string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: app.example\r\nUser-Agent: %s\r\n", target, chromeUA)
	for _, line := range extra {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// readResponse reads one answer to method and its whole body.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer to %s: %v", method, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of the %d answer to %s: %v", resp.StatusCode, method, err)
	}
	return resp, string(body)
}

// expectAnswer sends a GET for target on conn and expects 200 with the body want.
func expectAnswer(t *testing.T, conn net.Conn, br *bufio.Reader, target, want string) {
	t.Helper()
	send(t, conn, getRequest(target))
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("GET %s on the same connection: want 200 %q, got %d %q", target, want, resp.StatusCode, body)
	}
}

// expectClosed checks that the gateway closed the connection: a probe request written now must
// get no answer, only the end of the connection (it fails fast, rather than waiting out an idle
// connection that the gateway wrongly keeps open).
func expectClosed(t *testing.T, conn net.Conn, br *bufio.Reader, after string) {
	t.Helper()
	_, _ = io.WriteString(conn, getRequest("/probe-after-close")) // may fail: the gateway has closed
	b, err := br.ReadByte()
	switch {
	case err == nil:
		rest, _ := br.Peek(br.Buffered())
		t.Fatalf("after %s the gateway must close the connection; it answered on: %q", after, append([]byte{b}, rest...))
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	default:
		t.Fatalf("after %s the gateway must close the connection; reading: %v", after, err)
	}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// randomBytes is n deterministic pseudo-random bytes (seeded by n).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	_, _ = r.Read(b) // ChaCha8.Read always fills b and returns nil
	return b
}

// 1. Keep-alive.
func TestHTTPKeepAliveAnswersHundredRequestsOnOneConnection(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	for i := range 100 {
		target := fmt.Sprintf("/keep/%d", i)
		send(t, conn, getRequest(target))
		resp, body := readResponse(t, br, http.MethodGet)
		if resp.StatusCode != http.StatusOK || body != target || resp.Close {
			t.Fatalf("request %d: want 200 %q on a kept connection, got %d %q (close %v)", i, target, resp.StatusCode, body, resp.Close)
		}
	}
	if n := inst.conns.Load(); n > 3 {
		t.Errorf("100 sequential requests: the gateway opened %d connections to the instance, want it to reuse them (at most 3)", n)
	}
}

// 2. Pipelining: requests written in one write are answered in order, a HEAD among them.
func TestHTTPPipelinedRequestsAnsweredInOrder(t *testing.T) {
	big := strings.Repeat("b", 256<<10)
	inst := newRecordingInstance(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = io.WriteString(w, big) // the longest answer first: it must not be overtaken
			return
		}
		_, _ = io.WriteString(w, r.RequestURI)
	})
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/big")+strings.Replace(getRequest("/head"), "GET", "HEAD", 1)+getRequest("/one")+getRequest("/two"))
	for _, want := range []struct{ method, body string }{{"GET", big}, {"HEAD", ""}, {"GET", "/one"}, {"GET", "/two"}} {
		resp, body := readResponse(t, br, want.method)
		if resp.StatusCode != http.StatusOK || body != want.body {
			t.Fatalf("pipelined %s: want 200 with %.20q (%d bytes), got %d %.20q (%d bytes)", want.method, want.body, len(want.body), resp.StatusCode, body, len(body))
		}
	}
	var got []string
	for _, s := range inst.all() {
		got = append(got, s.method+" "+s.uri)
	}
	if want := "GET /big,HEAD /head,GET /one,GET /two"; strings.Join(got, ",") != want {
		t.Errorf("the instance must see the pipelined requests in order: want %s, got %v", want, got)
	}
}

// 3. Request bodies with Content-Length and chunked reach the instance intact.
func TestHTTPRequestBodiesReachInstanceIntact(t *testing.T) {
	inst := newRecordingInstance(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Method+" "+r.RequestURI) })
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	payload := randomBytes(1 << 20)

	head := "POST /sized HTTP/1.1\r\nHost: app.example\r\nContent-Type: application/octet-stream\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(payload))
	written := sendInBackground(conn, append([]byte(head), payload...))
	resp, body := readResponse(t, br, http.MethodPost)
	if err := <-written; err != nil {
		t.Fatalf("writing the sized POST: %v", err)
	}
	if resp.StatusCode != http.StatusOK || body != "POST /sized" {
		t.Fatalf("POST with Content-Length: want 200, got %d %q", resp.StatusCode, body)
	}
	if got := inst.last(t); got.uri != "/sized" || sha(got.body) != sha(payload) {
		t.Fatalf("POST with Content-Length: the instance got %s with %d bytes (sha %s), want %d bytes (sha %s)", got.uri, len(got.body), sha(got.body), len(payload), sha(payload))
	}

	// Chunks of odd sizes, one with a chunk extension, and a trailer section.
	var chunked bytes.Buffer
	chunked.WriteString("POST /chunked HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n")
	rest := payload
	for i, size := range []int{1, 4095, 65536, 300000, len(payload)} {
		size = min(size, len(rest))
		if i == 1 {
			fmt.Fprintf(&chunked, "%x;name=value\r\n", size)
		} else {
			fmt.Fprintf(&chunked, "%x\r\n", size)
		}
		chunked.Write(rest[:size])
		chunked.WriteString("\r\n")
		rest = rest[size:]
	}
	chunked.WriteString("0\r\nX-Client-Trailer: done\r\n\r\n")
	written = sendInBackground(conn, chunked.Bytes())
	resp, body = readResponse(t, br, http.MethodPost)
	if err := <-written; err != nil {
		t.Fatalf("writing the chunked POST: %v", err)
	}
	if resp.StatusCode != http.StatusOK || body != "POST /chunked" {
		t.Fatalf("POST with chunked body: want 200, got %d %q", resp.StatusCode, body)
	}
	if got := inst.last(t); got.uri != "/chunked" || sha(got.body) != sha(payload) {
		t.Fatalf("POST chunked: the instance got %s with %d bytes (sha %s), want %d bytes (sha %s)", got.uri, len(got.body), sha(got.body), len(payload), sha(payload))
	}

	expectAnswer(t, conn, br, "/after", "GET /after")
}

// framingInstance answers each path with one way of framing a response, byte for byte.
func framingInstance(t *testing.T) *rawInstance {
	return newRawInstance(t, func(conn net.Conn, _ *bufio.Reader, req *http.Request) bool {
		var answer string
		keep := true
		switch req.URL.Path {
		case "/cl":
			answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nfixed length"
		case "/chunked":
			answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n" +
				"X-Saw-Te: " + req.Header.Get("Te") + "\r\n\r\n" +
				"6\r\nchunk \r\n3\r\none\r\n0\r\nX-Checksum: sha-abc\r\n\r\n"
		case "/close":
			answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + closeDelimitedBody
			keep = false
		case "/head":
			answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
			if req.Method != http.MethodHead {
				answer += "hello world"
			}
		case "/204":
			answer = "HTTP/1.1 204 No Content\r\nX-Kind: empty\r\n\r\n"
		case "/304":
			// A 304 may state the length of the representation it stands for; no body follows.
			answer = "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 42\r\n\r\n"
		case "/103":
			answer = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfinal"
		default:
			answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
		}
		_, err := io.WriteString(conn, answer)
		return keep && err == nil
	})
}

var closeDelimitedBody = strings.Repeat("until the instance closes\n", 4000)

// 4a. A Content-Length answer, and the connection goes on.
func TestHTTPContentLengthResponseKeepsConnection(t *testing.T) {
	_, port := gatewayTo(t, framingInstance(t).instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/cl"))
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "fixed length" || resp.Close {
		t.Fatalf("want 200 %q on a kept connection, got %d %q (close %v)", "fixed length", resp.StatusCode, body, resp.Close)
	}
	expectAnswer(t, conn, br, "/cl", "fixed length")
}

// 4b. A chunked answer's trailer reaches a client that said it takes trailers.
func TestHTTPChunkedResponseTrailersReachClient(t *testing.T) {
	_, port := gatewayTo(t, framingInstance(t).instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/chunked", "TE: trailers"))
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "chunk one" {
		t.Fatalf("want 200 %q, got %d %q", "chunk one", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Saw-Te"); got != "trailers" {
		t.Errorf("the instance must be told the client takes trailers (TE: trailers), it saw TE %q", got)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "sha-abc" {
		t.Errorf("want the trailer X-Checksum: sha-abc after the body, got trailers %v", resp.Trailer)
	}
	expectAnswer(t, conn, br, "/cl", "fixed length")
}

// 4c. A body delimited by the instance closing its connection arrives whole; the client's
// connection then either ends or (re-framed) goes on.
func TestHTTPCloseDelimitedResponseArrivesWhole(t *testing.T) {
	_, port := gatewayTo(t, framingInstance(t).instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/close"))
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != closeDelimitedBody {
		t.Fatalf("want 200 with the whole %d-byte body, got %d with %d bytes", len(closeDelimitedBody), resp.StatusCode, len(body))
	}
	if resp.Close || (resp.ContentLength < 0 && len(resp.TransferEncoding) == 0) {
		expectClosed(t, conn, br, "a close-delimited answer")
		return
	}
	t.Logf("the gateway re-framed the close-delimited body (Content-Length %d, Transfer-Encoding %v) and keeps the connection", resp.ContentLength, resp.TransferEncoding)
	expectAnswer(t, conn, br, "/cl", "fixed length")
}

// 4d. HEAD: the Content-Length of the GET, no body, and the next answer still parses.
func TestHTTPHeadResponseHasNoBody(t *testing.T) {
	_, port := gatewayTo(t, framingInstance(t).instance())
	conn, br := dialGateway(t, port)
	send(t, conn, strings.Replace(getRequest("/head"), "GET", "HEAD", 1))
	resp, body := readResponse(t, br, http.MethodHead)
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("HEAD: want 200 without body, got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Length"); got != "11" {
		t.Errorf("HEAD: want the instance's Content-Length 11, got %q", got)
	}
	expectAnswer(t, conn, br, "/head", "hello world")
}

// 4e. 204 and 304 carry no body, even when the 304 states a Content-Length.
func TestHTTPNoContentAndNotModifiedHaveNoBody(t *testing.T) {
	_, port := gatewayTo(t, framingInstance(t).instance())
	conn, br := dialGateway(t, port)
	for _, c := range []struct {
		path   string
		status int
		header string
		value  string
	}{{"/204", http.StatusNoContent, "X-Kind", "empty"}, {"/304", http.StatusNotModified, "Etag", `"v1"`}} {
		send(t, conn, getRequest(c.path))
		resp, body := readResponse(t, br, http.MethodGet)
		if resp.StatusCode != c.status || body != "" || resp.Header.Get(c.header) != c.value {
			t.Fatalf("GET %s: want %d without body and %s: %s, got %d %q %v", c.path, c.status, c.header, c.value, resp.StatusCode, body, resp.Header)
		}
		if te := resp.Header.Get("Transfer-Encoding"); len(resp.TransferEncoding) > 0 || te != "" {
			t.Errorf("GET %s: a %d must not be chunked, got Transfer-Encoding %v", c.path, c.status, resp.TransferEncoding)
		}
		expectAnswer(t, conn, br, "/cl", "fixed length")
	}
}

// 4f. A 103 Early Hints reaches the client before the final answer, with its own headers only.
func TestHTTPEarlyHintsPrecedeFinalResponse(t *testing.T) {
	_, port := gatewayTo(t, framingInstance(t).instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/103"))
	hints, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	if hints.StatusCode != http.StatusEarlyHints || hints.Header.Get("Link") != "</style.css>; rel=preload" {
		t.Fatalf("want 103 Early Hints with the Link header first, got %d %v", hints.StatusCode, hints.Header)
	}
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "final" {
		t.Fatalf("after the 103: want 200 %q, got %d %q", "final", resp.StatusCode, body)
	}
	if link := resp.Header.Get("Link"); link != "" {
		t.Errorf("the hint's Link header must not leak into the final answer, got Link %q", link)
	}
	expectAnswer(t, conn, br, "/cl", "fixed length")
}

// 5. Streaming: the first chunk reaches the client before the instance writes the second.
func TestHTTPStreamedChunksReachClientAsWritten(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	releaseOnce := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseOnce)
	inst := newRawInstance(t, func(conn net.Conn, _ *bufio.Reader, req *http.Request) bool {
		if req.URL.Path != "/stream" {
			_, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
			return err == nil
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")
		<-release
		_, err := io.WriteString(conn, "7\r\nsecond\n\r\n0\r\n\r\n")
		return err == nil
	})
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/stream"))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewReader(resp.Body)
	first, err := body.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("want the first chunk while the instance holds the second, got %q %v", first, err)
	}
	releaseOnce()
	rest, err := io.ReadAll(body)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("want the second chunk after the release, got %q %v", rest, err)
	}
	expectAnswer(t, conn, br, "/next", "next")
}

// 6. A large answer to a client that reads slowly, in small reads through a small socket
// buffer, arrives intact.
func TestHTTPLargeResponseToSlowClientArrivesIntact(t *testing.T) {
	payload := randomBytes(8 << 20)
	inst := newRecordingInstance(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		_, _ = w.Write(payload)
	})
	_, port := gatewayTo(t, inst.instance())
	conn, _ := dialGateway(t, port)
	// A small socket buffer and 1 KiB reads: the gateway's writes to the client keep blocking.
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		t.Fatalf("connection %T is not TCP", conn)
	}
	if err := tc.SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 16)
	send(t, conn, getRequest("/large"))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.New()
	n, err := io.CopyBuffer(hash, struct{ io.Reader }{resp.Body}, make([]byte, 1<<10))
	if err != nil || n != int64(len(payload)) || hex.EncodeToString(hash.Sum(nil)) != sha(payload) {
		t.Fatalf("want %d bytes with sha %s, got %d bytes with sha %x (%v)", len(payload), sha(payload), n, hash.Sum(nil), err)
	}
}

// 7. Hop-by-hop headers stop at the gateway in both directions; end-to-end ones pass with all
// their values in order; the gateway states X-Forwarded-* itself (a client's are replaced).
func TestHTTPHopByHopHeadersStopAtGateway(t *testing.T) {
	inst := newRawInstance(t, func(conn net.Conn, _ *bufio.Reader, req *http.Request) bool {
		_, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\n"+
			"Keep-Alive: timeout=99\r\nProxy-Authenticate: Basic realm=\"inner\"\r\n"+
			"X-Resp: a\r\nX-Resp: b\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok")
		return err == nil
	})
	_, port := gatewayTo(t, inst.instance())
	// GET takes the gateway's direct path, POST with a body its ReverseProxy: both must agree.
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			conn, br := dialGateway(t, port)
			req := method + " /hop HTTP/1.1\r\nHost: app.example\r\n" +
				"Connection: keep-alive, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n" +
				"Proxy-Authorization: Basic c2VjcmV0\r\nTe: gzip\r\n" +
				"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nForwarded: for=203.0.113.9\r\n" +
				"X-Multi: one\r\nX-Multi: two\r\nX-Multi: three\r\nAccept: text/html\r\n"
			if method == http.MethodPost {
				req += "Content-Length: 4\r\n\r\ndata"
			} else {
				req += "\r\n"
			}
			send(t, conn, req)
			resp, body := readResponse(t, br, method)
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("want 200 ok, got %d %q", resp.StatusCode, body)
			}

			got := inst.last(t)
			if got.method != method || got.uri != "/hop" {
				t.Fatalf("the instance got %s %s", got.method, got.uri)
			}
			for _, k := range []string{"X-Private", "Keep-Alive", "Proxy-Authorization", "Forwarded"} {
				if v, ok := got.header[k]; ok {
					t.Errorf("request header %s must not reach the instance, it got %q", k, v)
				}
			}
			if te := got.header.Get("Te"); te != "" && te != "trailers" {
				t.Errorf("the client's TE: gzip is hop-by-hop, the instance got TE %q", te)
			}
			if c := got.header.Values("Connection"); strings.Contains(strings.ToLower(strings.Join(c, ",")), "x-private") {
				t.Errorf("the client's Connection header must not reach the instance, it got %q", c)
			}
			for k, want := range map[string][]string{
				"X-Forwarded-For":   {"127.0.0.1"}, // replaced, not appended to
				"X-Forwarded-Host":  {"app.example"},
				"X-Forwarded-Proto": {"http"},
				"X-Multi":           {"one", "two", "three"},
				"Accept":            {"text/html"},
			} {
				if v := got.header.Values(k); strings.Join(v, "|") != strings.Join(want, "|") {
					t.Errorf("the instance must get %s: %q, got %q", k, want, v)
				}
			}

			for _, k := range []string{"X-Internal", "Keep-Alive", "Proxy-Authenticate"} {
				if v, ok := resp.Header[k]; ok {
					t.Errorf("response header %s must not reach the client, it got %q", k, v)
				}
			}
			if c := resp.Header.Values("Connection"); strings.Contains(strings.ToLower(strings.Join(c, ",")), "x-internal") {
				t.Errorf("the instance's Connection header must not reach the client, it got %q", c)
			}
			if v := resp.Header.Values("X-Resp"); strings.Join(v, "|") != "a|b" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("want X-Resp: a, X-Resp: b and Cache-Control: no-store, got %v", resp.Header)
			}
		})
	}
}

// 8a. A 64 KiB Cookie header is forwarded intact.
func TestHTTPLargeCookieHeaderForwardedIntact(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	var cookie strings.Builder
	for i := 0; cookie.Len() < 64<<10; i++ {
		if i > 0 {
			cookie.WriteString("; ")
		}
		fmt.Fprintf(&cookie, "c%d=%s", i, strings.Repeat(string(rune('a'+i%26)), 100))
	}
	send(t, conn, getRequest("/cookie", "Cookie: "+cookie.String()))
	if resp, body := readResponse(t, br, http.MethodGet); resp.StatusCode != http.StatusOK || body != "/cookie" {
		t.Fatalf("want 200 /cookie, got %d %.100q", resp.StatusCode, body)
	}
	if got := inst.last(t).header.Values("Cookie"); len(got) != 1 || got[0] != cookie.String() {
		t.Errorf("the instance must get the %d-byte Cookie header intact, got %d values of lengths %d", cookie.Len(), len(got), len(strings.Join(got, "")))
	}
}

// 8b. A 2 MiB request head is refused (431, or 400) without reaching the instance, and the
// gateway goes on serving other connections.
func TestHTTPOversizedRequestHeadRefused(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	var head bytes.Buffer
	head.WriteString("GET /huge HTTP/1.1\r\nHost: app.example\r\n")
	for i := 0; head.Len() < 2<<20; i++ {
		fmt.Fprintf(&head, "X-Fill-%d: %s\r\n", i, strings.Repeat("f", 1000))
	}
	head.WriteString("\r\n")
	written := sendInBackground(conn, head.Bytes())
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("want a 431 answer to a 2 MiB head, reading: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a 2 MiB head: want 431 (or 400), got %d", resp.StatusCode)
	}
	conn.Close()
	if err := <-written; err != nil {
		t.Logf("the 2 MiB head was not all written (the gateway may refuse early): %v", err)
	}
	if n := len(inst.all()); n != 0 {
		t.Errorf("the oversized request must not reach the instance; it got %d requests", n)
	}
	other, obr := dialGateway(t, port)
	expectAnswer(t, other, obr, "/still", "/still")
}

// 8c. A 64 KiB response header reaches the client.
func TestHTTPLargeResponseHeaderReachesClient(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4<<10)
	inst := newRecordingInstance(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", big)
		_, _ = io.WriteString(w, "big header")
	})
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/"))
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "big header" || resp.Header.Get("X-Big") != big {
		t.Fatalf("want 200 with the %d-byte X-Big header intact, got %d %q and X-Big of %d bytes", len(big), resp.StatusCode, body, len(resp.Header.Get("X-Big")))
	}
}

// 9. A request head written one byte at a time is answered.
func TestHTTPRequestHeadByteByByteAnswered(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	raw := getRequest("/slowly?x=1", "X-Trickle: drop by drop")
	written := make(chan error, 1)
	go func() {
		for i := range len(raw) {
			if _, err := conn.Write([]byte{raw[i]}); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	resp, body := readResponse(t, br, http.MethodGet)
	if err := <-written; err != nil {
		t.Fatalf("writing byte by byte: %v", err)
	}
	if resp.StatusCode != http.StatusOK || body != "/slowly?x=1" {
		t.Fatalf("want 200 /slowly?x=1, got %d %q", resp.StatusCode, body)
	}
	if got := inst.last(t).header.Get("X-Trickle"); got != "drop by drop" {
		t.Errorf("want X-Trickle: drop by drop at the instance, got %q", got)
	}
}

// 10a. Malformed requests get 400 and a closed connection, and never reach the instance.
func TestHTTPMalformedRequestsRefusedWith400(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	for _, c := range []struct{ name, raw string }{
		{"header line without colon", "GET /nocolon HTTP/1.1\r\nHost: app.example\r\nNoColonHere\r\n\r\n"},
		{"space before colon", "GET /space HTTP/1.1\r\nHost: app.example\r\nX-Foo : bar\r\n\r\n"},
		{"space before the Host colon", "GET /hostspace HTTP/1.1\r\nHost : app.example\r\n\r\n"},
		{"two Host headers", "GET /twohosts HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"},
		{"HTTP/1.1 without Host", "GET /nohost HTTP/1.1\r\nUser-Agent: x\r\n\r\n"},
		{"request line without version", "GET /noversion\r\nHost: app.example\r\n\r\n"},
		{"space inside the target", "GET /a b HTTP/1.1\r\nHost: app.example\r\n\r\n"},
		{"NUL in a header value", "GET /nul HTTP/1.1\r\nHost: app.example\r\nX-Bad: a\x00b\r\n\r\n"},
		{"DEL in a header value", "GET /del HTTP/1.1\r\nHost: app.example\r\nX-Bad: a\x7fb\r\n\r\n"},
		{"two different Content-Lengths", "POST /twolengths HTTP/1.1\r\nHost: app.example\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
		{"Content-Length not a number", "POST /badlength HTTP/1.1\r\nHost: app.example\r\nContent-Length: 1x\r\n\r\na"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, br := dialGateway(t, port)
			send(t, conn, c.raw)
			resp, _ := readResponse(t, br, http.MethodGet)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("want 400, got %d", resp.StatusCode)
			}
			expectClosed(t, conn, br, "a 400")
		})
	}
	if seen := inst.all(); len(seen) != 0 {
		t.Errorf("malformed requests must not reach the instance; it got %d, the first %s %s", len(seen), seen[0].method, seen[0].uri)
	}
}

// 10b. Content-Length with Transfer-Encoding: whichever way the gateway reads it, no second
// request hidden in the body reaches the instance, and (RFC 9112 section 6.1) the connection is
// closed after the answer.
func TestHTTPContentLengthWithChunkedSmugglesNothing(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: app.example\r\n\r\n"
	chunk := fmt.Sprintf("%x\r\n%s\r\n", len(smuggled), smuggled)
	for _, c := range []struct{ name, raw string }{
		// A reader of Content-Length sees one body; a reader of chunked sees an empty body and
		// then a second request.
		{"CL.TE", "POST /front HTTP/1.1\r\nHost: app.example\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n", len("0\r\n\r\n"+smuggled)) +
			"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		// A reader of chunked sees the request as body data; a reader of Content-Length 4 sees
		// the rest as a second request.
		{"TE.CL", "POST /front HTTP/1.1\r\nHost: app.example\r\nContent-Length: 4\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n" + chunk + "0\r\n\r\n"},
		// GET as the brief's example: the same with a method that has no body by habit.
		{"GET CL.TE", "GET /front HTTP/1.1\r\nHost: app.example\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n", len("0\r\n\r\n"+smuggled)) +
			"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, br := dialGateway(t, port)
			send(t, conn, c.raw)
			resp, body := readResponse(t, br, http.MethodPost)
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusOK {
				t.Errorf("want 400 or the answer to /front, got %d %q", resp.StatusCode, body)
			}
			expectClosed(t, conn, br, "a request with both Content-Length and Transfer-Encoding")
		})
	}
	for _, s := range inst.all() {
		if strings.Contains(s.uri, "smuggled") {
			t.Errorf("the instance received the smuggled request %s %s", s.method, s.uri)
		}
	}
}

// 11. HTTP/1.0: answered, and without keep-alive the connection is closed after the answer.
func TestHTTPOneZeroClientAnsweredThenClosed(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	send(t, conn, "GET /ten HTTP/1.0\r\nUser-Agent: old\r\n\r\n")
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "/ten" {
		t.Fatalf("HTTP/1.0 GET: want 200 /ten, got %d %q", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 1 || len(resp.TransferEncoding) > 0 {
		t.Errorf("an HTTP/1.0 client cannot read chunked bodies: got %s with Transfer-Encoding %v", resp.Proto, resp.TransferEncoding)
	}
	expectClosed(t, conn, br, "an HTTP/1.0 answer without keep-alive")
}

// 12a. HTTP/2 with prior knowledge (h2c) is served through the gateway.
func TestHTTPH2CPriorKnowledgeServed(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: protocols}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: convDeadline}
	for _, target := range []string{"h2/first", "h2/second"} {
		resp, err := client.Get(gatewayURL(port) + target)
		if err != nil {
			t.Fatalf("h2c GET /%s: %v", target, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || string(body) != "/"+target {
			t.Fatalf("h2c GET /%s: want 200 over HTTP/2 with the instance's body, got %d %s %q %v", target, resp.StatusCode, resp.Proto, body, err)
		}
	}
}

// 12b. An HTTP/1.1 request offering Upgrade: h2c is answered over HTTP/1.1.
func TestHTTPUpgradeH2CAnsweredOverHTTP1(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	send(t, conn, getRequest("/offer", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"))
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/1.1" || body != "/offer" {
		t.Fatalf("want HTTP/1.1 200 /offer, got %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	expectAnswer(t, conn, br, "/after", "/after")
}

// 13. A websocket instance that sends its first frame in the same write as its 101 head: the
// gateway must pass the bytes it read past the head, then traffic both ways.
func TestHTTPWebsocketBytesAfterSwitchingHeadPassThrough(t *testing.T) {
	inst := newRawInstance(t, func(conn net.Conn, br *bufio.Reader, req *http.Request) bool {
		if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
			_, _ = io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return false
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello")
		line, err := br.ReadString('\n')
		if err == nil {
			_, _ = io.WriteString(conn, strings.ToUpper(line))
		}
		return false
	})
	_, port := gatewayTo(t, inst.instance())
	conn, _ := dialGateway(t, port)
	status, r, err := rawUpgrade(conn, "ws.example")
	if err != nil || !strings.Contains(status, "101") {
		t.Fatalf("want 101 Switching Protocols, got %q %v", status, err)
	}
	frame := make([]byte, 7)
	if _, err := io.ReadFull(r, frame); err != nil || string(frame) != "\x81\x05hello" {
		t.Fatalf("want the frame the instance sent with its 101 head, got %q %v", frame, err)
	}
	send(t, conn, "client to instance\n")
	if echo, err := r.ReadString('\n'); err != nil || echo != "CLIENT TO INSTANCE\n" {
		t.Fatalf("want the echo through the upgraded connection, got %q %v", echo, err)
	}
}

// 14. Conditions are decided per request on one connection, and the sticky cookie joins the
// instance's own Set-Cookie (on both forwarding paths).
func TestHTTPConditionsAndStickyCookieOverRawConnection(t *testing.T) {
	h := startGateway(t, nil)
	variant := func(name string) *recordingInstance {
		return newRecordingInstance(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "session=abc; Path=/")
			_, _ = io.WriteString(w, name)
		})
	}
	v100, v110 := variant("sava:1.0.0"), variant("sava:1.1.0")
	port := freePort(t)
	h.put("sava/9050", gatewayapi.Gateway{Port: port, Sticky: "route", Routes: []gatewayapi.Route{
		{Name: "sava:1.0.0", Weight: 0, Condition: "user-agent == Firefox", ConditionStrength: intp(100), Instances: []gatewayapi.Instance{v100.instance()}},
		{Name: "sava:1.1.0", Weight: 100, Instances: []gatewayapi.Instance{v110.instance()}},
	}})
	conn, br := dialGateway(t, port)
	for i, c := range []struct{ method, ua, want string }{
		{"GET", firefoxUA, "sava:1.0.0"}, {"GET", chromeUA, "sava:1.1.0"},
		{"POST", firefoxUA, "sava:1.0.0"}, {"POST", chromeUA, "sava:1.1.0"},
		{"GET", firefoxUA, "sava:1.0.0"},
	} {
		req := fmt.Sprintf("%s /v HTTP/1.1\r\nHost: app.example\r\nUser-Agent: %s\r\n", c.method, c.ua)
		if c.method == http.MethodPost {
			req += "Content-Length: 3\r\n\r\nabc"
		} else {
			req += "\r\n"
		}
		send(t, conn, req)
		resp, body := readResponse(t, br, c.method)
		if resp.StatusCode != http.StatusOK || body != c.want {
			t.Fatalf("request %d (%s, %s): want %s, got %d %q", i, c.method, c.ua[len(c.ua)-12:], c.want, resp.StatusCode, body)
		}
		if c.want != "sava:1.1.0" {
			continue
		}
		// Chosen by weight: the sticky cookie comes along with the instance's own.
		var sticky, session bool
		for _, sc := range resp.Header.Values("Set-Cookie") {
			sticky = sticky || strings.HasPrefix(sc, "vamp_sava_9050=sava:1.1.0")
			session = session || sc == "session=abc; Path=/"
		}
		if !sticky || !session {
			t.Errorf("%s chosen by weight: want both the sticky cookie vamp_sava_9050 and the instance's session cookie, got Set-Cookie %q", c.method, resp.Header.Values("Set-Cookie"))
		}
	}
}

// 15a. Request targets reach the instance exactly as the client sent them. (httputil's
// ReverseProxy re-encodes a query with ';' or a bad %-escape and drops those parameters; a
// transparent gateway, like HAProxy, passes the target as it came.)
func TestHTTPRequestTargetReachesInstanceAsSent(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	for _, target := range []string{
		"/a%2Fb?x=1&y=%20",
		"/p;param?q=1;2",
		"/q?x=%zz&y",
		"/%7Euser/x%20y?empty=&&k=v=w",
	} {
		send(t, conn, getRequest(target))
		resp, _ := readResponse(t, br, http.MethodGet)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: want 200, got %d", target, resp.StatusCode)
			continue
		}
		if got := inst.last(t).uri; got != target {
			t.Errorf("GET %s: the instance got the target %q", target, got)
		}
	}
}

// 15b. An absolute-form target is answered; the instance gets origin form and the target's
// authority as Host (RFC 9112 section 3.2.2: the target's authority wins over a Host header).
func TestHTTPAbsoluteFormRequestAnswered(t *testing.T) {
	inst := newRecordingInstance(t, nil)
	_, port := gatewayTo(t, inst.instance())
	conn, br := dialGateway(t, port)
	send(t, conn, "GET http://host.example/x?y=1 HTTP/1.1\r\nHost: other.example\r\n\r\n")
	resp, body := readResponse(t, br, http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "/x?y=1" {
		t.Fatalf("absolute form: want 200 /x?y=1, got %d %q", resp.StatusCode, body)
	}
	if got := inst.last(t); got.uri != "/x?y=1" || got.host != "host.example" {
		t.Errorf("absolute form: want the instance to get /x?y=1 for Host host.example, got %q for Host %q", got.uri, got.host)
	}
}

// 16. A client that leaves while its instance is slow releases the instance: the instance's
// request ends, the in-flight count returns to 0, and the next request is served.
func TestHTTPClientLeavingReleasesInstance(t *testing.T) {
	type signals struct{ arrived, ended chan struct{} }
	var current atomic.Pointer[signals] // the subtest's, set before its request is sent
	inst := newRecordingInstance(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			_, _ = io.WriteString(w, r.RequestURI)
			return
		}
		s := current.Load()
		close(s.arrived)
		<-r.Context().Done() // nothing until the gateway lets go
		close(s.ended)
	})
	h, port := gatewayTo(t, inst.instance())
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			s := &signals{arrived: make(chan struct{}), ended: make(chan struct{})}
			current.Store(s)
			conn, _ := dialGateway(t, port)
			req := method + " /slow HTTP/1.1\r\nHost: app.example\r\n"
			if method == http.MethodPost {
				req += "Content-Length: 4\r\n\r\ndata"
			} else {
				req += "\r\n"
			}
			send(t, conn, req)
			waitFor(t, s.arrived, "the request reaches the instance")
			conn.Close()
			waitFor(t, s.ended, "the instance's request ends after the client left")
			h.statsWhen(confGateway, "no request in flight at the instance", func(st gatewayapi.Stats) bool {
				return st.Routes[0].Instances[0].Active == 0
			})
			next, br := dialGateway(t, port)
			expectAnswer(t, next, br, "/next", "/next")
		})
	}
}

// waitFor fails the test if ch is not closed within convDeadline.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(convDeadline):
		t.Fatalf("timed out waiting until %s", what)
	}
}
