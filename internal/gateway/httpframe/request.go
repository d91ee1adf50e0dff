package httpframe

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"unsafe"

	"golang.org/x/net/http/httpguts"
)

// The request side of the gateway's own HTTP/1.1 front end (server.go): it recognises the
// requests it forwards itself and leaves every other one to net/http.
//
// A request the front end takes is an HTTP/1.1 request in origin form (any method but CONNECT)
// without an upgrade or an expectation other than 100-continue, whose head fits in the
// connection's buffer and is plainly well formed: token header names with the colon right after
// them, no obsolete line folding, no control characters, one Host, and a body framed as
// CheckRequestHead frames it (none, Content-Length, or chunked; the same rules, requestFraming).
// Anything else, valid or not, goes to net/http with the bytes read so far, so the rules for odd
// requests (and their 400s, 417s and 431s) stay net/http's.

// Request is a parsed request head. Its strings point into the connection's read buffer and
// are valid until the buffer is read into again; the routing table reads it through HTTP, a
// reused http.Request built without allocating.
type Request struct {
	HTTP   http.Request
	url    url.URL
	header http.Header
	fields []field  // in arrival order, names canonical
	values []string // backing store of header's value slices

	Method, target, Host string
	// headLen is the length of the head in the buffer, its final blank line included.
	headLen int
	// CloseAfter: the client asked for the connection to close after the answer.
	CloseAfter bool
	// connection holds the Connection header's values: the headers they name are hop-by-hop.
	connection []string
	// teTrailers: the client takes trailers (TE: trailers).
	teTrailers bool
	// Framing is how the body is framed (CheckRequestHead's rules).
	Framing BodyFraming
	// Expect100: the client sent Expect: 100-continue (the front end answers it itself).
	Expect100 bool
}

// HasBody: a body follows the head (chunked, or a Content-Length above 0).
func (rq *Request) HasBody() bool { return rq.Framing.Chunked || rq.Framing.Length > 0 }

type field struct{ name, value string }

// Parse reads the head in buf[:headLen] (headLen includes the final CRLF CRLF). It canonicalises
// header names in place. false: the request is not the front end's to forward.
func (rq *Request) Parse(buf []byte, headLen int, remoteAddr string) bool {
	rq.Reset()
	rq.headLen = headLen
	head := buf[:headLen-2] // every line, each ending in CRLF, without the blank line
	line, rest, ok := cutLine(head)
	if !ok {
		return false
	}
	method, target, ok := parseRequestLine(line)
	if !ok {
		return false
	}
	rq.Method = str(method)
	rq.target = str(target)
	take := rq.Method != http.MethodConnect && target[0] == '/'
	hosts := 0
	var framing requestFraming // HTTP/1.1: parseRequestLine takes no other version
	for len(rest) > 0 {
		if line, rest, ok = cutLine(rest); !ok {
			return false
		}
		name, v, ok := parseField(line)
		if !ok {
			return false
		}
		switch name {
		case "Host":
			if !httpguts.ValidHostHeader(v) {
				return false // net/http answers 400 malformed Host header
			}
			hosts++
			rq.Host = v
			continue // net/http moves Host out of the header map; so does the front end
		case "Content-Length":
			framing.contentLength(bytesOf(v))
		case "Transfer-Encoding":
			framing.transferEncoding(bytesOf(v))
		case "Expect":
			if asciiEqualFold(bytesOf(v), "100-continue") {
				rq.Expect100 = true
			} else {
				take = false // net/http answers 417
			}
		case "Upgrade", "Http2-Settings":
			take = false
		case "Connection":
			rq.connection = append(rq.connection, v)
			if HeaderHasToken([]string{v}, "close") {
				rq.CloseAfter = true
			}
		case "Te":
			if HeaderHasToken([]string{v}, "trailers") {
				rq.teTrailers = true
			}
		}
		rq.add(name, v)
	}
	if !take || hosts != 1 || rq.Host == "" {
		return false // net/http answers these (400), or sends the instance's address as Host
	}
	f, ferr := framing.result()
	if ferr != nil {
		return false // refused by the same rules on the caller's CheckRequestHead
	}
	rq.Framing = f
	if f.Chunked {
		// As net/http reads a chunked request: its coding and trailer names are not headers
		// (http.Request.TransferEncoding and Trailer); the instance gets them (fields).
		delete(rq.header, "Transfer-Encoding")
		delete(rq.header, "Trailer")
	}
	path, query, _ := bytes.Cut(target, []byte{'?'})
	if !plainPath(path) || !plainQuery(query) {
		return false
	}
	rq.url.RawQuery = str(query)
	if bytes.IndexByte(path, '%') >= 0 {
		p, err := url.PathUnescape(str(path))
		if err != nil {
			return false
		}
		rq.url.Path, rq.url.RawPath = p, str(path)
	} else {
		rq.url.Path = str(path)
	}
	r := &rq.HTTP
	r.Method = rq.Method
	r.URL = &rq.url
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = rq.header
	r.Host = rq.Host
	r.RequestURI = rq.target
	r.RemoteAddr = remoteAddr
	r.Body = http.NoBody // the body passes through the front end, never through this request
	switch {
	case f.Chunked:
		r.ContentLength = -1
	default:
		r.ContentLength = f.Length
	}
	return true
}

// Reset drops every reference into the read buffer (before the buffer is read into again or
// goes back to its pool) and keeps the header map and slices for the next request.
func (rq *Request) Reset() {
	if rq.header == nil {
		rq.header = make(http.Header, 16)
	}
	clear(rq.header)
	clear(rq.fields)
	clear(rq.values)
	rq.fields, rq.values, rq.connection = rq.fields[:0], rq.values[:0], rq.connection[:0]
	rq.url = url.URL{}
	rq.HTTP = http.Request{}
	rq.Method, rq.target, rq.Host = "", "", ""
	rq.CloseAfter, rq.teTrailers = false, false
	rq.Framing, rq.Expect100 = BodyFraming{}, false
}

// add records a header in arrival order and in the header map, without allocating for the
// first value of a name (a three-index slice of the shared backing array).
func (rq *Request) add(name, value string) {
	rq.fields = append(rq.fields, field{name, value})
	if vv, ok := rq.header[name]; ok {
		rq.header[name] = append(vv, value) // capacity is exact: this copies
		return
	}
	rq.values = append(rq.values, value)
	n := len(rq.values)
	rq.header[name] = rq.values[n-1 : n : n]
}

// str views b as a string without copying. The front end's strings live as long as one request
// and the buffer is not written while they do (Request.Reset).
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// bytesOf views s as bytes without copying, for reading only.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// cutLine splits off the first CRLF-terminated line; a bare LF is not the front end's.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// parseRequestLine accepts "method SP target SP HTTP/1.1" with a token method.
func parseRequestLine(line []byte) (method, target []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 1 {
		return nil, nil, false
	}
	method, rest := line[:sp], line[sp+1:]
	for _, c := range method {
		if !isTokenChar(c) {
			return nil, nil, false
		}
	}
	sp = bytes.IndexByte(rest, ' ')
	if sp < 1 || string(rest[sp+1:]) != "HTTP/1.1" {
		return nil, nil, false
	}
	return method, rest[:sp], true
}

// parseField splits a header line into its name, made canonical in place, and its value; false:
// the line is not a plainly well-formed field (a token name with the colon right after it, a
// value without control characters).
func parseField(line []byte) (name, value string, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !canonicalToken(line[:colon]) {
		return "", "", false
	}
	v := trimOWS(line[colon+1:])
	if !fieldValue(v) {
		return "", "", false
	}
	return str(line[:colon]), str(v), true
}

// canonicalToken checks that name is a header name of token characters and rewrites it, in
// place, to its canonical form (what textproto.CanonicalMIMEHeaderKey returns for it), so that
// the header map has net/http's keys without allocating them.
func canonicalToken(name []byte) bool {
	upper := true
	for i, c := range name {
		if !isTokenChar(c) {
			return false
		}
		switch {
		case upper && 'a' <= c && c <= 'z':
			name[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			name[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	return true
}

// isTokenChar: RFC 9110 tchar.
func isTokenChar(c byte) bool {
	return c < 0x80 && tokenChars[c]
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// fieldValue: visible characters, spaces, tabs and obs-text, no control characters.
func fieldValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// plainPath: the characters that url.URL.EscapedPath leaves as they are, and well-formed
// %-escapes, so the instance gets the path exactly as ReverseProxy would send it.
func plainPath(p []byte) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("-._~!$&'()*+,;=:@/"), c) >= 0:
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

// plainQuery: a query of visible ASCII without '#'. It reaches the instance as it came, ';' and
// odd %-escapes included (as through HAProxy; rewrite keeps ReverseProxy from cleaning it).
func plainQuery(q []byte) bool {
	for _, c := range q {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// AppendUpstreamHead appends the head the instance gets: what ReverseProxy with SetXForwarded
// sends (the inbound head minus hop-by-hop headers and client-supplied forwarding headers, plus
// the gateway's X-Forwarded-*), the inbound Host kept. A body's framing is stated once: one
// Content-Length (also 0 for POST, PUT and PATCH, as net/http writes it), or
// Transfer-Encoding: chunked with the Trailer field, since the chunked body passes as it came.
// Expect is not passed on: the front end answers 100-continue itself and sends the body at once.
func (rq *Request) AppendUpstreamHead(b []byte, clientIP string) []byte {
	b = append(b, rq.Method...)
	b = append(b, ' ')
	b = append(b, rq.target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, rq.Host...)
	b = append(b, "\r\n"...)
	for _, f := range rq.fields {
		switch f.name {
		case "Content-Length", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Expect":
			continue
		case "Trailer":
			if rq.Framing.Chunked {
				b = appendField(b, f)
			}
			continue
		}
		if HopByHop(f.name) || (len(rq.connection) > 0 && HeaderHasToken(rq.connection, f.name)) {
			continue
		}
		b = appendField(b, f)
	}
	switch {
	case rq.Framing.Chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case rq.Framing.Length > 0 || rq.Method == http.MethodPost || rq.Method == http.MethodPut || rq.Method == http.MethodPatch:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, rq.Framing.Length, 10)
		b = append(b, "\r\n"...)
	}
	if rq.teTrailers {
		// The client takes trailers, so the instance may send them (as ReverseProxy tells it).
		b = append(b, "Te: trailers\r\n"...)
	}
	if clientIP != "" {
		b = append(b, "X-Forwarded-For: "...)
		b = append(b, clientIP...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Forwarded-Host: "...)
	b = append(b, rq.Host...)
	return append(b, "\r\nX-Forwarded-Proto: http\r\n\r\n"...)
}

func appendField(b []byte, f field) []byte {
	b = append(b, f.name...)
	b = append(b, ": "...)
	b = append(b, f.value...)
	return append(b, "\r\n"...)
}
