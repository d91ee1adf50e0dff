package proxy

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
)

// TestConnLimitLeavesExtraClientsInTheBacklog: with --max-conns 4, four clients are served, the
// fifth waits unaccepted (the listener accepts nothing while four are open) and is served as soon
// as one of the four closes; on both paths (a connection net/http serves holds its slot too).
func TestConnLimitLeavesExtraClientsInTheBacklog(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			lim := connlimit.New(4)
			srv, _, addr := startServer(t, Options{Conns: lim}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, echoInstance(t))
			var first []*client
			for range 4 {
				c := dial(t, addr)
				c.get("/") // served: accepted and holding a slot
				first = append(first, c)
			}
			if got := lim.Open(); got != 4 {
				t.Fatalf("%d connections hold a slot, want 4", got)
			}
			// The fourth took the last slot before it was served, so the listener's next step is
			// to wait for a free one: it stops accepting.
			waitFor(t, "the listener to wait at the limit", func() bool { return lim.Hits() == 1 })
			fifth := dial(t, addr) // the kernel completes the handshake: it waits in the backlog
			fifth.send("GET /fifth HTTP/1.1\r\nHost: shop.example\r\n\r\n")
			if got, served := lim.Open(), srv.frontConns(); got != 4 || !path.netHTTPOnly && served != 4 {
				t.Fatalf("with the fifth client waiting: %d slots held and %d front-end connections, want 4 and 4", got, served)
			}
			first[0].conn.Close()
			resp, body := fifth.answer() // served once the first's slot is free
			if resp.StatusCode != http.StatusOK || body != "GET /fifth " {
				t.Fatalf("the fifth client got %s %q, want 200 from the instance", resp.Status, body)
			}
			if got := lim.Open(); got != 4 {
				t.Errorf("%d slots held after one client left and the fifth came, want 4", got)
			}
			for _, c := range first[1:] {
				c.get("/again") // the others keep their connections
			}
		})
	}
}

// frontConns is how many connections the front end serves now.
func (s *Server) frontConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// TestRefusedDialsStillEject: an instance that refuses connections is the instance's failure:
// counted, and ejected after EjectAfter of them (contrast: the gateway's own EMFILE, in
// TestOutOfDescriptorsIsNotTheInstancesFailure).
func TestRefusedDialsStillEject(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			refusing := closedPort(t)
			lim := connlimit.New(100)
			srv, _, addr := startServer(t, Options{EjectAfter: 2, EjectFor: time.Hour, Conns: lim}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, refusing)
			b := srv.f.Table.Load().Routes()[0].Backends[0]
			c := dial(t, addr)
			for i := range 2 {
				if !b.Available(time.Now()) {
					t.Fatalf("the instance was ejected after %d refused dials, want after 2", i)
				}
				c.send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
				if resp, body := c.answer(); resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("dial %d to a refusing instance: %s %q, want 502", i+1, resp.Status, body)
				}
			}
			if b.Available(time.Now()) {
				t.Fatal("two refused dials in a row did not eject the instance (EjectAfter 2)")
			}
			c.send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
			if resp, body := c.answer(); resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "out of") {
				t.Fatalf("with the instance ejected: %s %q, want the routing's 503", resp.Status, body)
			}
			for _, op := range connlimit.Ops {
				for i := range connlimit.ErrnoNames {
					if n := lim.Exhausted(op, i); n != 0 {
						t.Errorf("refused dials counted as the gateway's own %s %s (%d)", op, connlimit.ErrnoNames[i], n)
					}
				}
			}
		})
	}
}

// closedPort is an address on 127.0.0.1 where nothing listens (it was bound, then closed).
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
