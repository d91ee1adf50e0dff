package httpframe

import (
	"bytes"
	"errors"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The answer side of the front end: an instance's answer head, read from the instance's
// connection, and the head the client gets for it. Bodies pass as the instance framed them
// (Content-Length, or chunked with its trailers); an answer that ends with the connection is
// re-framed as chunked so that the client's connection stays open, as net/http does.

// Response is an answer head. Its strings point into the instance connection's buffer.
type Response struct {
	Status     int
	fields     []field
	connection []string
	// Length is the Content-Length, -1 when there is none.
	Length  int64
	Chunked bool // Transfer-Encoding ends in chunked: the body is relayed chunk by chunk
	// UntilClose: the body ends when the instance closes the connection.
	UntilClose bool
	// Reusable: the instance keeps the connection open after this answer.
	Reusable bool
	hasDate  bool
}

// ErrBadAnswer: the instance's answer head is malformed (the client gets 502).
var ErrBadAnswer = errors.New("the instance sent a malformed answer head")

// Parse reads the answer head buf[:headLen] (final blank line included) to a request of the
// given method.
func (rs *Response) Parse(buf []byte, headLen int, method string) error {
	*rs = Response{fields: rs.fields[:0], connection: rs.connection[:0], Length: -1}
	// Lines may end in a bare LF, as net/http's transport takes them (RFC 9112 section 2.2).
	end := headLen - 1
	if end > 0 && buf[end-1] == '\r' {
		end--
	}
	line, rest, ok := cutLineLF(buf[:end])
	if !ok || len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return ErrBadAnswer
	}
	http10 := line[7] == '0'
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return ErrBadAnswer
	}
	rs.Status = status
	keepAlive, hasTE := false, false
	for len(rest) > 0 {
		if line, rest, ok = cutLineLF(rest); !ok {
			return ErrBadAnswer
		}
		name, v, ok := parseField(line)
		if !ok {
			return ErrBadAnswer
		}
		switch name {
		case "Content-Length":
			n, err := strconv.ParseUint(v, 10, 63) // no sign, as net/http
			if err != nil || (rs.Length >= 0 && int64(n) != rs.Length) {
				return ErrBadAnswer
			}
			rs.Length = int64(n)
		case "Transfer-Encoding":
			hasTE = true
			rs.Chunked = strings.EqualFold(lastToken(v), "chunked")
		case "Connection":
			rs.connection = append(rs.connection, v)
			keepAlive = keepAlive || HeaderHasToken([]string{v}, "keep-alive")
		case "Date":
			rs.hasDate = true
		}
		rs.fields = append(rs.fields, field{name, v})
	}
	rs.Reusable = !HeaderHasToken(rs.connection, "close") && (!http10 || keepAlive)
	switch {
	case status < 200 || status == http.StatusNoContent || status == http.StatusNotModified || method == http.MethodHead:
		rs.Chunked = false
	case hasTE && !rs.Chunked:
		// RFC 9112 6.3 would read it until close, but the client could not be told how the
		// body is coded: refused, as net/http's transport refuses it (502).
		return ErrBadAnswer
	case hasTE:
		// Transfer-Encoding overrides Content-Length, which must then not be passed on.
	case rs.Length < 0:
		rs.UntilClose = true
	}
	if rs.UntilClose {
		rs.Reusable = false
	}
	return nil
}

// cutLineLF splits off the first line, ended by LF or CRLF.
func cutLineLF(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	line = b[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, b[i+1:], true
}

// Bodyless: no body follows the head.
func (rs *Response) Bodyless(method string) bool {
	return rs.Status < 200 || rs.Status == http.StatusNoContent || rs.Status == http.StatusNotModified ||
		method == http.MethodHead || (!rs.Chunked && !rs.UntilClose && rs.Length == 0)
}

// Fields yields the answer head's fields in order, names canonical; the strings point into the
// buffer Parse read.
func (rs *Response) Fields() iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		for _, f := range rs.fields {
			if !yield(f.name, f.value) {
				return
			}
		}
	}
}

// ParseTrailer reads a chunked body's trailer section (the lines after the last chunk, up to and
// with the blank line that ends it) by the rules of head fields, and gives each field to add
// (names canonical; the strings point into b). A malformed line is ErrBadChunk.
func ParseTrailer(b []byte, add func(name, value string)) error {
	for len(b) > 0 {
		line, rest, ok := cutLineLF(b)
		if !ok {
			return ErrBadChunk
		}
		if len(line) == 0 {
			return nil
		}
		name, value, ok := parseField(line)
		if !ok {
			return ErrBadChunk
		}
		add(name, value)
		b = rest
	}
	return ErrBadChunk // no blank line
}

// lastToken is the last comma-separated token of v.
func lastToken(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.Trim(v, " \t")
}

// ClientHead says how the head to the client differs from the instance's.
type ClientHead struct {
	Cookie        string // a Set-Cookie value to add (the sticky cookie)
	Rechunk       bool   // the body is re-framed as chunked
	CloseAfter    bool   // the client's connection closes after this answer
	Informational bool   // a 1xx answer before the final one
	// Decoded: the body reaches the client without its transfer coding, in HTTP/2 DATA frames:
	// no Transfer-Encoding or Trailer field, and no Content-Length beside a chunked body.
	Decoded bool
}

// AppendClientHead appends the HTTP/1.1 head the client gets: the instance's status and the
// fields ClientFields yields.
func (rs *Response) AppendClientHead(b []byte, ch ClientHead) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(rs.Status), 10)
	b = append(b, ' ')
	if text := http.StatusText(rs.Status); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...) // net/http's words for a code it does not know
		b = strconv.AppendInt(b, int64(rs.Status), 10)
	}
	b = append(b, "\r\n"...)
	for name, value := range rs.ClientFields(ch) {
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// ClientFields yields the fields of the head the client gets, on both protocols: the instance's
// end-to-end headers (hop-by-hop ones and those its Connection names removed, as ReverseProxy
// does), with the framing headers of a chunked body kept since the body passes as it is (unless
// ch.Decoded), then the sticky cookie, a Date the instance did not send, and the framing and
// connection fields ch asks for.
func (rs *Response) ClientFields(ch ClientHead) iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		for _, f := range rs.fields {
			// framing: the body passes as framed, so its framing header goes to the client even
			// when the instance's Connection names it.
			framing := false
			switch f.name {
			case "Transfer-Encoding", "Trailer":
				if !rs.Chunked || ch.Decoded {
					continue
				}
				framing = f.name == "Transfer-Encoding"
			case "Content-Length":
				if rs.Chunked && !ch.Informational {
					continue
				}
				framing = true
			default:
				if HopByHop(f.name) {
					continue
				}
			}
			if !framing && len(rs.connection) > 0 && HeaderHasToken(rs.connection, f.name) {
				continue
			}
			if !yield(f.name, f.value) {
				return
			}
		}
		if ch.Informational {
			return
		}
		if ch.Cookie != "" && !yield("Set-Cookie", ch.Cookie) {
			return
		}
		// RFC 9110 6.6.1: a recipient with a clock adds the Date an answer lacks (net/http does).
		if !rs.hasDate && !yield("Date", HTTPDate()) {
			return
		}
		if ch.Rechunk && !yield("Transfer-Encoding", "chunked") {
			return
		}
		if ch.CloseAfter {
			yield("Connection", "close")
		}
	}
}

// HTTPDate is the current time in the format of the Date header, formatted once a second.
func HTTPDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text string
}

var cachedDate atomic.Pointer[dateText]

// ChunkScanner follows a chunked body as it passes through, to find where it ends (after the
// last chunk and the trailer section) without changing a byte of it.
type ChunkScanner struct {
	state   chunkState
	size    int64 // of the chunk whose size line is being read
	digits  int
	left    int64 // data bytes left in the current chunk
	lineLen int   // bytes of the current extension or trailer line, bounded
	// strictTrailers: each trailer line must be a field (token name, colon, value without
	// control characters) ended by CRLF: a request's trailers (BodyScanner), where a bare CR
	// or a folded line could end the trailer section early for a lenient instance and smuggle
	// what follows as a request.
	strictTrailers bool
}

type chunkState uint8

const (
	chunkSize chunkState = iota
	chunkSizeWS
	chunkExt
	chunkSizeLF
	chunkData
	chunkDataCR
	chunkDataLF
	trailerStart
	trailerLine
	trailerEndLF
	trailerName  // strictTrailers: a trailer field's name
	trailerValue // strictTrailers: its value
	trailerLF    // strictTrailers: the LF after its CR
)

// ErrBadChunk: a chunked body is malformed, or a chunk size is longer than maxChunkSizeDigits.
var ErrBadChunk = errors.New("the instance sent a malformed chunked body")

// maxChunkLine bounds a chunk extension or trailer line.
const maxChunkLine = 64 << 10

// maxChunkSizeDigits bounds a chunk size: 15 hex digits fit an int64 (net/http's client refuses
// more too). The one bound for both paths (ChunkScanner).
const maxChunkSizeDigits = 15

// Scan consumes p and returns how many of its bytes belong to the body; done: the body ended
// with the last of them.
func (s *ChunkScanner) Scan(p []byte) (n int, done bool, err error) {
	for i := 0; i < len(p); {
		c := p[i]
		switch s.state {
		case chunkSize:
			switch {
			case isHex(c):
				if s.digits == maxChunkSizeDigits {
					return 0, false, ErrBadChunk
				}
				s.size = s.size<<4 | int64(unhex(c))
				s.digits++
			case s.digits > 0 && c == ';':
				s.state, s.lineLen = chunkExt, 0
			case s.digits > 0 && (c == ' ' || c == '\t'):
				s.state = chunkSizeWS
			case s.digits > 0 && c == '\r':
				s.state = chunkSizeLF
			default:
				return 0, false, ErrBadChunk
			}
			i++
		case chunkSizeWS:
			// Only whitespace may follow the size (net/http refuses "5 ;ext" and "5 x").
			switch c {
			case ' ', '\t':
			case '\r':
				s.state = chunkSizeLF
			default:
				return 0, false, ErrBadChunk
			}
			i++
		case chunkExt:
			if s.lineLen++; s.lineLen > maxChunkLine || c == '\n' {
				return 0, false, ErrBadChunk
			}
			if c == '\r' {
				s.state = chunkSizeLF
			}
			i++
		case chunkSizeLF:
			if c != '\n' {
				return 0, false, ErrBadChunk
			}
			i++
			if s.size == 0 {
				s.state = trailerStart
			} else {
				s.state, s.left = chunkData, s.size
			}
			s.size, s.digits = 0, 0
		case chunkData:
			k := int64(len(p) - i)
			if k > s.left {
				k = s.left
			}
			i += int(k)
			if s.left -= k; s.left == 0 {
				s.state = chunkDataCR
			}
		case chunkDataCR, chunkDataLF, trailerEndLF:
			want, next := byte('\r'), chunkDataLF
			switch s.state {
			case chunkDataLF:
				want, next = '\n', chunkSize
			case trailerEndLF:
				want = '\n'
			}
			if c != want {
				return 0, false, ErrBadChunk
			}
			i++
			if s.state == trailerEndLF {
				*s = ChunkScanner{strictTrailers: s.strictTrailers}
				return i, true, nil
			}
			s.state = next
		case trailerStart:
			if c == '\n' {
				// net/http's client ends the trailer section at a bare LF: refuse it rather than
				// end the body elsewhere.
				return 0, false, ErrBadChunk
			}
			switch {
			case c == '\r':
				s.state = trailerEndLF
			case !s.strictTrailers:
				s.state, s.lineLen = trailerLine, 0
			case isTokenChar(c):
				s.state, s.lineLen = trailerName, 1
			default: // obs-fold, an empty name, a control character
				return 0, false, ErrBadChunk
			}
			i++
		case trailerName, trailerValue:
			if s.lineLen++; s.lineLen > maxChunkLine {
				return 0, false, ErrBadChunk
			}
			switch {
			case s.state == trailerName && c == ':':
				s.state = trailerValue
			case s.state == trailerName && !isTokenChar(c):
				return 0, false, ErrBadChunk
			case s.state == trailerValue && c == '\r':
				s.state = trailerLF
			case s.state == trailerValue && (c < ' ' && c != '\t' || c == 0x7f):
				return 0, false, ErrBadChunk
			}
			i++
		case trailerLF:
			if c != '\n' {
				return 0, false, ErrBadChunk
			}
			s.state = trailerStart
			i++
		case trailerLine:
			if s.lineLen++; s.lineLen > maxChunkLine {
				return 0, false, ErrBadChunk
			}
			if c == '\n' {
				s.state = trailerStart
			}
			i++
		}
	}
	return len(p), false, nil
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
