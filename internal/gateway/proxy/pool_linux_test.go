package proxy

import (
	"context"
	"io"
	"net"
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
		then func(net.Conn)
	}{
		{"stray bytes", func(c net.Conn) { io.WriteString(c, poisoned) }},
		{"closed", func(c net.Conn) { c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers := make(chan net.Conn, 4)
			addr := rawInstance(t, func(c net.Conn) {
				io.WriteString(c, "hello")
				peers <- c
				io.Copy(io.Discard, c) // until the gateway closes it
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
			tc.then(peer)
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
