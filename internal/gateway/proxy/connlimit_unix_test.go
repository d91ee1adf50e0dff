//go:build unix

package proxy

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
)

// emfileChild marks the child process of TestOutOfDescriptorsIsNotTheInstancesFailure.
const emfileChild = "VAMP_PROXY_TEST_EMFILE_CHILD"

// TestOutOfDescriptorsIsNotTheInstancesFailure: a dial that fails because the gateway has no
// descriptor left (a real EMFILE) is answered 503 with a text that says so, counted as the
// gateway's own, and does not eject the instance, on both paths: with EjectAfter 1 one counted
// failure would. It runs in a child process (the test binary again, with emfileChild set), which
// lowers its RLIMIT_NOFILE and takes every descriptor left, so that no other test starves.
func TestOutOfDescriptorsIsNotTheInstancesFailure(t *testing.T) {
	if os.Getenv(emfileChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOutOfDescriptorsIsNotTheInstancesFailure$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), emfileChild+"=1")
		out, err := cmd.CombinedOutput()
		for _, want := range []string{"--- PASS: TestOutOfDescriptorsIsNotTheInstancesFailure/direct", "--- PASS: TestOutOfDescriptorsIsNotTheInstancesFailure/reverseproxy"} {
			if err != nil || !bytes.Contains(out, []byte(want)) {
				t.Fatalf("the child process (%s): %v, want %q in its output:\n%s", emfileChild, err, want, out)
			}
		}
		return
	}
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) { outOfDescriptors(t, path.netHTTPOnly) })
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

	release := takeEveryDescriptor(t)
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
