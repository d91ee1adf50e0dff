package condition

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzParse: Parse never panics; what parses has a canonical form that parses to the same
// canonical form and matches any request the same way; Match never panics.
func FuzzParse(f *testing.F) {
	for _, src := range seedConditions {
		f.Add(src, uaFirefoxDesktop, "example.com:8080", "vamp=12345; a=1", "/api/v1", "debug&v=2", "10.1.2.3:5000")
	}
	f.Add("has cookie vamp", "", "", "vamp", "", "%zz", "")
	f.Add("ip in ::/0", uaEdge, "[::1]", `vamp="1"`, "/", "a+b=c%20d", "[fe80::1%eth0]:80")
	f.Fuzz(func(t *testing.T, src, userAgent, hostHeader, cookie, path, rawQuery, remoteAddr string) {
		c, err := Parse(src)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", src, err)
			}
			return
		}
		canon := c.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, src, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q -> %q", src, canon, again.String())
		}
		r := &http.Request{
			Method:     http.MethodGet,
			URL:        &url.URL{Path: path, RawQuery: rawQuery},
			Host:       hostHeader,
			RemoteAddr: remoteAddr,
			Header:     http.Header{"User-Agent": {userAgent}, "Cookie": {cookie}, "X-Fuzz": {cookie}},
		}
		if c.Match(r) != again.Match(r) {
			t.Fatalf("%q and its canonical form %q disagree", src, canon)
		}
	})
}
