package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
)

// The forwarding policy's errors are typed where the failure happens (as Caddy's reverseproxy
// does with its DialError), and the one retry decision (retryFor) looks at their types only,
// never at an error's text.

// DialError: connecting to the instance failed, so it never saw the request. Made in the dial
// of the one upstream pool (upstreams.dial) that both paths take their connections from.
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string { return "connecting to " + e.Addr + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// QueueTimeoutError: the request waited in its instance's pool queue for After (the dial
// timeout, as HAProxy's `timeout queue` defaults to its `timeout connect`) and got neither a
// connection given back nor a dial of its own: every dial to the instance allowed at once was in
// progress all that time (Options.MaxDialsPerHost). The instance never saw the request, so it may
// go to another instance; it does not count towards ejection (the dials in progress do, when
// they fail). A timeout: answered 504 when nothing else serves. Made where the request waits
// (upstreams.await).
type QueueTimeoutError struct {
	Addr  string
	After time.Duration
}

func (e *QueueTimeoutError) Error() string {
	return "no connection to " + e.Addr + " came free within " + e.After.String() + " (every dial allowed to it was in progress)"
}
func (e *QueueTimeoutError) Timeout() bool   { return true }
func (e *QueueTimeoutError) Temporary() bool { return true }

// UnansweredError: the instance's connection ended (closed or reset) before a single byte of an
// answer came, after or while the request was sent. On a connection that was reused the
// instance most likely closed it as idle just as the request went out, and did not process it.
// Made where the answer's head is read (readAnswerHead) or the request written, on both paths.
type UnansweredError struct {
	Reused bool
	Err    error
}

func (e *UnansweredError) Error() string {
	if e.Reused {
		return "the instance closed a reused connection before answering: " + e.Err.Error()
	}
	return "the instance closed the connection before answering: " + e.Err.Error()
}
func (e *UnansweredError) Unwrap() error { return e.Err }

// connectionEnded reports whether err says the connection ended (the peer closed or reset it,
// or a write found it gone), as opposed to a timeout or a malformed answer.
func connectionEnded(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// retry is what the policy does after a failed attempt.
type retry uint8

const (
	noRetry        retry = iota
	retryNewConn         // the same instance, on a new connection
	retryElsewhere       // another instance
)

// ClientBodyError: reading the client's request body failed while it was sent to the instance
// (the client went away, or its body broke its framing): not the instance's fault, and no reason
// to send the request anywhere again. Made where the body is read (poolTransport).
type ClientBodyError struct{ Err error }

func (e *ClientBodyError) Error() string {
	return "reading the client's request body: " + e.Err.Error()
}
func (e *ClientBodyError) Unwrap() error { return e.Err }

// PartialBodyError: the exchange failed after part of a request body that the gateway does not
// hold whole had gone to the instance (the front end streams bodies: what it sent is gone from
// its buffer, and the instance may have begun to process the request). Never retried, whatever
// the failure inside. Made where the front end sends a body (roundTripFrontBody).
type PartialBodyError struct{ Err error }

func (e *PartialBodyError) Error() string {
	return "the instance's connection failed while the request's body was being sent: " + e.Err.Error()
}
func (e *PartialBodyError) Unwrap() error { return e.Err }

// StalledWriteError: a write to an instance (Peer "instance") or to a client (Peer "client")
// found the peer's socket full, and the peer took no byte of it for After: the instance's bound
// is the proxy's ResponseHeaderTimeout (HAProxy's `timeout server`), the client's the server's
// IdleTimeout (`timeout client`), the same settings that bound reading from each. A timeout
// (Timeout is true): a request whose instance stalled before any byte of an answer went to the
// client is answered 504. Made where the front end writes (upstreamConn.write,
// clientConn.write); the connection it happened on is closed, never pooled.
type StalledWriteError struct {
	Peer  string
	After time.Duration
	Err   error
}

func (e *StalledWriteError) Error() string {
	return "the " + e.Peer + " took no byte for " + e.After.String() + ": " + e.Err.Error()
}
func (e *StalledWriteError) Unwrap() error   { return e.Err }
func (e *StalledWriteError) Timeout() bool   { return true }
func (e *StalledWriteError) Temporary() bool { return false }

// retryFor is the one retry decision of both paths: a request is sent again only when the
// instance provably did not process it. A dial failure: on another instance, if the request can
// be sent again (its body, if any, was not consumed); so is a request that waited too long for a
// connection to its instance (QueueTimeoutError), which does not count as a failure. A reused connection that ended before any
// byte of the answer: on a new connection to the same instance, for idempotent requests only (as
// net/http's transport does), and only when the whole body is still the gateway's to send again.
// Never once a byte of an answer has arrived, nor after part of a body the gateway does not hold
// whole went out (PartialBodyError). countsAsFailure says
// whether the failure counts towards ejecting the instance. A dial that failed because the
// gateway itself is out of a local resource (connlimit.ResourceError: EMFILE and the like) is
// neither retried (another instance would fail the same way) nor counted.
func retryFor(err error, idempotent, resendable bool) (r retry, countsAsFailure bool) {
	var res *connlimit.ResourceError
	if errors.As(err, &res) {
		return noRetry, false
	}
	var partial *PartialBodyError
	if errors.As(err, &partial) {
		_, countsAsFailure = retryFor(partial.Err, idempotent, false)
		return noRetry, countsAsFailure
	}
	var queued *QueueTimeoutError
	if errors.As(err, &queued) {
		if resendable {
			return retryElsewhere, false
		}
		return noRetry, false
	}
	var dial *DialError
	if errors.As(err, &dial) {
		if resendable {
			return retryElsewhere, true
		}
		return noRetry, true
	}
	var un *UnansweredError
	if errors.As(err, &un) {
		if un.Reused {
			if idempotent && resendable {
				return retryNewConn, false
			}
			return noRetry, false
		}
		return noRetry, true // a fresh connection: the instance may have processed it
	}
	var body *ClientBodyError
	if errors.As(err, &body) {
		return noRetry, false
	}
	// Any other failure: no retry. A connection broken in the middle of an answer still counts
	// against the instance.
	return noRetry, connectionEnded(err) || errors.Is(err, io.ErrUnexpectedEOF)
}

// idempotent: RFC 9110 9.2.2.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// resendable: the request has no body, or one that can be had again.
func resendable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// exchangeFunc does one exchange with an instance over u: it sends the request and reads the
// answer's head. reused: u came from the pool (it passed the reuse check, upstreams.get). It
// returns the failure typed where it happened (DialError, UnansweredError, ClientBodyError, or
// the instance's malformed answer). It may be called again, on another connection, when
// retryFor says the instance did not process the request.
type exchangeFunc func(u *upstreamConn, reused bool) error

// forward is the forwarding policy of both paths (the front end's relay and the net/http path's
// poolTransport), the only place where an instance is tried, a failure classified (retryFor),
// counted towards ejection, and the request sent once more: on a new connection to the same
// instance after a reused connection ended unanswered, or to one other instance (chosen again by
// the routing table, never the one that failed) after a dial failure. The instance's connection
// comes from the one upstream pool and is returned with its answer's head read; the caller
// passes the body on and gives the connection back (upstreams.put) only when the answer ended
// exactly where its framing says.
func (p *Proxy) forward(att *attempt, idem, resend bool, exchange exchangeFunc) (*upstreamConn, error) {
	retried := false
	now := att.start
	if now.IsZero() {
		now = time.Now()
	}
	for {
		b := att.decision.Backend
		u, err := p.tryInstance(att.in.Context(), b.Addr, now, att.seenRound, idem, resend, exchange)
		if err == nil {
			p.succeeded(b)
			return u, nil
		}
		if errors.Is(err, errClientGone) || att.in.Context().Err() != nil {
			return nil, err // the client went away: not the instance's fault
		}
		r, failure := retryFor(err, idem, resend)
		if failure {
			p.failed(att.table, b)
		}
		if r != retryElsewhere || retried {
			return nil, err
		}
		now = time.Now()
		d, cerr := att.table.Choose(att.in, now, b)
		if cerr != nil || d.Backend == b {
			return nil, err
		}
		d.Backend.Acquire()
		b.Release()
		att.decision = d
		retried = true
	}
}

// tryInstance does one exchange with addr, on a pooled connection if there is one (now: when the
// request was routed, for the pool's idle check). An instance may close an idle connection just
// as it is taken; when it ended before any byte of an answer, the request goes once more on a
// new connection (retryFor). ctx is the request's: a client that goes away (the net/http path's
// request context) stops its wait for a connection and its dial; the front ends' requests have
// none (their clients' departure is seen by the exchange, waitingClient), and wait for at most
// the dial time-out.
func (p *Proxy) tryInstance(ctx context.Context, addr string, now time.Time, seenRound uint64, idem, resend bool, exchange exchangeFunc) (*upstreamConn, error) {
	u, reused, err := p.up.take(ctx, addr, now, seenRound)
	if err != nil {
		return nil, err
	}
	if err = exchange(u, reused); err == nil {
		return u, nil
	}
	u.close()
	if r, _ := retryFor(err, idem, resend); r != retryNewConn {
		return nil, err
	}
	if u, err = p.up.dial(ctx, addr, u.pool); err != nil {
		return nil, err
	}
	if err = exchange(u, false); err != nil {
		u.close()
		return nil, err
	}
	return u, nil
}

// release gives c back to its pool when its answer ended exactly where its framing says, with no
// byte beyond that end read (c.r == c.w), and clean (the answer passed whole and the instance
// keeps the connection open); otherwise it closes c. Both paths end an exchange here; the reuse
// check when c is taken again (get) sees what arrived later. c is idle from its last read's
// start (readAt: up to one wait slice early, which only makes it look idle a little longer).
func (u *upstreams) release(c *upstreamConn, clean bool) {
	if clean && c.r == c.w {
		idleSince := c.readAt
		if idleSince.IsZero() {
			idleSince = time.Now()
		}
		u.put(c, idleSince)
		return
	}
	c.close()
}
