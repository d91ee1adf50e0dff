package condition

import "testing"

func benchmarkMatch(b *testing.B, src string, opts ...opt) {
	c := mustParse(b, src)
	r := req(opts...)
	b.ReportAllocs()
	for b.Loop() {
		c.Match(r)
	}
}

func BenchmarkMatchUserAgentFamily(b *testing.B) {
	// Chrome on a Firefox User-Agent: no early exit, every token is looked at.
	benchmarkMatch(b, "user-agent == Chrome", ua(uaFirefoxDesktop))
}

func BenchmarkMatchHeader(b *testing.B) {
	benchmarkMatch(b, "header X-Canary has beta", hdr("X-Canary", "alpha, beta"))
}

func BenchmarkMatchComplex(b *testing.B) {
	benchmarkMatch(b,
		"(user-agent == Chrome or user-agent == Firefox) and has cookie vamp and not host == localhost and header X-Canary misses off",
		ua(uaFirefoxDesktop), host("shop.example.com"), hdr("X-Canary", "on"),
		cookies("session=0123456789abcdef; theme=dark; vamp=1"))
}

// The bench gateway's condition (docs/benchmarks.md, `make bench`'s matrix) on the two User-Agents
// of its load: the Firefox one matches, the Chrome one is looked at and refused.
func BenchmarkMatchFirefoxOnFirefoxUA(b *testing.B) {
	benchmarkMatch(b, "user-agent == Firefox", ua(uaFirefoxDesktop))
}

func BenchmarkMatchFirefoxOnChromeUA(b *testing.B) {
	benchmarkMatch(b, "user-agent == Firefox", ua(uaChromeDesktop))
}
