package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// instanceAt serves 200 "back" on addr (an address a refusing instance had: it comes back).
func instanceAt(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the instance cannot come back on %s: %v", addr, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serveRequests(c, func(*bufio.Reader, *http.Request, []byte) bool {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nback") // the gateway's client sees a failed write
				return true
			})
		}
	}()
}

// TestEjectionSparesTheLastInstance: two instances that both refuse connections (EjectAfter 1):
// the first to fail is ejected, the second is not, because it is the last available one. Every
// request keeps being tried on it and answered 502 (never the routing's 503), each failure a
// withheld ejection; when it comes back it serves the very next request, with no ejection to
// wait out. On both paths.
func TestEjectionSparesTheLastInstance(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			a, b := closedPort(t), closedPort(t)
			srv, p, addr := startServer(t, Options{EjectAfter: 1, EjectFor: time.Hour}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, a, b)
			bs := srv.f.Table.Load().Routes()[0].Backends
			c := dial(t, addr)
			c.send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
			if resp, body := c.answer(); resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("both instances refusing: %s %q, want 502", resp.Status, body)
			}
			now := time.Now()
			var last *routing.Backend
			for _, be := range bs {
				if be.Available(now) {
					last = be
				}
			}
			if last == nil || bs[0].Available(now) == bs[1].Available(now) {
				t.Fatalf("after one request that failed on both: available %v and %v, want exactly one ejected", bs[0].Available(now), bs[1].Available(now))
			}
			ej := p.opts.Ejections
			if ej.Ejected() != 1 || ej.Withheld() != 1 {
				t.Fatalf("ejections %d, withheld %d; want 1 and 1", ej.Ejected(), ej.Withheld())
			}
			for i := range 3 {
				c.send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
				if resp, body := c.answer(); resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("request %d with the last instance refusing: %s %q, want 502 (tried on it, not the routing's 503)", i+2, resp.Status, body)
				}
			}
			if !last.Available(time.Now()) || ej.Ejected() != 1 || ej.Withheld() != 4 {
				t.Fatalf("after 3 more refused requests: last available %v, ejections %d, withheld %d; want available, 1, 4", last.Available(time.Now()), ej.Ejected(), ej.Withheld())
			}
			instanceAt(t, last.Addr)
			c.send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
			if resp, body := c.answer(); resp.StatusCode != http.StatusOK || body != "back" {
				t.Fatalf("the last instance is back: %s %q, want 200 \"back\" at once", resp.Status, body)
			}
		})
	}
}

// TestEjectionOfADeadInstanceBesideALiveOne: one live and one refusing instance (EjectAfter 1):
// the refusing one is ejected as before the bound, every request is answered by the live one
// (the failed one retried there), and after the ejection the dead one gets no request.
func TestEjectionOfADeadInstanceBesideALiveOne(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			var served atomic.Int32
			dead := closedPort(t)
			srv, p, addr := startServer(t, Options{EjectAfter: 1, EjectFor: time.Hour}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, dead, httptestInstance(t, &served))
			bs := srv.f.Table.Load().Routes()[0].Backends
			c := dial(t, addr)
			// Round-robin over two instances: the dead one is tried within two requests.
			for range 2 {
				c.get("/")
			}
			if bs[0].Available(time.Now()) || !bs[1].Available(time.Now()) {
				t.Fatalf("dead available %v, live available %v; want the dead one ejected, the live one not", bs[0].Available(time.Now()), bs[1].Available(time.Now()))
			}
			ej := p.opts.Ejections
			if ej.Ejected() != 1 || ej.Withheld() != 0 {
				t.Fatalf("ejections %d, withheld %d; want 1 and 0", ej.Ejected(), ej.Withheld())
			}
			for range 4 {
				c.get("/")
			}
			if n := served.Load(); n != 6 {
				t.Fatalf("the live instance served %d requests, want all 6", n)
			}
		})
	}
}

// TestEjectionConcurrentFailuresLeaveAnInstance: two refusing instances, many clients at once
// (EjectAfter 1): however their failures interleave, exactly one instance is ejected and every
// request is answered 502 (tried on an instance), never the routing's 503 of a gateway with
// none left. Repeated; run it with -race.
func TestEjectionConcurrentFailuresLeaveAnInstance(t *testing.T) {
	const rounds, clients = 10, 16
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			for round := range rounds {
				srv, p, addr := startServer(t, Options{EjectAfter: 1, EjectFor: time.Hour}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, closedPort(t), closedPort(t))
				bs := srv.f.Table.Load().Routes()[0].Backends
				start := make(chan struct{})
				var wg sync.WaitGroup
				results := make(chan string, clients)
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						results <- oneRequest(addr, start)
					}()
				}
				close(start)
				wg.Wait()
				close(results)
				for r := range results {
					if r != "502" {
						t.Fatalf("round %d: a client got %s, want 502", round, r)
					}
				}
				now := time.Now()
				out := 0
				for _, be := range bs {
					if !be.Available(now) {
						out++
					}
				}
				// Every request failed on the instance that stayed (first, or on the retry after
				// the other): each of those failures was a withheld ejection.
				if ej := p.opts.Ejections; out != 1 || ej.Ejected() != 1 || ej.Withheld() < clients {
					t.Fatalf("round %d: %d instances out, %d ejections, %d withheld; want 1, 1, at least %d", round, out, ej.Ejected(), ej.Withheld(), clients)
				}
			}
		})
	}
}

// oneRequest sends one GET to addr on a new connection once start is closed and returns the
// answer's status code, or what went wrong.
func oneRequest(addr string, start <-chan struct{}) string {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err.Error()
	}
	<-start
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n"); err != nil {
		return err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	return fmt.Sprint(resp.StatusCode)
}
