package proxy

import (
	"context"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// TestPoolNeverHandsOutAConnectionWithUnreadBytes: the check when a connection is taken from the
// pool, without the dispatcher's eviction (as when bytes come the instant before the take): a
// connection on which bytes arrived, or that the instance closed, is closed, and a new one dialled.
func TestPoolNeverHandsOutAConnectionWithUnreadBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(net.Conn) error
	}{
		{"stray bytes", func(c net.Conn) error { _, err := io.WriteString(c, poisoned); return err }},
		{"closed", func(c net.Conn) error { return c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers := make(chan net.Conn, 4)
			addr := rawInstance(t, func(c net.Conn) {
				_, _ = io.WriteString(c, "hello") // a gateway that went away: its get fails the test
				peers <- c
				_, _ = io.Copy(io.Discard, c) // until the gateway closes (or resets) it
			})
			arrivals := netpoll.NewArrivals()
			t.Cleanup(func() { arrivals.Close() })
			up := &upstreams{maxIdle: 4, idleTimeout: time.Minute, arrivals: arrivals}
			c, reused, err := up.get(context.Background(), addr, time.Now())
			if err != nil || reused {
				t.Fatalf("get: %v, reused %v", err, reused)
			}
			c.aw.WatchIdle(nil) // no eviction by the dispatcher: the take must see it
			if n, err := readSocket(c.aw, c.conn, c.buf); err != nil || string(c.buf[:n]) != "hello" {
				t.Fatalf("read: %q %v", c.buf[:n], err)
			}
			up.put(c, time.Now())
			peer := <-peers
			if again, reused, err := up.get(context.Background(), addr, time.Now()); err != nil || again != c || !reused {
				t.Fatalf("a quiet connection is not reused: %v, reused %v", err, reused)
			} else {
				up.put(again, time.Now())
			}
			if err := tc.then(peer); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the epoll set to see it", c.aw.IdleHint)
			got, reused, err := up.get(context.Background(), addr, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			defer got.close()
			if got == c || reused {
				t.Fatalf("the pool handed out the connection that has unread bytes (reused %v)", reused)
			}
		})
	}
}

// TestTakeTrustsOnlyARoundThatSawTheRequest: a request whose first bytes came after its client's
// socket was drained and were reported by a dispatcher round that has been handled in full
// (netpoll.Waiter.DataRound, Harvested) takes a quiet pooled connection on that round's word;
// stray bytes that came on the pooled connection before such a request still keep that
// connection from it.
func TestTakeTrustsOnlyARoundThatSawTheRequest(t *testing.T) {
	arrivals := netpoll.NewArrivals()
	t.Cleanup(func() { arrivals.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clientPeer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer clientPeer.Close()
	ours, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	sc, ok := ours.(syscall.Conn)
	if !ok {
		t.Fatalf("an accepted %T has no descriptor", ours)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	client := arrivals.NewWaiter(raw, true)
	if client == nil {
		t.Fatal("no arrival-order waiter on Linux")
	}
	defer client.Release()
	client.SetReadDeadline(time.Now().Add(10 * time.Second)) // a lost wake-up fails, not hangs
	buf := make([]byte, 64)
	request := func(path string) uint64 {
		t.Helper()
		if _, err := io.WriteString(clientPeer, "GET "+path+" HTTP/1.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if path == "/first" { // in the socket before the first read, which then needs no wait
			waitFor(t, "the first request to arrive", func() bool { return !netpoll.ConnQuiet(ours) })
		}
		if n, err := client.Read(buf); err != nil || n == 0 {
			t.Fatalf("read %s: %d %v", path, n, err)
		}
		return client.DataRound()
	}
	// A new connection's first read needs no wake-up: no round is known to have seen its bytes.
	if seen := request("/first"); seen != 0 {
		t.Fatalf("the first read of a new connection claims round %d", seen)
	}

	peers := make(chan net.Conn, 1)
	addr := rawInstance(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "hello") // a gateway that went away: its get fails the test
		peers <- c
		_, _ = io.Copy(io.Discard, c) // until the gateway closes (or resets) it
	})
	up := &upstreams{maxIdle: 4, idleTimeout: time.Minute, arrivals: arrivals}
	c, _, err := up.get(context.Background(), addr, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := readSocket(c.aw, c.conn, c.buf); err != nil || string(c.buf[:n]) != "hello" {
		t.Fatalf("read: %q %v", c.buf[:n], err)
	}
	up.put(c, time.Now())
	peer := <-peers

	// Drained, then a request: the round that woke the waiter saw it, and the quiet pooled
	// connection is taken for it.
	seen := request("/second")
	if seen == 0 {
		t.Fatal("a request that came after a drain and a wake-up has no round")
	}
	waitFor(t, "the round to be handled", func() bool { return arrivals.Harvested(seen) })
	got, reused, err := up.take(context.Background(), addr, time.Now(), seen)
	if err != nil || got != c || !reused {
		t.Fatalf("the quiet pooled connection was not taken: %v, reused %v", err, reused)
	}
	up.put(got, time.Now())

	// Stray bytes on the pooled connection, then a request: never that connection. (The wait
	// keeps that order on a loaded machine, where the kernel may deliver the two late.)
	if _, err := io.WriteString(peer, poisoned); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stray bytes to be reported", func() bool {
		p := up.pool(addr)
		p.mu.Lock()
		defer p.mu.Unlock()
		return !slices.Contains(p.idle, c) // the dispatcher's eviction took it out
	})
	seen = request("/third")
	if seen == 0 {
		t.Fatal("the third request has no round")
	}
	waitFor(t, "the round to be handled", func() bool { return arrivals.Harvested(seen) })
	got, reused, err = up.take(context.Background(), addr, time.Now(), seen)
	if err != nil {
		t.Fatal(err)
	}
	defer got.close()
	if got == c || reused {
		t.Fatalf("the pool handed out the connection that has stray bytes (reused %v)", reused)
	}
}
