//go:build unix

package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit/fdtest"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
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
		starved[name] = probe(context.Background(), hc, addr, client)
	}
	release()
	for name, hc := range checks {
		if starved[name] != notJudged {
			t.Errorf("%s check without a descriptor: verdict %d, want notJudged", name, starved[name])
		}
		if v := probe(context.Background(), hc, addr, client); v != passed {
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
		if v := probe(context.Background(), hc, refusing, client); v != failed {
			t.Errorf("%s check of a refusing instance: verdict %d, want failed", name, v)
		}
	}
}
