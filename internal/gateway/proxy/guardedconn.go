package proxy

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// guardedConn is a connection of the net/http transport to an instance: the net/http path's
// form of the reuse check (upstreamConn.quiet). net/http's transport reads an idle connection in
// the background and closes it when bytes come while no request is on it, but a request that takes
// the connection before that read ran gets those bytes as its answer. So when the transport takes
// an idle connection (reusedConnTrace: GotConn), the first write of the request looks first: bytes
// readable on the socket, or read by the transport since the take, fail the write, and the
// transport sends the request again on a new connection (it does so for a write that wrote
// nothing); bytes that the background read returns between the take and that write fail the read.
//
// It also holds the net/http path to the front end's rule for answer heads: a head with obsolete
// line folding is a malformed answer (502), which net/http's transport would unfold and pass on.
type guardedConn struct {
	net.Conn
	check     atomic.Bool  // taken from the pool, its request not written yet
	dataReads atomic.Int64 // reads that returned bytes
	atTake    atomic.Int64 // dataReads when it was taken
	idleAt    atomic.Int64 // dataReads when it was put back in the pool after take idleFor
	idleFor   atomic.Int64
	takes     atomic.Int64 // times the transport took it (GotConn)
	poisoned  atomic.Bool  // bytes came while it was idle
	// newRequest: a request was written since the answer head was last scanned; head (the
	// reading goroutine's) scans the next answer's head.
	newRequest atomic.Bool
	writing    bool // the writing goroutine's: its request is being written
	// headRequest: the request being written is a HEAD.
	headRequest atomic.Bool
	head        headScan
}

// headScan follows an answer head through the reads, line by line.
type headScan struct {
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

// errFoldedAnswer: an answer head with obsolete line folding (RFC 9112 section 5.2).
var errFoldedAnswer = errors.New("the instance's answer head folds a header line (obs-fold); a proxy answers 502 to it (RFC 9112 section 5.2)")

// scan follows b through the head. bad: the head folds a line, or the first chunk's size that
// came with it is over 15 hex digits (the front end's chunkScanner's bound); stray: bytes follow
// an answer that has no body.
func (s *headScan) scan(b []byte) (bad error, stray bool) {
	for i, c := range b {
		if s.bodyless {
			return nil, true
		}
		if !s.active {
			return nil, false
		}
		switch {
		case s.lineStart && !s.first && (c == ' ' || c == '\t'):
			return errFoldedAnswer, false
		case c == '\n':
			if s.lineLen == 0 && !s.first {
				s.endHead()
				if s.bodyless && i+1 < len(b) {
					return nil, true
				}
				if !s.active && s.chunked && chunkSizeTooLong(b[i+1:]) {
					return errBadChunk, false
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

// chunkSizeTooLong: b starts with a chunk size of more than 15 hex digits.
func chunkSizeTooLong(b []byte) bool {
	n := 0
	for n < len(b) && isHex(b[n]) {
		n++
	}
	return n > 15
}

// endHead: the head ended; an interim (1xx) answer is followed by another head.
func (s *headScan) endHead() {
	code := string(s.status[9:12])
	switch {
	case code[0] == '1' && code != "101":
		*s = headScan{active: true, first: true, head: s.head}
	case s.head || code == "204" || code == "304":
		s.active, s.bodyless = false, true
	default:
		s.active = false
	}
}

// errStrayBytes: bytes came on an idle instance connection; they answer no request.
var errStrayBytes = errors.New("the instance sent bytes on an idle connection, which answer no request")

func (g *guardedConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.dataReads.Add(1)
		if g.check.Load() {
			return 0, errStrayBytes
		}
		if g.newRequest.Swap(false) {
			g.head = headScan{active: true, first: true, head: g.headRequest.Load()}
		}
		bad, stray := g.head.scan(p[:n])
		if bad != nil {
			return 0, bad
		}
		if stray {
			// Bytes after an answer without a body: the answer is passed on, the connection
			// is not reused (the transport keeps the bytes in its buffer, out of sight).
			g.poisoned.Store(true)
		}
	}
	return n, err
}

func (g *guardedConn) Write(p []byte) (int, error) {
	if g.check.Swap(false) {
		if g.poisoned.Load() || g.dataReads.Load() != g.atTake.Load() || !connQuiet(g.Conn) {
			return 0, errStrayBytes
		}
		g.writing = false
	}
	if !g.writing {
		g.writing = true
		g.headRequest.Store(len(p) >= 5 && string(p[:5]) == "HEAD ")
		g.newRequest.Store(true)
	}
	return g.Conn.Write(p)
}

// taken: the transport took the connection from its pool for a request.
func (g *guardedConn) taken() {
	g.atTake.Store(g.dataReads.Load())
	g.check.Store(true)
}

// reuseTrace tells the guardedConn of one request when the transport took it from its pool and
// when it put it back. Bytes read between those moments (by the transport's background read,
// into its own buffer, where a peek does not see them) answer no request: the next request's
// write fails, and the transport sends it again on a new connection.
//
// The transport reports the put (PutIdleConn) after the connection is back in its pool, so the
// next request may take it before: then the idle reads are not known, and only the peek checks.
type reuseTrace struct {
	conn  *guardedConn
	take  int64
	trace httptrace.ClientTrace
}

func (t *reuseTrace) gotConn(info httptrace.GotConnInfo) {
	g, ok := info.Conn.(*guardedConn)
	if !ok {
		return
	}
	t.conn, t.take = g, g.takes.Add(1)
	if info.Reused {
		if g.idleFor.Load() == t.take-1 && g.dataReads.Load() != g.idleAt.Load() {
			g.poisoned.Store(true)
		}
		g.taken()
	}
}

func (t *reuseTrace) putIdleConn(err error) {
	if t.conn != nil && err == nil {
		t.conn.idleAt.Store(t.conn.dataReads.Load())
		t.conn.idleFor.Store(t.take)
	}
}

// withReuseCheck makes req's transport connection check itself when it is reused.
func withReuseCheck(req *http.Request) *http.Request {
	t := &reuseTrace{}
	t.trace.GotConn, t.trace.PutIdleConn = t.gotConn, t.putIdleConn
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &t.trace))
}
