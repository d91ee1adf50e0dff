package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// The front end (server.go, conn.go, front.go) must behave as net/http with ReverseProxy does:
// most tests here run the same exchange through both and compare what the instance and the
// client see.

var paths = []struct {
	name        string
	netHTTPOnly bool
}{{"direct", false}, {"reverseproxy", true}}

// gatewayFor starts a proxy's Server in front of the instances at addrs (one route,
// round-robin) on a port of its own and returns its URL and the proxy. netHTTPOnly hands every
// connection to net/http.
func gatewayFor(t testing.TB, netHTTPOnly bool, opts Options, addrs ...string) (string, *Proxy) {
	t.Helper()
	_, p, addr := startServer(t, opts, ServerOptions{NetHTTPOnly: netHTTPOnly}, addrs...)
	return "http://" + addr, p
}

// startServer starts a Server with sopts for a proxy with opts in front of the instances at
// addrs (one route, round-robin) on 127.0.0.1 and returns it, its proxy and its address. The
// cleanup closes it, unless its mutex stays locked (a deadlock, reported rather than waited on).
func startServer(t testing.TB, opts Options, sopts ServerOptions, addrs ...string) (*Server, *Proxy, string) {
	t.Helper()
	return startServerIO(t, ioArrivalOrder, opts, sopts, addrs...)
}

// startServerIO is startServer with the front end reading its sockets the way mode says.
func startServerIO(t testing.TB, mode ioMode, opts Options, sopts ServerOptions, addrs ...string) (*Server, *Proxy, string) {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	p := New(opts)
	p.setIOMode(mode)
	pool := routing.NewPool()
	var backends []*routing.Backend
	for _, a := range addrs {
		backends = append(backends, pool.Get(a))
	}
	table, err := routing.New(routing.Spec{Routes: []routing.Route{{Name: "r", Weight: 100, Backends: backends}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &Routing{Name: "test"}
	f.Table.Store(table)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := p.NewServer(f, sopts)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v, want http.ErrServerClosed after Close", err)
		}
	}()
	t.Cleanup(func() {
		if !lockWithin(&srv.mu, 2*time.Second) {
			t.Error("the Server's mutex stays locked (a deadlock): the server is left as it is")
			return
		}
		srv.mu.Unlock()
		srv.Close()
		<-served
		p.Close()
	})
	return srv, p, ln.Addr().String()
}

// rawInstance accepts connections on 127.0.0.1 and hands each to serve.
func rawInstance(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		// Connections the gateway still holds (one it pooled as it was shutting down) end here.
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); serve(c) }()
		}
	}()
	return ln.Addr().String()
}

// TestDirectPathSendsWhatReverseProxySends compares the request heads an instance receives.
func TestDirectPathSendsWhatReverseProxySends(t *testing.T) {
	heads := make(chan *http.Request, 1)
	addr := rawInstance(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			heads <- r
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
		}
	})
	seen := map[string]*http.Request{}
	for _, path := range paths {
		url, _ := gatewayFor(t, path.netHTTPOnly, Options{}, addr)
		req, _ := http.NewRequest(http.MethodGet, url+"/a/b%2Fc?q=1&r=%20", nil)
		req.Host = "shop.example:8080"
		req.Header["Connection"] = []string{"keep-alive, X-Private"}
		req.Header.Set("X-Private", "hop-by-hop: named by Connection")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
		req.Header.Set("Te", "trailers, deflate")
		req.Header.Set("Forwarded", "for=6.6.6.6")
		req.Header.Set("X-Forwarded-For", "6.6.6.6")
		req.Header.Set("X-Forwarded-Host", "spoofed.example")
		req.Header.Set("User-Agent", "Firefox/120")
		req.Header["Accept"] = []string{"text/html", "application/json"}
		req.Header.Set("X-Large", strings.Repeat("v", 64<<10))
		status, _, err := get(http.DefaultClient, req)
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s: %d %v", path.name, status, err)
		}
		seen[path.name] = <-heads
	}
	d, rp := seen["direct"], seen["reverseproxy"]
	if d.RequestURI != rp.RequestURI || d.Host != rp.Host || d.Method != rp.Method {
		t.Errorf("request line and Host differ: direct %s %s %s, ReverseProxy %s %s %s", d.Method, d.RequestURI, d.Host, rp.Method, rp.RequestURI, rp.Host)
	}
	for _, k := range headerKeys(d.Header, rp.Header) {
		if !reflect.DeepEqual(d.Header[k], rp.Header[k]) {
			t.Errorf("header %s differs: direct %q, ReverseProxy %q", k, short(strings.Join(d.Header[k], ", ")), short(strings.Join(rp.Header[k], ", ")))
		}
	}
	want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "shop.example:8080", "X-Forwarded-Proto": "http", "Te": "trailers"}
	for k, v := range want {
		if got := d.Header.Get(k); got != v {
			t.Errorf("direct path: %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"X-Private", "Keep-Alive", "Proxy-Authorization", "Forwarded"} {
		if v, ok := d.Header[k]; ok {
			t.Errorf("direct path forwarded the hop-by-hop or client-forwarding header %s: %q", k, v)
		}
	}
	if d.RequestURI != "/a/b%2Fc?q=1&r=%20" || d.Host != "shop.example:8080" {
		t.Errorf("direct path sent %s with Host %s", d.RequestURI, d.Host)
	}
}

// headerKeys lists the keys of both headers.
func headerKeys(a, b http.Header) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// short keeps failure messages readable when a value is large.
func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s... (%d bytes)", s[:80], len(s))
	}
	return s
}

func get(c *http.Client, req *http.Request) (int, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestDirectPathAnswersWhatReverseProxyAnswers compares what clients receive: headers without
// hop-by-hop ones, chunked bodies with trailers, HEAD, 204 and 304, and answers delimited by
// the instance closing the connection.
func TestDirectPathAnswersWhatReverseProxyAnswers(t *testing.T) {
	answers := map[string]string{
		"/chunked": "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n" +
			"Trailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n",
		"/head":          "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n",
		"/nocontent":     "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
		"/notmodified":   "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n",
		"/untilclose":    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends when the connection does",
		"/large-headers": "HTTP/1.1 200 OK\r\nX-Large: " + strings.Repeat("h", 256<<10) + "\r\nContent-Length: 2\r\n\r\nok",
	}
	addr := rawInstance(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, answers[r.URL.Path]) // a gateway that went away reads no answer: the test's client sees it
			if r.URL.Path == "/untilclose" {
				return
			}
		}
	})
	type seen struct {
		status  int
		header  http.Header
		body    string
		trailer http.Header
	}
	results := map[string]map[string]seen{}
	for _, path := range paths {
		url, _ := gatewayFor(t, path.netHTTPOnly, Options{}, addr)
		results[path.name] = map[string]seen{}
		for _, p := range []string{"/chunked", "/head", "/nocontent", "/notmodified", "/untilclose", "/large-headers"} {
			method := http.MethodGet
			if p == "/head" {
				method = http.MethodHead
			}
			req, _ := http.NewRequest(method, url+p, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", path.name, p, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("%s %s: body: %v", path.name, p, err)
			}
			resp.Header.Del("Date")
			results[path.name][p] = seen{resp.StatusCode, resp.Header, string(body), resp.Trailer}
		}
	}
	for p, d := range results["direct"] {
		rp := results["reverseproxy"][p]
		if d.status != rp.status || d.body != rp.body || !reflect.DeepEqual(d.trailer, rp.trailer) {
			t.Errorf("%s differs: direct %d %q trailer %v, ReverseProxy %d %q trailer %v", p, d.status, short(d.body), d.trailer, rp.status, short(rp.body), rp.trailer)
		}
		for _, k := range headerKeys(d.header, rp.header) {
			if !reflect.DeepEqual(d.header[k], rp.header[k]) {
				t.Errorf("%s: header %s differs: direct %q, ReverseProxy %q", p, k, short(strings.Join(d.header[k], ", ")), short(strings.Join(rp.header[k], ", ")))
			}
		}
	}
	c := results["direct"]["/chunked"]
	if c.body != "hello world" || c.trailer.Get("X-Checksum") != "abc" || c.header.Get("X-Hop") != "" ||
		c.header.Get("Keep-Alive") != "" || len(c.header["Set-Cookie"]) != 2 {
		t.Errorf("chunked answer through the direct path: %+v", c)
	}
	if u := results["direct"]["/untilclose"]; u.body != "the body ends when the connection does" {
		t.Errorf("answer delimited by the connection's end: %+v", u)
	}
	if h := results["direct"]["/head"]; h.header.Get("Content-Length") != "1234" || h.body != "" {
		t.Errorf("HEAD: %+v", h)
	}
}

// TestDirectPathReusesInstanceConnections: keep-alive to instances, and an answer that ends
// with the connection is not mistaken for a reusable one.
func TestDirectPathReusesInstanceConnections(t *testing.T) {
	var conns atomic.Int32
	inst := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, "ok") // a gateway that went away reads no answer: the test's client sees it
	}))
	inst.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	inst.Start()
	t.Cleanup(inst.Close)
	url, _ := gatewayFor(t, false, Options{}, inst.Listener.Addr().String())
	for i := range 20 {
		req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
		if status, body, err := get(http.DefaultClient, req); err != nil || status != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q %v", i, status, body, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 sequential requests opened %d connections to the instance, want 1", n)
	}
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodGet, url+"/close", nil)
		if status, _, err := get(http.DefaultClient, req); err != nil || status != 200 {
			t.Fatalf("request %d with Connection: close: %d %v", i, status, err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("after three answers with Connection: close the instance saw %d connections, want 3 (1 reused, then 2 new)", n)
	}
}

// TestDirectPathResendsWhenInstanceDroppedIdleConnection: an instance that closes each
// connection after one answer (without saying so) costs no failed request and no ejection.
func TestDirectPathResendsWhenInstanceDroppedIdleConnection(t *testing.T) {
	addr := rawInstance(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
		// and close: the gateway holds a connection that is already dead
	})
	url, p := gatewayFor(t, false, Options{EjectAfter: 1}, addr)
	for i := range 10 {
		req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
		if status, body, err := get(http.DefaultClient, req); err != nil || status != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q %v", i, status, body, err)
		}
	}
	p.failures.Range(func(k, n any) bool {
		addr := fmt.Sprint(k)
		if b, ok := k.(*routing.Backend); ok {
			addr = b.Addr
		}
		t.Errorf("a dropped idle connection was counted as a failure of %s", addr)
		return true
	})
}

// TestDirectPathAbortsInstanceWhenClientLeaves: the instance's request ends (its connection is
// closed) when the client gives up, while the instance has not answered yet (a long poll) and
// while it streams a body with pauses, on both paths.
func TestDirectPathAbortsInstanceWhenClientLeaves(t *testing.T) {
	for _, path := range paths {
		for _, stream := range []bool{false, true} {
			name := path.name + "/long poll"
			if stream {
				name = path.name + "/quiet stream"
			}
			t.Run(name, func(t *testing.T) {
				arrived, ended := make(chan struct{}), make(chan struct{})
				inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if stream {
						// A gateway that went away: the test's client sees it.
						_, _ = io.WriteString(w, "first\n")
						_ = http.NewResponseController(w).Flush()
					}
					close(arrived)
					<-r.Context().Done() // nothing more until the gateway lets go
					close(ended)
				}))
				t.Cleanup(inst.Close)
				url, _ := gatewayFor(t, path.netHTTPOnly, Options{}, inst.Listener.Addr().String())
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/wait", nil)
				if stream {
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "first\n" {
						t.Fatalf("want the stream's first part, got %q %v", line, err)
					}
					cancel()
					resp.Body.Close()
				} else {
					go func() { <-arrived; cancel() }()
					if _, err := http.DefaultClient.Do(req); err == nil {
						t.Fatal("want the client's request cancelled")
					}
				}
				<-ended // blocks until the test times out if the gateway kept the instance waiting
			})
		}
	}
}

// TestDirectPathTimesOutSilentInstance: no answer head within ResponseHeaderTimeout is a 504.
func TestDirectPathTimesOutSilentInstance(t *testing.T) {
	release := make(chan struct{})
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); inst.Close() })
	url, _ := gatewayFor(t, false, Options{ResponseHeaderTimeout: 20e6}, inst.Listener.Addr().String())
	req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
	status, body, err := get(http.DefaultClient, req)
	if err != nil || status != http.StatusGatewayTimeout || !strings.Contains(body, "did not answer") {
		t.Errorf("want 504 naming the instance that did not answer, got %d %q %v", status, body, err)
	}
}

// TestDirectPathPassesEarlyHints: 1xx answers reach the client before the final one.
func TestDirectPathPassesEarlyHints(t *testing.T) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = io.WriteString(w, "page") // a gateway that went away reads no answer: the test's client sees it
	}))
	t.Cleanup(inst.Close)
	for _, path := range paths {
		url, _ := gatewayFor(t, path.netHTTPOnly, Options{}, inst.Listener.Addr().String())
		var hints []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, url+"/", nil)
		status, body, err := get(http.DefaultClient, req)
		if err != nil || status != 200 || body != "page" || len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
			t.Errorf("%s: want 103 with its Link then 200 page, got hints %q then %d %q %v", path.name, hints, status, body, err)
		}
	}
}

// TestDirectPathStreamsLargeBodyToSlowClient: 8 MiB through a client that reads in small bites
// arrives whole, and the connection is reused after.
func TestDirectPathStreamsLargeBodyToSlowClient(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 512<<10)
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(payload) // a gateway that went away reads no answer: the test's client sees it
	}))
	t.Cleanup(inst.Close)
	url, _ := gatewayFor(t, false, Options{}, inst.Listener.Addr().String())
	for range 2 {
		resp, err := http.Get(url + "/big")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		buf := make([]byte, 512)
		for {
			n, err := resp.Body.Read(buf)
			h.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		resp.Body.Close()
		if want := sha256.Sum256(payload); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("the body arrived changed")
		}
	}
}

// BenchmarkForward compares the two paths on one keep-alive GET: client → proxy → instance, all
// on loopback in this process (the client and the instance are counted too).
func BenchmarkForward(b *testing.B) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello from the instance\n") // a gateway that went away reads no answer: the test's client sees it
	}))
	b.Cleanup(inst.Close)
	for _, path := range paths {
		b.Run(path.name, func(b *testing.B) {
			url, _ := gatewayFor(b, path.netHTTPOnly, Options{}, inst.Listener.Addr().String())
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
			b.Cleanup(client.CloseIdleConnections)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
				for pb.Next() {
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil {
						b.Error(err)
					}
					resp.Body.Close()
				}
			})
		})
	}
}
