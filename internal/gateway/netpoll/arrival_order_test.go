//go:build linux && !race

// Not under the race detector: it shuffles the scheduler's run queue on purpose, so the order in
// which ready goroutines run says nothing there.

package netpoll

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
)

// Sockets that become readable one after another are served in that order: the point of the
// arrival-order set. With one processor, the order in which the woken goroutines run is the order
// in which the dispatcher made them ready (Go's own poller would run them last-come first).
func TestWaiterServesSocketsInArrivalOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 8
	set := testArrivals(t)
	waiters := make([]*Waiter, n)
	peers := make([]net.Conn, n)
	for i := range n {
		waiters[i], _, peers[i] = socketPairIn(t, set, false)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i, w := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Read(make([]byte, 8)); err != nil {
				t.Errorf("socket %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}()
	}
	// All n must wait in the set before the first byte goes out: each is in the kernel's epoll
	// set (its fdinfo lists the descriptor) and its goroutine has had the processor since.
	for !allInEpollSet(t, set.epfd, waiters) {
		runtime.Gosched()
	}
	for range n {
		runtime.Gosched()
	}
	for _, p := range peers {
		if _, err := p.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("served in the order %v, want the order the data arrived in (0..%d)", order, n-1)
		}
	}
}

// allInEpollSet reports whether every waiter's descriptor is in the epoll set epfd.
func allInEpollSet(t *testing.T, epfd int, waiters []*Waiter) bool {
	t.Helper()
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", epfd))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range waiters {
		if !bytes.Contains(info, []byte(fmt.Sprintf("tfd: %8d ", w.fd))) {
			return false
		}
	}
	return true
}
