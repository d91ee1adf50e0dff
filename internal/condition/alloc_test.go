package condition

import "testing"

// TestMatchAllocatesNothing: the gateway evaluates conditions per request, so the header-based
// predicates must not allocate (design.md, routing.Matcher's contract).
func TestMatchAllocatesNothing(t *testing.T) {
	r := req(ua(uaEdge), host("Shop.Example.com:8443"), hdr("X-Canary", "beta-2"),
		cookies("session=abc; vamp=\"x12345y\"; theme=dark"))
	cases := []struct {
		src  string
		want bool
	}{
		{"user-agent == Edge", true},
		{"user-agent == Chrome", false},
		{"user-agent has windows", true},
		{"user-agent != Safari", true},
		{"host == shop.example.com", true},
		{"host == shop.example.com:8443", true},
		{"host has example", true},
		{"has header x-canary", true},
		{"header X-Canary has beta", true},
		{"header X-Canary misses gamma", true},
		{"has cookie vamp", true},
		{"cookie vamp has 12345", true},
		{"misses cookie other", true},
		{"(user-agent == Chrome or user-agent == Edge) and has cookie vamp and not host == localhost", true},
	}
	for _, tc := range cases {
		c := mustParse(t, tc.src)
		if got := c.Match(r); got != tc.want {
			t.Fatalf("%q: Match = %v, want %v", tc.src, got, tc.want)
		}
		if allocs := testing.AllocsPerRun(100, func() { c.Match(r) }); allocs != 0 {
			t.Errorf("%q: Match allocates %.1f times per call, want 0", tc.src, allocs)
		}
	}
}
