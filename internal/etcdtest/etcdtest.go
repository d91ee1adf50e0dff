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
	// PID is the binary's process id; 0 when embedded.
	PID int
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
// binary fails the test: install it with `make tools` (Debian's etcd-server).
func Binary(t testing.TB) *Etcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("the etcd binary is not on PATH (%v): run `make tools`, which installs Debian's etcd-server", err)
	}
	client := "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
	peer := "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
	cmd := exec.Command(bin,
		"--name", "etcdtest",
		"--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "etcdtest="+peer,
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
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
	t.Cleanup(func() {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("stopping etcd (pid %d): %v", pid, err)
		}
		var exitErr error
		select {
		case exitErr = <-exited:
		case <-time.After(readyTimeout):
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				t.Errorf("killing etcd (pid %d): %v", pid, err)
			}
			exitErr = <-exited
		}
		// The test has ended: etcd's exit status after our signal ("signal: terminated" or
		// "signal: killed") is expected and says nothing about the test, so it is dropped.
		_ = exitErr
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("etcd (%s) exited before it served: %v\n%s", bin, err, strings.Join(tail, "\n"))
	case <-time.After(readyTimeout):
		t.Fatalf("etcd (%s, pid %d) was not ready within %s", bin, pid, readyTimeout)
	}
	return &Etcd{Endpoint: client, PID: pid}
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
