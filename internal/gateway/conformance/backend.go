// Package conformance proves the gateway's HTTP/1.1 data plane differentially: the same raw client
// bytes go through the gateway (a vamp-gateway process, a black box) and through HAProxy 2.6 to
// raw-socket backends that record exactly the requests they received and answer with scripted
// bytes, well-behaved or not. The case table, its expectations and the reasons where the gateway
// deliberately differs from HAProxy are in cases_test.go; docs/conformance.md lists them.
//
// This file is the recording backend, client.go the client side of a conversation.
package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// idPattern finds a request's id in its request line: every request a case sends names itself
// with rq-<id> in its target, and the backend echoes the id in the X-Id header of its answer.
var idPattern = regexp.MustCompile(`rq-([A-Za-z0-9]+)`)

// Request is one complete request the backend received, framed by the backend's own strict
// reading of HTTP/1.1 (what a proxy forwards must be unambiguous).
type Request struct {
	Conn   int    // connection number, from 0 in accept order
	Index  int    // position on its connection, from 0
	Method string // as received
	Target string
	Proto  string
	ID     string              // the rq-<id> of the target; "" if none
	Header map[string][]string // lower-case names
	Head   []byte              // the head as received, with its final CRLF CRLF
	Body   []byte              // the body as received, chunked framing included
}

// Reply is the backend's scripted answer to one request.
type Reply struct {
	Data   []byte // written at once
	Later  []byte // written on the same connection by Release, after the client conversation
	Close  bool   // close the connection after Data (Later is then never written)
	Tunnel bool   // after Data the connection is a tunnel: the backend echoes what it reads
}

// Script answers a request; nil answers every request with OK.
type Script func(r *Request) Reply

// OK is the well-behaved answer: 200 with the id in X-Id and as the body (no body for HEAD).
func OK(r *Request) Reply {
	return Reply{Data: []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Id: %s\r\nContent-Length: %d\r\n\r\n%s", r.ID, len(r.ID), bodyFor(r, r.ID)))}
}

// bodyFor is body, or nothing for a HEAD request.
func bodyFor(r *Request, body string) string {
	if r.Method == "HEAD" {
		return ""
	}
	return body
}

// ConnRecord is what one connection to the backend carried.
type ConnRecord struct {
	Requests []*Request
	Rest     []byte // bytes that did not make a complete request when the connection ended
	Err      error  // the backend could not frame what it received (*FramingError)
}

// FramingError is what the backend's strict parser refused in what a proxy sent it.
type FramingError struct {
	Conn   int
	Reason string
}

func (e *FramingError) Error() string {
	return fmt.Sprintf("backend connection %d: proxy sent an ambiguous or malformed request: %s", e.Conn, e.Reason)
}

// Backend is a raw-socket recording backend on 127.0.0.1.
type Backend struct {
	ln     net.Listener
	script Script
	atHead Script // answers a request whose head came, before its body; nil: none

	mu      sync.Mutex
	conns   []*backendConn
	pending []pendingWrite
	closed  bool
	wg      sync.WaitGroup
}

type backendConn struct {
	c   net.Conn
	rec ConnRecord
}

type pendingWrite struct {
	c    net.Conn
	data []byte
}

// NewBackend listens on 127.0.0.1:0 and serves until Close.
func NewBackend(script Script) (*Backend, error) { return NewBackendAtHead(script, nil) }

// NewBackendAtHead is NewBackend with atHead, which answers a request as soon as its head has
// come, before its body: an early answer (a 413 to an upload) or a close. Such a request is
// recorded as it was when answered (its body as far as it came); an empty Reply waits for the
// whole request as usual.
func NewBackendAtHead(script, atHead Script) (*Backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("backend: listen: %w", err)
	}
	if script == nil {
		script = OK
	}
	b := &Backend{ln: ln, script: script, atHead: atHead}
	b.wg.Add(1)
	go b.accept()
	return b, nil
}

// Port is the backend's port.
func (b *Backend) Port() int {
	return b.ln.Addr().(*net.TCPAddr).Port //nolint:forcetypeassert // ln is a net.Listen("tcp", ...) listener
}

func (b *Backend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			c.Close()
			return
		}
		bc := &backendConn{c: c}
		n := len(b.conns)
		b.conns = append(b.conns, bc)
		b.wg.Add(1)
		b.mu.Unlock()
		go b.serve(n, bc)
	}
}

// serve reads requests off one connection, records them and writes the scripted answers.
func (b *Backend) serve(n int, bc *backendConn) {
	defer b.wg.Done()
	defer bc.c.Close()
	var buf []byte
	tmp := make([]byte, 64<<10)
	index := 0
	headAnswered := -1 // the index of the request answered at its head
	for {
		for {
			req, used, err := parseRequest(buf)
			if err != nil {
				b.mu.Lock()
				bc.rec.Err = &FramingError{Conn: n, Reason: err.Error()}
				bc.rec.Rest = append([]byte(nil), buf...)
				b.mu.Unlock()
				return
			}
			if req == nil {
				if early, used := b.answerAtHead(buf, index, headAnswered); early != nil {
					headAnswered = index
					early.req.Conn, early.req.Index = n, index
					b.mu.Lock()
					bc.rec.Requests = append(bc.rec.Requests, early.req)
					b.mu.Unlock()
					if len(early.reply.Data) > 0 {
						if _, err := bc.c.Write(early.reply.Data); err != nil {
							return
						}
					}
					if early.reply.Close {
						b.keepRest(bc, buf[used:])
						return
					}
				}
				break
			}
			req.Conn, req.Index = n, index
			index++
			buf = buf[used:]
			if req.Index == headAnswered {
				continue // answered at its head, and recorded then
			}
			b.mu.Lock()
			bc.rec.Requests = append(bc.rec.Requests, req)
			b.mu.Unlock()
			reply := b.script(req)
			if len(reply.Data) > 0 {
				if _, err := bc.c.Write(reply.Data); err != nil {
					return
				}
			}
			if reply.Close {
				b.keepRest(bc, buf)
				return
			}
			if len(reply.Later) > 0 {
				b.mu.Lock()
				b.pending = append(b.pending, pendingWrite{c: bc.c, data: reply.Later})
				b.mu.Unlock()
			}
			if reply.Tunnel {
				if len(buf) > 0 {
					if _, err := bc.c.Write(buf); err != nil {
						return // the proxy closed the tunnel
					}
				}
				// An echo until either side closes: the copy's error is how the tunnel ends.
				_, _ = io.Copy(bc.c, bc.c)
				return
			}
		}
		k, err := bc.c.Read(tmp)
		buf = append(buf, tmp[:k]...)
		if err != nil {
			b.keepRest(bc, buf)
			return
		}
	}
}

// earlyAnswer is a request answered at its head, and the answer.
type earlyAnswer struct {
	req   *Request
	reply Reply
}

// answerAtHead gives the request at the start of buf, whose head has come but not all of its
// body, to atHead (once: skip is the index answered already). used: its head and body so far.
func (b *Backend) answerAtHead(buf []byte, index, skip int) (*earlyAnswer, int) {
	if b.atHead == nil || index == skip {
		return nil, 0
	}
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, 0
	}
	line, _, _ := strings.Cut(string(buf[:end]), "\r\n")
	parts := strings.Split(line, " ")
	if len(parts) != 3 {
		return nil, 0 // parseRequest refuses it once more bytes come
	}
	r := &Request{Method: parts[0], Target: parts[1], Proto: parts[2], Head: append([]byte(nil), buf[:end+4]...),
		Body: append([]byte(nil), buf[end+4:]...)}
	if m := idPattern.FindStringSubmatch(r.Target); m != nil {
		r.ID = m[1]
	}
	reply := b.atHead(r)
	if len(reply.Data) == 0 && !reply.Close {
		return nil, 0
	}
	return &earlyAnswer{req: r, reply: reply}, len(buf)
}

func (b *Backend) keepRest(bc *backendConn, buf []byte) {
	b.mu.Lock()
	bc.rec.Rest = append([]byte(nil), buf...)
	b.mu.Unlock()
}

// Release writes every Later part of the replies given so far, on their connections, and returns
// once they are written (to the kernel: the proxy can read them from then on).
func (b *Backend) Release() {
	b.mu.Lock()
	pending := b.pending
	b.pending = nil
	b.mu.Unlock()
	for _, p := range pending {
		_, _ = p.c.Write(p.data) // a connection the proxy closed already is no stray-bytes risk
	}
}

// Records is what every connection carried so far, in accept order.
func (b *Backend) Records() []ConnRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]ConnRecord, len(b.conns))
	for i, bc := range b.conns {
		out[i] = bc.rec
		out[i].Requests = append([]*Request(nil), bc.rec.Requests...)
	}
	return out
}

// Close stops the backend and its connections and waits for their goroutines.
func (b *Backend) Close() {
	b.mu.Lock()
	b.closed = true
	conns := b.conns
	b.mu.Unlock()
	b.ln.Close()
	for _, bc := range conns {
		bc.c.Close()
	}
	b.wg.Wait()
}

// errIncomplete is not an error: more bytes are needed.
var errIncomplete = errors.New("incomplete")

// parseRequest frames one request at the start of buf, strictly (RFC 9112 without any of its
// leniencies: CRLF only, no obs-fold, token header names, one Content-Length, chunked last and
// alone, not both). It returns nil and no error when buf holds no complete request yet.
func parseRequest(buf []byte) (*Request, int, error) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 && (i == 0 || buf[i-1] != '\r') {
			return nil, 0, errors.New("bare LF in the head")
		}
		return nil, 0, nil
	}
	head := buf[:end+4]
	lines := strings.Split(string(buf[:end]), "\r\n")
	r := &Request{Header: map[string][]string{}, Head: append([]byte(nil), head...)}
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 {
		return nil, 0, fmt.Errorf("request line %q is not METHOD SP target SP version", lines[0])
	}
	r.Method, r.Target, r.Proto = parts[0], parts[1], parts[2]
	if r.Proto != "HTTP/1.1" && r.Proto != "HTTP/1.0" {
		return nil, 0, fmt.Errorf("version %q", r.Proto)
	}
	if m := idPattern.FindStringSubmatch(r.Target); m != nil {
		r.ID = m[1]
	}
	for _, line := range lines[1:] {
		if strings.ContainsAny(line, "\r\n\x00") {
			return nil, 0, fmt.Errorf("CR, LF or NUL inside header line %q", line)
		}
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			return nil, 0, fmt.Errorf("obs-fold or empty line %q", line)
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return nil, 0, fmt.Errorf("header line %q has no token name", line)
		}
		name := strings.ToLower(line[:colon])
		r.Header[name] = append(r.Header[name], strings.Trim(line[colon+1:], " \t"))
	}
	rest := buf[end+4:]
	cls, tes := r.Header["content-length"], r.Header["transfer-encoding"]
	switch {
	case len(cls) > 0 && len(tes) > 0:
		return nil, 0, errors.New("both Content-Length and Transfer-Encoding")
	case len(tes) > 0:
		if len(tes) != 1 || !strings.EqualFold(tes[0], "chunked") {
			return nil, 0, fmt.Errorf("Transfer-Encoding %q is not a single chunked", tes)
		}
		n, err := chunkedLen(rest)
		if err == errIncomplete {
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
		r.Body = append([]byte(nil), rest[:n]...)
		return r, end + 4 + n, nil
	case len(cls) > 0:
		if len(cls) != 1 {
			return nil, 0, fmt.Errorf("%d Content-Length fields", len(cls))
		}
		n, err := strconv.ParseUint(cls[0], 10, 40)
		if err != nil || cls[0][0] == '+' {
			return nil, 0, fmt.Errorf("Content-Length %q", cls[0])
		}
		if uint64(len(rest)) < n {
			return nil, 0, nil
		}
		r.Body = append([]byte(nil), rest[:n]...)
		return r, end + 4 + int(n), nil
	}
	return r, end + 4, nil
}

// chunkedLen is the length of the chunked body at the start of b, trailers included.
func chunkedLen(b []byte) (int, error) {
	pos := 0
	for {
		eol := bytes.Index(b[pos:], []byte("\r\n"))
		if eol < 0 {
			return 0, errIncomplete
		}
		line := string(b[pos : pos+eol])
		if i := strings.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseUint(line, 16, 40)
		if err != nil {
			return 0, fmt.Errorf("chunk size %q", line)
		}
		pos += eol + 2
		if size == 0 {
			for { // trailer section
				eol := bytes.Index(b[pos:], []byte("\r\n"))
				if eol < 0 {
					return 0, errIncomplete
				}
				pos += eol + 2
				if eol == 0 {
					return pos, nil
				}
			}
		}
		if uint64(len(b)-pos) < size+2 {
			return 0, errIncomplete
		}
		pos += int(size)
		if b[pos] != '\r' || b[pos+1] != '\n' {
			return 0, errors.New("chunk data not followed by CRLF")
		}
		pos += 2
	}
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return s != ""
}
