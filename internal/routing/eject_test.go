package routing

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEjectNeverTakesTheLastAvailableInstance: of two instances (in one route or two), the
// first ejected goes, the second stays; once the first's ejection ends the second may go.
func TestEjectNeverTakesTheLastAvailableInstance(t *testing.T) {
	for _, shape := range []struct {
		name   string
		routes func(a, b *Backend) []Route
	}{
		{"one route", func(a, b *Backend) []Route {
			return []Route{{Name: "r", Weight: 100, Backends: []*Backend{a, b}}}
		}},
		{"two routes", func(a, b *Backend) []Route {
			return []Route{{Name: "r1", Weight: 50, Backends: []*Backend{a}}, {Name: "r2", Weight: 50, Backends: []*Backend{b}}}
		}},
		{"conditional route", func(a, b *Backend) []Route {
			return []Route{{Name: "r1", Weight: 0, Condition: firefox, ConditionStrength: 100, Backends: []*Backend{a}}, {Name: "r2", Weight: 100, Backends: []*Backend{b}}}
		}},
	} {
		t.Run(shape.name, func(t *testing.T) {
			p := NewPool()
			a, b := p.Get("a:1"), p.Get("b:1")
			tbl := mustNew(t, Spec{Routes: shape.routes(a, b)})
			if got := tbl.Eject(a, t0, time.Minute); got != Ejected {
				t.Fatalf("eject a with b available: %v, want ejected", got)
			}
			if a.Available(t0) || !a.EjectedUntil().Equal(t0.Add(time.Minute)) {
				t.Fatalf("a: available %v, ejected until %v; want ejected until %v", a.Available(t0), a.EjectedUntil(), t0.Add(time.Minute))
			}
			if got := tbl.Eject(b, t0, time.Minute); got != Withheld {
				t.Fatalf("eject b, the last available: %v, want withheld", got)
			}
			if !b.Available(t0) || !b.EjectedUntil().IsZero() {
				t.Fatalf("b after a withheld ejection: available %v, ejected until %v; want available, never ejected", b.Available(t0), b.EjectedUntil())
			}
			later := t0.Add(time.Minute)
			if got := tbl.Eject(b, later, time.Minute); got != Ejected {
				t.Fatalf("eject b once a's ejection ended: %v, want ejected", got)
			}
			if got := tbl.Eject(a, later, time.Minute); got != Withheld || !a.Available(later) {
				t.Fatalf("eject a, now the last available: %v (available %v), want withheld and available", got, a.Available(later))
			}
		})
	}
}

// TestEjectCountsOnlyAvailableInstances: an instance that active health checks marked down does
// not count as available, so the last healthy one is not ejected; and the health checks stay
// authoritative: marking that one down too leaves the table without an instance (503).
func TestEjectCountsOnlyAvailableInstances(t *testing.T) {
	p := NewPool()
	a, b := p.Get("a:1"), p.Get("b:1")
	tbl := mustNew(t, Spec{Routes: []Route{{Name: "r", Weight: 100, Backends: []*Backend{a, b}}}})
	a.SetHealthy(false)
	if got := tbl.Eject(b, t0, time.Minute); got != Withheld || !b.Available(t0) {
		t.Fatalf("eject the last healthy instance: %v (available %v), want withheld", got, b.Available(t0))
	}
	b.SetHealthy(false)
	if _, err := tbl.Choose(nil, t0, nil); err != tbl.errNoInstance {
		t.Fatalf("both unhealthy: Choose error %v, want %v", err, tbl.errNoInstance)
	}
}

// TestEjectFollowsNext: the instances of the tables a table's routes lead to count too.
func TestEjectFollowsNext(t *testing.T) {
	p := NewPool()
	a, c := p.Get("a:1"), p.Get("c:1")
	inner := mustNew(t, Spec{Routes: []Route{{Name: "inner", Weight: 100, Backends: []*Backend{c}}}})
	var next atomic.Pointer[Table]
	next.Store(inner)
	outer := mustNew(t, Spec{Routes: []Route{
		{Name: "own", Weight: 50, Backends: []*Backend{a}},
		{Name: "other-gateway", Weight: 50, Next: &next},
	}})
	if got := outer.Eject(a, t0, time.Minute); got != Ejected {
		t.Fatalf("eject a while the next gateway's c is available: %v, want ejected", got)
	}
	if got := outer.Eject(c, t0, time.Minute); got != Withheld {
		t.Fatalf("eject c, the last available through the next gateway: %v, want withheld", got)
	}
	// Seen from the inner table alone, c is its last instance too.
	if got := inner.Eject(c, t0, time.Minute); got != Withheld {
		t.Fatalf("eject c from its own table: %v, want withheld", got)
	}
}

// TestEjectWithheldLeavesTheEarlierEjection: a withheld ejection leaves the instance's earlier
// ejection as it was (here one that had ended), and an ejection in force is neither shortened
// nor lengthened by another.
func TestEjectWithheldLeavesTheEarlierEjection(t *testing.T) {
	p := NewPool()
	a, b := p.Get("a:1"), p.Get("b:1")
	tbl := mustNew(t, Spec{Routes: []Route{{Name: "r", Weight: 100, Backends: []*Backend{a, b}}}})
	b.Eject(t0.Add(-time.Hour), time.Minute) // ended long ago
	if got := tbl.Eject(a, t0, time.Hour); got != Ejected {
		t.Fatalf("eject a: %v", got)
	}
	if got := tbl.Eject(a, t0.Add(time.Minute), time.Hour); got != AlreadyEjected || !a.EjectedUntil().Equal(t0.Add(time.Hour)) {
		t.Fatalf("ejecting a again while it is out: %v, ejected until %v; want already ejected, still until %v", got, a.EjectedUntil(), t0.Add(time.Hour))
	}
	if got := tbl.Eject(b, t0, time.Minute); got != Withheld {
		t.Fatalf("eject b: %v, want withheld", got)
	}
	if want := t0.Add(-time.Hour + time.Minute); !b.EjectedUntil().Equal(want) || !b.Available(t0) {
		t.Fatalf("b after the withheld ejection: until %v, available %v; want its earlier end %v as it was", b.EjectedUntil(), b.Available(t0), want)
	}
}

// TestEjectConcurrentLeavesOneAvailable: every instance of a table failing at once, from many
// goroutines each: however the ejections interleave, at least one instance stays available, and
// the outcomes reported match the instances that are out.
func TestEjectConcurrentLeavesOneAvailable(t *testing.T) {
	const rounds, perBackend = 300, 8
	for _, n := range []int{2, 3} {
		for round := range rounds {
			p := NewPool()
			bs := make([]*Backend, n)
			for i := range bs {
				bs[i] = p.Get(string(rune('a'+i)) + ":1")
			}
			tbl := mustNew(t, Spec{Routes: []Route{{Name: "r", Weight: 100, Backends: bs}}})
			start := make(chan struct{})
			var wg sync.WaitGroup
			var ejected atomic.Int32
			for _, b := range bs {
				for range perBackend {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						if tbl.Eject(b, t0, time.Hour) == Ejected {
							ejected.Add(1)
						}
					}()
				}
			}
			close(start)
			wg.Wait()
			out := 0
			for _, b := range bs {
				if !b.Available(t0) {
					out++
				}
			}
			if out > n-1 || int(ejected.Load()) != out {
				t.Fatalf("%d instances, round %d: %d ejected (%d reported ejected), want at most %d and as many reported", n, round, out, ejected.Load(), n-1)
			}
		}
	}
}

// TestEjectKeepsEveryTableInServiceAnInstance: a backend shared by two gateways' tables in
// service (Pool.InService) is not ejected through one while it is the other's last available
// instance, whichever table the failed request was routed by; it is once the other has another
// instance, or is no longer in service. A table out of service (replaced) no longer counts.
func TestEjectKeepsEveryTableInServiceAnInstance(t *testing.T) {
	p := NewPool()
	shared, own, other := p.Get("shared:1"), p.Get("own:1"), p.Get("other:1")
	a := mustNew(t, Spec{Routes: []Route{{Name: "a", Weight: 100, Backends: []*Backend{shared, own}}}})
	b := mustNew(t, Spec{Routes: []Route{{Name: "b", Weight: 100, Backends: []*Backend{shared}}}})
	p.InService("A", a)
	p.InService("B", b)
	if got := a.Eject(shared, t0, time.Minute); got != Withheld || !shared.Available(t0) {
		t.Fatalf("eject the shared instance through A while it is B's last: %v (available %v), want withheld", got, shared.Available(t0))
	}
	// B in service by a table that has another instance: the shared one may go.
	b2 := mustNew(t, Spec{Routes: []Route{{Name: "b", Weight: 50, Backends: []*Backend{shared}}, {Name: "b2", Weight: 50, Backends: []*Backend{other}}}})
	p.InService("B", b2)
	if got := a.Eject(shared, t0, time.Minute); got != Ejected {
		t.Fatalf("eject the shared instance once B has another: %v, want ejected", got)
	}
	// The old table b is out of service: a request still routed by it is bounded by it alone.
	if got := b.Eject(shared, t0, time.Minute); got != AlreadyEjected {
		t.Fatalf("b: %v, want already ejected", got)
	}

	// Once that ejection ended, B in service by b again: the shared one is B's last, through B's
	// table as through A's.
	later := t0.Add(time.Minute)
	p.InService("B", b)
	if got := b.Eject(shared, later, time.Minute); got != Withheld {
		t.Fatalf("eject through B, its last: %v, want withheld", got)
	}
	if got := a.Eject(shared, later, time.Minute); got != Withheld {
		t.Fatalf("eject through A, B's last: %v, want withheld", got)
	}
	// B deleted: nothing but A refers to the shared instance.
	p.InService("B", nil)
	if got := a.Eject(shared, later, time.Minute); got != Ejected {
		t.Fatalf("eject the shared instance once B is gone: %v, want ejected", got)
	}
}

// TestEjectConcurrentLeavesEveryTableOne: two tables in service sharing an instance (A: a and s,
// B: s and b), every instance failing at once through each table that lists it: however the
// ejections interleave, each table keeps an available instance.
func TestEjectConcurrentLeavesEveryTableOne(t *testing.T) {
	const rounds, perFailure = 300, 4
	for round := range rounds {
		p := NewPool()
		a, s, b := p.Get("a:1"), p.Get("s:1"), p.Get("b:1")
		ta := mustNew(t, Spec{Routes: []Route{{Name: "a", Weight: 100, Backends: []*Backend{a, s}}}})
		tb := mustNew(t, Spec{Routes: []Route{{Name: "b", Weight: 100, Backends: []*Backend{s, b}}}})
		p.InService("A", ta)
		p.InService("B", tb)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, f := range []struct {
			t *Table
			b *Backend
		}{{ta, a}, {ta, s}, {tb, s}, {tb, b}} {
			for range perFailure {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					f.t.Eject(f.b, t0, time.Hour)
				}()
			}
		}
		close(start)
		wg.Wait()
		if !a.Available(t0) && !s.Available(t0) || !s.Available(t0) && !b.Available(t0) {
			t.Fatalf("round %d: a %v, s %v, b %v available; want one of a and s and one of s and b", round, a.Available(t0), s.Available(t0), b.Available(t0))
		}
	}
}
