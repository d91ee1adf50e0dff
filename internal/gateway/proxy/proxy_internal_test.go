package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
)

// TestRetryForRetriesOnlyWhatTheInstanceDidNotProcess: the one retry decision looks at the
// errors' types only: a message that reads like a closed connection is not one.
func TestRetryForRetriesOnlyWhatTheInstanceDidNotProcess(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tc := range []struct {
		name                   string
		err                    error
		idempotent, resendable bool
		want                   retry
		failure                bool
	}{
		{"dial refused", &DialError{Addr: "a", Err: syscall.ECONNREFUSED}, false, true, retryElsewhere, true},
		{"dial refused, body gone", &DialError{Addr: "a", Err: syscall.ECONNREFUSED}, true, false, noRetry, true},
		{"dial error wrapped", fmt.Errorf("x: %w", &DialError{Addr: "a", Err: syscall.ETIMEDOUT}), true, true, retryElsewhere, true},
		{"reused, closed unanswered", &UnansweredError{Reused: true, Err: io.EOF}, true, true, retryNewConn, false},
		{"reused, closed unanswered, POST", &UnansweredError{Reused: true, Err: io.EOF}, false, true, noRetry, false},
		{"fresh, closed unanswered", &UnansweredError{Err: reset}, true, true, noRetry, true},
		{"reset without a type", reset, true, true, noRetry, true},
		{"answer cut short", io.ErrUnexpectedEOF, true, true, noRetry, true},
		{"text that looks like a closed connection", errors.New("http: server closed idle connection"), true, true, noRetry, false},
		{"text that looks like a dial", errors.New("dial tcp: connection refused"), true, true, noRetry, false},
		{"malformed answer", httpframe.ErrBadAnswer, true, true, noRetry, false},
		{"unrequested 101", errSwitchedProtocols, true, true, noRetry, false},
		{"part of a body sent, then the reused connection closed", &PartialBodyError{Err: &UnansweredError{Reused: true, Err: io.EOF}}, true, true, noRetry, false},
		{"part of a body sent, then a reset", &PartialBodyError{Err: reset}, true, true, noRetry, true},
		{"dial out of descriptors (the gateway's own)", connlimit.Classify(connlimit.OpDial, "a", &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}), true, true, noRetry, false},
		{"dial out of local ports (the gateway's own)", fmt.Errorf("x: %w", connlimit.Classify(connlimit.OpDial, "a", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)})), false, true, noRetry, false},
		{"part of a body sent, then the gateway out of descriptors", &PartialBodyError{Err: connlimit.Classify(connlimit.OpDial, "a", syscall.ENFILE)}, true, true, noRetry, false},
		{"part of a body sent, the client went away", &PartialBodyError{Err: &ClientBodyError{Err: io.ErrUnexpectedEOF}}, true, true, noRetry, false},
	} {
		got, failure := retryFor(tc.err, tc.idempotent, tc.resendable)
		if got != tc.want || failure != tc.failure {
			t.Errorf("%s: retryFor(%v) = %v, failure %v; want %v, %v", tc.name, tc.err, got, failure, tc.want, tc.failure)
		}
	}
}

func TestIdempotentAndResendable(t *testing.T) {
	for _, tc := range []struct {
		method string
		body   io.ReadCloser
		want   bool
	}{
		{http.MethodGet, nil, true},
		{http.MethodHead, http.NoBody, true},
		{http.MethodDelete, nil, true},
		{http.MethodPut, nil, true},
		{http.MethodPut, io.NopCloser(strings.NewReader("x")), false},
		{http.MethodPost, nil, false},
		{http.MethodPatch, nil, false},
	} {
		req := &http.Request{Method: tc.method, Body: tc.body}
		if got := idempotent(req.Method) && resendable(req); got != tc.want {
			t.Errorf("%s with body %v: idempotent and resendable = %v, want %v", tc.method, tc.body != nil, got, tc.want)
		}
	}
}

func TestHostInIgnoresPortAndCase(t *testing.T) {
	hosts := []string{"sava.example.com"}
	for host, want := range map[string]bool{"sava.example.com": true, "SAVA.example.com:8080": true, "example.com": false} {
		if got := hostIn(host, hosts); got != want {
			t.Errorf("hostIn(%q) = %v, want %v", host, got, want)
		}
	}
}
