package condition

import (
	"net/http"
	"net/netip"
	"strings"
)

// node is one compiled piece of a condition. match runs per request and must not allocate for the
// header-based predicates; write renders the canonical, re-parseable form.
type node interface {
	match(r *http.Request) bool
	write(b *strings.Builder)
	prec() int
}

// Precedences for rendering: a child with a lower precedence than its context gets parentheses.
const (
	precOr = iota + 1
	precAnd
	precNot // not, and every predicate
)

// op is a comparison as written; the spellings that mean the same thing share one op
// (== = is; != ! not; has contains).
type op uint8

const (
	opEq     op = iota // == = is
	opNe               // != ! not
	opHas              // has contains
	opMisses           // misses
	opPrefix           // prefix starts-with (path only)
	opIn               // in (ip only)
	opNotIn            // not in (ip only)
)

func (o op) String() string {
	return [...]string{"==", "!=", "has", "misses", "prefix", "in", "not in"}[o]
}

// negated reports whether the op inverts the predicate's test.
func (o op) negated() bool { return o == opNe || o == opMisses || o == opNotIn }

// --- boolean structure -------------------------------------------------------------------------

type orNode []node

func (n orNode) match(r *http.Request) bool {
	for _, k := range n {
		if k.match(r) {
			return true
		}
	}
	return false
}
func (n orNode) prec() int                { return precOr }
func (n orNode) write(b *strings.Builder) { writeJoined(b, n, " or ", precAnd) }

type andNode []node

func (n andNode) match(r *http.Request) bool {
	for _, k := range n {
		if !k.match(r) {
			return false
		}
	}
	return true
}
func (n andNode) prec() int                { return precAnd }
func (n andNode) write(b *strings.Builder) { writeJoined(b, n, " and ", precNot) }

type notNode struct{ x node }

func (n notNode) match(r *http.Request) bool { return !n.x.match(r) }
func (n notNode) prec() int                  { return precNot }
func (n notNode) write(b *strings.Builder) {
	b.WriteString("not ")
	writeChild(b, n.x, precNot)
}

type constNode bool

func (n constNode) match(*http.Request) bool { return bool(n) }
func (n constNode) prec() int                { return precNot }
func (n constNode) write(b *strings.Builder) {
	if n {
		b.WriteString("true")
	} else {
		b.WriteString("false")
	}
}

func writeJoined(b *strings.Builder, kids []node, sep string, minPrec int) {
	for i, k := range kids {
		if i > 0 {
			b.WriteString(sep)
		}
		writeChild(b, k, minPrec)
	}
}

func writeChild(b *strings.Builder, n node, minPrec int) {
	if n.prec() < minPrec {
		b.WriteByte('(')
		n.write(b)
		b.WriteByte(')')
		return
	}
	n.write(b)
}

// writePredicate renders `subject op value` with the value quoted when it must be.
func writePredicate(b *strings.Builder, subject string, o op, value string) {
	b.WriteString(subject)
	b.WriteByte(' ')
	b.WriteString(o.String())
	b.WriteByte(' ')
	writeValue(b, value)
}

// writeValue writes value bare when the value lexer reads it back unchanged, else single-quoted
// with \ escaping ' and \.
func writeValue(b *strings.Builder, value string) {
	if isBareValue(value) {
		b.WriteString(value)
		return
	}
	b.WriteByte('\'')
	for i := 0; i < len(value); i++ {
		if value[i] == '\'' || value[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(value[i])
	}
	b.WriteByte('\'')
}

// --- user-agent ----------------------------------------------------------------------------------

type userAgentNode struct {
	op     op
	value  string // as written
	family family // familyNone: case-insensitive substring test with lower
	lower  string
}

func (n *userAgentNode) match(r *http.Request) bool {
	ua := firstValue(r.Header, "User-Agent")
	var ok bool
	if n.family != familyNone {
		ok = isFamily(ua, n.family)
	} else {
		ok = containsFoldASCII(ua, n.lower)
	}
	return ok != n.op.negated()
}
func (n *userAgentNode) prec() int                { return precNot }
func (n *userAgentNode) write(b *strings.Builder) { writePredicate(b, "user-agent", n.op, n.value) }

// --- host ----------------------------------------------------------------------------------------

type hostNode struct {
	op       op
	value    string // as written
	lower    string // for has/misses
	withPort bool   // ==/!=: compare the whole Host header, port included
	name     string // ==/!=: the host name to compare, brackets removed
}

func (n *hostNode) match(r *http.Request) bool {
	var ok bool
	switch n.op {
	case opHas, opMisses:
		ok = containsFoldASCII(r.Host, n.lower)
	default:
		h := r.Host
		if !n.withPort {
			h = hostWithoutPort(h)
		}
		ok = strings.EqualFold(h, n.name)
	}
	return ok != n.op.negated()
}
func (n *hostNode) prec() int                { return precNot }
func (n *hostNode) write(b *strings.Builder) { writePredicate(b, "host", n.op, n.value) }

// hostHasPort tells "example.com:8080" and "[::1]:80" (ports) from "::1" (an IPv6 address).
func hostHasPort(h string) bool {
	if strings.HasPrefix(h, "[") {
		return strings.Contains(h, "]:")
	}
	return strings.Count(h, ":") == 1
}

// hostWithoutPort strips the port and IPv6 brackets from a Host header without allocating.
func hostWithoutPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.IndexByte(h, ':'); i >= 0 && strings.LastIndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}

// --- headers -------------------------------------------------------------------------------------

// headerNode tests presence (value == "" and presence set) or containment of a value in a header.
type headerNode struct {
	op       op // has/misses
	name     string
	key      string // canonical key, computed once so that Match indexes r.Header directly
	value    string
	presence bool
}

func (n *headerNode) match(r *http.Request) bool {
	var ok bool
	if n.key == "Host" {
		// net/http moves Host out of the header map into r.Host.
		ok = r.Host != "" && (n.presence || strings.Contains(r.Host, n.value))
	} else if n.presence {
		ok = len(r.Header[n.key]) > 0
	} else {
		for _, v := range r.Header[n.key] {
			if strings.Contains(v, n.value) {
				ok = true
				break
			}
		}
	}
	return ok != n.op.negated()
}
func (n *headerNode) prec() int { return precNot }
func (n *headerNode) write(b *strings.Builder) {
	writeKeyed(b, "header", n.op, n.name, n.value, n.presence)
}

// writeKeyed renders `has KIND NAME` / `misses KIND NAME` or `KIND NAME has VALUE`.
func writeKeyed(b *strings.Builder, kind string, o op, name, value string, presence bool) {
	if presence {
		b.WriteString(o.String())
		b.WriteByte(' ')
		b.WriteString(kind)
		b.WriteByte(' ')
		writeValue(b, name)
		return
	}
	b.WriteString(kind)
	b.WriteByte(' ')
	writeValue(b, name)
	b.WriteByte(' ')
	b.WriteString(o.String())
	b.WriteByte(' ')
	writeValue(b, value)
}

func firstValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// --- cookies -------------------------------------------------------------------------------------

type cookieNode struct {
	op       op // has/misses
	name     string
	value    string
	presence bool
}

func (n *cookieNode) match(r *http.Request) bool {
	ok := false
	for _, line := range r.Header["Cookie"] {
		if n.scan(line) {
			ok = true
			break
		}
	}
	return ok != n.op.negated()
}

// scan walks one Cookie header ("a=1; b=2") without allocating, unlike r.Cookies().
func (n *cookieNode) scan(line string) bool {
	for line != "" {
		var part string
		if i := strings.IndexByte(line, ';'); i >= 0 {
			part, line = line[:i], line[i+1:]
		} else {
			part, line = line, ""
		}
		part = strings.TrimSpace(part)
		eq := strings.IndexByte(part, '=')
		if eq < 0 || strings.TrimSpace(part[:eq]) != n.name {
			continue
		}
		if n.presence {
			return true
		}
		v := strings.TrimSpace(part[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if strings.Contains(v, n.value) {
			return true
		}
	}
	return false
}
func (n *cookieNode) prec() int { return precNot }
func (n *cookieNode) write(b *strings.Builder) {
	writeKeyed(b, "cookie", n.op, n.name, n.value, n.presence)
}

// --- extensions: path, method, ip, query -----------------------------------------------------------

type pathNode struct {
	op    op
	value string
}

func (n *pathNode) match(r *http.Request) bool {
	p := ""
	if r.URL != nil {
		p = r.URL.Path
	}
	var ok bool
	switch n.op {
	case opEq, opNe:
		ok = p == n.value
	case opPrefix:
		ok = strings.HasPrefix(p, n.value)
	default:
		ok = strings.Contains(p, n.value)
	}
	return ok != n.op.negated()
}
func (n *pathNode) prec() int                { return precNot }
func (n *pathNode) write(b *strings.Builder) { writePredicate(b, "path", n.op, n.value) }

type methodNode struct {
	op    op // ==/!=
	value string
}

func (n *methodNode) match(r *http.Request) bool {
	m := r.Method
	if m == "" {
		m = http.MethodGet // net/http's convention for client requests
	}
	return strings.EqualFold(m, n.value) != n.op.negated()
}
func (n *methodNode) prec() int                { return precNot }
func (n *methodNode) write(b *strings.Builder) { writePredicate(b, "method", n.op, n.value) }

// ipNode tests the client address of the connection (r.RemoteAddr). X-Forwarded-For is ignored on
// purpose: any client can write it, so trusting it would let anyone pick their canary.
type ipNode struct {
	op     op // ==/!= for one address, in/not in for a range
	prefix netip.Prefix
	single bool // written as an address, rendered with ==/!=
}

func (n *ipNode) match(r *http.Request) bool {
	ok := false
	if a, found := remoteAddr(r.RemoteAddr); found {
		ok = n.prefix.Contains(a)
	}
	return ok != n.op.negated()
}

func remoteAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}
func (n *ipNode) prec() int { return precNot }
func (n *ipNode) write(b *strings.Builder) {
	if n.single {
		writePredicate(b, "ip", n.op, n.prefix.Addr().String())
		return
	}
	writePredicate(b, "ip", n.op, n.prefix.String())
}

// queryNode tests a URL query parameter. It scans r.URL.RawQuery and decodes only the pairs that
// are escaped, so a plain query is matched without building url.Values.
type queryNode struct {
	op       op // has/misses
	name     string
	value    string
	presence bool
}

func (n *queryNode) match(r *http.Request) bool {
	ok := false
	if r.URL != nil {
		ok = n.scan(r.URL.RawQuery)
	}
	return ok != n.op.negated()
}

func (n *queryNode) scan(q string) bool {
	for q != "" {
		var pair string
		if i := strings.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if unescapeQuery(k) != n.name {
			continue
		}
		if n.presence || strings.Contains(unescapeQuery(v), n.value) {
			return true
		}
	}
	return false
}
func (n *queryNode) prec() int { return precNot }
func (n *queryNode) write(b *strings.Builder) {
	writeKeyed(b, "query", n.op, n.name, n.value, n.presence)
}
