package condition

import (
	"errors"
	"strings"
	"testing"
)

// TestSyntaxErrors asserts the column and the full message of bad conditions.
func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		src    string
		column int
		msg    string // the whole Error() text
	}{
		{"", 1, `empty condition at column 1; write one such as "user-agent == Firefox", or leave the condition out`},
		{"   ", 1, `empty condition at column 1; write one such as "user-agent == Firefox", or leave the condition out`},
		{"user-agent ==", 14, `expected a value after "==" at column 14`},
		{"user-agent == ", 14, `expected a value after "==" at column 14`},
		{"user-agent == )", 15, `expected a value after "==", found ")" at column 15; quote values that contain spaces, "(", ")", "&" or "|"`},
		{"user-agent == ''", 15, `empty value after "==" at column 15; write a non-empty value`},
		{"user-agent == Firefox and", 26, `expected a condition after "and" at column 26`},
		{"has cookie vamp ||", 19, `expected a condition after "||" at column 19`},
		{"not", 4, `expected a condition after "not" at column 4`},
		{"(has cookie vamp", 1, `unclosed "(" at column 1; add the ")" that closes it`},
		{"(has cookie vamp host", 18, `expected ")", "and" or "or", found "host" at column 18`},
		{"has cookie vamp )", 17, `unexpected ")" without a matching "(" at column 17; remove it or add the "(" it closes`},
		{"host == 'abc", 9, `unclosed quote ' at column 9; add the closing ' after the value`},
		{`header x has "abc`, 14, `unclosed quote " at column 14; add the closing " after the value`},
		{"foo == bar", 1, `unknown predicate "foo" at column 1; ` + predicateHint},
		{"has cookie vamp and ua == x", 21, `unknown predicate "ua" at column 21; ` + predicateHint},
		{"user_agent == Firefox", 1, `unknown predicate "user_agent" at column 1; did you mean "user-agent"?`},
		{"ü == x", 1, `expected a condition, found "ü" at column 1; ` + predicateHint},
		{"héllo ü", 1, `unknown predicate "héllo" at column 1; ` + predicateHint},
		{"< src 10.0.0.0/8 >", 1, `raw HAProxy ACLs ("< ... >") are not supported at column 1; use the predicate "ip in 10.0.0.0/8" (the client address of the connection)`},
		{"has cookie vamp or <src 192.168.1.7>", 20, `raw HAProxy ACLs ("< ... >") are not supported at column 20; use the predicate "ip == 192.168.1.7" (the client address of the connection)`},
		{"<hdr_sub(user-agent) -i Firefox>", 1, `raw HAProxy ACLs ("< ... >") are not supported at column 1; use the predicate "user-agent == Firefox"`},
		{"< req.cook(vamp) -m found >", 1, `raw HAProxy ACLs ("< ... >") are not supported at column 1; use the predicate "has cookie vamp"`},
		{"< path_beg /api >", 1, `raw HAProxy ACLs ("< ... >") are not supported at column 1; use the predicate "path prefix /api"`},
		{"< nbsrv(be) gt 0 >", 1, `raw HAProxy ACLs ("< ... >") are not supported at column 1; ` + genericACLHint},
		{"has cookie", 11, `expected a cookie name after "cookie" at column 11`},
		{"misses header )", 15, `expected a header name after "header", found ")" at column 15; quote values that contain spaces, "(", ")", "&" or "|"`},
		{"header 'bad name' has x", 8, "invalid header name \"bad name\" at column 8; names use letters, digits and !#$%&'*+-.^_`|~, no spaces or separators"},
		{"has banana vamp", 5, `expected cookie, header or query after "has", found "banana" at column 5`},
		{"cookie vamp == 1", 13, `expected has, contains or misses after cookie vamp, found "==" at column 13; write "cookie vamp has VALUE", or "has cookie vamp" to test that it is there`},
		{"ip in 10.0.0.0/33", 7, `invalid CIDR range "10.0.0.0/33" at column 7; write a range such as 10.0.0.0/8 or 2001:db8::/32`},
		{"ip in 10.0.0/8", 7, `invalid CIDR range "10.0.0/8" at column 7; write a range such as 10.0.0.0/8 or 2001:db8::/32`},
		{"ip == 1.2.3", 7, `invalid IP address "1.2.3" at column 7; write an address such as 10.1.2.3 or a range such as 10.0.0.0/8`},
		{"has cookie vamp xyz", 17, `expected "and", "or" or the end of the condition, found "xyz" at column 17; quote values that contain spaces or parentheses`},
		{"user-agent == Mobile Safari", 22, `expected "and", "or" or the end of the condition, found "Safari" at column 22; quote values that contain spaces or parentheses`},
		{"user-agent Firefox", 12, `expected a comparison after "user-agent", found "Firefox" at column 12; use one of ==, =, is, has, contains, !=, !, not or misses`},
		{"host", 5, `expected a comparison after "host" at column 5; use one of ==, =, is, has, contains, !=, !, not or misses`},
		{"method has GET", 8, `"has" cannot compare method at column 8; use one of ==, =, is, !=, ! or not`},
		{"host prefix x", 6, `"prefix" cannot compare host at column 6; use one of ==, =, is, has, contains, !=, !, not or misses`},
		{"path == api", 9, `path "api" does not start with "/" at column 9; write "/api", or use "path has" for a part of the path`},
		{"!= x", 1, `expected a condition, found "!=" at column 1`},
		{"()", 2, `expected a condition, found ")" at column 2; ` + predicateHint},
		{"true false", 6, `expected "and", "or" or the end of the condition, found "false" at column 6; quote values that contain spaces or parentheses`},
		{strings.Repeat("(", 100) + strings.Repeat("!", 5), 101, "conditions nest deeper than 100 levels at column 101; simplify the condition"},
		// Columns count runes, not bytes.
		{"header x has 'ééé' and", 23, `expected a condition after "and" at column 23`},
	}
	for _, tc := range cases {
		c, err := Parse(tc.src)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want an error", tc.src, c)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error %T, want *SyntaxError", tc.src, err)
			continue
		}
		if se.Column != tc.column {
			t.Errorf("Parse(%q) column = %d, want %d (%v)", tc.src, se.Column, tc.column, err)
		}
		if err.Error() != tc.msg {
			t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tc.src, err, tc.msg)
		}
		if !strings.Contains(err.Error(), "column") {
			t.Errorf("Parse(%q) error %q does not name the column", tc.src, err)
		}
	}
}
