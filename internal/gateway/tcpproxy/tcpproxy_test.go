package tcpproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

func table(t *testing.T, pool *routing.Pool, addrs ...string) *atomic.Pointer[routing.Table] {
	t.Helper()
	r := routing.Route{Name: "r", Weight: 100}
	for _, a := range addrs {
		r.Backends = append(r.Backends, pool.Get(a))
	}
	tb, err := routing.New(routing.Spec{Routes: []routing.Route{r}})
	if err != nil {
		t.Fatal(err)
	}
	var p atomic.Pointer[routing.Table]
	p.Store(tb)
	return &p
}

func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestConnectErrorsAreTyped: when every instance refuses, the error holds a *DialError per
// failed connect (with the address) and the routing core's *routing.NoRouteError for the
// re-choice that found nothing left. Of the two failed instances the first is ejected
// (EjectAfter 1), the second is not: it is the last available one (routing.Table.Eject). Later
// connections keep trying it, and once it listens again they reach it at once.
func TestConnectErrorsAreTyped(t *testing.T) {
	pool := routing.NewPool()
	a, b := refusingAddr(t), refusingAddr(t)
	p := New(Options{EjectAfter: 1}, NewMetrics())
	tb := table(t, pool, a, b).Load()
	_, _, _, err := p.connect(context.Background(), tb)
	var de *DialError
	var nr *routing.NoRouteError
	if !errors.As(err, &de) || !errors.As(err, &nr) {
		t.Fatalf("connect with every instance refusing: %v; want *DialError and *routing.NoRouteError", err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 3 {
		t.Fatalf("want 2 dial errors and the routing core's answer, got %v", err)
	}
	now := time.Now()
	first, last := pool.Get(a), pool.Get(b)
	if first.Available(now) || !last.Available(now) {
		t.Fatalf("after both refused: %s available %v, %s available %v; want the first ejected, the last not", a, first.Available(now), b, last.Available(now))
	}
	if ej := p.opts.Ejections; ej.Ejected() != 1 || ej.Withheld() != 1 {
		t.Fatalf("ejections %d, withheld %d; want 1 and 1", ej.Ejected(), ej.Withheld())
	}
	var de2 *DialError
	if _, _, _, err = p.connect(context.Background(), tb); !errors.As(err, &de2) || de2.Addr != b {
		t.Fatalf("connect with %s ejected and %s refusing: %v; want a *DialError for %s (tried, not skipped)", a, b, err, b)
	}
	ln, err := net.Listen("tcp", b)
	if err != nil {
		t.Fatalf("the last instance cannot listen again on %s: %v", b, err)
	}
	defer ln.Close()
	c, backend, _, err := p.connect(context.Background(), tb)
	if err != nil || backend != last {
		t.Fatalf("connect once %s listens again: %v (to %v); want a connection to it at once", b, err, backend)
	}
	c.Close()
}

// TestShutdownWaitsCloseAborts: Shutdown stops accepting and waits for the connection in
// flight (until its context ends); Close then ends that connection.
func TestShutdownWaitsCloseAborts(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	p := New(Options{}, NewMetrics())
	srv := p.NewServer("g", table(t, routing.NewPool(), backend.Addr().String()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the drain time is already over
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with a connection in flight and its time over: %v; want context.Canceled", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v; want ErrServerClosed", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the listener still accepts after Shutdown")
	}
	if n := srv.Active(); n != 1 {
		t.Fatalf("Active = %d after Shutdown, want the 1 connection in flight", n)
	}
	srv.Close()
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("the connection still reads %d bytes after Close", n)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after Close (nothing left in flight): %v", err)
	}
}
