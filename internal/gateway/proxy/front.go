package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
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
	if hosts := f.VirtualHosts.Load(); hosts != nil && len(*hosts) > 0 && !hostIn(rq.Host, *hosts) {
		return c.writeError(http.StatusNotFound, fmt.Sprintf("vamp gateway %s: no virtual host %q here; it serves %s", f.Name, rq.Host, strings.Join(*hosts, ", ")))
	}
	t := f.Table.Load()
	d, err := t.Choose(&rq.HTTP, start, nil)
	if err != nil {
		if f.NoRoute != nil {
			f.NoRoute.Inc()
		}
		return c.writeError(http.StatusServiceUnavailable, "vamp gateway "+f.Name+": "+err.Error())
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
		if errors.Is(err, errClientGone) {
			att.status = 499 // nginx's "client closed request", for the counters only
			return false
		}
		att.upstream = true
		status := http.StatusBadGateway
		if isTimeout(err) {
			status = http.StatusGatewayTimeout
		}
		att.status = status
		route := att.decision.Table.Routes()[att.decision.Route].Name
		p.opts.Logger.Warn("instance did not answer", "route", route, "instance", att.decision.Backend.Addr, "error", err)
		return c.writeError(status, fmt.Sprintf("vamp gateway: route %q: its instance did not answer (%s)", route, http.StatusText(status)))
	}
	rs := &c.x.rs
	att.status = rs.Status
	bodyless := rs.Bodyless(c.x.rq.Method)
	ch := httpframe.ClientHead{
		Rechunk:    rs.UntilClose && !bodyless,
		CloseAfter: c.x.rq.CloseAfter || c.s.shutdown.Load(),
	}
	if d := att.decision; d.SetCookie {
		ch.Cookie = stickyCookie(d.CookieName, d.CookieValue)
	}
	outp := getFrontBuf()
	out := rs.AppendClientHead((*outp)[:0], ch)
	u.r += headLen
	var werr, rerr error
	if bodyless {
		_, werr = c.write(out)
	} else {
		out, werr, rerr = relayBody(c, u, out, ch.Rechunk)
		if rerr != nil && len(out) > 0 {
			// The body was malformed before anything went to the client (the head is still in
			// out): a 502, as for a malformed head, and the client's connection carries on.
			putFrontBuf(outp, out)
			u.close()
			att.upstream, att.status = true, http.StatusBadGateway
			route := att.decision.Table.Routes()[att.decision.Route].Name
			return c.writeError(http.StatusBadGateway, fmt.Sprintf("vamp gateway: route %q: its instance sent a malformed answer (%s)", route, rerr))
		}
	}
	putFrontBuf(outp, out)
	p.up.release(u, werr == nil && rerr == nil && rs.Reusable)
	// An answer cut short by the instance is cut short for the client too (its connection
	// closes), rather than ended as if it were complete.
	return werr == nil && rerr == nil && !ch.CloseAfter
}

// relayBody passes the answer's body on: first what the buffer holds, in the same write as the
// head, then every read as soon as it arrives (a stream's parts reach the client as they come).
func relayBody(c *clientConn, u *upstreamConn, out []byte, rechunk bool) (_ []byte, werr, rerr error) {
	rs := &c.x.rs
	left := rs.Length
	var chunks httpframe.ChunkScanner
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
		case len(out) > 0 && take > 0:
			out = append(out, avail[:take]...)
		case take > 0:
			if _, werr = c.write(avail[:take]); werr != nil {
				return out, werr, nil
			}
		}
		if len(out) > 0 {
			if _, werr = c.write(out); werr != nil {
				return out, werr, nil
			}
			out = out[:0]
		}
		if done {
			return out, nil, nil
		}
		u.r, u.w = 0, 0
		_, err := u.readSliced(c, time.Time{})
		if err == io.EOF && rs.UntilClose {
			if rechunk {
				_, werr = c.write(append(out, "0\r\n\r\n"...))
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
// forwarding policy (forward): GET and HEAD without a body, idempotent and resendable.
func (p *Proxy) exchangeFront(c *clientConn, att *attempt) (u *upstreamConn, headLen int, err error) {
	u, err = p.forward(att, true, true, func(u *upstreamConn, reused bool) (err error) {
		headLen, err = p.roundTripFront(c, u, reused)
		return err
	})
	return u, headLen, err
}

// roundTripFront writes the request head on u and reads the final answer's head (parsed into
// c.x.rs; its length is returned), passing 1xx answers on to the client.
func (p *Proxy) roundTripFront(c *clientConn, u *upstreamConn, reused bool) (int, error) {
	outp := getFrontBuf()
	head := c.x.rq.AppendUpstreamHead((*outp)[:0], c.clientIP)
	_, err := u.write(head)
	putFrontBuf(outp, head)
	if err != nil {
		return 0, sendFailure(err, reused)
	}
	p.yieldBeforeRead()
	return p.readAnswerHead(u, reused, c, &c.x.rs, c.x.rq.Method, false)
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
	_, err := c.write(rs.AppendClientHead((*hints)[:0], httpframe.ClientHead{Informational: true}))
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

// writeError answers with a plain-text error as http.Error would. false: close the connection.
func (c *clientConn) writeError(status int, msg string) bool {
	closeAfter := c.x.rq.CloseAfter || c.s.shutdown.Load()
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
	_, err := c.write(b)
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
