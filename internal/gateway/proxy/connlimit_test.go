package proxy

import (
	"net"
	"net/http"
	"sync/atomic"
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
// counted, and ejected after EjectAfter of them, here beside a live instance (passive ejection
// never takes the last one: TestEjectionSparesTheLastInstance) (contrast: the gateway's own
// EMFILE, in TestOutOfDescriptorsIsNotTheInstancesFailure).
func TestRefusedDialsStillEject(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			refusing := closedPort(t)
			var served atomic.Int32
			lim := connlimit.New(100)
			srv, p, addr := startServer(t, Options{EjectAfter: 2, EjectFor: time.Hour, Conns: lim}, ServerOptions{NetHTTPOnly: path.netHTTPOnly}, refusing, httptestInstance(t, &served))
			b := srv.f.Table.Load().Routes()[0].Backends[0]
			c := dial(t, addr)
			// Round-robin, each refused dial retried on the live instance (the retry takes the
			// turn between two requests): the refusing one is tried first by both requests.
			for i := range 2 {
				if !b.Available(time.Now()) {
					t.Fatalf("the instance was ejected before request %d, after fewer than 2 refused dials", i+1)
				}
				c.get("/")
			}
			if b.Available(time.Now()) || p.opts.Ejections.Ejected() != 1 {
				t.Fatalf("two refused dials in a row did not eject the instance (EjectAfter 2): ejections %d", p.opts.Ejections.Ejected())
			}
			for range 4 {
				c.get("/")
			}
			if n := served.Load(); n != 6 {
				t.Fatalf("the live instance served %d of 6 requests, want all", n)
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
