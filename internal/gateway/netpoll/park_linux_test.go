package netpoll

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// testConn is a Parkable that reports what the parker did with it.
type testConn struct {
	id      uint64
	refuse  bool // Parking says no, as for a connection closed meanwhile
	resumed chan struct{}
	expired chan struct{}
}

func newTestConn() *testConn {
	return &testConn{resumed: make(chan struct{}), expired: make(chan struct{})}
}

func (c *testConn) Parking(id uint64) bool { c.id = id; return !c.refuse }
func (c *testConn) Resume()                { close(c.resumed) }
func (c *testConn) Expire()                { close(c.expired) }

// testParker is a parker for one test, closed after it.
func testParker(t *testing.T) *Parker {
	t.Helper()
	p := NewParker()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing the parker: %v", err)
		}
	})
	return p
}

func fdOf(t *testing.T, conn net.Conn) int {
	t.Helper()
	sc, ok := conn.(syscall.Conn)
	if !ok {
		t.Fatalf("a %T has no descriptor", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := raw.Control(func(d uintptr) { fd = int(d) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// within waits for ch, failing the test after 10 s (a guard against a lost wake-up, not a timing
// target).
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10s for %s", what)
	}
}

// park parks a new testConn on conn's socket, failing the test if it does not park.
func park(t *testing.T, p *Parker, conn net.Conn, timeout time.Duration) *testConn {
	t.Helper()
	c := newTestConn()
	if !p.Park(c, fdOf(t, conn), timeout) {
		t.Fatalf("Park failed: %v", p.Err())
	}
	return c
}

// parkOne parks a connection in a parker of the test's own; ours is its socket, peer the client.
func parkOne(t *testing.T, timeout time.Duration) (p *Parker, c *testConn, ours, peer net.Conn) {
	t.Helper()
	p = testParker(t)
	_, ours, peer = socketPair(t, false)
	return p, park(t, p, ours, timeout), ours, peer
}

func TestParkerResumesWhenTheClientSends(t *testing.T) {
	p, c, _, peer := parkOne(t, time.Minute)
	if !p.Parked(c.id) {
		t.Fatal("the parker does not hold the connection it parked")
	}
	if _, err := peer.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	within(t, c.resumed, "Resume")
	if p.Parked(c.id) || p.Unpark(c.id) {
		t.Error("a resumed connection is still parked")
	}
}

func TestParkerExpiresAtTheTimeout(t *testing.T) {
	p, c, _, _ := parkOne(t, time.Millisecond)
	within(t, c.expired, "Expire")
	if p.Parked(c.id) {
		t.Error("an expired connection is still parked")
	}
}

// Unpark gives the connection back once: whoever takes it first owns it.
func TestParkerUnparkTakesTheConnectionBackOnce(t *testing.T) {
	p, c, ours, _ := parkOne(t, time.Minute)
	if !p.Unpark(c.id) {
		t.Fatal("Unpark of a parked connection failed")
	}
	if p.Unpark(c.id) || p.Parked(c.id) {
		t.Error("the connection was unparked twice")
	}
	// Out of the epoll set too: it parks again (a second EPOLL_CTL_ADD would fail).
	park(t, p, ours, time.Minute)
}

// A connection that refuses to park (closed meanwhile) leaves nothing behind.
func TestParkerLeavesNothingWhenParkingIsRefused(t *testing.T) {
	p := testParker(t)
	_, ours, _ := socketPair(t, false)
	c := newTestConn()
	c.refuse = true
	if p.Park(c, fdOf(t, ours), time.Minute) {
		t.Fatal("Park succeeded although the connection refused")
	}
	if p.Parked(c.id) {
		t.Error("a refused connection is parked")
	}
	park(t, p, ours, time.Minute) // out of the epoll set too, or a second EPOLL_CTL_ADD fails
}

func TestParkerParksNothingAfterClose(t *testing.T) {
	p := NewParker()
	_, ours, _ := socketPair(t, false)
	park(t, p, ours, time.Minute)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if p.Park(newTestConn(), fdOf(t, ours), time.Minute) {
		t.Error("Park succeeded after Close")
	}
	if err := NewParker().Close(); err != nil {
		t.Errorf("Close of a parker never used: %v", err)
	}
}

func TestArrivalsClose(t *testing.T) {
	set := NewArrivals()
	w, _, _ := socketPairIn(t, set, false)
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if err := set.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if _, err := w.Read(make([]byte, 8)); !errors.Is(err, ErrClosed) {
		t.Errorf("a wait after Close: %v, want ErrClosed", err)
	}
	unused := NewArrivals()
	if err := unused.Close(); err != nil {
		t.Errorf("Close of a set never used: %v", err)
	}
	if unused.Enabled() || !errors.Is(unused.Err(), ErrClosed) {
		t.Errorf("a closed set that was never used: enabled %v, Err %v", unused.Enabled(), unused.Err())
	}
}
