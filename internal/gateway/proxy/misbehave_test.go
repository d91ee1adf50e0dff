package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Instances that misbehave the way real applications do must never make a client get another
// request's answer (issue 13): bytes after a complete answer answer no request.

// strayInstance answers GET and HEAD of any path with the path as the body, except /trigger,
// which it answers with answer and then, in a later segment once told to (stray channel), or in
// the same write (sameSegment), with stray. After that it reports what the gateway did with the
// connection: "closed" (right) or "reused" (a request came on it).
type strayInstance struct {
	addr        string
	answer      string
	strayBytes  string
	sameSegment bool
	stray       chan struct{}
	wrote       chan struct{} // the stray bytes were written
	events      chan string
}

func startStrayInstance(t *testing.T, answer, stray string, sameSegment bool) *strayInstance {
	inst := &strayInstance{answer: answer, strayBytes: stray, sameSegment: sameSegment,
		stray: make(chan struct{}), wrote: make(chan struct{}, 16), events: make(chan string, 16)}
	done := make(chan struct{})
	inst.addr = rawInstance(t, func(c net.Conn) {
		serveRequests(c, func(br *bufio.Reader, req *http.Request, _ []byte) bool {
			if req.URL.Path != "/trigger" {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
				return true
			}
			if inst.sameSegment {
				_, _ = io.WriteString(c, inst.answer+inst.strayBytes) // a gateway that went away reads no answer: the test's client sees it
			} else {
				_, _ = io.WriteString(c, inst.answer) // a gateway that went away reads no answer: the test's client sees it
				select {
				case <-inst.stray:
				case <-done:
					return false
				}
				_, _ = io.WriteString(c, inst.strayBytes) // a closed connection: what the test waits for (events)
				select {
				case inst.wrote <- struct{}{}: // for a test that waits for it
				default:
				}
			}
			// The gateway's next move on this connection: it closes it, or sends a request.
			if _, err := br.Peek(1); err != nil {
				inst.events <- "closed"
				return false
			}
			inst.events <- "reused"
			return true
		})
	})
	t.Cleanup(func() { close(done) }) // before rawInstance's cleanup waits for its handlers
	return inst
}

const poisoned = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nPOISONED"

var strayCases = []struct {
	name, method, answer string
	sameSegment          bool
}{
	// The reproduction of issue 13: HEAD answered with a Content-Length, then another answer.
	{"HEAD then stray answer", http.MethodHead, "HTTP/1.1 200 OK\r\nContent-Length: 49\r\n\r\n", false},
	{"204 with a body", http.MethodGet, "HTTP/1.1 204 No Content\r\n\r\n", false},
	{"304 with a body", http.MethodGet, "HTTP/1.1 304 Not Modified\r\n\r\n", false},
	{"more bytes than Content-Length", http.MethodGet, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	{"HEAD then stray answer, same segment", http.MethodHead, "HTTP/1.1 200 OK\r\nContent-Length: 49\r\n\r\n", true},
	{"more bytes than Content-Length, same segment", http.MethodGet, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
}

// TestStrayBytesNeverAnswerAnotherRequest: the reproduction of issue 13 and its variants, 1,000
// rounds each on every path: the front end, net/http (--net-http-only), and in the default mode a
// POST with a body (which the front end streams) as the trigger, with two of the four clients
// sending POSTs too; and the same POSTs through net/http (--net-http-only).
// After the trigger's answer the instance sends a whole answer nobody asked for; then four
// clients, each on a new connection, ask for their own paths. Each must get its own path back,
// and the instance's connection that carried the stray bytes must be closed, never reused.
func TestStrayBytesNeverAnswerAnotherRequest(t *testing.T) {
	rounds := 1000
	if raceDetector {
		rounds = 50 // the 1,000 rounds run in the plain pass (race_on_test.go)
	}
	type strayPath struct {
		name        string
		netHTTPOnly bool
		post        bool // the trigger and half of the clients send a POST with a body
	}
	strayPaths := []strayPath{{name: "POST", post: true}, {name: "reverseproxy POST", netHTTPOnly: true, post: true}}
	for _, path := range paths {
		strayPaths = append(strayPaths, strayPath{name: path.name, netHTTPOnly: path.netHTTPOnly})
	}
	for _, path := range strayPaths {
		for _, tc := range strayCases {
			if path.post && tc.method == http.MethodHead {
				continue // a POST's answer has a body: the HEAD cases have no POST form
			}
			t.Run(path.name+"/"+tc.name, func(t *testing.T) {
				inst := startStrayInstance(t, tc.answer, poisoned, tc.sameSegment)
				_, _, gw := startServer(t, Options{}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, inst.addr)
				method, triggerRaw := tc.method, tc.method+" /trigger HTTP/1.1\r\nHost: shop.example\r\n\r\n"
				if path.post {
					method, triggerRaw = http.MethodPost, "POST /trigger HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n\r\nbody"
				}
				wrong := 0
				for round := range rounds {
					trigger := dial(t, gw)
					trigger.send(triggerRaw)
					trigger.readsWithin10s()
					resp, err := http.ReadResponse(trigger.br, &http.Request{Method: method})
					if err != nil {
						t.Fatalf("round %d: the trigger's answer: %v", round, err)
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil {
						t.Fatalf("round %d: the trigger's answer's body: %v", round, err)
					}
					trigger.conn.Close()
					if !tc.sameSegment {
						inst.stray <- struct{}{}
					}
					select {
					case ev := <-inst.events:
						if ev != "closed" {
							t.Fatalf("round %d: the gateway sent a request on the connection that carried stray bytes", round)
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("round %d: the gateway kept the connection that carried stray bytes for 10s", round)
					}
					var wg sync.WaitGroup
					var mu sync.Mutex
					var failures []string
					for user := range 4 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							method := http.MethodGet
							if path.post && user%2 == 1 {
								method = http.MethodPost
							}
							want := fmt.Sprintf("/private/user%d-%d", user, round)
							got, err := askRaw(gw, method, want)
							if err != nil || got != want {
								mu.Lock()
								failures = append(failures, fmt.Sprintf("%s %s: got %q (%v)", method, want, got, err))
								mu.Unlock()
							}
						}()
					}
					wg.Wait()
					wrong += len(failures)
					if len(failures) > 0 {
						t.Fatalf("round %d: %d of 4 clients got another answer than their own: %s", round, len(failures), strings.Join(failures, "; "))
					}
				}
				t.Logf("%d rounds, %d wrong answers", rounds, wrong)
			})
		}
	}
}

// getRaw asks for path on a new connection and returns the body of the answer.
func getRaw(addr, path string) (string, error) { return askRaw(addr, http.MethodGet, path) }

// askRaw sends a request for path on a new connection (a POST with a small body) and returns the
// body of the answer.
func askRaw(addr, method, path string) (string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return "", err
	}
	req := method + " " + path + " HTTP/1.1\r\nHost: shop.example\r\n\r\n"
	if method == http.MethodPost {
		req = method + " " + path + " HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n\r\nbody"
	}
	if _, err := io.WriteString(conn, req); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("status %s", resp.Status)
	}
	return string(body), err
}

// TestUnrequestedSwitchIsSentOnce: an instance that answers a GET on a reused connection with a
// 101 nobody asked for gets a 502 for it, and the GET once: an answer came, so the instance may
// have processed the request, and it is not sent again.
func TestUnrequestedSwitchIsSentOnce(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			var switched atomic.Int32
			addr := rawInstance(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.URL.Path == "/switch" {
						switched.Add(1)
						_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n") // a gateway that went away reads no answer: the test's client sees it
						continue
					}
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
				}
			})
			_, _, gw := startServer(t, Options{}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, addr)
			c := dial(t, gw)
			if body := c.get("/warm"); body != "ok" { // the next request goes on a reused connection
				t.Fatalf("warm-up: %q", body)
			}
			c.send("GET /switch HTTP/1.1\r\nHost: shop.example\r\n\r\n")
			resp, _ := c.answer()
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("unrequested 101: the client got %s, want 502", resp.Status)
			}
			if n := switched.Load(); n != 1 {
				t.Errorf("the instance got the GET %d times, want once", n)
			}
		})
	}
}

// TestAmbiguousFramingIsRefusedAndClosed: every variant of a head with Content-Length and
// Transfer-Encoding (and the other framings RFC 9112 section 6 refuses) gets 400 and a closed
// connection on every path: the front end, net/http after a hand-off, a head over the front
// end's 16 KiB, a later request of a handed-off connection; and the instance sees none of them.
func TestAmbiguousFramingIsRefusedAndClosed(t *testing.T) {
	const cl, te = "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n"
	const body = "0\r\n\r\n"
	pad := "X-Pad: " + strings.Repeat("a", 17<<10) + "\r\n"
	cases := []struct{ name, raw string }{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\n" + cl + te + "\r\n" + body},
		{"TE and CL, GET", "GET / HTTP/1.1\r\nHost: a\r\n" + te + "Content-Length: 0\r\n\r\n" + body},
		{"obs-fold TE", "POST / HTTP/1.1\r\nHost: a\r\n" + cl + "Transfer-Encoding:\r\n chunked\r\n\r\n" + body},
		{"bare LF before TE", "POST / HTTP/1.1\r\nHost: a\nX-A: b\n" + cl + te + "\r\n" + body},
		{"bare LF lines only", "POST / HTTP/1.1\nHost: a\n" + cl + "Transfer-Encoding: chunked\n\n" + body},
		{"head over 16 KiB", "POST / HTTP/1.1\r\nHost: a\r\n" + pad + cl + te + "\r\n" + body},
		{"HTTP/1.0 keep-alive", "POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n" + cl + te + "\r\n" + body},
		{"HTTP/1.0 TE alone", "POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n" + te + "\r\n" + body},
		{"conflicting Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"},
		{"bare CR", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"},
		{"space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n" + cl + "\r\n" + body},
		{"TE not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"}, // 501
		{"chunk size too large", "POST / HTTP/1.1\r\nHost: a\r\n" + te + "\r\n1000000000000000\r\n"},
	}
	for _, path := range paths {
		for _, tc := range cases {
			for _, later := range []bool{false, true} {
				name := path.name + "/" + tc.name
				if later {
					name += "/after a handed-off request"
				}
				t.Run(name, func(t *testing.T) {
					var requests atomic.Int32
					inst := httptestInstance(t, &requests)
					_, _, gw := startServer(t, Options{}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, inst)
					c := dial(t, gw)
					want := int32(0)
					if later {
						// A request with a body: handed to net/http (on the direct path), which
						// then serves the connection.
						c.send("POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
						if resp, body := c.answer(); resp.StatusCode != http.StatusOK {
							t.Fatalf("the first request: %s %q", resp.Status, body)
						}
						want = 1
					}
					c.send(tc.raw)
					resp, body := c.answer()
					wantStatus := http.StatusBadRequest
					if strings.Contains(tc.raw, "gzip") {
						wantStatus = http.StatusNotImplemented // a coding the gateway does not implement
					}
					if resp.StatusCode != wantStatus {
						t.Errorf("%q: %s %q, want %d", short(tc.raw), resp.Status, body, wantStatus)
					}
					c.closedByServer()
					if n := requests.Load(); n != want {
						t.Errorf("the instance got %d requests, want %d", n, want)
					}
				})
			}
		}
	}
}

// httptestInstance answers every request with 200 and counts them (a request cut short is not
// one).
func httptestInstance(t *testing.T, requests *atomic.Int32) string {
	return rawInstance(t, func(c net.Conn) {
		serveRequests(c, func(*bufio.Reader, *http.Request, []byte) bool {
			requests.Add(1)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
			return true
		})
	})
}

// serveRequests reads the requests of an instance's connection c, each with its whole body, and
// gives each to handle (with c's reader), until the connection ends, a body is cut short, or
// handle returns false.
func serveRequests(c net.Conn, handle func(br *bufio.Reader, req *http.Request, body []byte) bool) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil || !handle(br, req, body) {
			return
		}
	}
}
