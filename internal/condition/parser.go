package condition

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Condition is a compiled condition. It is immutable and safe for concurrent use.
type Condition struct {
	root node
	text string
}

// Match reports whether r meets the condition.
func (c *Condition) Match(r *http.Request) bool { return c.root.match(r) }

// String returns the canonical form: lower-case keywords, one spelling per operator
// (or, and, not, ==, !=, has, misses), values quoted only when needed. It parses back to an
// equivalent condition.
func (c *Condition) String() string { return c.text }

// Parse compiles src once; the result is immutable and safe for concurrent use. Errors are
// *SyntaxError.
func Parse(src string) (*Condition, error) {
	p := &parser{src: src}
	p.skipSpace()
	if p.eof() {
		return nil, p.errAt(0, "empty condition",
			`write one such as "user-agent == Firefox", or leave the condition out`)
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		if p.src[p.pos] == ')' {
			return nil, p.errAt(p.pos, `unexpected ")" without a matching "("`, `remove it or add the "(" it closes`)
		}
		return nil, p.errAt(p.pos, `expected "and", "or" or the end of the condition, found `+p.found(p.pos),
			"quote values that contain spaces or parentheses")
	}
	var b strings.Builder
	root.write(&b)
	return &Condition{root: root, text: b.String()}, nil
}

type parser struct {
	src   string
	pos   int // byte offset of the next unread input
	depth int // nesting of "(" and "not", bounded so that hostile input cannot exhaust the stack
}

// maxDepth bounds nesting; real conditions nest a few levels.
const maxDepth = 100

// parseOr: expr := term { ("or" | "||" | "|") term }.
func (p *parser) parseOr() (node, error) {
	return p.parseChain(orOps, func(after string) (node, error) { return p.parseAnd(after) },
		func(kids []node) node { return orNode(kids) })
}

// parseAnd: term := factor { ("and" | "&&" | "&") factor }.
func (p *parser) parseAnd(after string) (node, error) {
	first, err := p.parseFactor(after)
	if err != nil {
		return nil, err
	}
	return p.continueChain(first, andOps, p.parseFactor, func(kids []node) node { return andNode(kids) })
}

type boolOps struct {
	word    string
	symbols []string // longest first
}

var (
	orOps  = boolOps{word: "or", symbols: []string{"||", "|"}}
	andOps = boolOps{word: "and", symbols: []string{"&&", "&"}}
)

func (p *parser) parseChain(ops boolOps, operand func(after string) (node, error), build func([]node) node) (node, error) {
	first, err := operand("")
	if err != nil {
		return nil, err
	}
	return p.continueChain(first, ops, operand, build)
}

func (p *parser) continueChain(first node, ops boolOps, operand func(after string) (node, error), build func([]node) node) (node, error) {
	kids := []node{first}
	for {
		tok, ok := p.acceptBoolOp(ops)
		if !ok {
			break
		}
		next, err := operand(tok)
		if err != nil {
			return nil, err
		}
		kids = append(kids, next)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return build(kids), nil
}

// acceptBoolOp consumes the next token if it is one of ops, returning it as written.
func (p *parser) acceptBoolOp(ops boolOps) (string, bool) {
	save := p.pos
	p.skipSpace()
	for _, sym := range ops.symbols {
		if p.acceptSymbol(sym) {
			return sym, true
		}
	}
	if w := p.peekWord(); strings.EqualFold(w, ops.word) {
		p.pos += len(w)
		return w, true
	}
	p.pos = save
	return "", false
}

// parseFactor: factor := ("not" | "!") factor | "(" expr ")" | "true" | "false" | predicate.
// after is the operator before it ("" at the start), for error messages.
func (p *parser) parseFactor(after string) (node, error) {
	opEnd := p.pos
	p.skipSpace()
	start := p.pos
	expected := "expected a condition"
	if after != "" {
		expected = fmt.Sprintf("expected a condition after %q", after)
	}
	if p.eof() {
		return nil, p.errAt(opEnd, expected, "")
	}
	if p.depth++; p.depth > maxDepth {
		return nil, p.errAt(start, fmt.Sprintf("conditions nest deeper than %d levels", maxDepth), "simplify the condition")
	}
	defer func() { p.depth-- }()
	switch p.src[start] {
	case '(':
		p.pos++
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.eof() {
			return nil, p.errAt(start, `unclosed "("`, `add the ")" that closes it`)
		}
		if !p.acceptSymbol(")") {
			return nil, p.errAt(p.pos, `expected ")", "and" or "or", found `+p.found(p.pos), "")
		}
		return inner, nil
	case '!':
		if strings.HasPrefix(p.src[start:], "!=") {
			return nil, p.errAt(start, expected+`, found "!="`, "")
		}
		p.pos++
		x, err := p.parseFactor("!")
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case '<':
		return nil, p.rawACLError(start)
	}
	word := p.scanWord()
	switch strings.ToLower(word) {
	case "":
		return nil, p.errAt(start, expected+", found "+p.found(start), predicateHint)
	case "not":
		x, err := p.parseFactor(word)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case "true":
		return constNode(true), nil
	case "false":
		return constNode(false), nil
	case "user-agent", "user.agent", "useragent":
		return p.parseComparison(subjectUserAgent, word)
	case "host":
		return p.parseComparison(subjectHost, word)
	case "path":
		return p.parseComparison(subjectPath, word)
	case "method":
		return p.parseComparison(subjectMethod, word)
	case "ip":
		return p.parseComparison(subjectIP, word)
	case "has", "contains", "misses":
		return p.parsePresence(word)
	case "cookie", "header", "query":
		return p.parseKeyed(strings.ToLower(word))
	}
	hint := predicateHint
	if norm := strings.NewReplacer("-", "", ".", "", "_", "").Replace(strings.ToLower(word)); norm == "useragent" {
		hint = `did you mean "user-agent"?`
	}
	return nil, p.errAt(start, "unknown predicate "+p.found(start), hint)
}

const predicateHint = `expected user-agent, host, path, method, ip, has, misses, cookie, header, query, not, "(", true or false`

// subject is what a `SUBJECT CMP value` predicate compares.
type subject uint8

const (
	subjectUserAgent subject = iota
	subjectHost
	subjectPath
	subjectMethod
	subjectIP
)

// allowedOps lists, per subject, the comparisons that mean something, with how to write them.
var allowedOps = [...]struct {
	ops  []op
	help string
}{
	subjectUserAgent: {[]op{opEq, opNe, opHas, opMisses}, "==, =, is, has, contains, !=, !, not or misses"},
	subjectHost:      {[]op{opEq, opNe, opHas, opMisses}, "==, =, is, has, contains, !=, !, not or misses"},
	subjectPath:      {[]op{opEq, opNe, opHas, opMisses, opPrefix}, "==, =, is, has, contains, prefix, starts-with, !=, !, not or misses"},
	subjectMethod:    {[]op{opEq, opNe}, "==, =, is, !=, ! or not"},
	subjectIP:        {[]op{opEq, opNe, opIn, opNotIn}, "in, ==, =, is, not in, !=, ! or not"},
}

var cmpWords = map[string]op{
	"is": opEq, "has": opHas, "contains": opHas, "not": opNe, "misses": opMisses,
	"prefix": opPrefix, "starts-with": opPrefix, "in": opIn,
}

// parseCmp reads the comparison after a subject and returns it with its spelling.
func (p *parser) parseCmp(subj subject, subjWord string) (op, string, error) {
	afterSubj := p.pos
	p.skipSpace()
	start := p.pos
	allowed := allowedOps[subj]
	var o op
	var text string
	switch {
	case p.acceptSymbol("=="):
		text, o = "==", opEq
	case p.acceptSymbol("!="):
		text, o = "!=", opNe
	case p.acceptSymbol("="):
		text, o = "=", opEq
	case p.acceptSymbol("!"):
		text, o = "!", opNe
	default:
		text = p.scanWord()
		known := false
		o, known = cmpWords[strings.ToLower(text)]
		if !known {
			p.pos = start
			off := start
			if p.eof() {
				off = afterSubj
			}
			what := fmt.Sprintf("expected a comparison after %q", subjWord)
			if !p.eof() {
				what += ", found " + p.found(start)
			}
			return 0, "", p.errAt(off, what, "use one of "+allowed.help)
		}
		if o == opNe && subj == subjectIP {
			save := p.pos
			p.skipSpace()
			if w := p.peekWord(); strings.EqualFold(w, "in") {
				p.pos += len(w)
				text, o = p.src[start:p.pos], opNotIn
			} else {
				p.pos = save
			}
		}
	}
	for _, a := range allowed.ops {
		if a == o {
			return o, text, nil
		}
	}
	return 0, "", p.errAt(start, fmt.Sprintf("%q cannot compare %s", text, subjWord), "use one of "+allowed.help)
}

// parseRequiredValue reads the value after the token `after`, which ended at afterEnd.
func (p *parser) parseRequiredValue(what, after string) (string, int, error) {
	afterEnd := p.pos
	p.skipSpace()
	start := p.pos
	v, ok, err := p.scanValue()
	if err != nil {
		return "", 0, err
	}
	if !ok {
		msg := fmt.Sprintf("expected %s after %q", what, after)
		if p.eof() {
			return "", 0, p.errAt(afterEnd, msg, "")
		}
		return "", 0, p.errAt(start, msg+", found "+p.found(start), `quote values that contain spaces, "(", ")", "&" or "|"`)
	}
	if v == "" {
		return "", 0, p.errAt(start, fmt.Sprintf("empty %s after %q", strings.TrimPrefix(strings.TrimPrefix(what, "a "), "an "), after),
			"write a non-empty value")
	}
	return v, start, nil
}

// parseComparison: SUBJECT CMP value.
func (p *parser) parseComparison(subj subject, subjWord string) (node, error) {
	o, opText, err := p.parseCmp(subj, subjWord)
	if err != nil {
		return nil, err
	}
	value, vstart, err := p.parseRequiredValue("a value", opText)
	if err != nil {
		return nil, err
	}
	switch subj {
	case subjectUserAgent:
		return &userAgentNode{op: o, value: value, family: familyByName[strings.ToLower(value)], lower: toLowerASCII(value)}, nil
	case subjectHost:
		n := &hostNode{op: o, value: value, lower: toLowerASCII(value), withPort: hostHasPort(value)}
		n.name = value
		if !n.withPort {
			n.name = hostWithoutPort(value)
		}
		return n, nil
	case subjectPath:
		if (o == opEq || o == opNe || o == opPrefix) && !strings.HasPrefix(value, "/") {
			return nil, p.errAt(vstart, fmt.Sprintf("path %q does not start with \"/\"", value),
				fmt.Sprintf(`write "/%s", or use "path has" for a part of the path`, value))
		}
		return &pathNode{op: o, value: value}, nil
	case subjectMethod:
		if !isToken(value) {
			return nil, p.errAt(vstart, fmt.Sprintf("invalid HTTP method %q", value), "write a method such as GET or POST")
		}
		return &methodNode{op: o, value: strings.ToUpper(value)}, nil
	default: // subjectIP
		return p.ipNode(o, value, vstart)
	}
}

func (p *parser) ipNode(o op, value string, vstart int) (node, error) {
	if strings.Contains(value, "/") {
		pfx, err := netip.ParsePrefix(value)
		if err != nil || pfx.Addr().Zone() != "" {
			return nil, p.errAt(vstart, fmt.Sprintf("invalid CIDR range %q", value),
				"write a range such as 10.0.0.0/8 or 2001:db8::/32")
		}
		pfx = pfx.Masked()
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		switch o {
		case opEq:
			o = opIn
		case opNe:
			o = opNotIn
		}
		return &ipNode{op: o, prefix: pfx}, nil
	}
	a, err := netip.ParseAddr(value)
	if err != nil || a.Zone() != "" {
		return nil, p.errAt(vstart, fmt.Sprintf("invalid IP address %q", value),
			"write an address such as 10.1.2.3 or a range such as 10.0.0.0/8")
	}
	a = a.Unmap()
	switch o {
	case opIn:
		o = opEq
	case opNotIn:
		o = opNe
	}
	return &ipNode{op: o, prefix: netip.PrefixFrom(a, a.BitLen()), single: true}, nil
}

// keyedKinds: the things that have a name and a value.
var keyedKinds = map[string]bool{"cookie": true, "header": true, "query": true}

// parsePresence: ("has" | "contains" | "misses") ("cookie" | "header" | "query") name.
func (p *parser) parsePresence(opWord string) (node, error) {
	o := cmpWords[strings.ToLower(opWord)]
	opEnd := p.pos
	p.skipSpace()
	kindStart := p.pos
	kind := strings.ToLower(p.scanWord())
	if !keyedKinds[kind] {
		msg := fmt.Sprintf("expected cookie, header or query after %q", opWord)
		if p.eof() {
			return nil, p.errAt(opEnd, msg, "")
		}
		return nil, p.errAt(kindStart, msg+", found "+p.found(kindStart), "")
	}
	name, err := p.parseName(kind)
	if err != nil {
		return nil, err
	}
	return keyedNode(kind, o, name, "", true), nil
}

// parseKeyed: ("cookie" | "header" | "query") name ("has" | "contains" | "misses") value.
func (p *parser) parseKeyed(kind string) (node, error) {
	name, err := p.parseName(kind)
	if err != nil {
		return nil, err
	}
	nameEnd := p.pos
	p.skipSpace()
	opStart := p.pos
	w := p.scanWord()
	o, known := cmpWords[strings.ToLower(w)]
	if !known || (o != opHas && o != opMisses) {
		msg := fmt.Sprintf("expected has, contains or misses after %s %s", kind, name)
		hint := fmt.Sprintf(`write "%s %s has VALUE", or "has %s %s" to test that it is there`, kind, name, kind, name)
		p.pos = opStart
		if p.eof() {
			return nil, p.errAt(nameEnd, msg, hint)
		}
		return nil, p.errAt(opStart, msg+", found "+p.found(opStart), hint)
	}
	value, _, err := p.parseRequiredValue("a value", w)
	if err != nil {
		return nil, err
	}
	return keyedNode(kind, o, name, value, false), nil
}

// parseName reads a cookie, header or query parameter name and checks that it can occur.
func (p *parser) parseName(kind string) (string, error) {
	name, start, err := p.parseRequiredValue("a "+kind+" name", kind)
	if err != nil {
		return "", err
	}
	if kind != "query" && !isToken(name) {
		return "", p.errAt(start, fmt.Sprintf("invalid %s name %q", kind, name),
			"names use letters, digits and !#$%&'*+-.^_`|~, no spaces or separators")
	}
	return name, nil
}

func keyedNode(kind string, o op, name, value string, presence bool) node {
	switch kind {
	case "cookie":
		return &cookieNode{op: o, name: name, value: value, presence: presence}
	case "header":
		return &headerNode{op: o, name: name, key: http.CanonicalHeaderKey(name), value: value, presence: presence}
	default:
		return &queryNode{op: o, name: name, value: value, presence: presence}
	}
}
