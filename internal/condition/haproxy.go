package condition

import (
	"fmt"
	"net/netip"
	"strings"
)

// rawACLError rejects Vamp's raw HAProxy ACL form `< ... >`. The gateway is not HAProxy, so the
// ACL cannot be honoured; the error translates the common ACLs into the equivalent predicate.
func (p *parser) rawACLError(start int) error {
	body := p.src[start+1:]
	if end := strings.IndexByte(body, '>'); end >= 0 {
		body = body[:end]
	}
	return p.errAt(start, `raw HAProxy ACLs ("< ... >") are not supported`, suggestForACL(body))
}

// suggestForACL maps an ACL body such as "hdr_sub(user-agent) -i Firefox" to a predicate.
func suggestForACL(body string) string {
	fields := strings.Fields(body)
	if len(fields) == 0 {
		return genericACLHint
	}
	fetch := strings.ToLower(fields[0])
	value := ""
	for _, f := range fields[1:] {
		if !strings.HasPrefix(f, "-") && (len(value) != 0 || !isMatchMethod(f)) {
			value = f
			break
		}
	}
	arg := ""
	if i := strings.IndexByte(fetch, '('); i >= 0 && strings.HasSuffix(fetch, ")") {
		arg = fetch[i+1 : len(fetch)-1]
	}
	or := func(v, placeholder string) string {
		if v == "" {
			return placeholder
		}
		return v
	}
	var s string
	switch {
	case strings.HasPrefix(fetch, "src"):
		v := "10.0.0.0/8"
		if _, err := netip.ParsePrefix(value); err == nil {
			v = value
		} else if _, err := netip.ParseAddr(value); err == nil {
			return fmt.Sprintf(`use the predicate "ip == %s" (the client address of the connection)`, value)
		}
		return fmt.Sprintf(`use the predicate "ip in %s" (the client address of the connection)`, v)
	case arg == "user-agent":
		s = "user-agent == " + or(value, "Firefox")
	case arg == "host" || strings.HasPrefix(fetch, "req.host"):
		s = "host == " + or(value, "example.com")
	case strings.HasPrefix(fetch, "path_beg"):
		s = "path prefix " + or(value, "/api")
	case strings.HasPrefix(fetch, "path_sub"):
		s = "path has " + or(value, "api")
	case strings.HasPrefix(fetch, "path"):
		s = "path == " + or(value, "/api")
	case strings.HasPrefix(fetch, "method"):
		s = "method == " + or(value, "GET")
	case strings.Contains(fetch, "cook") && arg != "":
		s = "has cookie " + arg
		if value != "" {
			s = "cookie " + arg + " has " + value
		}
	case strings.Contains(fetch, "hdr") && arg != "":
		s = "has header " + arg
		if value != "" {
			s = "header " + arg + " has " + value
		}
	default:
		return genericACLHint
	}
	return fmt.Sprintf("use the predicate %q", s)
}

// isMatchMethod recognises the argument of HAProxy's "-m" flag (as in "-m sub").
func isMatchMethod(f string) bool {
	switch f {
	case "str", "sub", "beg", "end", "dom", "reg", "found", "len", "bin", "int", "ip":
		return true
	}
	return false
}

const genericACLHint = "write a predicate instead: user-agent, host, path, method, ip, cookie, header or query " +
	`(for example "user-agent == Firefox" or "ip in 10.0.0.0/8")`
