// Package etcdtest runs etcd for tests on loopback ports: inside the test process (the embed
// package of go.etcd.io/etcd/server/v3) or as the real `etcd` binary found on PATH (Debian's
// etcd-server, which `make tools` installs), started by the test and stopped by its PID.
package etcdtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// readyTimeout bounds etcd's start (the bound, not the synchronisation: both kinds say when
// they are ready).
const readyTimeout = 30 * time.Second

// Etcd is one running etcd member.
type Etcd struct {
	// Endpoint is its client URL, http://127.0.0.1:PORT.
	Endpoint string
	// PID is the binary's process id (the latest one after Start); 0 when embedded.
	PID int

	proc *binaryProc // nil when embedded
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener on 127.0.0.1 has address %T, want *net.TCPAddr", ln.Addr())
	}
	port := addr.Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// Embedded runs etcd inside the test process until the test ends.
func Embedded(t testing.TB) *Etcd {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "etcdtest"
	cu, err := url.Parse("http://127.0.0.1:" + strconv.Itoa(FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse("http://127.0.0.1:" + strconv.Itoa(FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "fatal" // Close logs its closed listeners as errors
	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("starting embedded etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	select {
	case <-srv.Server.ReadyNotify():
	case <-time.After(readyTimeout):
		t.Fatalf("embedded etcd was not ready within %s", readyTimeout)
	}
	return &Etcd{Endpoint: cu.String()}
}

// Binary runs the `etcd` binary from PATH until the test ends (stopped by its PID). A missing
// binary fails the test: install it with `make tools` (Debian's etcd-server). Stop and Start
// stop it and run it again on the same data directory and ports.
func Binary(t testing.TB) *Etcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("the etcd binary is not on PATH (%v): run `make tools`, which installs Debian's etcd-server", err)
	}
	e := &Etcd{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(FreePort(t)),
		proc:     &binaryProc{path: bin, dir: t.TempDir(), peer: "http://127.0.0.1:" + strconv.Itoa(FreePort(t))},
	}
	t.Cleanup(func() {
		if e.proc.exited != nil {
			// The test has ended: etcd's exit status after our signal ("signal: terminated" or
			// "signal: killed") is expected and says nothing about the test, so it is dropped.
			_ = e.halt(t)
		}
	})
	e.Start(t)
	return e
}

// binaryProc is the etcd binary's configuration and its running process.
type binaryProc struct {
	path, dir, peer string
	// exited delivers the running process's exit; nil when none runs.
	exited chan error
}

// Start runs the binary of Binary again, on its data directory and ports, and returns once
// it serves; PID is the new process's. It fails the test when e is embedded or runs already.
func (e *Etcd) Start(t testing.TB) {
	t.Helper()
	if e.proc == nil {
		t.Fatalf("%s: Start needs the etcd binary (etcdtest.Binary)", e)
	}
	if e.proc.exited != nil {
		t.Fatalf("%s runs already", e)
	}
	p := e.proc
	cmd := exec.Command(p.path,
		"--name", "etcdtest",
		"--data-dir", p.dir,
		"--listen-client-urls", e.Endpoint, "--advertise-client-urls", e.Endpoint,
		"--listen-peer-urls", p.peer, "--initial-advertise-peer-urls", p.peer,
		"--initial-cluster", "etcdtest="+p.peer,
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.path, err)
	}
	e.PID = cmd.Process.Pid
	exited := make(chan error, 1)
	p.exited = exited
	ready := make(chan struct{})
	var tail []string
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if !signalled {
				tail = append(tail, line)
				if len(tail) > 20 {
					tail = tail[1:]
				}
				// 3.4 (capnslog) and 3.5+ (zap JSON) both log this once serving.
				if strings.Contains(line, "ready to serve client requests") {
					signalled = true
					close(ready)
				}
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-exited:
		p.exited = nil
		t.Fatalf("etcd (%s) exited before it served: %v\n%s", p.path, err, strings.Join(tail, "\n"))
	case <-time.After(readyTimeout):
		t.Fatalf("etcd (%s, pid %d) was not ready within %s", p.path, e.PID, readyTimeout)
	}
}

// Stop stops the binary by its PID (SIGTERM, then SIGKILL after readyTimeout) and returns once
// the process has exited. It fails the test when e is embedded or does not run.
func (e *Etcd) Stop(t testing.TB) {
	t.Helper()
	if e.proc == nil || e.proc.exited == nil {
		t.Fatalf("%s: Stop needs a running etcd binary (etcdtest.Binary)", e)
	}
	if err := e.halt(t); err != nil {
		var exit *exec.ExitError
		// SIGTERM is etcd's clean shutdown: it exits 0 or with the signal's status.
		if !errors.As(err, &exit) {
			t.Fatalf("stopping %s: %v", e, err)
		}
	}
}

// halt signals the running process and waits for its exit, which it returns.
func (e *Etcd) halt(t testing.TB) error {
	t.Helper()
	exited := e.proc.exited
	e.proc.exited = nil
	if err := syscall.Kill(e.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("stopping etcd (pid %d): %v", e.PID, err)
	}
	select {
	case err := <-exited:
		return err
	case <-time.After(readyTimeout):
		if err := syscall.Kill(e.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("killing etcd (pid %d): %v", e.PID, err)
		}
		return <-exited
	}
}

// Client is a client of e, closed when the test ends.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing the etcd client: %v", err)
		}
	})
	return c
}

// String names e for messages.
func (e *Etcd) String() string {
	if e.PID != 0 {
		return fmt.Sprintf("etcd binary (pid %d) at %s", e.PID, e.Endpoint)
	}
	return "embedded etcd at " + e.Endpoint
}
