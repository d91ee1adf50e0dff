package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkForwardPost4K: one keep-alive POST with a 4 KB body (Content-Length, and chunked)
// through each path: client → proxy → instance on loopback in this process (the client and the
// instance are counted too, so allocs/op is the whole exchange's).
func BenchmarkForwardPost4K(b *testing.B) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, strconv.FormatInt(n, 10)) // a gateway that went away reads no answer: the client sees it
	}))
	b.Cleanup(inst.Close)
	body := bytes.Repeat([]byte("x"), 4096)
	for _, framing := range []string{"length", "chunked"} {
		for _, path := range paths {
			b.Run(framing+"/"+path.name, func(b *testing.B) {
				url, _ := gatewayFor(b, path.netHTTPOnly, Options{}, inst.Listener.Addr().String())
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
				b.Cleanup(client.CloseIdleConnections)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						var rd io.Reader = bytes.NewReader(body)
						if framing == "chunked" {
							rd = io.MultiReader(rd) // no length known: net/http sends it chunked
						}
						req, _ := http.NewRequest(http.MethodPost, url+"/", rd)
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						got, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || string(got) != "4096" {
							b.Errorf("the instance got %q of the body (%v)", got, err)
							return
						}
					}
				})
			})
		}
	}
}

// bodyInstance serves requests on raw connections and reports each as "conn N: METHOD /path
// <body length> <sha-256 prefix>" (the head as received in heads), answering 200 with the body's
// length.
func bodyInstance(t *testing.T, heads chan<- string) (addr string, seen <-chan string) {
	t.Helper()
	out := make(chan string, 64)
	var conns atomic.Int32
	addr = rawInstance(t, func(c net.Conn) {
		id := conns.Add(1)
		serveRequests(c, func(_ *bufio.Reader, req *http.Request, body []byte) bool {
			if heads != nil {
				var b strings.Builder
				_ = req.Header.Write(&b) // a strings.Builder takes every write
				heads <- b.String()
			}
			sum := sha256.Sum256(body)
			out <- fmt.Sprintf("conn %d: %s %s %d %x", id, req.Method, req.URL.Path, len(body), sum[:4])
			_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(strconv.Itoa(len(body))), len(body)) // a gateway that went away reads no answer: the test's client sees it
			return true
		})
	})
	return addr, out
}

func bodySum(body []byte) string {
	sum := sha256.Sum256(body)
	return fmt.Sprintf("%d %x", len(body), sum[:4])
}

// TestFrontEndStreamsBodies: bodies of every size and framing, whole with the head or in many
// writes, reach the instance exactly, through the front end itself (the connection is never
// handed to net/http), and the client's connection and the instance's go on to the next request.
func TestFrontEndStreamsBodies(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			addr, seen := bodyInstance(t, nil)
			s, _, gw := startServerIO(t, m.mode, Options{}, ServerOptions{}, addr)
			c := dial(t, gw)
			for _, size := range []int{1, 4096, 20000, 300 << 10} {
				body := bytes.Repeat([]byte("0123456789abcdefghij"), size/20+1)[:size]
				for _, chunked := range []bool{false, true} {
					head := fmt.Sprintf("PUT /up HTTP/1.1\r\nHost: shop.example\r\nContent-Length: %d\r\n\r\n", size)
					wire := body
					if chunked {
						head = "PUT /up HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n"
						var b bytes.Buffer
						for rest := body; len(rest) > 0; {
							n := min(len(rest), 7000)
							fmt.Fprintf(&b, "%x;ext=1\r\n%s\r\n", n, rest[:n])
							rest = rest[n:]
						}
						b.WriteString("0\r\nX-Trailer: t\r\n\r\n")
						wire = b.Bytes()
					}
					c.send(head)
					for rest := wire; len(rest) > 0; { // in writes of 5000 bytes
						n := min(len(rest), 5000)
						c.send(string(rest[:n]))
						rest = rest[n:]
					}
					if resp, got := c.answer(); resp.StatusCode != http.StatusOK || got != strconv.Itoa(size) {
						t.Fatalf("%d bytes, chunked %v: %s %q", size, chunked, resp.Status, got)
					}
					if got, want := <-seen, "conn 1: PUT /up "+bodySum(body); got != want {
						t.Errorf("%d bytes, chunked %v: the instance saw %s, want %s", size, chunked, got, want)
					}
					if s.frontConn(c) == nil {
						t.Fatalf("%d bytes, chunked %v: the connection went to net/http", size, chunked)
					}
				}
			}
		})
	}
}

// TestExpectContinueAnsweredByTheGateway: a client that waits for 100 Continue gets it from the
// gateway, sends its body, and gets the instance's answer; the instance gets no Expect.
func TestExpectContinueAnsweredByTheGateway(t *testing.T) {
	heads := make(chan string, 4)
	addr, seen := bodyInstance(t, heads)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, addr)
	c := dial(t, gw)
	c.send("POST /form HTTP/1.1\r\nHost: shop.example\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	c.readsWithin10s()
	interim, err := http.ReadResponse(c.br, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue before the body, got %v %v", interim, err)
	}
	c.send("hello")
	if resp, body := c.answer(); resp.StatusCode != http.StatusOK || body != "5" {
		t.Fatalf("%s %q", resp.Status, body)
	}
	if got := <-seen; got != "conn 1: POST /form "+bodySum([]byte("hello")) {
		t.Errorf("the instance saw %s", got)
	}
	if h := <-heads; strings.Contains(h, "Expect") {
		t.Errorf("the instance got the expectation the gateway answered: %q", h)
	}
}

// TestPartlySentBodyIsNeverSentAgain: an instance that closes a reused connection after part of a
// body, before any answer, gets a 502 for the client, and the request is not sent again, though
// PUT is idempotent and a reused connection that closed unanswered is otherwise retried: the
// bytes the gateway sent are gone from its buffer, and the instance may have begun.
func TestPartlySentBodyIsNeverSentAgain(t *testing.T) {
	var conns atomic.Int32
	seen := make(chan string, 8)
	addr := rawInstance(t, func(c net.Conn) {
		id := conns.Add(1)
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			seen <- fmt.Sprintf("conn %d: %s %s", id, req.Method, req.URL.Path)
			if req.URL.Path == "/big" {
				return // the head came (and maybe some of the body): close without an answer
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
		}
	})
	_, _, gw := startServer(t, Options{}, ServerOptions{}, addr)
	c := dial(t, gw)
	if body := c.get("/warm"); body != "ok" {
		t.Fatalf("warm: %q", body)
	}
	<-seen
	c.send("PUT /big HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("b", 1000))
	resp, _ := c.answer()
	if resp.StatusCode != http.StatusBadGateway || !resp.Close {
		t.Errorf("got %s (Connection: close %v), want 502 and the connection closed (the rest of the body is unread)", resp.Status, resp.Close)
	}
	c.closedByServer()
	if got := <-seen; got != "conn 1: PUT /big" {
		t.Fatalf("the instance saw %s, want the PUT on the reused connection", got)
	}
	select {
	case got := <-seen:
		t.Errorf("the request was sent again: %s", got)
	default:
	}
}

// TestDialFailureSendsBodyElsewhere: no byte of a request goes out before the connection to the
// instance is made, so a request whose body streams is sent to another instance when the first
// cannot be reached.
func TestDialFailureSendsBodyElsewhere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // connections to it are refused
	addr, seen := bodyInstance(t, nil)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, dead, addr)
	body := strings.Repeat("d", 50000)
	for i := range 4 { // round-robin: the dead instance comes first at least once
		c := dial(t, gw)
		c.send("POST /d HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 50000\r\n\r\n")
		c.send(body)
		if resp, got := c.answer(); resp.StatusCode != http.StatusOK || got != "50000" {
			t.Fatalf("request %d: %s %q", i, resp.Status, got)
		}
		if got := <-seen; !strings.HasSuffix(got, "POST /d "+bodySum([]byte(body))) {
			t.Errorf("request %d: the instance saw %s", i, got)
		}
		c.conn.Close()
	}
}

// TestWholeBodyResentAfterReusedConnectionCloses: a body that came whole with its head stays in
// the buffer, so an idempotent request whose reused connection closed before any answer byte is
// sent again on a new connection, body and all; a POST is not (502).
func TestWholeBodyResentAfterReusedConnectionCloses(t *testing.T) {
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			var conns atomic.Int32
			seen := make(chan string, 8)
			addr := rawInstance(t, func(c net.Conn) {
				id := conns.Add(1)
				serveRequests(c, func(_ *bufio.Reader, req *http.Request, body []byte) bool {
					seen <- fmt.Sprintf("conn %d: %s %s %q", id, req.Method, req.URL.Path, body)
					if req.URL.Path == "/second" && id == 1 {
						return false // close the reused connection without an answer
					}
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
					return true
				})
			})
			_, _, gw := startServer(t, Options{}, ServerOptions{}, addr)
			c := dial(t, gw)
			c.send(method + " /first HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\n\r\none")
			if resp, body := c.answer(); resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("first: %s %q", resp.Status, body)
			}
			<-seen
			c.send(method + " /second HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\n\r\ntwo")
			resp, body := c.answer()
			if got := <-seen; got != "conn 1: "+method+` /second "two"` {
				t.Fatalf("the instance saw %s first", got)
			}
			if method == http.MethodPost {
				if resp.StatusCode != http.StatusBadGateway {
					t.Errorf("POST on a reused connection that closed: %s %q, want 502 (not idempotent: never sent again)", resp.Status, body)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("PUT sent again: %s %q", resp.Status, body)
			}
			if got := <-seen; got != `conn 2: PUT /second "two"` {
				t.Errorf("sent again as %s, want it whole on a new connection", got)
			}
		})
	}
}

// TestClientAbortMidBodyClosesInstanceConnection: a client that goes away in the middle of its
// body leaves no instance connection behind holding half a request: the instance sees its
// connection closed, and the next client's request goes on a new one.
func TestClientAbortMidBodyClosesInstanceConnection(t *testing.T) {
	events := make(chan string, 8)
	var conns atomic.Int32
	addr := rawInstance(t, func(c net.Conn) {
		id := conns.Add(1)
		serveRequests(c, func(_ *bufio.Reader, req *http.Request, body []byte) bool {
			events <- fmt.Sprintf("conn %d: %s %s %d", id, req.Method, req.URL.Path, len(body))
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
			return true
		})
		events <- fmt.Sprintf("conn %d: closed", id)
	})
	_, _, gw := startServer(t, Options{}, ServerOptions{}, addr)
	c := dial(t, gw)
	c.send("POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("u", 3000))
	c.conn.Close()
	select {
	case ev := <-events:
		if ev != "conn 1: closed" {
			t.Fatalf("the instance saw %s, want its connection closed", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the instance connection that carried half a body is still open 10s after the client left")
	}
	next := dial(t, gw)
	if body := next.get("/next"); body != "ok" {
		t.Fatalf("next: %q", body)
	}
	if ev := <-events; ev != "conn 2: GET /next 0" {
		t.Errorf("the next request: %s, want it on a new connection", ev)
	}
}

// TestMalformedChunkInBufferNeverReachesInstance: a chunked body that breaks its framing in the
// bytes that came with the head is refused (400, closed) before any instance sees the request.
func TestMalformedChunkInBufferNeverReachesInstance(t *testing.T) {
	addr, seen := bodyInstance(t, nil)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, addr)
	c := dial(t, gw)
	c.send("POST /x HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n")
	if resp, _ := c.answer(); resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Errorf("got %s (Connection: close %v), want 400 and the connection closed", resp.Status, resp.Close)
	}
	c.closedByServer()
	select {
	case got := <-seen:
		t.Errorf("the instance got %s", got)
	default:
	}
}

// TestBodyBehindLargeHeadGoesToNetHTTP: a body that did not come whole behind a head that leaves
// less than minBodyWindow of the buffer goes to net/http with the bytes read, and arrives whole.
func TestBodyBehindLargeHeadGoesToNetHTTP(t *testing.T) {
	addr, seen := bodyInstance(t, nil)
	s, _, gw := startServer(t, Options{}, ServerOptions{}, addr)
	c := dial(t, gw)
	pad := strings.Repeat("p", frontBufSize-minBodyWindow)
	body := strings.Repeat("b", 20000)
	c.send("POST /big-head HTTP/1.1\r\nHost: shop.example\r\nX-Pad: " + pad + "\r\nContent-Length: 20000\r\n\r\n" + body[:100])
	c.send(body[100:])
	if resp, got := c.answer(); resp.StatusCode != http.StatusOK || got != "20000" {
		t.Fatalf("%s %q", resp.Status, got)
	}
	if got := <-seen; got != "conn 1: POST /big-head "+bodySum([]byte(body)) {
		t.Errorf("the instance saw %s", got)
	}
	if s.frontConn(c) != nil {
		t.Errorf("the front end kept a body it has no room to stream")
	}
}
