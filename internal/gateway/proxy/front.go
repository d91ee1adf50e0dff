package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// The front end's forwarding: route the parsed request, send its head to the chosen instance
// over a pooled connection, pass the answer back as the instance framed it. The instance gets
// the head ReverseProxy would send, and the client the answer ReverseProxy would give (hop-by-hop
// headers removed both ways, X-Forwarded-* set, the sticky cookie added); one retry on another
// instance when the first cannot be reached, as on the net/http path.

var (
	errClientGone           = errors.New("the client closed its connection")
	errSwitchedProtocols    = errors.New("the instance switched protocols (101) for a request that asked for no upgrade")
	errTooManyInformational = errors.New("the instance sent more than 5 informational (1xx) answers")
)

// yieldBeforeRead lets the other runnable goroutines go first when the answer to what this one
// just wrote cannot be there yet: by the time it reads, it usually is, and the read that would
// have found nothing (and the park and wake-up after it) is saved. With nothing else to run it
// returns at once.
// Reads in arrival order never read before a wake-up says there is something, and a yield
// would take the goroutine out of that order: no yield there.
func (p *Proxy) yieldBeforeRead() {
	if !p.arrivals.Enabled() {
		runtime.Gosched()
	}
}

// headWaitSlice bounds how long a client that went away can keep an instance's connection busy.
const headWaitSlice = time.Second

// serveFront serves the request parsed on c. false: close the client's connection.
func (p *Proxy) serveFront(c *clientConn) bool {
	f, rq := c.s.f, &c.x.rq
	start := time.Now()
	t, d, status, msg := p.routeFor(f, &rq.HTTP, start)
	if status != 0 {
		return c.writeError(status, msg)
	}
	d.Backend.Acquire()
	att := attempt{in: &rq.HTTP, table: t, decision: d, seenRound: c.seenRound, start: start}
	defer p.finish(&att, start)
	return p.relay(c, &att)
}

// relay exchanges the request with an instance and passes the answer to the client.
func (p *Proxy) relay(c *clientConn, att *attempt) bool {
	u, headLen, err := p.exchangeFront(c, att)
	if err != nil {
		var body *ClientBodyError
		if errors.As(err, &body) {
			// The client's body broke its framing (400, closed), or the client went away or
			// stalled in the middle of it: nothing to answer.
			var fe *httpframe.FramingError
			if errors.As(body.Err, &fe) {
				att.status = fe.HTTPStatus()
				c.x.rq.CloseAfter = true
				return c.writeError(fe.HTTPStatus(), fe.Error())
			}
			att.status = 499
			return false
		}
		if errors.Is(err, errClientGone) {
			att.status = 499 // nginx's "client closed request", for the counters only
			return false
		}
		return c.writeError(p.instanceFailed(att, err))
	}
	rs := &c.x.rs
	att.status = rs.Status
	bodyless := rs.Bodyless(c.x.rq.Method)
	ch := httpframe.ClientHead{
		Rechunk:    rs.UntilClose && !bodyless,
		CloseAfter: c.x.rq.CloseAfter || c.s.shutdown.Load() || !c.x.body.bodyAccountedFor(),
	}
	if d := att.decision; d.SetCookie {
		ch.Cookie = stickyCookie(d.CookieName, d.CookieValue)
	}
	outp := getFrontBuf()
	out := rs.AppendClientHead((*outp)[:0], ch)
	u.r += headLen
	var werr, rerr error
	if !bodyless {
		out, werr, rerr = relayBody(c, u, out, ch.Rechunk)
		if rerr != nil && len(out) > 0 {
			// The body was malformed before anything went to the client (the head is still in
			// out): a 502, as for a malformed head, and the client's connection carries on.
			putFrontBuf(outp, out)
			u.close()
			return c.writeError(http.StatusBadGateway, malformedAnswer(att, rerr))
		}
	}
	// The answer was read to its end (out holds what is left to write of it): the instance's
	// connection goes back before the client's last write, so that the client's next request
	// finds it in the pool. An instance that answered before it had the whole body may still
	// wait for the rest: its connection is not used again.
	p.up.release(u, werr == nil && rerr == nil && rs.Reusable && !c.x.body.early)
	if werr == nil && rerr == nil && len(out) > 0 {
		werr = c.write(out)
	}
	putFrontBuf(outp, out)
	if werr == nil && !c.x.body.bodyAccountedFor() {
		c.lingerClose() // the rest of the body is not read: the connection ends after the answer
	}
	// An answer cut short by the instance is cut short for the client too (its connection
	// closes), rather than ended as if it were complete.
	return werr == nil && rerr == nil && !ch.CloseAfter
}

// relayBufSize is the buffer a large answer passes through (relayBody): four times an instance
// connection's, a quarter of the read and write system calls of a 16 KiB buffer
// (docs/benchmarks.md, issue 18 item 4); held only while such an answer passes.
const relayBufSize = 64 << 10

var relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBufSize); return &b }}

func getRelayBuf() *[]byte {
	if p, ok := relayBufs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, relayBufSize)
	return &b
}

// relayBody passes the answer's body on: first what the buffer holds, in the same write as the
// head, then every read as soon as it arrives (a stream's parts reach the client as they come).
// The last part is left in out, unwritten, for the caller to write once it has given the
// instance's connection back (relay).
func relayBody(c *clientConn, u *upstreamConn, out []byte, rechunk bool) (_ []byte, werr, rerr error) {
	rs := &c.x.rs
	left := rs.Length
	var chunks httpframe.ChunkScanner
	var big *[]byte // the large buffer, once taken; small is the connection's own then
	var small []byte
	defer func() {
		if big != nil && u.r == u.w { // else the connection is not reused (release): it keeps big
			u.buf, u.r, u.w = small, 0, 0
			relayBufs.Put(big)
		}
	}()
	filled := false // the last read filled the buffer
	for {
		avail := u.buf[u.r:u.w]
		take, done := len(avail), false
		switch {
		case rs.Chunked:
			if take, done, rerr = chunks.Scan(avail); rerr != nil {
				return out, nil, rerr
			}
		case !rs.UntilClose:
			if int64(take) >= left {
				take, done = int(left), true
			}
			left -= int64(take)
		}
		u.r += take
		switch {
		case rechunk && take > 0:
			out = strconv.AppendInt(out, int64(take), 16)
			out = append(out, "\r\n"...)
			out = append(out, avail[:take]...)
			out = append(out, "\r\n"...)
		case (len(out) > 0 || done) && take > 0 && len(out)+take <= cap(out):
			out = append(out, avail[:take]...)
		case len(out) > 0 && take > 0:
			// More than out takes (a large buffer's last read): both go now, in two writes.
			if werr = c.write(out); werr == nil {
				werr = c.write(avail[:take])
			}
			out = out[:0]
			if werr != nil {
				return out, werr, nil
			}
		case take > 0:
			if werr = c.write(avail[:take]); werr != nil {
				return out, werr, nil
			}
		}
		if done {
			return out, nil, nil
		}
		if len(out) > 0 {
			if werr = c.write(out); werr != nil {
				return out, werr, nil
			}
			out = out[:0]
		}
		u.r, u.w = 0, 0
		if big == nil && (left > int64(len(u.buf)) || filled) {
			// A large answer passes through a larger buffer, taken for this answer only: an
			// idle connection keeps its small one.
			big, small = getRelayBuf(), u.buf
			u.buf = *big
		}
		n, err := u.readSliced(c, time.Time{})
		filled = n == len(u.buf)
		if err == io.EOF && rs.UntilClose {
			if rechunk {
				werr = c.write(append(out, "0\r\n\r\n"...))
			}
			return out, werr, nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return out, nil, err
		}
	}
}

// exchangeFront sends the request to the chosen instance and reads the answer's head, by the one
// forwarding policy (forward). Every request is resendable until its exchange says otherwise: a
// body the gateway does not hold whole fails as a PartialBodyError once any of it went out, and
// nothing of it goes out before the connection to the instance is made.
func (p *Proxy) exchangeFront(c *clientConn, att *attempt) (u *upstreamConn, headLen int, err error) {
	u, err = p.forward(att, idempotent(c.x.rq.Method), true, func(u *upstreamConn, reused bool) (err error) {
		headLen, err = p.roundTripFront(c, u, reused)
		return err
	})
	return u, headLen, err
}

// roundTripFront writes the request head on u and reads the final answer's head (parsed into
// c.x.rs; its length is returned), passing 1xx answers on to the client.
func (p *Proxy) roundTripFront(c *clientConn, u *upstreamConn, reused bool) (int, error) {
	if c.x.rq.HasBody() {
		return p.roundTripFrontBody(c, u, reused)
	}
	outp := getFrontBuf()
	head := c.x.rq.AppendUpstreamHead((*outp)[:0], c.clientIP)
	_, err := u.write(head, p.opts.ResponseHeaderTimeout)
	putFrontBuf(outp, head)
	if err != nil {
		return 0, sendFailure(err, reused)
	}
	p.yieldBeforeRead()
	return p.readAnswerHead(u, reused, c, &c.x.rs, c.x.rq.Method, false)
}

// continueHead is the front end's own answer to Expect: 100-continue.
var continueHead = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// bodyWaitSlice: while a body streams, the client is waited for in slices this long, and between
// them the instance is looked at, so that an answer it sends before the body ends (a 413) does
// not wait for a client that stopped sending.
const bodyWaitSlice = 100 * time.Millisecond

// roundTripFrontBody is roundTripFront for a request with a body. The body streams: the bytes
// that came with the head go out in the head's write (in one write when they fit the buffer),
// then each read from the client goes to the instance as it comes, through the connection's
// buffer behind the head, never the whole body at once. Its end is where the BodyScanner says.
//
// Expect: 100-continue is answered by the gateway itself, once, before the body is forwarded,
// and not passed on (as net/http's server and nginx do): the instance gets the body at once, so
// nothing waits for an instance that never sends 100.
//
// An answer that arrives before the body is sent whole is the answer (early): the rest of the
// body is not sent, neither connection is used again. A client that goes away or stalls in the
// middle of its body is a ClientBodyError; a failure after part of a body the gateway does not
// hold whole went out is a PartialBodyError (never retried). A body that came whole with the head
// stays in the buffer until the exchange ends, so its request can be sent again (forward).
func (p *Proxy) roundTripFrontBody(c *clientConn, u *upstreamConn, reused bool) (int, error) {
	x := c.x
	b := &x.body
	b.sent, b.early = false, false
	if x.rq.Expect100 && !b.continued {
		b.continued = true
		if err := c.write(continueHead); err != nil {
			return 0, errClientGone
		}
	}
	outp := getFrontBuf()
	head := x.rq.AppendUpstreamHead((*outp)[:0], c.clientIP)
	first := (*c.buf)[b.start : b.start+b.buffered]
	var err error
	if len(head)+len(first) <= cap(head) {
		_, err = u.write(append(head, first...), p.opts.ResponseHeaderTimeout)
	} else if _, err = u.write(head, p.opts.ResponseHeaderTimeout); err == nil {
		_, err = u.write(first, p.opts.ResponseHeaderTimeout)
	}
	putFrontBuf(outp, head)
	if err != nil {
		err = sendFailure(err, reused)
		if !b.whole {
			return 0, &PartialBodyError{Err: err}
		}
		return 0, err
	}
	if b.whole {
		b.sent = true
		p.yieldBeforeRead()
		return p.readAnswerHead(u, reused, c, &x.rs, x.rq.Method, false)
	}
	headLen, err := p.streamBody(c, u)
	if err == nil && headLen == 0 {
		headLen, err = p.readAnswerHead(u, reused, c, &x.rs, x.rq.Method, false)
	}
	if err != nil {
		var body *ClientBodyError
		var un *UnansweredError
		if !errors.As(err, &body) && !errors.As(err, &un) && u.w == 0 && connectionEnded(err) {
			err = &UnansweredError{Reused: reused, Err: err} // ended before any byte of an answer
		}
		return 0, &PartialBodyError{Err: err}
	}
	return headLen, nil
}

// streamBody passes the rest of the body from the client to the instance (the buffer held the
// first bytes, sent with the head). It returns the length of a final answer's head when the
// instance answered before the body's end (early), 0 once the body went whole.
func (p *Proxy) streamBody(c *clientConn, u *upstreamConn) (int, error) {
	b := &c.x.body
	c.n = b.start // the body's bytes in the buffer went out with the head
	lastByte, looked := time.Now(), time.Time{}
	for {
		// The instance is looked at once per bodyWaitSlice, not after every read: a system call
		// per read would cost a large upload a third more of them. An instance that answers and
		// stops reading is seen by then, or when a write to it fails.
		if now := time.Now(); now.Sub(looked) >= bodyWaitSlice {
			looked = now
			if headLen, err := p.answerDuringBody(c, &c.x.rs, c.x.rq.Method, u); headLen > 0 || err != nil {
				b.early = headLen > 0
				return headLen, err
			}
		}
		n, err := c.readBody()
		if n > 0 {
			lastByte = time.Now()
			in := (*c.buf)[b.start:c.n]
			k, done, ferr := b.scan.Scan(in)
			if ferr != nil {
				return 0, &ClientBodyError{Err: ferr}
			}
			if headLen, werr := p.sendBodyPart(c, &c.x.rs, c.x.rq.Method, u, in[:k]); headLen > 0 {
				b.early = true
				return headLen, nil
			} else if werr != nil {
				var stalled *StalledWriteError
				if errors.As(werr, &stalled) {
					return 0, werr // sendBodyPart looked for an answer
				}
				// The instance stopped taking the body: an answer it sent before is the answer
				// (a 413 to a large upload), else the exchange failed.
				if headLen, aerr := p.readAnswerHead(u, false, c, &c.x.rs, c.x.rq.Method, false); aerr == nil {
					b.early = true
					return headLen, nil
				}
				return 0, werr
			}
			if done {
				b.sent = true
				c.reqEnd = b.start + k // what follows is the next request's
				return 0, nil
			}
			c.n = b.start
		}
		switch {
		case err == nil:
		case isTimeout(err):
			if time.Since(lastByte) >= c.s.opts.IdleTimeout {
				return 0, &ClientBodyError{Err: err}
			}
			looked = time.Time{} // the client stalls: look at the instance now
		case err == io.EOF:
			return 0, &ClientBodyError{Err: io.ErrUnexpectedEOF}
		default:
			return 0, &ClientBodyError{Err: err}
		}
	}
}

// sendBodyPart writes part of a request body to the instance. A write that finds the instance's
// socket full waits in slices of bodyWaitSlice, and between them looks whether the instance
// answered (answerDuringBody): an answer's head length > 0 then, the answer (a 413 from an
// instance that stopped reading the upload). It gives up once the instance took no byte for the
// ResponseHeaderTimeout (a StalledWriteError). Both front ends' (w: the client, rs and method:
// its request's answer and method).
func (p *Proxy) sendBodyPart(w waitingClient, rs *httpframe.Response, method string, u *upstreamConn, b []byte) (int, error) {
	lastByte := time.Now()
	for {
		n, err := u.write(b, bodyWaitSlice)
		b = b[n:]
		var stalled *StalledWriteError
		if err == nil || !errors.As(err, &stalled) {
			return 0, err
		}
		now := time.Now()
		if n > 0 {
			lastByte = now
		}
		if headLen, aerr := p.answerDuringBody(w, rs, method, u); headLen > 0 || aerr != nil {
			return headLen, aerr
		}
		if stall := p.opts.ResponseHeaderTimeout; now.Sub(lastByte) >= stall {
			stalled.After = stall
			return 0, stalled
		}
	}
}

// answerDuringBody looks, without waiting, whether the instance sent something while the body is
// still on its way to it. Interim answers (1xx) go to the client and the body goes on; a final
// answer's head is read (into rs) and its length returned; the instance's close is an error.
// Both front ends' (w: the client; method: its request's).
func (p *Proxy) answerDuringBody(w waitingClient, rs *httpframe.Response, method string, u *upstreamConn) (int, error) {
	if u.r == u.w {
		u.r, u.w = 0, 0
		if pending, err := u.answerPending(); err != nil || !pending {
			return 0, err
		}
	}
	deadline := time.Now().Add(p.opts.ResponseHeaderTimeout)
	for u.r < u.w {
		headLen, err := u.readHead(w, deadline)
		if err != nil {
			return 0, err
		}
		if err := rs.Parse(u.buf[u.r:], headLen, method); err != nil {
			return 0, err
		}
		switch {
		case rs.Status >= 200:
			return headLen, nil
		case rs.Status == http.StatusSwitchingProtocols:
			return 0, errSwitchedProtocols
		}
		if err := w.interim(rs); err != nil {
			return 0, err
		}
		u.r += headLen
	}
	return 0, nil
}

// answerPending reads, without waiting, what the instance has sent on u: true when bytes came (in
// u's buffer); an error when the instance closed the connection.
func (u *upstreamConn) answerPending() (bool, error) {
	if u.aw == nil {
		if netpoll.ConnQuiet(u.conn) {
			return false, nil
		}
		if err := setSocketReadDeadline(nil, u.conn, time.Now().Add(headWaitSlice)); err != nil {
			return false, err
		}
		u.deadline = time.Time{} // readSliced sets its own
		n, err := u.conn.Read(u.buf[u.w:])
		u.w += n
		if n == 0 && err == nil {
			err = io.ErrUnexpectedEOF
		}
		return n > 0, err
	}
	n, err := u.aw.TryRead(u.buf[u.w:])
	u.w += n
	switch {
	case n > 0:
		return true, nil
	case err == netpoll.ErrWouldBlock:
		return false, nil
	case err == nil:
		return false, io.ErrUnexpectedEOF
	}
	return false, err
}

// sendFailure is the error of a failed write of a request to an instance: an UnansweredError when
// the connection ended (no answer can have come), else err.
func sendFailure(err error, reused bool) error {
	if connectionEnded(err) {
		return &UnansweredError{Reused: reused, Err: err}
	}
	return err
}

// waitingClient is the client of a request that waits on an instance: the front end's connection
// (clientConn) or a request that net/http serves (netHTTPClient).
type waitingClient interface {
	// clientGone reports, without waiting, whether the client went away.
	clientGone() bool
	// interim passes an informational (1xx) answer, parsed into rs, on to the client.
	interim(rs *httpframe.Response) error
}

// readAnswerHead reads the final answer's head to a request of the given method from u (parsed
// into rs; its length is returned), on both paths. Interim answers (1xx) go to the client as they
// come; a 101 is final only when the request asked to switch (upgrade). A connection that ends
// before any byte of the answer is an UnansweredError.
func (p *Proxy) readAnswerHead(u *upstreamConn, reused bool, w waitingClient, rs *httpframe.Response, method string, upgrade bool) (headLen int, err error) {
	deadline := time.Now().Add(p.opts.ResponseHeaderTimeout)
	for range 5 {
		if headLen, err = u.readHead(w, deadline); err != nil {
			if u.w == 0 && connectionEnded(err) {
				return 0, &UnansweredError{Reused: reused, Err: err}
			}
			return 0, err
		}
		if err = rs.Parse(u.buf[u.r:], headLen, method); err != nil {
			return 0, err
		}
		switch {
		case rs.Status >= 200:
			return headLen, nil
		case rs.Status == http.StatusSwitchingProtocols && upgrade:
			return headLen, nil
		case rs.Status == http.StatusSwitchingProtocols:
			return 0, errSwitchedProtocols
		}
		// 103 Early Hints and the like go to the client as they come.
		if err := w.interim(rs); err != nil {
			return 0, err
		}
		u.r += headLen
	}
	return 0, errTooManyInformational
}

// interim writes an informational answer to the front end's client.
func (c *clientConn) interim(rs *httpframe.Response) error {
	hints := getFrontBuf()
	err := c.write(rs.AppendClientHead((*hints)[:0], httpframe.ClientHead{Informational: true}))
	frontBufs.Put(hints)
	if err != nil {
		return errClientGone
	}
	return nil
}

// readHead reads until u's buffer holds a whole answer head and returns its length.
func (u *upstreamConn) readHead(w waitingClient, deadline time.Time) (int, error) {
	scanned := u.r
	for {
		from := max(scanned-3, u.r)
		if i := bytes.Index(u.buf[from:u.w], headEnd); i >= 0 {
			return from + i + 4 - u.r, nil
		}
		if i := httpframe.RequestHeadEnd(u.buf[u.r:u.w]); i >= 0 {
			return i, nil // a head whose lines end in bare LFs
		}
		scanned = u.w
		if u.w == len(u.buf) {
			switch {
			case u.r > 0:
				u.w = copy(u.buf, u.buf[u.r:u.w])
				scanned -= u.r
				u.r = 0
			case len(u.buf) >= maxResponseHead:
				return 0, errResponseHeadTooLarge
			default:
				grown := make([]byte, min(2*len(u.buf), maxResponseHead))
				copy(grown, u.buf[:u.w])
				u.buf = grown
			}
		}
		n, err := u.readSliced(w, deadline)
		if err == io.EOF && (n > 0 || u.w > u.r) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return 0, err
		}
	}
}

// readSliced reads what the instance sends next into u's buffer. It waits in slices of at most
// headWaitSlice and looks between them whether the client is still there, until deadline (zero:
// none). The connection's read deadline is moved only when it is off by more than half a slice,
// so a busy connection does not reset its timer for every request.
func (u *upstreamConn) readSliced(w waitingClient, deadline time.Time) (int, error) {
	for {
		now := time.Now()
		u.readAt = now
		target := now.Add(headWaitSlice)
		if !deadline.IsZero() && target.After(deadline) {
			target = deadline
		}
		if !u.deadline.Equal(target) && (u.deadline.After(target) || u.deadline.Sub(now) <= headWaitSlice/2) {
			u.deadline = target
			if err := setSocketReadDeadline(u.aw, u.conn, target); err != nil {
				return 0, err
			}
		}
		n, err := readSocket(u.aw, u.conn, u.buf[u.w:])
		u.w += n
		if n > 0 || !isTimeout(err) {
			return n, err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, err
		}
		if w.clientGone() {
			return 0, errClientGone
		}
	}
}

// writeError answers with a plain-text error as http.Error would. false: close the connection
// (after draining a body that is left unread: lingerClose).
func (c *clientConn) writeError(status int, msg string) bool {
	closeAfter := c.x.rq.CloseAfter || c.s.shutdown.Load() || !c.x.body.bodyAccountedFor()
	body := msg + "\n"
	var b []byte
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: "...)
	b = append(b, httpframe.HTTPDate()...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if closeAfter {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	if c.x.rq.Method != http.MethodHead {
		b = append(b, body...)
	}
	err := c.write(b)
	if err == nil && !c.x.body.bodyAccountedFor() {
		c.lingerClose()
	}
	return err == nil && !closeAfter
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stickyCookie is the Set-Cookie value that pins a client to its route or instance.
func stickyCookie(name, value string) string {
	c := http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	return c.String()
}
