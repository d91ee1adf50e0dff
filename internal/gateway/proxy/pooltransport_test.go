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
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // a gateway that went away reads no answer: the test's client sees it
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

// TestEarlyAnswerToAnUploadReachesClient: an instance that answers a large upload before reading
// it (413) and closes the connection makes the gateway's write of the body fail; its answer, not a
// 502, is what the client gets (poolTransport reads the answer after a failed write).
func TestEarlyAnswerToAnUploadReachesClient(t *testing.T) {
	const size = 64 << 20 // more than the sockets' buffers hold: the gateway's write must fail
	addr := rawInstance(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big\n") // a gateway that went away reads no answer: the test's client sees it
		// Close without reading the body: the gateway's write fails.
	})
	_, _, gw := startServer(t, Options{}, ServerOptions{}, addr)
	c := dial(t, gw)
	go func() {
		if _, err := io.WriteString(c.conn, fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: %d\r\n\r\n", size)); err != nil {
			return // the answer's check below tells
		}
		chunk := make([]byte, 1<<20)
		for range size / len(chunk) {
			if _, err := c.conn.Write(chunk); err != nil {
				return // the gateway closed the connection after the answer
			}
		}
	}()
	resp, body := c.answer()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "too big\n" {
		t.Fatalf("the client got %s %q, want the instance's 413", resp.Status, body)
	}
}
