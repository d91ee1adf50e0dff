package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
)

// poolTransport is the net/http path's http.RoundTripper (ReverseProxy's Transport): its requests
// reach the instances as the front end's do, through the one forwarding policy (forward) over the
// one upstream pool (upstreams), with the same reuse check when a connection is taken and the same
// answer framing (readAnswerHead, httpframe.Response, httpframe.ChunkScanner). A connection goes back to the
// pool only after its answer's body was read to the end its framing gives, with no byte beyond
// it; otherwise it is closed. net/http's Transport, which notices bytes on an idle connection
// only while nothing has taken it, is not used.
type poolTransport struct{ p *Proxy }

var errOutsideHandler = errors.New("vamp gateway: a request that did not come through the proxy's handler")

func (t *poolTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.p
	att, ok := req.Context().Value(attemptKey{}).(*attempt)
	if !ok {
		return nil, errOutsideHandler
	}
	client := &netHTTPClient{ctx: req.Context(), trace: httptrace.ContextClientTrace(req.Context())}
	upgrade := upgradeAsked(req)
	var rs httpframe.Response
	headLen, sent := 0, 0
	early := false // the answer came while the request could not be sent whole
	u, err := p.forward(att, idempotent(req.Method), resendable(req), func(u *upstreamConn, reused bool) error {
		out := req
		if sent > 0 && req.Body != nil && req.Body != http.NoBody {
			// Sent again (forward: the instance did not process it): the body once more.
			body, err := req.GetBody()
			if err != nil {
				return &ClientBodyError{Err: err}
			}
			again := *req
			again.Body = body
			out = &again
		}
		sent++
		early = false
		werr := writeRequest(u, reused, out, p.opts.ResponseHeaderTimeout)
		var un *UnansweredError
		var stalled *StalledWriteError
		switch {
		case werr == nil || errors.As(werr, &un):
		case errors.As(werr, &stalled):
			// The instance stopped taking the request: an answer it sent meanwhile is the answer
			// (a 413 to a large upload); without one, the stall is the failure (504).
			if pending, err := u.answerPending(); err != nil || !pending {
				return werr
			}
		default:
			return werr
		}
		var err error
		headLen, err = p.readAnswerHead(u, reused, client, &rs, req.Method, upgrade)
		if werr != nil {
			if err != nil {
				return werr
			}
			// The instance answered before it stopped reading the request (a 413 to a large
			// upload): that answer is the answer, and the connection is not used again.
			early = true
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p.answer(u, headLen, req, client, early)
}

// writeRequest writes req (head and body) to the instance over u, as net/http's Transport would
// write it (Request.Write). A failure is typed where it happened: the client's body could not be
// read (ClientBodyError), or the instance's connection ended (UnansweredError: no answer came),
// or the instance took no byte for stall (StalledWriteError).
func writeRequest(u *upstreamConn, reused bool, req *http.Request, stall time.Duration) error {
	var body *clientBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &clientBody{ReadCloser: req.Body}
		out := *req
		out.Body = body
		req = &out
	}
	w := upstreamWriter{u: u, reused: reused, stall: stall}
	err := req.Write(&w)
	switch {
	case body != nil && body.err != nil:
		return &ClientBodyError{Err: body.err}
	case w.err != nil:
		return w.err
	}
	return err
}

// clientBody is a request's body as it is sent: it keeps the error of a failed read.
type clientBody struct {
	io.ReadCloser
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// upstreamWriter writes to an instance's connection; a failure because the connection ended is an
// UnansweredError (sendFailure).
type upstreamWriter struct {
	u      *upstreamConn
	reused bool
	stall  time.Duration // upstreamConn.write's
	err    error
}

func (w *upstreamWriter) Write(p []byte) (int, error) {
	n, err := w.u.write(p, w.stall)
	if err != nil {
		w.err = sendFailure(err, w.reused)
		return n, w.err
	}
	return n, nil
}

// netHTTPClient is the client of a request that net/http serves, as readAnswerHead sees it.
type netHTTPClient struct {
	ctx   context.Context
	trace *httptrace.ClientTrace // ReverseProxy's: it passes 1xx answers on
}

func (c *netHTTPClient) clientGone() bool { return c.ctx.Err() != nil }

func (c *netHTTPClient) interim(rs *httpframe.Response) error {
	if c.trace == nil || c.trace.Got1xxResponse == nil {
		return nil
	}
	h := textproto.MIMEHeader{}
	for name, value := range rs.Fields() {
		h[name] = append(h[name], strings.Clone(value))
	}
	if err := c.trace.Got1xxResponse(rs.Status, h); err != nil {
		return errClientGone
	}
	return nil
}

// answer makes the http.Response of the answer whose head (headLen bytes) u's buffer holds. Its
// body reads from u, framed as the head says; u goes back to the pool or is closed when it ends.
// early: the request was not sent whole, so the connection is closed after the answer.
func (p *Proxy) answer(u *upstreamConn, headLen int, req *http.Request, client *netHTTPClient, early bool) (*http.Response, error) {
	var rs httpframe.Response
	// A copy that outlives the buffer: the response's strings point into it.
	if err := rs.Parse(bytes.Clone(u.buf[u.r:u.r+headLen]), headLen, req.Method); err != nil {
		u.close()
		return nil, err
	}
	rs.Reusable = rs.Reusable && !early
	u.r += headLen
	resp := &http.Response{
		Status:     strconv.Itoa(rs.Status) + " " + http.StatusText(rs.Status),
		StatusCode: rs.Status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{},
		ContentLength: -1,
		Close:         !rs.Reusable,
		Request:       req,
	}
	if !rs.Chunked && rs.Length >= 0 {
		resp.ContentLength = rs.Length
	}
	for name, value := range rs.Fields() {
		switch name {
		case "Transfer-Encoding":
			continue // the body is given decoded
		case "Content-Length":
			if rs.Chunked {
				continue
			}
		case "Trailer":
			if rs.Chunked {
				// Announced trailers, as net/http's Transport gives them: keys first, values after
				// the body.
				if resp.Trailer == nil {
					resp.Trailer = http.Header{}
				}
				for _, k := range strings.Split(value, ",") {
					if k = strings.TrimSpace(k); k != "" {
						resp.Trailer[textproto.CanonicalMIMEHeaderKey(k)] = nil
					}
				}
				continue
			}
		}
		resp.Header[name] = append(resp.Header[name], value)
	}
	switch {
	case rs.Status == http.StatusSwitchingProtocols:
		// The upgrade asked for (readAnswerHead): the connection is the tunnel's, never pooled.
		conn, err := u.detach()
		if err != nil {
			return nil, err
		}
		resp.Body = &tunnelConn{Conn: conn, pending: bytes.Clone(u.buf[u.r:u.w])}
	case rs.Bodyless(req.Method):
		resp.Body = http.NoBody
		p.up.release(u, rs.Reusable)
	case rs.Chunked:
		// A body malformed in the bytes that came with the head is a malformed answer (502), as
		// on the front end, where nothing has gone to the client by then either (relay).
		var first httpframe.ChunkScanner
		if _, _, err := first.Scan(u.buf[u.r:u.w]); err != nil {
			u.close()
			return nil, err
		}
		resp.TransferEncoding = []string{"chunked"}
		raw := newAnswerBody(p, u, client, &rs)
		br := bufio.NewReader(raw)
		resp.Body = &chunkedAnswer{raw: raw, br: br, dec: httputil.NewChunkedReader(br), resp: resp}
	default:
		resp.Body = newAnswerBody(p, u, client, &rs)
	}
	return resp, nil
}

// answerBody reads an answer's body from its instance connection as the instance framed it
// (chunked bodies stay chunk-coded), by the front end's rules: Content-Length bytes, chunk by chunk
// up to the end of the trailer section (httpframe.ChunkScanner), or until the instance closes. At the
// framed end the connection goes back to the pool (upstreams.release), if nothing beyond the end
// was read and the instance keeps it open; a body cut short, malformed or closed early closes it.
type answerBody struct {
	p          *Proxy
	u          *upstreamConn // nil once released
	client     waitingClient
	left       int64 // Content-Length bytes still to come
	chunked    bool
	untilClose bool
	reusable   bool
	chunks     httpframe.ChunkScanner
	err        error // what every later Read returns (io.EOF at the end)
}

func newAnswerBody(p *Proxy, u *upstreamConn, client waitingClient, rs *httpframe.Response) *answerBody {
	return &answerBody{p: p, u: u, client: client, left: rs.Length, chunked: rs.Chunked,
		untilClose: rs.UntilClose, reusable: rs.Reusable}
}

var errBodyClosed = errors.New("the answer's body was closed before its end")

func (b *answerBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	u := b.u
	if u.r == u.w {
		u.r, u.w = 0, 0
		if n, err := u.readSliced(b.client, time.Time{}); n == 0 {
			switch {
			case err == io.EOF && b.untilClose:
				return 0, b.end(false, io.EOF)
			case err == io.EOF || err == nil:
				err = io.ErrUnexpectedEOF
			}
			return 0, b.end(false, err)
		}
	}
	avail := u.buf[u.r:min(u.w, u.r+len(p))]
	take, done := len(avail), false
	switch {
	case b.chunked:
		var err error
		if take, done, err = b.chunks.Scan(avail); err != nil {
			return 0, b.end(false, err)
		}
	case !b.untilClose:
		if int64(take) >= b.left {
			take, done = int(b.left), true
		}
		b.left -= int64(take)
	}
	n := copy(p, avail[:take])
	u.r += n
	if done {
		return n, b.end(true, io.EOF)
	}
	return n, nil
}

// end releases the connection: to the pool when the body ended where its framing says (clean).
func (b *answerBody) end(clean bool, err error) error {
	b.err = err
	b.p.up.release(b.u, clean && b.reusable)
	b.u = nil
	return err
}

func (b *answerBody) Close() error {
	if b.u != nil {
		// end returns the error it is given: a body closed before its end is no failure of Close.
		_ = b.end(false, errBodyClosed)
	}
	return nil
}

// chunkedAnswer is a chunked body decoded, with its trailer fields set in resp.Trailer at its end.
type chunkedAnswer struct {
	raw     *answerBody
	br      *bufio.Reader // over raw, which ends where the trailer section ends
	dec     io.Reader     // httputil.NewChunkedReader(br)
	resp    *http.Response
	trailer bool // read
}

func (c *chunkedAnswer) Read(p []byte) (int, error) {
	n, err := c.dec.Read(p)
	if err == io.EOF && !c.trailer {
		c.trailer = true
		if terr := c.readTrailer(); terr != nil {
			return n, terr
		}
	}
	return n, err
}

// readTrailer reads the trailer section after the last chunk (raw ends with it).
func (c *chunkedAnswer) readTrailer() error {
	rest, err := io.ReadAll(c.br)
	if err != nil {
		return err
	}
	return httpframe.ParseTrailer(rest, func(name, value string) {
		if c.resp.Trailer == nil {
			c.resp.Trailer = http.Header{}
		}
		c.resp.Trailer[name] = append(c.resp.Trailer[name], value)
	})
}

func (c *chunkedAnswer) Close() error { return c.raw.Close() }

// tunnelConn is the instance's side of a switched connection (101): first the bytes that came
// with the answer's head, then the connection.
type tunnelConn struct {
	net.Conn
	pending []byte
}

func (t *tunnelConn) Read(p []byte) (int, error) {
	if len(t.pending) > 0 {
		n := copy(p, t.pending)
		t.pending = t.pending[n:]
		return n, nil
	}
	return t.Conn.Read(p)
}

// detach takes u out of the front end's reading (waiter, owned socket) and returns it as a
// net.Conn without a deadline, for a tunnel.
func (u *upstreamConn) detach() (net.Conn, error) {
	u.leavePool()
	u.aw.Release()
	if u.sock != nil {
		return u.sock.NetConn()
	}
	if err := u.conn.SetDeadline(time.Time{}); err != nil {
		u.conn.Close() // closed already: no tunnel on it
		return nil, err
	}
	return u.conn, nil
}
