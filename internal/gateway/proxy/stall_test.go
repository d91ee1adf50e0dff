package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A peer that stops taking bytes must not hold the front end's goroutine and two connections:
// every write that waits for room gives up once the peer took no byte for its bound (the
// instance's: ResponseHeaderTimeout; the client's: IdleTimeout), and both connections close.
// The bounds are set short here; each exchange would otherwise hang (the reads of the test's
// client give up after 10 seconds).

const stallBound = 300 * time.Millisecond

// stallInstance accepts one connection at a time: it reads a request head, calls afterHead,
// then reads nothing more until the test lets it (drain), and then reports how the connection
// ended (on closed): "closed" when the gateway closed it, a timeout when it did not.
func stallInstance(t *testing.T, afterHead func(net.Conn)) (addr string, drain chan<- struct{}, closed <-chan string) {
	t.Helper()
	drainC, closedC := make(chan struct{}), make(chan string, 4)
	addr = rawInstance(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			closedC <- "no request head: " + err.Error()
			return
		}
		afterHead(c)
		<-drainC
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			closedC <- err.Error()
			return
		}
		_, err := io.Copy(io.Discard, br)
		switch {
		case err == nil || errors.Is(err, net.ErrClosed):
			closedC <- "closed"
		case isTimeout(err):
			closedC <- "still open 10s after the exchange ended"
		default:
			closedC <- "closed" // reset: closed with bytes unread
		}
	})
	return addr, drainC, closedC
}

// connectionEnds: the gateway ends c's connection within 10 seconds, sending nothing more
// (closed, or reset because it left part of the body unread).
func connectionEnds(c *client) {
	c.t.Helper()
	c.readsWithin10s()
	if b, err := c.br.ReadByte(); err == nil || isTimeout(err) {
		c.t.Errorf("want the gateway to end the connection, got byte %q, error %v", b, err)
	}
}

// writeEnds: the client's write of its body ends within 10 seconds of the exchange's end.
func writeEnds(t *testing.T, sent <-chan struct{}) {
	t.Helper()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Error("the client's write of its body still blocks 10s after its connection ended")
	}
}

// frontGoroutines counts the goroutines that serve a front-end connection.
func frontGoroutines() int {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1) // a bytes.Buffer takes every write
	return strings.Count(b.String(), "(*clientConn).serve")
}

// postLarge sends a POST with a body of size bytes on its own goroutine (the gateway may stop
// reading it); the returned channel is closed when the write ended.
func postLarge(c *client, size int) <-chan struct{} {
	done := make(chan struct{})
	head := "POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n"
	go func() {
		defer close(done)
		// The gateway may close before the body went whole: the write's error is that close.
		_, _ = c.conn.Write(append([]byte(head), bytes.Repeat([]byte("b"), size)...))
	}()
	return done
}

// released waits until the front end dropped every connection and goroutine of the exchange,
// and the instance saw its connection closed (not pooled).
func released(t *testing.T, s *Server, p *Proxy, addr string, drain chan<- struct{}, closed <-chan string) {
	t.Helper()
	close(drain)
	select {
	case how := <-closed:
		if how != "closed" {
			t.Errorf("the instance's connection: %s, want it closed by the gateway", how)
		}
	case <-time.After(15 * time.Second):
		t.Error("the instance's connection did not end")
	}
	waitFor(t, "the front end to drop the client's connection", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 0
	})
	waitFor(t, "the front end's goroutines to end", func() bool { return frontGoroutines() == 0 })
	pool := p.up.pool(addr)
	pool.mu.Lock()
	idle := len(pool.idle)
	pool.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d connections to the instance pooled, want none", idle)
	}
}

// TestInstanceThatStopsReadingBodyTimesOut: an instance that reads the head and then nothing of
// an 8 MB body: the gateway's writes to it wait until the instance took no byte for
// ResponseHeaderTimeout, the client gets a 504 (no byte of an answer had gone to it), and both
// connections close.
func TestInstanceThatStopsReadingBodyTimesOut(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			addr, drain, closed := stallInstance(t, func(net.Conn) {})
			s, p, gw := startServerIO(t, m.mode, Options{ResponseHeaderTimeout: stallBound}, ServerOptions{}, addr)
			c := dial(t, gw)
			sent := postLarge(c, 8<<20)
			resp, body := c.answer()
			if resp.StatusCode != http.StatusGatewayTimeout || !resp.Close {
				t.Errorf("got %s (close %v) %q, want 504 and the connection closed", resp.Status, resp.Close, body)
			}
			connectionEnds(c)
			c.conn.Close()
			writeEnds(t, sent)
			released(t, s, p, addr, drain, closed)
		})
	}
}

// TestEarlyAnswerFromInstanceThatStopsReading: an instance that answers 413 after the head and
// reads nothing more: the writes of the body to it stop, the client gets the 413, and neither
// connection is used again.
func TestEarlyAnswerFromInstanceThatStopsReading(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			addr, drain, closed := stallInstance(t, func(c net.Conn) {
				_, _ = io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n") // the test's client sees what arrives
			})
			// A bound longer than the test's reads: the answer must not wait for it.
			s, p, gw := startServerIO(t, m.mode, Options{ResponseHeaderTimeout: time.Minute}, ServerOptions{}, addr)
			c := dial(t, gw)
			sent := postLarge(c, 8<<20)
			resp, body := c.answer()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "too big\n" || !resp.Close {
				t.Errorf("got %s (close %v) %q, want the instance's 413 and the connection closed", resp.Status, resp.Close, body)
			}
			connectionEnds(c)
			c.conn.Close()
			writeEnds(t, sent)
			released(t, s, p, addr, drain, closed)
		})
	}
}

// TestClientThatStopsReadingAnswerTimesOut: a client that asks for a 32 MB answer and reads
// none of it: the gateway's writes to it wait until it took no byte for IdleTimeout, then its
// connection closes (part of the answer went out: no error answer), and so does the instance's.
func TestClientThatStopsReadingAnswerTimesOut(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			const size = 32 << 20
			wrote := make(chan error, 1)
			closed := make(chan string, 1)
			addr := rawInstance(t, func(c net.Conn) {
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				if err := c.SetWriteDeadline(time.Now().Add(15 * time.Second)); err != nil {
					wrote <- err
					return
				}
				_, err := c.Write(append([]byte("HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"), make([]byte, size)...))
				wrote <- err
				if isTimeout(err) {
					closed <- "still open 15s after the request"
				} else {
					closed <- "closed"
				}
			})
			s, p, gw := startServerIO(t, m.mode, Options{}, ServerOptions{IdleTimeout: stallBound}, addr)
			c := dial(t, gw)
			c.send("GET /large HTTP/1.1\r\nHost: shop.example\r\n\r\n")
			if err := <-wrote; err == nil {
				t.Fatal("the instance wrote the whole answer, want its connection closed by the gateway")
			}
			// What reached the client is a head and part of the body, then the connection's end.
			c.readsWithin10s()
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("reading the answer's head: %v", err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil || n >= size {
				t.Errorf("the client read %d bytes (%v), want part of the answer, then the connection's end", n, err)
			}
			released(t, s, p, addr, make(chan struct{}), closed)
		})
	}
}

// TestLargeAnswersPassWhole: answers larger than the relay buffer (relayBufSize), framed by
// Content-Length, chunked, or ended by the instance's close, reach the client byte for byte, and
// an instance connection that carried one is reused (it got its own buffer back).
func TestLargeAnswersPassWhole(t *testing.T) {
	payload := make([]byte, 3*relayBufSize+12345)
	for i := range payload {
		payload[i] = byte(i*7 + i>>11)
	}
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			var conns atomic.Int32
			addr := rawInstance(t, func(c net.Conn) {
				conns.Add(1)
				serveRequests(c, func(_ *bufio.Reader, req *http.Request, _ []byte) bool {
					var b bytes.Buffer
					switch req.URL.Path {
					case "/length":
						fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(payload), payload)
					case "/chunked":
						b.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
						for rest := payload; len(rest) > 0; {
							n := min(len(rest), 100000)
							fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
							rest = rest[n:]
						}
						b.WriteString("0\r\n\r\n")
					default:
						fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n%s", payload)
					}
					_, _ = c.Write(b.Bytes()) // the test's client sees what arrives
					return req.URL.Path != "/close"
				})
			})
			_, p, gw := startServerIO(t, m.mode, Options{}, ServerOptions{}, addr)
			c := dial(t, gw)
			for _, path := range []string{"/length", "/chunked", "/length", "/close"} {
				if path == "/close" { // the connection back in the pool has its own buffer again
					// The gateway puts the connection back after the answer's last byte went to the
					// client, so the client may see that byte first: wait for the pool to hold it.
					pool := p.up.pool(addr)
					var sizes []int
					waitFor(t, "the instance connection back in the pool", func() bool {
						pool.mu.Lock()
						defer pool.mu.Unlock()
						sizes = sizes[:0]
						for _, u := range pool.idle {
							sizes = append(sizes, len(u.buf))
						}
						return len(sizes) > 0
					})
					if len(sizes) != 1 || sizes[0] != upstreamBufSize {
						t.Fatalf("pooled instance connections' buffers: %v bytes, want one of %d", sizes, upstreamBufSize)
					}
				}
				c.send("GET " + path + " HTTP/1.1\r\nHost: shop.example\r\n\r\n")
				resp, body := c.answer()
				if resp.StatusCode != http.StatusOK || body != string(payload) {
					t.Fatalf("GET %s: %s, %d bytes, want the instance's %d bytes unchanged", path, resp.Status, len(body), len(payload))
				}
				if path != "/close" && conns.Load() != 1 {
					t.Fatalf("after GET %s: %d instance connections, want the first one reused", path, conns.Load())
				}
			}
		})
	}
}

// TestNetHTTPPathStalledInstance: on the net/http path (hand-offs,
// --net-http-only) the body goes out whole before the answer is read; an instance that answers
// 413 and stops reading while the client keeps sending makes the write to it stall, and after
// ResponseHeaderTimeout its answer is the answer; without an answer the client gets a 504.
func TestNetHTTPPathStalledInstance(t *testing.T) {
	for _, answer := range []string{"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n", ""} {
		t.Run(strconv.Quote(answer[:min(len(answer), 12)]), func(t *testing.T) {
			addr, drain, closed := stallInstance(t, func(c net.Conn) {
				_, _ = io.WriteString(c, answer) // the test's client sees what arrives
			})
			_, _, gw := startServer(t, Options{ResponseHeaderTimeout: stallBound}, ServerOptions{NetHTTPOnly: true}, addr)
			c := dial(t, gw)
			sent := postLarge(c, 8<<20)
			resp, body := c.answer()
			want := http.StatusGatewayTimeout
			if answer != "" {
				want = http.StatusRequestEntityTooLarge
			}
			if resp.StatusCode != want {
				t.Errorf("got %s %q, want %d", resp.Status, body, want)
			}
			c.conn.Close()
			writeEnds(t, sent)
			close(drain)
			select {
			case how := <-closed:
				if how != "closed" {
					t.Errorf("the instance's connection: %s, want it closed by the gateway", how)
				}
			case <-time.After(15 * time.Second):
				t.Error("the instance's connection did not end")
			}
		})
	}
}
