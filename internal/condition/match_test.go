package condition

import (
	"fmt"
	"net/http"
	"testing"
)

type matchCase struct {
	src  string
	r    *http.Request
	want bool
}

// checkMatches parses each condition, checks Match, and checks that the canonical form matches
// the same way (String round-trip).
func checkMatches(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		c := mustParse(t, tc.src)
		if got := c.Match(tc.r); got != tc.want {
			t.Errorf("Parse(%q).Match(UA=%q Host=%q Cookie=%q %s %s from %s) = %v, want %v",
				tc.src, tc.r.UserAgent(), tc.r.Host, tc.r.Header.Get("Cookie"), tc.r.Method, tc.r.URL, tc.r.RemoteAddr, got, tc.want)
		}
		again := mustParse(t, c.String())
		if got := again.Match(tc.r); got != tc.want {
			t.Errorf("canonical %q of %q: Match = %v, want %v", c.String(), tc.src, got, tc.want)
		}
	}
}

// TestDesignExamples covers every example of design.md's condition language section.
func TestDesignExamples(t *testing.T) {
	ff, chrome := req(ua(uaFirefoxDesktop)), req(ua(uaChromeDesktop))
	checkMatches(t, []matchCase{
		{"user-agent == Firefox", ff, true},
		{"user-agent == Firefox", chrome, false},
		{"User-Agent != Firefox", ff, false},
		{"User-Agent != Firefox", chrome, true},
		{"User-Agent != Firefox", req(), true}, // no User-Agent at all is not Firefox
		{"host != localhost", req(host("localhost")), false},
		{"host != localhost", req(host("localhost:9050")), false},
		{"host != localhost", req(host("example.com")), true},
		{"has cookie vamp", req(cookies("a=1; vamp=x")), true},
		{"has cookie vamp", req(cookies("a=1; vampire=x")), false},
		{"has cookie vamp", req(), false},
		{"misses header ETag", req(), true},
		{"misses header ETag", req(hdr("Etag", `"abc"`)), false},
		{"cookie vamp has 12345", req(cookies("vamp=ab12345cd")), true},
		{"cookie vamp has 12345", req(cookies("vamp=1234")), false},
		{"cookie vamp has 12345", req(cookies("other=12345")), false},
		{"header vamp misses 12345", req(hdr("Vamp", "12345")), false},
		{"header vamp misses 12345", req(hdr("Vamp", "999")), true},
		{"header vamp misses 12345", req(), true},
		{"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp", req(ua(uaFirefoxDesktop), cookies("vamp=1")), true},
		{"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp", req(ua(uaChromeDesktop), cookies("vamp=1")), true},
		{"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp", req(ua(uaSafariMac), cookies("vamp=1")), false},
		{"(User-Agent = Chrome OR User-Agent = Firefox) AND has cookie vamp", req(ua(uaFirefoxDesktop)), false},
	})
}

// TestGrammarForms covers each spelling of the grammar: comparison words, boolean operators,
// quotes, keyword case, missing whitespace, precedence.
func TestGrammarForms(t *testing.T) {
	ff, chrome := req(ua(uaFirefoxDesktop)), req(ua(uaChromeDesktop))
	var cases []matchCase
	for _, cmp := range []string{"==", "=", "is", "has", "contains", "IS", "Has", "CONTAINS"} {
		cases = append(cases,
			matchCase{"user-agent " + cmp + " Firefox", ff, true},
			matchCase{"user-agent " + cmp + " Firefox", chrome, false})
	}
	for _, cmp := range []string{"!=", "!", "not", "misses", "NOT", "Misses"} {
		cases = append(cases,
			matchCase{"user-agent " + cmp + " Firefox", ff, false},
			matchCase{"user-agent " + cmp + " Firefox", chrome, true})
	}
	for _, subj := range []string{"user-agent", "user.agent", "useragent", "USER-AGENT", "UserAgent"} {
		cases = append(cases, matchCase{subj + " == Firefox", ff, true}, matchCase{subj + " == Firefox", chrome, false})
	}
	for _, src := range []string{
		"user-agent==Firefox", "user-agent=Firefox", "user-agent!=Chrome", "user-agent!Chrome",
		"user-agent == 'Firefox'", `user-agent == "Firefox"`, "user-agent=='Firefox'",
		"  user-agent   ==   Firefox  ", "\tuser-agent\n==\nFirefox",
	} {
		cases = append(cases, matchCase{src, ff, true}, matchCase{src, chrome, false})
	}
	yes, no := "has cookie a", "has cookie zzz"
	both := req(cookies("a=1"))
	for _, or := range []string{" or ", " OR ", " Or ", " || ", "||", " | ", "|"} {
		cases = append(cases,
			matchCase{no + or + yes, both, true},
			matchCase{no + or + no, both, false})
	}
	for _, and := range []string{" and ", " AND ", " && ", "&&", " & ", "&"} {
		cases = append(cases,
			matchCase{yes + and + yes, both, true},
			matchCase{yes + and + no, both, false})
	}
	for _, not := range []string{"not %s", "NOT %s", "! %s", "!%s", "not(%s)", "!(%s)", "not ( %s )"} {
		cases = append(cases,
			matchCase{fmt.Sprintf(not, yes), both, false},
			matchCase{fmt.Sprintf(not, no), both, true})
	}
	cases = append(cases,
		matchCase{"true", req(), true},
		matchCase{"FALSE", req(), false},
		// and binds tighter than or: true or (false and false).
		matchCase{"true or false and false", req(), true},
		matchCase{"(true or false) and false", req(), false},
		matchCase{"false and false or true", req(), true},
		// not binds tighter than and / or.
		matchCase{"not true or true", req(), true},
		matchCase{"not (true or true)", req(), false},
		matchCase{"not true and false", req(), false},
		matchCase{"not false and true", req(), true},
		matchCase{"!false&&!false", req(), true},
		matchCase{"not not true", req(), true},
		matchCase{"((((true))))", req(), true},
		matchCase{"(user-agent==Firefox)&&(has cookie a)", req(ua(uaFirefoxDesktop), cookies("a=1")), true},
		matchCase{"user-agent==Firefox&&has cookie a||has cookie b", req(cookies("b=1")), true},
		matchCase{"user-agent==Firefox and(has cookie a)", req(ua(uaFirefoxDesktop), cookies("a=1")), true},
		// keyword-looking and quoted values
		matchCase{"header X-Mode has and", req(hdr("X-Mode", "band")), true},
		matchCase{"header X-Mode has 'a b'", req(hdr("X-Mode", "xa by")), true},
		matchCase{`header X-Mode has "it's"`, req(hdr("X-Mode", "it's")), true},
		matchCase{`header X-Mode has 'it\'s'`, req(hdr("X-Mode", "it's")), true},
		matchCase{`header X-Mode has 'a (b) & c | d'`, req(hdr("X-Mode", "a (b) & c | d")), true},
		matchCase{"cookie q has a=b", req(cookies("q=xa=by")), true},
		matchCase{"HAS COOKIE a", both, true},
		matchCase{"Cookie a Has 1", both, true},
		matchCase{"contains cookie a", both, true},
		matchCase{"cookie a contains 1", both, true},
		matchCase{"misses cookie a", both, false},
	)
	checkMatches(t, cases)
}

// TestPredicates covers the matching rules of each predicate.
func TestPredicates(t *testing.T) {
	checkMatches(t, []matchCase{
		// user-agent: non-family values are case-insensitive substrings.
		{"user-agent == iPhone", req(ua(uaSafariIOS)), true},
		{"user-agent == IPHONE", req(ua(uaSafariIOS)), true},
		{"user-agent has android", req(ua(uaChromeAndroid)), true},
		{"user-agent has android", req(ua(uaChromeDesktop)), false},
		{"user-agent == curl", req(ua(uaCurl)), true},
		{"user-agent == firefox", req(ua(uaFirefoxIOS)), true}, // family names are case-insensitive
		{"user-agent == 'Internet Explorer'", req(ua(uaIE11)), true},
		// host: case-insensitive, port ignored unless written.
		{"host == Example.COM", req(host("example.com:8080")), true},
		{"host == example.com", req(host("example.org")), false},
		{"host == example.com:8080", req(host("example.com:8080")), true},
		{"host == example.com:8080", req(host("example.com:9090")), false},
		{"host == example.com:8080", req(host("example.com")), false},
		{"host == ::1", req(host("[::1]:8080")), true},
		{"host == '[::1]'", req(host("[::1]:8080")), true},
		{"host == '[::1]:8080'", req(host("[::1]:8080")), true},
		{"host == example", req(host("example.com")), false},
		{"host has example", req(host("www.EXAMPLE.com")), true},
		{"host misses example", req(host("www.example.com")), false},
		{"host is example.com", req(host("example.com")), true},
		// headers: names case-insensitive, values case-sensitive substrings, any of several values.
		{"has header x-canary", req(hdr("X-Canary", "")), true},
		{"has header X-CANARY", req(hdr("x-canary", "1")), true},
		{"header x-canary has beta", req(hdr("X-Canary", "alpha"), hdr("X-Canary", "beta-2")), true},
		{"header x-canary has BETA", req(hdr("X-Canary", "beta")), false},
		{"header x-canary misses beta", req(hdr("X-Canary", "alpha")), true},
		{"has header host", req(host("example.com")), true},
		{"header Host has example", req(host("example.com")), true},
		{"header user-agent has Firefox", req(ua(uaFirefoxDesktop)), true},
		// cookies: exact names, quoted values, several Cookie headers.
		{"has cookie Vamp", req(cookies("vamp=1")), false},
		{"cookie vamp has 42", req(cookies(`vamp="x42"`)), true},
		{"cookie vamp has 42", req(cookies("a=1"), cookies("b=2;vamp=42")), true},
		{"cookie vamp has 42", req(cookies("vamp42=42")), false},
		{"cookie vamp misses 42", req(cookies("vamp=1")), true},
		{"misses cookie vamp", req(cookies("xvamp=1; vampx=2")), true},
		// extensions: path, method, ip, query.
		{"path == /api", req(target("/api")), true},
		{"path == /api", req(target("/api/v1")), false},
		{"path != /api", req(target("/api/v1")), true},
		{"path prefix /api", req(target("/api/v1")), true},
		{"path starts-with /api", req(target("/web/api")), false},
		{"path has api", req(target("/web/api")), true},
		{"path misses api", req(target("/web")), true},
		{"path == '/a b'", req(target("/a%20b")), true},
		{"method == POST", req(method("POST")), true},
		{"method == post", req(method("POST")), true},
		{"method != GET", req(method("GET")), false},
		{"ip in 10.0.0.0/8", req(remote("10.1.2.3:5000")), true},
		{"ip in 10.0.0.0/8", req(remote("192.0.2.1:5000")), false},
		{"ip in 10.0.0.0/8", req(remote("192.0.2.1:5000"), hdr("X-Forwarded-For", "10.1.2.3")), false},
		{"ip == 10.1.2.3", req(remote("10.1.2.3:5000")), true},
		{"ip == 10.1.2.3", req(remote("[::ffff:10.1.2.3]:5000")), true},
		{"ip != 10.1.2.3", req(remote("10.1.2.4:5000")), true},
		{"ip not in 10.0.0.0/8", req(remote("10.1.2.3:5000")), false},
		{"ip in 2001:db8::/32", req(remote("[2001:db8::1]:443")), true},
		{"ip = 10.0.0.0/8", req(remote("10.9.9.9:1")), true},
		{"ip in 10.0.0.0/8", req(remote("garbage")), false},
		{"ip in 10.0.0.0/8", req(remote("10.1.2.3")), true},
		{"query v has 2", req(target("/?v=1.2")), true},
		{"query v has 2", req(target("/?w=2")), false},
		{"query 'a b' has 'c d'", req(target("/?a+b=c%20d")), true},
		{"has query debug", req(target("/?x=1&debug")), true},
		{"misses query debug", req(target("/?x=1")), true},
		{"query v misses 2", req(target("/?v=3")), true},
	})
}

// TestBrowserFamilies asserts that each family value matches exactly the right User-Agents.
func TestBrowserFamilies(t *testing.T) {
	uas := map[string]string{
		"firefox desktop": uaFirefoxDesktop, "firefox android": uaFirefoxAndroid, "firefox ios": uaFirefoxIOS,
		"chrome desktop": uaChromeDesktop, "chrome android": uaChromeAndroid, "chrome ios": uaChromeIOS,
		"safari mac": uaSafariMac, "safari ios": uaSafariIOS,
		"edge": uaEdge, "edge legacy": uaEdgeLegacy, "opera": uaOpera,
		"ie11": uaIE11, "msie10": uaMSIE10, "curl": uaCurl, "none": "",
		"opera presto":  "Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.16",
		"android stock": "Mozilla/5.0 (Linux; U; Android 4.0.3; de-de; Galaxy S II Build/GRJ22) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
		"msie7":         "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)",
	}
	want := map[string][]string{
		"Firefox": {"firefox desktop", "firefox android", "firefox ios"},
		"Chrome":  {"chrome desktop", "chrome android", "chrome ios"},
		"Safari":  {"safari mac", "safari ios"},
		"Edge":    {"edge", "edge legacy"},
		"Opera":   {"opera", "opera presto"},
		"IE":      {"ie11", "msie10", "msie7"},
		"MSIE":    {"ie11", "msie10", "msie7"},
	}
	for value, names := range want {
		c := mustParse(t, "user-agent == "+value)
		neg := mustParse(t, "user-agent != "+value)
		for name, s := range uas {
			r := req()
			if s != "" {
				r = req(ua(s))
			}
			expect := false
			for _, n := range names {
				expect = expect || n == name
			}
			if got := c.Match(r); got != expect {
				t.Errorf("user-agent == %s on %s: got %v, want %v", value, name, got, expect)
			}
			if got := neg.Match(r); got == expect {
				t.Errorf("user-agent != %s on %s: got %v, want %v", value, name, got, !expect)
			}
		}
	}
}

// isFamily's shortcut (no needle of the family: not of the family) gives detectFamily's answer
// for every family on real User-Agents, on their parts cut at every byte, and on the tokens put
// together in orders that make one family outrank another.
func TestIsFamilyAgreesWithDetectFamily(t *testing.T) {
	uas := []string{uaFirefoxDesktop, uaFirefoxAndroid, uaFirefoxIOS, uaChromeDesktop, uaChromeAndroid,
		uaChromeIOS, uaSafariMac, uaSafariIOS, uaEdge, uaEdgeLegacy, uaOpera, uaIE11, uaMSIE10, uaCurl, "",
		"Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.16", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1) Opera 8.50",
		"Mozilla/5.0 (Linux; U; Android 4.0.3) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
		"Chromium/120.0 Firefox/1.0", "Firefox/1 EdgA/2", "FxiOS/1 Trident/7.0", "x OPT/1 Firefox/2", "(Firefox/1;Chrome/2)"}
	var parts []string
	for _, u := range uas {
		for i := 0; i <= len(u); i++ {
			parts = append(parts, u[:i], u[i:])
		}
	}
	families := 0
	for f := familyFirefox; f <= familyOpera; f++ {
		families++
		for _, u := range parts {
			if got, want := isFamily(u, f), detectFamily(u) == f; got != want {
				t.Fatalf("family %d on %q: isFamily %v, detectFamily says %v", f, u, got, want)
			}
		}
	}
	if families != len(familyByName)-2 { // "msie" and "internet explorer" name IE too
		t.Fatalf("checked %d families, familyByName has %d names for more", families, len(familyByName))
	}
}

// FuzzIsFamily: the shortcut agrees with the full detection on any value.
func FuzzIsFamily(f *testing.F) {
	for _, u := range []string{uaFirefoxDesktop, uaFirefoxIOS, uaChromeDesktop, uaEdge, uaOpera, uaIE11, uaMSIE10, uaCurl} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		for fam := familyFirefox; fam <= familyOpera; fam++ {
			if got, want := isFamily(u, fam), detectFamily(u) == fam; got != want {
				t.Fatalf("family %d on %q: isFamily %v, detectFamily says %v", fam, u, got, want)
			}
		}
	})
}
