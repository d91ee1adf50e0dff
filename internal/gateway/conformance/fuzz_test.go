package conformance

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzInterleavings drives the gateway binary (both of its modes) with random interleavings of
// client requests on three client connections, pipelined or not, with or without a body
// (Content-Length or chunked, which the front end streams), and instance answers of every
// kind the conformance table has (well framed, stray bytes in the same or a later segment, HEAD
// and 204 with a body, early close, truncated, interim 100). Property: answers map one to one to
// requests, in order: every answer a client gets is the answer to its own request or an error of
// the gateway's own, never another request's; and the instance never receives a request twice
// unless the gateway may retry it (the instance closed a reused connection without answering).
//
// `go test` runs the seeds below; `go test -fuzz FuzzInterleavings` (make fuzz) explores.
func FuzzInterleavings(f *testing.F) {
	// The reproduction: HEAD answered with a length and no body, a stray answer later,
	// then GETs from other clients; the same after a 204 and after bytes beyond Content-Length.
	f.Add([]byte{step(0, kindHeadStrayLater, false), step(1, kindOK, false), step(2, kindOK, false), step(0, kindOK, false), step(1, kindOK, false)})
	f.Add([]byte{step(0, kind204StrayLater, false), step(1, kindOK, false), step(2, kindOK, false), step(1, kindOK, false)})
	f.Add([]byte{step(0, kindLongerThanCL, false), step(1, kindOK, false), step(0, kindOK, true), step(2, kindOK, false)})
	f.Add([]byte{step(0, kindOK, true), step(0, kindChunked, true), step(1, kindCloseDelimited, false), step(1, kindOK, false)})
	f.Add([]byte{step(0, kindOK, false), step(0, kindEarlyClose, false), step(0, kindOK, false), step(2, kindTruncated, false), step(1, kindOK, false)})
	f.Add([]byte{step(2, kindInterim100, true), step(2, kindStrayGarbageLater, false), step(0, kindOK, false), step(1, kindHeadBody, false), step(1, kindOK, false)})
	// Requests with bodies (step's kind + numKinds: Content-Length, + 2*numKinds: chunked).
	f.Add([]byte{step(0, kindStrayLater+numKinds, false), step(1, kindOK+2*numKinds, true), step(2, kindEarlyClose+numKinds, false), step(0, kindTruncated+2*numKinds, false), step(1, kindOK+numKinds, false)})

	type target struct {
		name, admin, token string
		port               int
	}
	var targets []target
	for _, mode := range gatewayModes {
		admin, token, _ := startGateway(f, mode.flags...)
		targets = append(targets, target{name: mode.name, admin: admin, token: token, port: freePort(f)})
	}
	var mu sync.Mutex // one input at a time: each reprograms the gateways' route
	f.Fuzz(func(t *testing.T, program []byte) {
		if len(program) > 16 {
			program = program[:16]
		}
		mu.Lock()
		defer mu.Unlock()
		for _, tg := range targets {
			be, err := NewBackend(fuzzScript())
			if err != nil {
				t.Fatal(err)
			}
			addr := programGatewayOn(t, tg.admin, tg.token, "fuzz", tg.port, be.Port())
			problems := interleave(addr, be, program)
			be.Close()
			for _, p := range problems {
				t.Errorf("%s: %s", tg.name, p)
			}
		}
	})
}

// The answer kinds; a request's id carries its kind (rq-s<step>k<kind>).
const (
	kindOK = iota
	kindChunked
	kindCloseDelimited
	kindHeadBody          // HEAD answered with a body
	kindHeadStrayLater    // HEAD answered with a length and no body; a stray answer later
	kind204StrayLater     // 204; a stray answer later
	kind204Body           // 204 with a body
	kindLongerThanCL      // bytes beyond Content-Length
	kindStrayLater        // a stray answer after the answer, later
	kindStrayGarbageLater // stray bytes after the answer, later
	kindEarlyClose        // close without an answer
	kindTruncated         // Content-Length 100, 5 bytes, close
	kindInterim100        // 100 Continue, then the answer
	numKinds
)

// step encodes one step of a program: the client connection, the answer kind (plus numKinds: the
// request has a Content-Length body; plus 2*numKinds: a chunked one), and whether a second,
// well-behaved request is pipelined behind it.
func step(conn, kind int, pipelined bool) byte {
	b := byte(conn%3) | byte(kind&0x1f)<<2
	if pipelined {
		b |= 0x80
	}
	return b
}

var kindPattern = regexp.MustCompile(`k([0-9]+)$`)

// fuzzScript answers each request as the kind in its id says.
func fuzzScript() Script {
	return func(r *Request) Reply {
		m := kindPattern.FindStringSubmatch(r.ID)
		kind := kindOK
		if m != nil {
			kind, _ = strconv.Atoi(m[1])
		}
		ok := string(OK(r).Data)
		switch kind {
		case kindChunked:
			return Reply{Data: []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Id: %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", r.ID, len(r.ID), r.ID))}
		case kindCloseDelimited:
			return Reply{Data: []byte("HTTP/1.1 200 OK\r\nX-Id: " + r.ID + "\r\n\r\n" + r.ID), Close: true}
		case kindHeadBody:
			return Reply{Data: []byte("HTTP/1.1 200 OK\r\nX-Id: " + r.ID + "\r\nContent-Length: 8\r\n\r\nPOISONED")}
		case kindHeadStrayLater:
			return Reply{Data: []byte("HTTP/1.1 200 OK\r\nX-Id: " + r.ID + "\r\nContent-Length: 49\r\n\r\n"), Later: []byte(poison)}
		case kind204StrayLater:
			return Reply{Data: []byte("HTTP/1.1 204 No Content\r\nX-Id: " + r.ID + "\r\n\r\n"), Later: []byte(poison)}
		case kind204Body:
			return Reply{Data: []byte("HTTP/1.1 204 No Content\r\nX-Id: " + r.ID + "\r\nContent-Length: 8\r\n\r\nPOISONED")}
		case kindLongerThanCL:
			return Reply{Data: []byte(ok + "POISONED")}
		case kindStrayLater:
			return Reply{Data: []byte(ok), Later: []byte(poison)}
		case kindStrayGarbageLater:
			return Reply{Data: []byte(ok), Later: []byte("garbage\r\n")}
		case kindEarlyClose:
			return Reply{Close: true}
		case kindTruncated:
			return Reply{Data: []byte("HTTP/1.1 200 OK\r\nX-Id: " + r.ID + "\r\nContent-Length: 100\r\n\r\nshort"), Close: true}
		case kindInterim100:
			return Reply{Data: []byte("HTTP/1.1 100 Continue\r\n\r\n" + ok)}
		}
		return OK(r)
	}
}

// interleave runs a program against the proxy at addr and returns the property's violations.
func interleave(addr string, be *Backend, program []byte) []string {
	deadline := time.Now().Add(caseDeadline)
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var clients [3]*client
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.c.Close()
			}
		}
	}()
	var problems []string
	mayRetry := map[string]bool{}
	for i, b := range program {
		n, kind, pipelined := int(b&3)%3, int(b>>2&0x1f)%numKinds, b&0x80 != 0
		body := int(b>>2&0x1f) / numKinds // 0: none, 1: Content-Length, 2: chunked
		if clients[n] == nil {
			c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
			if err != nil {
				return append(problems, fmt.Sprintf("step %d: dial: %v", i, err))
			}
			if err := c.SetDeadline(deadline); err != nil {
				c.Close()
				return append(problems, fmt.Sprintf("step %d: deadline: %v", i, err))
			}
			clients[n] = &client{c: c, br: bufio.NewReader(c)}
		}
		cl := clients[n]
		reqs := []ClientRequest{{ID: fmt.Sprintf("s%dk%d", i, kind), Method: "GET"}}
		if kind == kindHeadBody || kind == kindHeadStrayLater {
			reqs[0].Method = "HEAD"
		}
		if kind == kindEarlyClose {
			mayRetry[reqs[0].ID] = true
		}
		if pipelined {
			reqs = append(reqs, ClientRequest{ID: fmt.Sprintf("s%dp", i), Method: "GET"})
		}
		var send strings.Builder
		for k, r := range reqs {
			switch {
			case k == 0 && body == 1:
				fmt.Fprintf(&send, "%s /rq-%s HTTP/1.1\r\n%sContent-Length: 5\r\n\r\nhello", r.Method, r.ID, H)
			case k == 0 && body == 2:
				fmt.Fprintf(&send, "%s /rq-%s HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", r.Method, r.ID, H)
			default:
				fmt.Fprintf(&send, "%s /rq-%s HTTP/1.1\r\n%s\r\n", r.Method, r.ID, H)
			}
		}
		closed := false
		if _, err := cl.c.Write([]byte(send.String())); err != nil {
			closed = true
		}
		for _, r := range reqs {
			if closed {
				break
			}
			for {
				tok, status, end := readAnswer(cl.br, r)
				switch {
				case strings.HasPrefix(tok, "wrong"):
					problems = append(problems, fmt.Sprintf("step %d, client %d: request %s got %s: another request's answer", i, n, r.ID, tok))
				case tok == TokGarbage || end == TokHang:
					problems = append(problems, fmt.Sprintf("step %d, client %d: request %s got %s%s", i, n, r.ID, tok, end))
				}
				if end != "" {
					closed = true
					break
				}
				if status < 100 || status >= 200 {
					break
				}
			}
		}
		if closed {
			cl.c.Close()
			clients[n] = nil
		}
		be.Release()
	}
	seen := map[string]int{}
	for _, rec := range be.Records() {
		if rec.Err != nil {
			problems = append(problems, fmt.Sprintf("the backend could not frame what it was sent: %v", rec.Err))
		}
		for _, r := range rec.Requests {
			seen[r.ID]++
		}
	}
	for id, k := range seen {
		if k > 1 && !mayRetry[id] {
			problems = append(problems, fmt.Sprintf("the backend received request %s %d times", id, k))
		}
	}
	return problems
}
