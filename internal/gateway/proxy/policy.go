package proxy

import (
	"errors"
	"io"
	"net/http"
	"syscall"
)

// The forwarding policy's errors are typed where the failure happens (as Caddy's reverseproxy
// does with its DialError), and the one retry decision (retryFor) looks at their types only,
// never at an error's text.

// DialError: connecting to the instance failed, so it never saw the request. Made in the dial,
// on both paths (the front end's pool and the net/http transport's DialContext).
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string { return "connecting to " + e.Addr + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// UnansweredError: the instance's connection ended (closed or reset) before a single byte of an
// answer came, after or while the request was sent. On a connection that was reused the
// instance most likely closed it as idle just as the request went out, and did not process it.
// Made by the front end's exchange (net/http's transport retries this case itself).
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

// retryFor is the one retry decision of both paths: a request is sent again only when the
// instance provably did not process it. A dial failure: on another instance, if the request can
// be sent again (its body, if any, was not consumed). A reused connection that ended before any
// byte of the answer: on a new connection to the same instance, for idempotent requests only (as
// net/http's transport does). Never once a byte of an answer has arrived. countsAsFailure says
// whether the failure counts towards ejecting the instance.
func retryFor(err error, idempotent, resendable bool) (r retry, countsAsFailure bool) {
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
