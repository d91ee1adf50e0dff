package routing

import (
	"net/http"
	"testing"
	"time"
)

func TestPoolSharesOneBackendPerAddress(t *testing.T) {
	p := NewPool()
	a := p.Get("10.0.0.1:80")
	if p.Get("10.0.0.1:80") != a || p.Get("10.0.0.2:80") == a {
		t.Fatal("Get must return one Backend per address")
	}
	if !a.Healthy() || !a.Available(t0) || a.Active() != 0 || !a.EjectedUntil().IsZero() {
		t.Fatalf("a new backend must be healthy, available and idle: %+v", a)
	}
	a.SetHealthy(false)
	if p.Get("10.0.0.1:80").Healthy() {
		t.Fatal("health must be shared through the pool")
	}
	p.Forget("10.0.0.1:80")
	if b := p.Get("10.0.0.1:80"); b == a || !b.Healthy() {
		t.Fatal("after Forget, Get must create a fresh healthy backend")
	}
}

func TestEjectionWindowAndNoShortening(t *testing.T) {
	b := NewPool().Get("x:1")
	b.Eject(t0, 30*time.Second)
	b.Eject(t0, 5*time.Second) // a shorter ejection does not cut the longer one
	if b.Available(t0.Add(29 * time.Second)) {
		t.Fatal("available during the ejection")
	}
	if !b.Available(t0.Add(30 * time.Second)) {
		t.Fatal("not available when the ejection ends")
	}
	if !b.EjectedUntil().Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("EjectedUntil = %v", b.EjectedUntil())
	}
	if !b.Healthy() {
		t.Fatal("ejection is not an active health verdict")
	}
	b.Acquire()
	b.Acquire()
	b.Release()
	if b.Active() != 1 {
		t.Fatalf("Active = %d, want 1", b.Active())
	}
}

func TestCookieValue(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    string
		found   bool
	}{
		{[]string{"s=abc"}, "abc", true},
		{[]string{"a=1; s=abc; b=2"}, "abc", true},
		{[]string{`a=1;s="sava:1.0.0"`}, "sava:1.0.0", true},
		{[]string{"a=1", " \ts = x "}, "x", true}, // second header line (HTTP/2 splits cookies)
		{[]string{"ss=1; s2=2; xs=3"}, "", false},
		{[]string{"s"}, "", false},
		{[]string{"s=; t=1"}, "", true},
		{nil, "", false},
	} {
		h := http.Header{}
		for _, v := range tc.headers {
			h.Add("Cookie", v)
		}
		got, found := cookieValue(h, "s")
		if got != tc.want || found != tc.found {
			t.Errorf("%q: got %q %v, want %q %v", tc.headers, got, found, tc.want, tc.found)
		}
	}
}

func TestSmoothCycle(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    []uint8
	}{
		{[]int{100}, []uint8{0}},
		{[]int{50, 50}, []uint8{0, 1}},
		{[]int{90, 10}, []uint8{0, 0, 0, 0, 0, 1, 0, 0, 0, 0}},
		{[]int{50, 25, 25}, []uint8{0, 1, 2, 0}},
		{nil, nil},
	} {
		got := smoothCycle(tc.weights)
		if len(got) != len(tc.want) {
			t.Fatalf("%v: cycle %v, want %v", tc.weights, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%v: cycle %v, want %v", tc.weights, got, tc.want)
			}
		}
	}
	// 100 routes of weight 1: each once.
	ones := make([]int, 100)
	for i := range ones {
		ones[i] = 1
	}
	seen := map[uint8]bool{}
	for _, w := range smoothCycle(ones) {
		seen[w] = true
	}
	if len(seen) != 100 {
		t.Fatalf("100 weights of 1: %d distinct in the cycle", len(seen))
	}
}

// permute is a permutation of 0..l-1 for every cycle length a table can have and every cycle.
func TestPermuteIsABijectionPerCycle(t *testing.T) {
	for l := uint64(1); l <= 100; l++ {
		for c := uint64(0); c < 50; c++ {
			seen := make([]bool, l)
			for p := uint64(0); p < l; p++ {
				x := permute(12345, c, p, l)
				if x >= l || seen[x] {
					t.Fatalf("l=%d cycle %d: position %d maps to %d, out of range or taken twice", l, c, p, x)
				}
				seen[x] = true
			}
		}
	}
}

// Each shuffle holds the cycle's entries exactly once each, and the shuffles differ.
func TestShufflesAreOrdersOfTheCycle(t *testing.T) {
	cycle := smoothCycle([]int{50, 25, 15, 10}) // 20 entries
	sh := shuffles(cycle, 7)
	want := map[uint8]int{}
	for _, w := range cycle {
		want[w]++
	}
	distinct := map[string]bool{}
	for k := range numShuffles {
		s := sh[k*len(cycle) : (k+1)*len(cycle)]
		got := map[uint8]int{}
		for _, w := range s {
			got[w]++
		}
		for w, n := range want {
			if got[w] != n {
				t.Fatalf("shuffle %d holds route %d %d times, want %d: %v", k, w, got[w], n, s)
			}
		}
		distinct[string(s)] = true
	}
	if len(distinct) < numShuffles-1 {
		t.Fatalf("only %d distinct shuffles of %d", len(distinct), numShuffles)
	}
}
