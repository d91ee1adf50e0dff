package logevery

import (
	"sync"
	"testing"
	"time"
)

// TestLineIsDueOncePerInterval: the first time, then not until Interval has passed, and the
// line then counts the times in between.
func TestLineIsDueOncePerInterval(t *testing.T) {
	var l Line
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if due, n := l.Due(t0); !due || n != 0 {
		t.Fatalf("first time: due %v, unlogged %d; want true, 0", due, n)
	}
	for i := 1; i <= 3; i++ {
		if due, _ := l.Due(t0.Add(Interval - time.Duration(i))); due {
			t.Fatalf("due again %v after the last line, within %v", Interval-time.Duration(i), Interval)
		}
	}
	if due, n := l.Due(t0.Add(Interval)); !due || n != 3 {
		t.Fatalf("after %v: due %v, unlogged %d; want true, 3", Interval, due, n)
	}
	if due, _ := l.Due(t0.Add(Interval + time.Second)); due {
		t.Fatal("due a second after the second line")
	}
}

// TestLineIsDueOnceForConcurrentAsks: of goroutines that ask at the same time, one writes the
// line; the others are counted in the next.
func TestLineIsDueOnceForConcurrentAsks(t *testing.T) {
	var l Line
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const askers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	dues := 0
	for range askers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if due, _ := l.Due(now); due {
				mu.Lock()
				dues++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if dues != 1 {
		t.Fatalf("%d of %d concurrent asks were due, want 1", dues, askers)
	}
	if due, n := l.Due(now.Add(Interval)); !due || n != askers-1 {
		t.Fatalf("next line: due %v, unlogged %d; want true, %d", due, n, askers-1)
	}
}
