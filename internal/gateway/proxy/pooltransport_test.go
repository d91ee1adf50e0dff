package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestBothPathsShareOneConnectionPool: the net/http path forwards through the front end's pool
// (poolTransport). A POST with a body and a chunked POST (handed off to net/http) and a GET (the
// front end), each from a new client connection, one after another, reach the instance on one
// connection. The net/http path gives a connection back as soon as it has read the answer's last
// byte, before the client gets it: the next request always finds it in the pool. In every way
// the front end reads sockets: the net/http path reads instance connections the same way.
func TestBothPathsShareOneConnectionPool(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) { bothPathsShareOnePool(t, m.mode) })
	}
}

func bothPathsShareOnePool(t *testing.T, mode ioMode) {
	var conns atomic.Int32
	seen := make(chan string, 16)
	addr := rawInstance(t, func(c net.Conn) {
		id := conns.Add(1)
		serveRequests(c, func(_ *bufio.Reader, req *http.Request, body []byte) bool {
			seen <- fmt.Sprintf("conn %d: %s %s %q", id, req.Method, req.URL.Path, body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		})
	})
	_, _, gw := startServerIO(t, mode, Options{}, ServerOptions{}, addr)
	requests := []struct{ raw, want string }{
		{"POST /a HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n\r\nbody", `conn 1: POST /a "body"`},
		{"POST /b HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", `conn 1: POST /b "abc"`},
		{"GET /c HTTP/1.1\r\nHost: shop.example\r\n\r\n", `conn 1: GET /c ""`},
	}
	for _, rq := range requests {
		c := dial(t, gw)
		c.send(rq.raw)
		if resp, body := c.answer(); resp.StatusCode != http.StatusOK || body != "ok" {
			t.Fatalf("%q: %s %q", short(rq.raw), resp.Status, body)
		}
		c.conn.Close()
		if got := <-seen; got != rq.want {
			t.Errorf("the instance saw %s, want %s", got, rq.want)
		}
	}
}
