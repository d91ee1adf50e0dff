//go:build unix

package health

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit/fdtest"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/logevery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// TestCheckWithoutADescriptorJudgesNothing: a check the gateway cannot make because it has no
// descriptor left (a real EMFILE, in a child process: fdtest) is neither a failure nor a success
// of the instance, for HTTP and TCP checks; the same checks pass once descriptors are back, and a
// refused connect is a failure.
func TestCheckWithoutADescriptorJudgesNothing(t *testing.T) {
	if !fdtest.InChild(t) {
		return
	}
	inst := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer inst.Close()
	addr := inst.Listener.Addr().String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	checks := map[string]spec.HealthCheck{
		"http": {Path: "/", Timeout: 5 * time.Second},
		"tcp":  {TCP: true, Timeout: 5 * time.Second},
	}
	release := fdtest.TakeAll(t)
	starved := map[string]verdict{}
	for name, hc := range checks {
		starved[name], _ = probe(context.Background(), hc, addr, client)
	}
	release()
	for name, hc := range checks {
		if starved[name] != notJudged {
			t.Errorf("%s check without a descriptor: verdict %d, want notJudged", name, starved[name])
		}
		if v, _ := probe(context.Background(), hc, addr, client); v != passed {
			t.Errorf("%s check of a healthy instance: verdict %d, want passed", name, v)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := ln.Addr().String()
	ln.Close()
	for name, hc := range checks {
		if v, _ := probe(context.Background(), hc, refusing, client); v != failed {
			t.Errorf("%s check of a refusing instance: verdict %d, want failed", name, v)
		}
	}
}

// TestChecksNotMadeAreCountedAndLoggedAtMostOncePerInterval: while the gateway has no descriptor
// left (a real EMFILE, in a child process), every check of every instance is skipped at every
// tick: each is counted in the process's Skips, the instances keep their state, and the log
// says so once per logevery.Interval (the first line names the errno), not once per check.
func TestChecksNotMadeAreCountedAndLoggedAtMostOncePerInterval(t *testing.T) {
	if !fdtest.InChild(t) {
		return
	}
	inst := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer inst.Close()
	pool := routing.NewPool()
	b := pool.Get(inst.Listener.Addr().String())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	checks := []spec.HealthCheck{
		{Route: "http", Backends: []*routing.Backend{b}, Path: "/", Interval: time.Millisecond, Timeout: 5 * time.Second, UnhealthyThreshold: 1, HealthyThreshold: 1},
		{Route: "tcp", Backends: []*routing.Backend{b}, TCP: true, Interval: time.Millisecond, Timeout: 5 * time.Second, UnhealthyThreshold: 1, HealthyThreshold: 1},
	}
	var out lockedBuffer
	skips := &Skips{}
	release := fdtest.TakeAll(t)
	start := time.Now()
	stop := Start("shop", checks, client, slog.New(slog.NewTextHandler(&out, nil)), skips)
	for deadline := start.Add(10 * time.Second); skips.Skipped() < 20; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			release()
			t.Fatalf("waited 10s for 20 checks to be skipped: %d", skips.Skipped())
		}
	}
	stop()
	elapsed := time.Since(start)
	release()
	skipped, log := skips.Skipped(), out.String()
	lines := strings.Count(log, "health check not made")
	if most := 1 + int(elapsed/logevery.Interval); lines < 1 || lines > most {
		t.Errorf("%d checks skipped in %v, logged in %d lines; want 1 to %d (one per %v):\n%s", skipped, elapsed, lines, most, logevery.Interval, log)
	}
	if !strings.Contains(log, "EMFILE") || !strings.Contains(log, "not_made_since_last_line=0") {
		t.Errorf("the first line should name the errno and count nothing before it:\n%s", log)
	}
	if !b.Healthy() {
		t.Error("an instance was marked down for checks the gateway could not make (UnhealthyThreshold 1)")
	}
}

// lockedBuffer is a bytes.Buffer that the check goroutines may write concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
