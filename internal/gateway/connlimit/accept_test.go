package connlimit

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Accept, the accept loop of every gateway listener, on real sockets.

// scriptedListener is a real listener whose first Accepts fail with the errors of script, and
// which counts the Accepts that reach the socket.
type scriptedListener struct {
	net.Listener
	mu       sync.Mutex
	script   []error
	accepted atomic.Int32
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.script) > 0 {
		err := l.script[0]
		l.script = l.script[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func listen(t *testing.T, script ...error) *scriptedListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &scriptedListener{Listener: ln, script: script}
}

// dialTo connects a client to ln, closed when the test ends.
func dialTo(t *testing.T, ln net.Listener) {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

// serving runs l.Accept on ln in a goroutine; handled gets every connection handed over, done
// what Accept returned.
func serving(t *testing.T, l *Limiter, ln net.Listener, stop chan struct{}, log *slog.Logger) (handled chan net.Conn, done chan error) {
	t.Helper()
	handled, done = make(chan net.Conn, 4), make(chan error, 1)
	go func() {
		done <- l.Accept(ln, stop, log, func(c net.Conn) { handled <- c })
	}()
	return handled, done
}

func within10s[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10s for %s", what)
		panic("unreachable")
	}
}

// waitUntil polls cond until it holds, for at most 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// TestAcceptWaitsAtTheLimitAndResumesWhenASlotFrees: with every slot taken the loop does not
// accept (the second client stays in the kernel's backlog: the listener's Accept is not called),
// and it accepts it once the first connection gives its slot back; stop ends a loop that waits.
func TestAcceptWaitsAtTheLimitAndResumesWhenASlotFrees(t *testing.T) {
	l := New(1)
	ln := listen(t)
	stop := make(chan struct{})
	handled, done := serving(t, l, ln, stop, nil)
	dialTo(t, ln)
	defer within10s(t, handled, "the first client to be handed over").Close()
	dialTo(t, ln)
	waitUntil(t, "the loop to wait for a slot", func() bool { return l.Hits() == 1 })
	if n := ln.accepted.Load(); n != 1 || l.Open() != 1 {
		t.Fatalf("at the limit of 1: %d connections accepted, %d slots held; want 1 and 1 (the second client left in the backlog)", n, l.Open())
	}
	l.Release() // the first connection closes
	defer within10s(t, handled, "the second client to be accepted once a slot is free").Close()
	if n := ln.accepted.Load(); n != 2 || l.Open() != 1 {
		t.Errorf("after the release: %d accepted, %d slots held; want 2 and 1", n, l.Open())
	}
	waitUntil(t, "the loop to wait again (the second client holds the slot)", func() bool { return l.Hits() == 2 })
	close(stop)
	if err := within10s(t, done, "Accept to return after stop"); err != nil {
		t.Errorf("Accept after stop: %v, want nil", err)
	}
}

// TestAcceptBacksOffAndRetriesAnErrorThatPasses: accepts that fail with errors that pass
// (EMFILE, a deadline) are retried after a back-off, the gateway's own resource errors counted,
// and logged once for both (the Limiter's line, at most once per logevery.Interval, counts the
// retries it stands for); the client waiting meanwhile is then accepted. Without a Limiter each
// retry is logged with its back-off, twice the last. An error that does not pass ends the loop
// with it.
func TestAcceptBacksOffAndRetriesAnErrorThatPasses(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	deadline := &net.OpError{Op: "accept", Net: "tcp", Err: os.ErrDeadlineExceeded}
	l := New(10)
	ln := listen(t, emfile, deadline)
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	stop := make(chan struct{})
	handled, done := serving(t, l, ln, stop, log)
	dialTo(t, ln)
	defer within10s(t, handled, "the client to be accepted after two failed accepts").Close()
	if n := l.Exhausted(OpAccept, 0); n != 1 {
		t.Errorf("EMFILE accepts counted: %d, want 1 (a deadline is not the gateway's resource)", n)
	}
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "accept failed; retrying") ||
		!strings.Contains(lines[0], "too many open files") || !strings.Contains(lines[0], "in=5ms") {
		t.Errorf("log of the failed accepts:\n%s\nwant one line, with the EMFILE error and in=5ms", logged.String())
	}
	if l.Open() != 1 {
		t.Errorf("slots held: %d, want 1 (the accepted client's)", l.Open())
	}

	// Without a Limiter: no shared line, every retry logged with its back-off.
	logged.Reset()
	var none *Limiter
	ln3 := listen(t, emfile, deadline, emfile)
	handled3, done3 := serving(t, none, ln3, stop, log)
	dialTo(t, ln3)
	defer within10s(t, handled3, "the client to be accepted after three failed accepts (no limit)").Close()
	lines = strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "in=5ms") || !strings.Contains(lines[1], "in=10ms") || !strings.Contains(lines[2], "in=20ms") {
		t.Errorf("log of three failed accepts without a Limiter:\n%s\nwant three lines, in=5ms, 10ms, 20ms", logged.String())
	}

	fatal := errors.New("listener broken for good")
	ln2 := listen(t, fatal)
	_, done2 := serving(t, l, ln2, stop, nil)
	if err := within10s(t, done2, "Accept to return on an error that does not pass"); !errors.Is(err, fatal) {
		t.Errorf("Accept on an error that does not pass: %v, want it returned", err)
	}
	close(stop)
	ln.Close() // as a server's stop does: stop ends the waits, the close a pending Accept
	ln3.Close()
	for _, d := range []chan error{done, done3} {
		if err := within10s(t, d, "a loop to end after stop"); err != nil {
			t.Errorf("Accept after stop: %v, want nil", err)
		}
	}
}

// TestAcceptEndsWhenTheListenerCloses: a listener closed under the loop ends it without an
// error, holding no slot (a nil Limiter: no limit).
func TestAcceptEndsWhenTheListenerCloses(t *testing.T) {
	for _, l := range []*Limiter{New(1), nil} {
		ln := listen(t)
		handled, done := serving(t, l, ln, make(chan struct{}), nil)
		dialTo(t, ln)
		within10s(t, handled, "a client to be accepted").Close()
		l.Release()
		ln.Close()
		if err := within10s(t, done, "Accept to return once its listener is closed"); err != nil {
			t.Errorf("limit %d: Accept on a closed listener: %v, want nil", l.Max(), err)
		}
		if l.Open() != 0 {
			t.Errorf("limit %d: %d slots held after the loop ended, want 0", l.Max(), l.Open())
		}
	}
}
