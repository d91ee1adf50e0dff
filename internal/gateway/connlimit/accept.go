package connlimit

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"time"
)

// Back-off of an accept that failed for a reason that passes (net/http's rule): the first wait
// is AcceptBackoffMin, each next one twice the last, at most AcceptBackoffMax.
const (
	AcceptBackoffMin = 5 * time.Millisecond
	AcceptBackoffMax = time.Second
)

// Accept is the accept loop of every gateway listener (HTTP and TCP), the limit's one rule:
// it waits for a free slot (WaitFree) before each accept, so that at the limit the clients
// beyond it stay in the kernel's backlog; it takes a slot (Acquire) for the connection accepted
// and hands both to handle, which must give the slot back (Release) once the connection closes,
// or at once if it does not serve it. An accept that fails for a reason that passes (out of
// descriptors, a connection aborted before it was accepted, a deadline) is retried after a
// back-off (AcceptBackoffMin doubling to AcceptBackoffMax, reset by an accept that succeeds),
// logged to log (nil: not logged) with the error and the wait, at most once per
// logevery.Interval for every listener of the Limiter, and counted in CountExhausted when it is
// the gateway's own resource (Classify).
//
// Accept returns nil when stop is closed (while it waits for a slot or backs off, or an accept
// fails after it) or ln is closed (net.ErrClosed); otherwise the error of an accept that failed
// for good. A nil *Limiter has no limit.
func (l *Limiter) Accept(ln net.Listener, stop <-chan struct{}, log *slog.Logger, handle func(net.Conn)) error {
	var backoff time.Duration
	for {
		if stopped(stop) || !l.WaitFree(stop) {
			return nil
		}
		conn, err := ln.Accept()
		if err != nil {
			if stopped(stop) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !passes(err) {
				return err
			}
			l.CountExhausted(Classify(OpAccept, ln.Addr().String(), err))
			backoff = nextBackoff(backoff)
			l.logRetry(log, ln, err, backoff)
			if !wait(stop, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		if !l.Acquire(stop) {
			conn.Close()
			return nil
		}
		handle(conn)
	}
}

// nextBackoff is the wait after an accept that failed, the last wait having been last (0: none).
func nextBackoff(last time.Duration) time.Duration {
	return min(max(2*last, AcceptBackoffMin), AcceptBackoffMax)
}

// logRetry logs a retried accept, at most once per logevery.Interval for the whole process (the
// Limiter's: out of descriptors, every listener retries every second), with how many retries the
// line stands for. Without a Limiter each one is logged.
func (l *Limiter) logRetry(log *slog.Logger, ln net.Listener, err error, in time.Duration) {
	if log == nil {
		return
	}
	var unlogged uint64
	if l != nil {
		due, n := l.retryLine.Due(time.Now())
		if !due {
			return
		}
		unlogged = n
	}
	log.Warn("accept failed; retrying", "listener", ln.Addr().String(), "error", err, "in", in, "retries_since_last_line", unlogged)
}

// passes reports accept errors that pass: a deadline, or what net reports through the
// deprecated Temporary method only (EMFILE, ENFILE, ECONNABORTED...).
func passes(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// wait waits d, or less when stop is closed first (false).
func wait(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
