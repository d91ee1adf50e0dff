package httpframe

import (
	"bytes"
	"net/http"
	"strconv"
)

// Request framing (RFC 9112 section 6): the rules that decide where a request's body ends, and
// so where the next request begins. They are checked in one place, CheckRequestHead, on every
// path: the front end runs it on every head it does not forward itself (front end answers 400
// and closes), and a connection handed to net/http passes every head through it before net/http
// reads a byte of it (framedConn). What the instance sees as one request is exactly what the
// gateway answers for.

// FramingError: a request head whose framing is ambiguous or malformed. It is refused with 400
// and the connection is closed: after such a head nobody can say where the next request begins.
type FramingError struct {
	Reason string
	// Status is the answer: 400, or 501 for a transfer coding the gateway does not implement.
	Status int
}

// HTTPStatus is the status code of the answer to the refused head.
func (e *FramingError) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return http.StatusBadRequest
}

func (e *FramingError) Error() string {
	return "vamp gateway: refused a request whose framing is ambiguous or malformed (RFC 9112): " + e.Reason
}

// BodyFraming is how a checked request's body is framed, as net/http reads it.
type BodyFraming struct {
	Chunked bool
	Length  int64 // without Chunked: the body's length, 0 for none
	// Upgrade: the request asks to switch protocols; once it is answered the bytes that follow
	// may not be HTTP/1.1 at all.
	Upgrade bool
}

// requestFraming collects the framing fields of one head.
type requestFraming struct {
	http10      bool // older than HTTP/1.1 (or no version at all)
	lengths     int
	length      string // the first Content-Length
	conflicting bool
	encodings   int  // Transfer-Encoding fields
	codings     int  // transfer codings in them
	chunked     bool // the last coding is chunked
	chunkedOnly bool // no coding but chunked (chunked may still come twice)
	sawChunked  bool // chunked is one of the codings
	upgrade     bool
}

func (f *requestFraming) contentLength(v []byte) {
	if f.lengths++; f.lengths == 1 {
		f.length = string(v)
	} else if string(v) != f.length {
		f.conflicting = true
	}
}

func (f *requestFraming) transferEncoding(v []byte) {
	if f.encodings++; f.encodings == 1 {
		f.chunkedOnly = true
	}
	for len(v) > 0 {
		var coding []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			coding, v = trimOWS(v[:i]), v[i+1:]
		} else {
			coding, v = trimOWS(v), nil
		}
		if len(coding) == 0 {
			continue
		}
		f.codings++
		f.chunked = asciiEqualFold(coding, "chunked")
		f.chunkedOnly = f.chunkedOnly && f.chunked
		f.sawChunked = f.sawChunked || f.chunked
	}
}

// result applies the rules to the collected fields.
func (f *requestFraming) result() (BodyFraming, *FramingError) {
	switch {
	case f.encodings > 0 && f.lengths > 0:
		return BodyFraming{}, &FramingError{Reason: "both Content-Length and Transfer-Encoding (RFC 9112 section 6.1); send one of them"}
	case f.encodings > 0 && f.http10:
		return BodyFraming{}, &FramingError{Reason: "Transfer-Encoding in a request older than HTTP/1.1 (RFC 9112 section 6.1: its framing is faulty); send it as HTTP/1.1 or with a Content-Length"}
	case f.encodings > 0 && f.chunkedOnly && f.codings > 1:
		return BodyFraming{}, &FramingError{Reason: "chunked applied more than once (RFC 9112 section 7); send it once", Status: http.StatusNotImplemented}
	case f.encodings > 0 && f.codings > 0 && !f.chunked && f.sawChunked:
		return BodyFraming{}, &FramingError{Reason: "chunked is not the last transfer coding (RFC 9112 section 6.3)"}
	case f.encodings > 0 && !f.chunkedOnly:
		return BodyFraming{}, &FramingError{Reason: "a transfer coding other than chunked, which the gateway does not implement; send the body chunked or with a Content-Length", Status: http.StatusNotImplemented}
	case f.encodings > 0 && f.codings == 0:
		return BodyFraming{}, &FramingError{Reason: "an empty Transfer-Encoding"}
	case f.encodings > 0:
		return BodyFraming{Chunked: true, Upgrade: f.upgrade}, nil
	case f.conflicting:
		return BodyFraming{}, &FramingError{Reason: "Content-Length fields that differ (RFC 9112 section 6.3)"}
	case f.lengths > 0:
		n, err := strconv.ParseUint(f.length, 10, 63)
		if err != nil || f.length[0] == '+' {
			return BodyFraming{}, &FramingError{Reason: "Content-Length " + strconv.Quote(f.length) + " is not a length"}
		}
		return BodyFraming{Length: int64(n), Upgrade: f.upgrade}, nil
	}
	return BodyFraming{Upgrade: f.upgrade}, nil
}

// CheckRequestHead checks the request head in head (its blank line included) and returns how its
// body is framed. Lines may end in LF alone (RFC 9112 section 2.2 lets a recipient take them, as
// net/http does), but a CR anywhere else, obsolete line folding, a field name that is not a token
// (whitespace before the colon included), a control character in a value and every framing the
// rules of requestFraming refuse are FramingErrors.
func CheckRequestHead(head []byte) (BodyFraming, *FramingError) {
	var f requestFraming
	for first := true; len(head) > 0; first = false {
		line, rest, ok := cutLineLF(head)
		if !ok {
			return BodyFraming{}, &FramingError{Reason: "a head without its end"}
		}
		head = rest
		if bytes.IndexByte(line, '\r') >= 0 {
			return BodyFraming{}, &FramingError{Reason: "a CR that does not end a line (RFC 9112 section 2.2)"}
		}
		if first {
			f.http10 = !atLeastHTTP11(line)
			continue
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return BodyFraming{}, &FramingError{Reason: "a header line folded onto the next (obs-fold, RFC 9112 section 5.2)"}
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return BodyFraming{}, &FramingError{Reason: "a header line without a name and a colon"}
		}
		name := line[:colon]
		for _, c := range name {
			if !isTokenChar(c) {
				return BodyFraming{}, &FramingError{Reason: "header name " + strconv.Quote(string(name)) + " is not a token (no whitespace before the colon, RFC 9112 section 5.1)"}
			}
		}
		v := trimOWS(line[colon+1:])
		if !fieldValue(v) {
			return BodyFraming{}, &FramingError{Reason: "a control character in the value of " + string(name)}
		}
		switch {
		case asciiEqualFold(name, "Content-Length"):
			f.contentLength(v)
		case asciiEqualFold(name, "Transfer-Encoding"):
			f.transferEncoding(v)
		case asciiEqualFold(name, "Upgrade"):
			f.upgrade = true
		}
	}
	return f.result()
}

// atLeastHTTP11: the request line ends in HTTP/x.y with x.y at least 1.1.
func atLeastHTTP11(line []byte) bool {
	i := bytes.LastIndexByte(line, ' ')
	v := line[i+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return false
	}
	return v[5] > '1' || v[5] == '1' && v[7] >= '1'
}

// RequestHeadEnd returns the length of the request head at the start of b, its blank line (CRLF
// or LF) included, or -1 when b does not hold all of it yet.
func RequestHeadEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return i
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// BodyScanner follows a request body framed as CheckRequestHead said (BodyFraming) through the
// bytes that come after its head, to find where it ends, without changing a byte of it: by its
// Content-Length, or chunk by chunk to the end of the trailer section (ChunkScanner, with its
// bounds on chunk sizes and lines). Every path that passes a request body on uses it: the front
// end (which streams it to the instance) and the connections net/http serves (framedConn). A
// request's trailer lines are checked as head fields are (strictTrailers).
type BodyScanner struct {
	chunked bool
	left    int64 // Content-Length bytes still to come
	chunks  ChunkScanner
}

// NewBodyScanner follows a body framed as f says.
func NewBodyScanner(f BodyFraming) BodyScanner {
	return BodyScanner{chunked: f.Chunked, left: f.Length, chunks: ChunkScanner{strictTrailers: true}}
}

// errBadRequestChunk: a request's chunked body broke its framing (RFC 9112 section 7.1).
var errBadRequestChunk = &FramingError{Reason: "a malformed chunked body (RFC 9112 section 7.1: a chunk size of at most 15 hex digits, CRLF after each chunk, a last chunk of size 0)"}

// Scan consumes p and returns how many of its bytes belong to the body; done: the body ended
// with the last of them (a body without bytes is done at once, p empty or not). A chunked body
// that breaks its framing is a FramingError: the client's fault (400, the connection closed).
func (s *BodyScanner) Scan(p []byte) (n int, done bool, err *FramingError) {
	if s.chunked {
		n, done, cerr := s.chunks.Scan(p)
		if cerr != nil {
			return 0, false, errBadRequestChunk
		}
		return n, done, nil
	}
	k := min(int64(len(p)), s.left)
	s.left -= k
	return int(k), s.left == 0, nil
}

// LengthLeft is how many bytes a body framed by Content-Length still has to come; -1 for a
// chunked body, whose end only its bytes tell.
func (s *BodyScanner) LengthLeft() int64 {
	if s.chunked {
		return -1
	}
	return s.left
}
