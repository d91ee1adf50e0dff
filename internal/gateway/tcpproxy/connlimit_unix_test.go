//go:build unix

package tcpproxy

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit/fdtest"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// TestOutOfDescriptorsIsNotTheInstancesFailure: a connect that fails because the gateway has no
// descriptor left (a real EMFILE, in a child process that lowers its RLIMIT_NOFILE and takes
// every descriptor left: fdtest) is the gateway's own failure: typed, counted, not tried on the other
// instance and not counted towards ejection (EjectAfter 1). A refused connect still ejects.
func TestOutOfDescriptorsIsNotTheInstancesFailure(t *testing.T) {
	if !fdtest.InChild(t) {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pool := routing.NewPool()
	a, b := ln.Addr().String(), refusingAddr(t)
	lim := connlimit.New(10)
	p := New(Options{EjectAfter: 1, Attempts: 2, Conns: lim}, NewMetrics())
	tb := table(t, pool, a, b).Load()

	release := fdtest.TakeAll(t)
	_, _, _, err = p.connect(context.Background(), tb)
	release()
	var res *connlimit.ResourceError
	var de *DialError
	if !errors.As(err, &res) || res.Errno != syscall.EMFILE || errors.As(err, &de) {
		t.Fatalf("connect without a descriptor: %v; want a *connlimit.ResourceError (EMFILE) and no *DialError (no second instance tried)", err)
	}
	now := time.Now()
	if !pool.Get(a).Available(now) || !pool.Get(b).Available(now) {
		t.Fatal("an instance was ejected for the gateway's own EMFILE")
	}
	if n := lim.Exhausted(connlimit.OpDial, 0); n != 1 {
		t.Errorf("EMFILE connects counted: %d, want 1", n)
	}
	// The instance's own failure still counts: until b is ejected, connects go to a.
	for range 4 {
		c, backend, _, err := p.connect(context.Background(), tb)
		if err != nil {
			t.Fatalf("connect with a listening instance: %v", err)
		}
		c.Close()
		if backend != pool.Get(a) {
			t.Fatalf("connected to %s, want %s", backend.Addr, a)
		}
	}
	if pool.Get(b).Available(time.Now()) {
		t.Error("the refusing instance was never ejected (EjectAfter 1)")
	}
}
