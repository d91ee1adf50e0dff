package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

var ioModes = []struct {
	name string
	mode ioMode
}{{"arrival order", ioArrivalOrder}, {"runtime poller", ioRuntimePoller}, {"net.Conn", ioNetConn}}

// TestFrontEndServesInEveryIOMode runs the front end's exchanges with its sockets read each way
// it can read them (the arrival-order waiter on Linux, the runtime's poller through the
// descriptor elsewhere, net.Conn on Windows): keep-alive and pipelined GETs, a request handed to
// net/http, the CL+TE refusal, and stray bytes after a HEAD answer.
func TestFrontEndServesInEveryIOMode(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			inst := startStrayInstance(t, "HTTP/1.1 200 OK\r\nContent-Length: 49\r\n\r\n", poisoned, false)
			srv, _, gw := startServerIO(t, m.mode, Options{}, ServerOptions{}, inst.addr)
			c := dial(t, gw)
			for i := range 5 {
				if body := c.get(fmt.Sprintf("/keep/%d", i)); body != fmt.Sprintf("/keep/%d", i) {
					t.Fatalf("keep-alive GET %d: %q", i, body)
				}
			}
			if fc := srv.frontConn(c); fc == nil || (fc.aw != nil) != (m.mode == ioArrivalOrder && srv.p.arrivals.Enabled()) ||
				(fc.raw == nil) != (m.mode == ioNetConn) {
				t.Fatalf("the connection is not read the %s way", m.name)
			}
			c.send("GET /p/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p/2 HTTP/1.1\r\nHost: a\r\n\r\n")
			for _, want := range []string{"/p/1", "/p/2"} {
				if _, body := c.answer(); body != want {
					t.Fatalf("pipelined: got %q, want %q", body, want)
				}
			}
			for round := range 100 {
				trigger := dial(t, gw)
				trigger.send("HEAD /trigger HTTP/1.1\r\nHost: a\r\n\r\n")
				trigger.readsWithin10s()
				if resp, err := http.ReadResponse(trigger.br, &http.Request{Method: http.MethodHead}); err != nil || resp.StatusCode != 200 {
					t.Fatalf("round %d: trigger: %v", round, err)
				}
				trigger.conn.Close()
				inst.stray <- struct{}{}
				<-inst.wrote
				// The gateway closes it at once (arrival order) or when it is taken next (peek):
				// the next request must get its own answer either way.
				want := fmt.Sprintf("/private/%d", round)
				if got, err := getRaw(gw, want); err != nil || got != want {
					t.Fatalf("round %d: got %q (%v), want %q", round, got, err, want)
				}
				// Without the arrival-order set, a connection is looked at only when taken: it
				// may be a later round's request that finds (and closes) this one.
				for len(inst.events) > 0 {
					if ev := <-inst.events; ev != "closed" {
						t.Fatalf("round %d: a connection with stray bytes was reused", round)
					}
				}
			}
		})
	}
}

// TestHandOffAndRefusalInEveryIOMode: a request with a body goes to net/http with the bytes read
// so far, and an ambiguous one is refused, whichever way the socket was read.
func TestHandOffAndRefusalInEveryIOMode(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			var requests atomic.Int32
			inst := httptestInstance(t, &requests)
			_, _, gw := startServerIO(t, m.mode, Options{}, ServerOptions{}, inst)
			c := dial(t, gw)
			c.send("POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
			if resp, body := c.answer(); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("handed-off POST: %s %q", resp.Status, body)
			}
			c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
			if resp, body := c.answer(); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("CL+TE after a hand-off: %s %q", resp.Status, body)
			}
			c.closedByServer()
			d := dial(t, gw)
			d.send("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n")
			resp, body := d.answer()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "obs-fold") {
				t.Fatalf("obs-fold: %s %q", resp.Status, body)
			}
			d.closedByServer()
			if n := requests.Load(); n != 1 {
				t.Errorf("the instance got %d requests, want 1", n)
			}
		})
	}
}
