package httpframe

import (
	"bytes"
	"errors"
)

// HeadScan follows an answer head through the reads, line by line (the net/http path's check of
// the heads its transport reads; NewHeadScan starts one at the head's first byte).
type HeadScan struct {
	active, lineStart, first bool
	lineLen                  int
	status                   [12]byte // the status line's first bytes ("HTTP/1.1 204")
	line                     [64]byte // the current line's first bytes
	chunked                  bool     // a Transfer-Encoding line names chunked
	head                     bool     // the request was a HEAD
	// bodyless: the head ended, and its answer has no body (HEAD, 204, 304): any byte after it
	// answers no request.
	bodyless bool
}

// ErrFoldedAnswer: an answer head with obsolete line folding (RFC 9112 section 5.2).
var ErrFoldedAnswer = errors.New("the instance's answer head folds a header line (obs-fold); a proxy answers 502 to it (RFC 9112 section 5.2)")

// Scan follows b through the head. bad: the head folds a line, or the first chunk's size that
// came with it is over maxChunkSizeDigits (the front end's ChunkScanner's bound); stray: bytes follow
// an answer that has no body.
func (s *HeadScan) Scan(b []byte) (bad error, stray bool) {
	for i, c := range b {
		if s.bodyless {
			return nil, true
		}
		if !s.active {
			return nil, false
		}
		switch {
		case s.lineStart && !s.first && (c == ' ' || c == '\t'):
			return ErrFoldedAnswer, false
		case c == '\n':
			if s.lineLen == 0 && !s.first {
				s.endHead()
				if s.bodyless && i+1 < len(b) {
					return nil, true
				}
				if !s.active && s.chunked && chunkSizeTooLong(b[i+1:]) {
					return ErrBadChunk, false
				}
			}
			n := min(s.lineLen, len(s.line))
			if !s.first && n >= 18 && asciiEqualFold(s.line[:18], "transfer-encoding:") &&
				bytes.Contains(bytes.ToLower(s.line[18:n]), []byte("chunked")) {
				s.chunked = true
			}
			s.lineStart, s.first, s.lineLen = true, false, 0
		case c == '\r':
			s.lineStart = false
		default:
			if s.first && s.lineLen < len(s.status) {
				s.status[s.lineLen] = c
			}
			if s.lineLen < len(s.line) {
				s.line[s.lineLen] = c
			}
			s.lineStart = false
			s.lineLen++
		}
	}
	return nil, false
}

// chunkSizeTooLong: b starts with a chunk size of more than maxChunkSizeDigits.
func chunkSizeTooLong(b []byte) bool {
	n := 0
	for n < len(b) && isHex(b[n]) {
		n++
	}
	return n > maxChunkSizeDigits
}

// endHead: the head ended; an interim (1xx) answer is followed by another head.
func (s *HeadScan) endHead() {
	code := string(s.status[9:12])
	switch {
	case code[0] == '1' && code != "101":
		*s = HeadScan{active: true, first: true, head: s.head}
	case s.head || code == "204" || code == "304":
		s.active, s.bodyless = false, true
	default:
		s.active = false
	}
}

// NewHeadScan starts following the answer head to a request; head: the request was a HEAD.
func NewHeadScan(head bool) HeadScan {
	return HeadScan{active: true, first: true, head: head}
}
