package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// TestCompletedConnectIsNotATimeout: a connect that the kernel completed before its deadline
// passed is a connection, even when the dialling goroutine looks only after the deadline (as one
// that waited for the CPU under load does): the socket is asked, not the clock.
func TestCompletedConnectIsNotATimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	f, pending, err := connectSocket(ap, &net.Dialer{})
	if err != nil {
		t.Fatal(err)
	}
	// The listener's accept returns only an established connection: the connect completed.
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	conn, err := finishConnect(f, pending, ap, time.Now().Add(-time.Second)) // looked at late
	if err != nil {
		t.Fatalf("a completed connect whose deadline had passed when it was looked at: %v, want the connection", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := peer.Read(b[:]); err != nil || b[0] != 'x' {
		t.Fatalf("the peer read %q, %v through the connection", b[:], err)
	}
}

// TestDialFailuresAreTyped: a refused connect is a *net.OpError wrapping ECONNREFUSED (not a
// time-out), one still in progress at its deadline is a time-out, and the pool wraps both in a
// DialError.
func TestDialFailuresAreTyped(t *testing.T) {
	refused := closedPort(t)
	_, err := dialTCP(context.Background(), &net.Dialer{}, refused, time.Minute)
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, syscall.ECONNREFUSED) || isTimeout(err) {
		t.Fatalf("dial to a closed port: %v, want a *net.OpError wrapping ECONNREFUSED", err)
	}

	// A listener whose accept queue is full: the kernel drops the SYN, the connect stays in
	// progress.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4(sa.(*syscall.SockaddrInet4).Addr), uint16(sa.(*syscall.SockaddrInet4).Port)) //nolint:forcetypeassert // bound as AF_INET above
	var fill []net.Conn
	defer func() {
		for _, c := range fill {
			c.Close()
		}
	}()
	for {
		f, pending, err := connectSocket(ap, &net.Dialer{})
		if err != nil {
			t.Fatal(err)
		}
		if pending {
			if done, cerr := waitForConnect(f, 100*time.Millisecond); cerr != nil {
				t.Fatal(cerr)
			} else if !done {
				// This one stays in progress: its deadline ends it as a time-out.
				_, err := finishConnect(f, pending, ap, time.Now())
				if !isTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("a connect still in progress at its deadline: %v, want a time-out", err)
				}
				break
			}
		}
		c, err := finishConnect(f, false, ap, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		fill = append(fill, c)
		if len(fill) > 64 {
			t.Fatalf("%d connects to a listener with a backlog of 0 completed: the kernel never left one in progress", len(fill))
		}
	}
	for _, arrivalOrder := range []bool{false, true} {
		up := &upstreams{dialer: net.Dialer{Timeout: 10 * time.Millisecond}, io: ioRuntimePoller}
		if arrivalOrder {
			up.io, up.arrivals = ioArrivalOrder, netpoll.NewArrivals()
		}
		_, err = up.dial(context.Background(), ap.String(), up.pool(ap.String()))
		var de *DialError
		if !errors.As(err, &de) || !isTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the pool's dial to a full listener (arrival order %v): %v, want a DialError that is a time-out", arrivalOrder, err)
		}
		_, err = up.dial(context.Background(), refused, up.pool(refused))
		if !errors.As(err, &de) || !errors.Is(err, syscall.ECONNREFUSED) || isTimeout(err) {
			t.Fatalf("the pool's dial to a closed port (arrival order %v): %v, want a DialError wrapping ECONNREFUSED", arrivalOrder, err)
		}
		if up.arrivals != nil {
			up.arrivals.Close()
		}
	}
}

// waitForConnect waits up to d for f's connect to complete (true) or stay in progress (false).
func waitForConnect(f *os.File, d time.Duration) (bool, error) {
	err := waitConnected(f, time.Now().Add(d))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false, nil
	}
	return err == nil, err
}
