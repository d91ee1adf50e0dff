package condition

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The condition language is lexed on demand by the parser, because what a character means depends
// on where it is: "!" is "not" before a condition but a comparison after "host", and "=" ends the
// word "user-agent" in `user-agent==Firefox` but belongs to the value in `cookie q has a=b`.

// isWordChar: keywords and predicate names (user-agent, user.agent, starts-with, ...).
func isWordChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_'
}

// isValueStop: characters that end a bare (unquoted) value or name.
func isValueStop(c byte) bool {
	switch c {
	case '(', ')', '&', '|', '\'', '"':
		return true
	}
	return false
}

// isBareValue reports whether value reads back unchanged when written without quotes.
func isBareValue(value string) bool {
	if value == "" {
		return false
	}
	for i, r := range value {
		if r < utf8.RuneSelf && isValueStop(value[i]) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += size
	}
}

// peekWord returns the keyword-like word at the current position without consuming it.
func (p *parser) peekWord() string {
	end := p.pos
	for end < len(p.src) && isWordChar(p.src[end]) {
		end++
	}
	return p.src[p.pos:end]
}

func (p *parser) scanWord() string {
	w := p.peekWord()
	p.pos += len(w)
	return w
}

// acceptSymbol consumes sym if the input continues with it.
func (p *parser) acceptSymbol(sym string) bool {
	if strings.HasPrefix(p.src[p.pos:], sym) {
		p.pos += len(sym)
		return true
	}
	return false
}

// scanValue reads a quoted or bare value at the current position (after skipSpace). It returns
// ok=false with no error when there is nothing that can be a value here.
func (p *parser) scanValue() (value string, ok bool, err error) {
	if p.eof() {
		return "", false, nil
	}
	start := p.pos
	if q := p.src[start]; q == '\'' || q == '"' {
		var b strings.Builder
		for i := start + 1; i < len(p.src); i++ {
			c := p.src[i]
			switch {
			case c == q:
				p.pos = i + 1
				return b.String(), true, nil
			case c == '\\' && i+1 < len(p.src):
				i++
				b.WriteByte(p.src[i])
			default:
				b.WriteByte(c)
			}
		}
		return "", false, p.errAt(start, fmt.Sprintf("unclosed quote %c", q),
			fmt.Sprintf("add the closing %c after the value", q))
	}
	end := start
	for end < len(p.src) {
		r, size := utf8.DecodeRuneInString(p.src[end:])
		if r < utf8.RuneSelf && isValueStop(p.src[end]) || unicode.IsSpace(r) {
			break
		}
		end += size
	}
	if end == start {
		return "", false, nil
	}
	p.pos = end
	return p.src[start:end], true, nil
}

// found describes the input at off for "found ..." in error messages.
func (p *parser) found(off int) string {
	if off >= len(p.src) {
		return "the end of the condition"
	}
	rest := p.src[off:]
	for _, sym := range []string{"||", "&&", "==", "!=", "|", "&", "=", "!", "(", ")", "<"} {
		if strings.HasPrefix(rest, sym) {
			return fmt.Sprintf("%q", sym)
		}
	}
	end := 0
	for end < len(rest) {
		r, size := utf8.DecodeRuneInString(rest[end:])
		if unicode.IsSpace(r) || r < utf8.RuneSelf && strings.ContainsRune("()&|=!", r) || end >= 40 {
			break
		}
		end += size
	}
	if end == 0 {
		_, end = utf8.DecodeRuneInString(rest)
	}
	return fmt.Sprintf("%q", rest[:end])
}

// errAt builds a SyntaxError at byte offset off, counting the column in runes.
func (p *parser) errAt(off int, msg, hint string) *SyntaxError {
	if off > len(p.src) {
		off = len(p.src)
	}
	return &SyntaxError{Column: utf8.RuneCountInString(p.src[:off]) + 1, Msg: msg, Hint: hint}
}

// unescapeQuery decodes a query key or value, allocating only when it is escaped.
func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
