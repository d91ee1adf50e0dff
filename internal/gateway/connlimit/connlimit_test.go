package connlimit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClassifyLooksAtErrnosOnly: a dial's error is the gateway's own failure when it wraps one of
// the local errnos, however deep; an error that only reads like one is not.
func TestClassifyLooksAtErrnosOnly(t *testing.T) {
	dialErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", errno)}
	}
	for i, errno := range localErrnos {
		res := Classify(OpDial, "10.0.0.1:80", fmt.Errorf("wrapped: %w", dialErr(errno)))
		if res == nil || res.Errno != errno || res.Op != OpDial || res.Addr != "10.0.0.1:80" {
			t.Errorf("Classify(%s) = %+v, want a ResourceError with that errno", ErrnoNames[i], res)
			continue
		}
		if !errors.Is(res, errno) || !strings.Contains(res.Error(), ErrnoNames[i]) {
			t.Errorf("%s: %q does not wrap or name its errno", ErrnoNames[i], res.Error())
		}
	}
	for _, err := range []error{
		dialErr(syscall.ECONNREFUSED), dialErr(syscall.ETIMEDOUT), dialErr(syscall.ECONNRESET),
		errors.New("dial tcp: socket: too many open files"), nil,
	} {
		if res := Classify(OpDial, "a", err); res != nil {
			t.Errorf("Classify(%v) = %v, want nil: not the gateway's own resource", err, res)
		}
	}
}

func TestDefaultForKeepsTwoDescriptorsPerConnectionAndAReserve(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{20000, (20000 - 312) / 2}, // the bench machine's limit: reserve 20000/64
		{1024, (1024 - 256) / 2},   // a common default: the reserve's minimum
		{1 << 20, (1<<20 - 1<<14) / 2},
		{300, 22},
		{100, 1},
	} {
		if got := DefaultFor(tc.nofile); got != tc.want {
			t.Errorf("DefaultFor(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

func TestResolveRefusesANegativeLimit(t *testing.T) {
	if _, _, _, err := Resolve(-1); err == nil || !strings.Contains(err.Error(), "--max-conns -1") {
		t.Errorf("Resolve(-1): %v, want an error naming --max-conns -1", err)
	}
	def, _ := Default()
	if got, _, warn, err := Resolve(0); err != nil || got != def || warn != "" {
		t.Errorf("Resolve(0) = %d, %q, %v; want the default %d", got, warn, err, def)
	}
	if got, _, _, err := Resolve(7); err != nil || got != 7 {
		t.Errorf("Resolve(7) = %d, %v; want 7", got, err)
	}
}

// TestLimiterWaitsUntilASlotIsReleased: at the limit WaitFree and Acquire wait (counted once per
// wait as a hit) and return when a connection gives its slot back; stop ends the wait.
func TestLimiterWaitsUntilASlotIsReleased(t *testing.T) {
	l := New(2)
	stop := make(chan struct{})
	first, second := l.Acquire(stop), l.Acquire(stop)
	if !first || !second || l.Open() != 2 || l.Hits() != 0 {
		t.Fatalf("two slots of two: open %d, hits %d", l.Open(), l.Hits())
	}
	acquired := make(chan bool)
	go func() { acquired <- l.Acquire(stop) }()
	for l.Hits() == 0 {
		time.Sleep(time.Millisecond) // until the goroutine is in its wait
	}
	select {
	case <-acquired:
		t.Fatal("Acquire returned at the limit before any slot was released")
	default:
	}
	l.Release()
	if !<-acquired || l.Open() != 2 {
		t.Fatalf("after a release: the waiting Acquire did not take the slot (open %d)", l.Open())
	}
	free := make(chan bool)
	go func() { free <- l.WaitFree(stop) }()
	for l.Hits() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	if <-free {
		t.Error("WaitFree at the limit returned true after stop, with no slot free")
	}
	if l.Open() != 2 {
		t.Errorf("open %d after a wait that was stopped, want 2", l.Open())
	}
	var none *Limiter
	if !none.Acquire(nil) || !none.WaitFree(nil) || none.Open() != 0 || none.Max() != 0 {
		t.Error("a nil Limiter must have no limit")
	}
	none.Release()
}
