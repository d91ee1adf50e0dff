//go:build unix

package tcpproxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

const emfileChild = "VAMP_TCPPROXY_TEST_EMFILE_CHILD"

// TestOutOfDescriptorsIsNotTheInstancesFailure: a connect that fails because the gateway has no
// descriptor left (a real EMFILE, in a child process that lowers its RLIMIT_NOFILE and takes
// every descriptor left) is the gateway's own failure: typed, counted, not tried on the other
// instance and not counted towards ejection (EjectAfter 1). A refused connect still ejects.
func TestOutOfDescriptorsIsNotTheInstancesFailure(t *testing.T) {
	if os.Getenv(emfileChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOutOfDescriptorsIsNotTheInstancesFailure$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), emfileChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestOutOfDescriptorsIsNotTheInstancesFailure")) {
			t.Fatalf("the child process (%s): %v\n%s", emfileChild, err, out)
		}
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

	release := takeEveryDescriptor(t)
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

// takeEveryDescriptor lowers the soft RLIMIT_NOFILE (to at most 1024) and opens /dev/null until
// the process has no descriptor left (EMFILE); release closes them and restores the limit.
func takeEveryDescriptor(t *testing.T) (release func()) {
	t.Helper()
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	lowered := saved
	lowered.Cur = min(saved.Cur, 1024)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	var fds []int
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		for _, fd := range fds {
			syscall.Close(fd)
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(release)
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				release()
				t.Fatalf("opening /dev/null: %v, want EMFILE once every descriptor is taken", err)
			}
			return release
		}
		fds = append(fds, fd)
	}
}
