//go:build unix

// Package fdtest lets a test run its process out of file descriptors for real (EMFILE), in a
// child process of its own so that no other test starves: InChild runs the test again in the
// test binary, TakeAll lowers the child's RLIMIT_NOFILE and takes every descriptor left. For tests
// only.
package fdtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// childEnv marks the child process.
const childEnv = "VAMP_FDTEST_CHILD"

// InChild reports whether this is the child process of t. In the parent it runs t alone in a
// child process (the test binary again), fails t unless it passes there, and returns false: the
// caller then returns. Call it first, from a top-level test.
func InChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")) {
		t.Fatalf("%s in a child process (RLIMIT_NOFILE lowered): %v\n%s", t.Name(), err, out)
	}
	return false
}

// TakeAll lowers the soft RLIMIT_NOFILE (to at most 1024) and opens /dev/null until the process
// has no descriptor left (EMFILE); release closes them and restores the limit (also at the end of
// the test). Only in InChild's child.
func TakeAll(t testing.TB) (release func()) {
	t.Helper()
	return TakeAllBut(t, 0)
}

// TakeAllBut is TakeAll, then leaves free descriptors free again (the next free sockets succeed,
// the one after fails with EMFILE).
func TakeAllBut(t testing.TB, free int) (release func()) {
	t.Helper()
	if os.Getenv(childEnv) == "" {
		t.Fatal("fdtest.TakeAll outside a child process of fdtest.InChild: it would starve the other tests")
	}
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
			if free > len(fds) {
				release()
				t.Fatalf("only %d descriptors were free, want more than %d", len(fds), free)
			}
			for _, fd := range fds[len(fds)-free:] {
				syscall.Close(fd)
			}
			fds = fds[:len(fds)-free]
			return release
		}
		fds = append(fds, fd)
	}
}
