package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

func TestConnectionFailureTellsRetryableErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}, true},
		{"reset while reading", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"closed before answering", fmt.Errorf("wrapped: %w", io.EOF), true},
		{"net/http's closed idle connection", errors.New("http: server closed idle connection"), true},
		{"response header timeout", errors.New("net/http: timeout awaiting response headers"), false},
		{"anything else", errors.New("tls: bad certificate"), false},
	} {
		if got := connectionFailure(tc.err); got != tc.want {
			t.Errorf("%s: connectionFailure(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestReplayableOnlyIdempotentWithoutBody(t *testing.T) {
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
		if got := replayable(req); got != tc.want {
			t.Errorf("%s with body %v: replayable = %v, want %v", tc.method, tc.body != nil, got, tc.want)
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
