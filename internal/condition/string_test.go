package condition

import (
	"net/http"
	"testing"
)

// TestStringCanonical pins the canonical form and checks that it is a fixed point of Parse.
func TestStringCanonical(t *testing.T) {
	cases := []struct{ src, want string }{
		{"User-Agent = Firefox", "user-agent == Firefox"},
		{"useragent IS firefox", "user-agent == firefox"},
		{"user.agent contains x", "user-agent has x"},
		{"user-agent ! Firefox", "user-agent != Firefox"},
		{"user-agent not Firefox", "user-agent != Firefox"},
		{"user-agent == 'Mobile Safari'", "user-agent == 'Mobile Safari'"},
		{`header x has "it's"`, `header x has 'it\'s'`},
		{`header x has 'a\\b'`, `header x has a\b`},
		{"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp", "(user-agent == Chrome or user-agent == Firefox) and has cookie vamp"},
		{"true || false && !true", "true or false and not true"},
		{"!(true || false)", "not (true or false)"},
		{"not not (true)", "not not true"},
		{"(true and false) and true", "(true and false) and true"},
		{"true or (false or true)", "true or (false or true)"},
		{"CONTAINS COOKIE vamp", "has cookie vamp"},
		{"MISSES header ETag", "misses header ETag"},
		{"cookie vamp CONTAINS 12345", "cookie vamp has 12345"},
		{"has query 'a b'", "has query 'a b'"},
		{"path starts-with /api", "path prefix /api"},
		{"method = get", "method == GET"},
		{"ip = 10.1.2.3/8", "ip in 10.0.0.0/8"},
		{"ip in 10.1.2.3", "ip == 10.1.2.3"},
		{"ip not in 10.1.2.3", "ip != 10.1.2.3"},
		{"ip ! 10.0.0.0/8", "ip not in 10.0.0.0/8"},
		{"ip NOT IN ::ffff:10.0.0.0/104", "ip not in 10.0.0.0/8"},
		{"ip == ::ffff:10.1.2.3", "ip == 10.1.2.3"},
	}
	for _, tc := range cases {
		c := mustParse(t, tc.src)
		if got := c.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.src, got, tc.want)
		}
		if again := mustParse(t, c.String()).String(); again != c.String() {
			t.Errorf("canonical form is not stable: %q -> %q", c.String(), again)
		}
	}
}

// TestStringRoundTripMatches parses every documented form, re-parses its String() and checks
// that both match the same requests.
func TestStringRoundTripMatches(t *testing.T) {
	requests := []*http.Request{
		req(), req(ua(uaFirefoxDesktop), cookies("vamp=12345")), req(ua(uaChromeIOS), host("localhost:80")),
		req(ua(uaEdge), hdr("Etag", "x"), hdr("Vamp", "12345"), target("/api/v1?debug&v=2")),
		req(method("POST"), remote("10.1.2.3:9"), hdr("X-Mode", "it's a (b)")),
	}
	for _, src := range seedConditions {
		c, err := Parse(src)
		if err != nil {
			continue // error seeds
		}
		again := mustParse(t, c.String())
		for i, r := range requests {
			if c.Match(r) != again.Match(r) {
				t.Errorf("%q and its canonical %q disagree on request %d", src, c.String(), i)
			}
		}
	}
}
