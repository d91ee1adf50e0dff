package gatewayapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// slowServer answers every request after delay, or gives up when the client does.
func slowServer(t *testing.T, delay time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay): // the admin API being slow, not a synchronisation
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"gateways":[]}`))
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A request lasts as long as its context allows: an operation's deadline longer than
// RequestTimeout is not cut short (the provider's client once had a fixed 30 s timeout that
// ended every longer wait).
func TestRequestFollowsTheContextDeadline(t *testing.T) {
	srv := slowServer(t, 300*time.Millisecond)
	c := &Client{BaseURL: srv.URL, RequestTimeout: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.List(ctx); err != nil {
		t.Fatalf("a request within the operation's deadline failed: %v", err)
	}
}

// Without a deadline (a refresh, an import) RequestTimeout bounds a request, so that an admin
// API that never answers does not hang Terraform.
func TestRequestWithoutDeadlineIsBounded(t *testing.T) {
	srv := slowServer(t, time.Minute)
	c := &Client{BaseURL: srv.URL, RequestTimeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := c.List(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the request timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the request took %v, want about 100ms", d)
	}
}
