package conformance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// ClientRequest is one request of a conversation whose answer the client waits for.
type ClientRequest struct {
	ID     string // the rq-<id> its target carries
	Method string // the method, for framing the answer (HEAD and CONNECT answers differ)
}

// Conversation is what one client connection sends, and the requests it expects answers to.
type Conversation struct {
	Send      []byte
	Requests  []ClientRequest
	HalfClose bool   // shut the write side after Send: no probe (a proxy waiting for more sees EOF)
	ProbeID   string // the id of the probe request sent after the answers (default "probe")
	// Pieces are written after Send, each in a write of its own (before HalfClose).
	Pieces [][]byte
	// AwaitContinue: before the Pieces, wait for an interim answer (100 Continue) as a client
	// that sent Expect: 100-continue does, at most continueWait (as curl), then send them anyway.
	AwaitContinue bool
}

// continueWait is how long a client that sent Expect: 100-continue waits for the 100 before it
// sends its body anyway (curl's default --expect100-timeout).
const continueWait = time.Second

// Tokens of an outcome. An outcome is the sequence of what the client got, one token per answer,
// then how the connection ended:
//
//	fwd         the backend's final answer to this very request (its X-Id is the request's id)
//	fwd-cut     the backend's answer, its body cut short by the connection's end
//	wrong(ID)   the backend's answer to ANOTHER request: always a failure
//	NNN         an answer of the proxy's own (no X-Id): 400, 502, ...; interim 1xx too
//	garbage     bytes that are not an HTTP/1.1 answer
//	hang        nothing more within the conversation's deadline
//	open        the connection is still usable: a probe request sent after the answers got its answer
//	close       the proxy closed the connection (EOF or reset)
//	tunnel      after a 101 or a CONNECT's 2xx, bytes written came back echoed by the backend
const (
	TokFwd     = "fwd"
	TokCut     = "fwd-cut"
	TokGarbage = "garbage"
	TokHang    = "hang"
	TokOpen    = "open"
	TokClose   = "close"
	TokTunnel  = "tunnel"
)

const tunnelPing = "ping-through-the-tunnel"

// Converse runs one conversation on a new connection to addr and returns its outcome tokens.
// deadline bounds it: a proxy that hangs yields the token hang, never a stuck test. final gets
// the token of the final answer to each request (the probe's too), by request id.
func Converse(addr string, conv Conversation, deadline time.Time, final map[string]string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("deadline on %s: %w", addr, err)
	}
	// A proxy may refuse and close before all bytes went out: its answer is read all the same.
	_, werr := c.Write(conv.Send)
	br := bufio.NewReader(c)
	var toks []string
	if werr == nil && conv.AwaitContinue {
		toks = awaitContinue(c, br, conv.Requests[0], deadline)
	}
	if tc, ok := c.(*net.TCPConn); ok && len(conv.Pieces) > 0 {
		// Each piece in a segment of its own, as far as the sender decides it.
		_ = tc.SetNoDelay(true)
	}
	for _, piece := range conv.Pieces {
		if werr != nil {
			break
		}
		_, werr = c.Write(piece)
	}
	if tc, ok := c.(*net.TCPConn); ok && conv.HalfClose && werr == nil {
		// Fails only when the proxy has closed already; its answer is read all the same.
		_ = tc.CloseWrite()
	}
	for answered := 0; answered < len(conv.Requests); {
		req := conv.Requests[answered]
		tok, status, end := readAnswer(br, req)
		if tok != "" {
			toks = append(toks, tok)
			if status < 100 || status >= 200 || status == 101 {
				final[req.ID] = tok
			}
		}
		if end != "" {
			if end != endNone {
				toks = append(toks, end)
			}
			return toks, nil
		}
		if status >= 100 && status < 200 && status != 101 {
			continue // interim
		}
		answered++
		if status == 101 || req.Method == "CONNECT" && status/100 == 2 {
			return append(toks, tunnelEnd(c, br)), nil
		}
	}
	if conv.HalfClose || werr != nil {
		return append(toks, endOf(br)), nil
	}
	probe := ClientRequest{ID: conv.ProbeID, Method: "GET"}
	if probe.ID == "" {
		probe.ID = "probe"
	}
	if _, err := c.Write([]byte("GET /rq-" + probe.ID + " HTTP/1.1\r\nHost: conformance.test\r\n\r\n")); err != nil {
		return append(toks, TokClose), nil
	}
	tok, _, end := readAnswer(br, probe)
	if tok != "" {
		final[probe.ID] = tok
	}
	switch tok {
	case "":
		return append(toks, end), nil
	case TokFwd:
		return append(toks, TokOpen), nil
	default:
		return append(toks, "probe:"+tok), nil
	}
}

// awaitContinue waits at most continueWait for the start of an answer; an interim one (100
// Continue) is read and its token returned, a final one is left for the conversation to read.
func awaitContinue(c net.Conn, br *bufio.Reader, req ClientRequest, deadline time.Time) []string {
	wait := time.Now().Add(continueWait)
	if wait.After(deadline) {
		wait = deadline
	}
	if c.SetReadDeadline(wait) != nil {
		return nil
	}
	defer func() { _ = c.SetReadDeadline(deadline) }() // fails only on a closed connection, which the reads then see
	head, err := br.Peek(len("HTTP/1.1 1"))
	if err != nil || string(head) != "HTTP/1.1 1" {
		return nil // no answer yet (the body goes anyway), or a final one
	}
	if tok, _, end := readAnswer(br, req); tok != "" && end == "" {
		return []string{tok}
	}
	return nil
}

// endNone ends a conversation without a token of its own (after garbage).
const endNone = "-"

// readAnswer reads one answer. tok is its token ("" if none came); end is non-empty when the
// conversation cannot go on: close, hang, or endNone after garbage.
func readAnswer(br *bufio.Reader, req ClientRequest) (tok string, status int, end string) {
	if _, err := br.Peek(1); err != nil {
		return "", 0, endToken(err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: req.Method})
	if err != nil {
		if isTimeout(err) {
			return "", 0, TokHang
		}
		return TokGarbage, 0, endNone
	}
	tok = fmt.Sprint(resp.StatusCode)
	if id := resp.Header.Get("X-Id"); id != "" {
		if id == req.ID {
			tok = TokFwd
		} else {
			tok = "wrong(" + id + ")"
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != 101 {
			tok = fmt.Sprint(resp.StatusCode)
		}
	}
	if req.Method == "CONNECT" && resp.StatusCode/100 == 2 || resp.StatusCode == 101 {
		return tok, resp.StatusCode, ""
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		if isTimeout(err) {
			return tok + "-cut", resp.StatusCode, TokHang
		}
		if tok == TokFwd {
			return TokCut, resp.StatusCode, TokClose
		}
		if resp.Header.Get("X-Id") == "" {
			// The proxy's own error answer, its body ended by the connection's end (a reset when
			// the client's unread bytes were still queued): the answer is what matters.
			return tok, resp.StatusCode, TokClose
		}
		return tok + "-cut", resp.StatusCode, TokClose
	}
	if tok == TokFwd && req.Method != "HEAD" && resp.StatusCode == 200 && string(body) != req.ID {
		tok = "wrong-body(" + string(body) + ")"
	}
	return tok, resp.StatusCode, ""
}

// tunnelEnd writes a ping through a tunnel and expects the backend's echo.
func tunnelEnd(c net.Conn, br *bufio.Reader) string {
	if _, err := c.Write([]byte(tunnelPing)); err != nil {
		return TokClose
	}
	got := make([]byte, len(tunnelPing))
	if _, err := io.ReadFull(br, got); err != nil {
		return endToken(err)
	}
	if string(got) != tunnelPing {
		return TokGarbage
	}
	return TokTunnel
}

// endOf reads what is left of a half-closed conversation: the proxy should close it.
func endOf(br *bufio.Reader) string {
	rest, err := io.ReadAll(br)
	if len(bytes.TrimSpace(rest)) > 0 {
		return TokGarbage
	}
	if err != nil {
		return endToken(err)
	}
	return TokClose
}

func endToken(err error) string {
	if isTimeout(err) {
		return TokHang
	}
	return TokClose // EOF or reset
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// Outcome joins tokens as the case table writes them.
func Outcome(toks []string) string { return strings.Join(toks, " ") }
