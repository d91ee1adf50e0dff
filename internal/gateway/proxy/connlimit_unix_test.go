//go:build unix

package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit/fdtest"
)

// TestOutOfDescriptorsIsNotTheInstancesFailure: a dial that fails because the gateway has no
// descriptor left (a real EMFILE) is answered 503 with a text that says so, counted as the
// gateway's own, and does not eject the instance, on both paths: with EjectAfter 1 one counted
// failure would. It runs in a child process (fdtest), which lowers its RLIMIT_NOFILE and takes
// every descriptor left, so that no other test starves.
func TestOutOfDescriptorsIsNotTheInstancesFailure(t *testing.T) {
	if !fdtest.InChild(t) {
		return
	}
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) { outOfDescriptors(t, path.netHTTPOnly) })
	}
	t.Run("accept", acceptOutOfDescriptors)
}

// acceptOutOfDescriptors: a client the gateway cannot accept for want of a descriptor waits
// (the listener retries after a back-off, counted as the gateway's own accept failure) and is
// served once descriptors are back.
func acceptOutOfDescriptors(t *testing.T) {
	lim := connlimit.New(100)
	_, _, addr := startServer(t, Options{Conns: lim}, ServerOptions{}, echoInstance(t))
	release := fdtest.TakeAllBut(t, 1) // the client's socket takes the last one
	c := dial(t, addr)
	waitFor(t, "the gateway's accept to fail with EMFILE", func() bool { return lim.Exhausted(connlimit.OpAccept, 0) > 0 })
	release()
	if body := c.get("/accepted"); body != "GET /accepted " {
		t.Fatalf("the client after the failed accept: %q", body)
	}
}

func outOfDescriptors(t *testing.T, netHTTPOnly bool) {
	// The instance closes its connection after every answer, so every request dials anew.
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = w.Write([]byte("ok " + r.URL.Path))
	}))
	t.Cleanup(inst.Close)
	lim := connlimit.New(100)
	srv, _, addr := startServer(t, Options{EjectAfter: 1, EjectFor: time.Hour, Conns: lim}, ServerOptions{NetHTTPOnly: netHTTPOnly}, inst.Listener.Addr().String())
	b := srv.f.Table.Load().Routes()[0].Backends[0]
	c := dial(t, addr)
	if body := c.get("/first"); body != "ok /first" {
		t.Fatalf("before: %q", body)
	}

	release := fdtest.TakeAll(t)
	c.send("GET /starved HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	resp, body := c.answer()
	release()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "out of file descriptors") || !strings.Contains(body, "not the instance's failure") {
		t.Fatalf("a dial without a descriptor: %s %q, want 503 saying the gateway is out of file descriptors", resp.Status, body)
	}
	if n := lim.Exhausted(connlimit.OpDial, 0); n != 1 {
		t.Errorf("EMFILE dials counted: %d, want 1", n)
	}
	if !b.Available(time.Now()) {
		t.Fatal("the instance was ejected for the gateway's own EMFILE")
	}
	if body := c.get("/after"); body != "ok /after" {
		t.Fatalf("after: %q", body)
	}
}
