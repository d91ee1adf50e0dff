package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The direct forwarding path. httputil.ReverseProxy over http.Transport costs, per request, a
// clone of the request and its headers, a cancel context, a client trace, and three goroutine
// hand-offs (the transport's writer and reader goroutines); with FlushInterval -1 it also sends
// the response head in a write of its own. For the bulk of traffic (GET and HEAD without a body
// over HTTP/1.x) this path writes the request head straight from the inbound request into a
// pooled connection and reads the answer on the request's own goroutine. Everything else (request
// bodies, upgrades, HTTP/2 clients, queries that ReverseProxy would rewrite) takes ReverseProxy,
// and both paths send the same headers to instances and clients.

// forwardable reports whether r takes the direct path.
func forwardable(r *http.Request) bool {
	if r.ProtoMajor != 1 || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 || (r.Body != nil && r.Body != http.NoBody) {
		return false
	}
	if _, upgrade := r.Header["Upgrade"]; upgrade {
		return false
	}
	if _, expect := r.Header["Expect"]; expect {
		return false
	}
	return queryKeptAsIs(r.URL.RawQuery)
}

// queryKeptAsIs reports whether ReverseProxy would pass the query unchanged: it re-encodes a
// query with a ';' or a bad %-escape (httputil's cleanQueryParams), and such requests take it.
func queryKeptAsIs(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

var errSwitchedProtocols = errors.New("the instance switched protocols (101) for a request that asked for no upgrade")

// aLongTimeAgo as a deadline makes blocked reads and writes on a connection return at once.
var aLongTimeAgo = time.Unix(1, 0)

// forward serves r over the direct path; serve has chosen att's instance.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, att *attempt, now time.Time) {
	uc, resp, err := p.exchange(w, r, att, now)
	if err != nil {
		p.answerError(w, r, att, err)
		return
	}
	att.status = resp.StatusCode
	h := w.Header()
	copyResponseHeader(h, resp.Header)
	if d := att.decision; d.SetCookie {
		h.Add("Set-Cookie", stickyCookie(d.CookieName, d.CookieValue))
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)

	werr, rerr := p.copyBody(w, resp.Body, uc.br)
	armed := uc.disarm()
	if werr != nil || rerr != nil || !armed || resp.Close {
		uc.conn.Close()
		if rerr != nil && werr == nil && armed {
			// The instance cut its answer short: abort the client's response too (as
			// ReverseProxy does) rather than end it as if it were complete.
			panic(http.ErrAbortHandler)
		}
		return
	}
	p.up.put(uc, time.Now())
	if len(resp.Trailer) > 0 {
		// Force chunking so trailers can follow (net/http would otherwise add a Content-Length).
		http.NewResponseController(w).Flush()
		if len(resp.Trailer) == announced {
			for k, vv := range resp.Trailer {
				h[k] = vv
			}
		} else {
			for k, vv := range resp.Trailer {
				for _, v := range vv {
					h.Add(http.TrailerPrefix+k, v)
				}
			}
		}
	}
}

// copyBody streams the answer's body to the client. It flushes whenever the next read would
// wait for the instance, so a small answer leaves in one write with its head, and a stream's
// every part reaches the client as soon as it arrives.
func (p *Proxy) copyBody(w http.ResponseWriter, body io.Reader, br *bufio.Reader) (werr, rerr error) {
	flusher, _ := w.(http.Flusher)
	bufp := p.buffers.get()
	defer p.buffers.put(bufp)
	buf := *bufp
	unflushed := true // the response head
	for {
		if unflushed && br.Buffered() == 0 && flusher != nil {
			flusher.Flush()
			unflushed = false
		}
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr = w.Write(buf[:n]); werr != nil {
				return werr, nil
			}
			unflushed = true
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// exchange sends r to att's instance and reads the answer's head. Like retryTransport, it tries
// one other instance when the first could not be reached or dropped the connection unanswered.
func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, att *attempt, now time.Time) (*upstreamConn, *http.Response, error) {
	ctx := r.Context()
	retried := false
	for {
		b := att.decision.Backend
		uc, resp, err := p.tryInstance(w, r, b.Addr, now)
		if err == nil {
			p.succeeded(b)
			return uc, resp, nil
		}
		if ctx.Err() != nil || !connectionFailure(err) {
			return nil, nil, err
		}
		p.failed(b)
		if retried {
			return nil, nil, err
		}
		now = time.Now()
		d, cerr := att.table.Choose(att.in, now, b)
		if cerr != nil || d.Backend == b {
			return nil, nil, err
		}
		d.Backend.Acquire()
		b.Release()
		att.decision = d
		retried = true
	}
}

// tryInstance does one exchange with addr, on a pooled connection if there is one. An instance
// may close an idle connection just as it is taken; then the request goes once more on a new
// connection (GET and HEAD may be repeated) before that counts as the instance failing.
func (p *Proxy) tryInstance(w http.ResponseWriter, r *http.Request, addr string, now time.Time) (*upstreamConn, *http.Response, error) {
	ctx := r.Context()
	uc, reused, err := p.up.get(ctx, addr, now)
	if err != nil {
		return nil, nil, err
	}
	resp, informational, err := p.roundTrip(w, r, uc)
	if err != nil && reused && !informational && ctx.Err() == nil && !isTimeout(err) {
		uc.disarm()
		uc.conn.Close()
		if uc, _, err = p.up.dial(ctx, addr, uc.pool); err != nil {
			return nil, nil, err
		}
		resp, _, err = p.roundTrip(w, r, uc)
	}
	if err != nil {
		uc.disarm()
		uc.conn.Close()
		return nil, nil, err
	}
	return uc, resp, nil
}

// roundTrip writes r's head on uc and reads the answer's head, passing 1xx answers on to the
// client (informational reports that one was).
//
// A client that goes away must not hold the instance's connection until the instance speaks (a
// long poll, a quiet stream). While the head is awaited, the wait runs in slices of at most
// headWaitSlice with a look at the request's context between them; a body that must still be
// read from the network arms uc.abort on the context (context.AfterFunc) until the request lets
// go of uc. A small answer that arrives whole, the common case, costs neither a callback nor
// the allocations of one.
func (p *Proxy) roundTrip(w http.ResponseWriter, r *http.Request, uc *upstreamConn) (resp *http.Response, informational bool, err error) {
	ctx := r.Context()
	writeRequestHead(uc.bw, r, uc.addr)
	if err := uc.bw.Flush(); err != nil {
		return nil, false, err
	}
	headDeadline := time.Now().Add(p.opts.ResponseHeaderTimeout)
	uc.limit.arm()
	defer uc.limit.disarm()
	for range 5 {
		if err := awaitHead(ctx, uc, headDeadline); err != nil {
			return nil, informational, err
		}
		resp, err = http.ReadResponse(uc.br, r)
		if err != nil {
			return nil, informational, err
		}
		switch {
		case resp.StatusCode >= 200:
			// A body that is not already all in the buffer may stream for as long as it
			// takes; one that is needs no more reads, and the next request on this
			// connection sets its own deadline.
			if resp.Body != http.NoBody && (resp.ContentLength < 0 || int64(uc.br.Buffered()) < resp.ContentLength) {
				uc.conn.SetReadDeadline(time.Time{})
				uc.stop = context.AfterFunc(ctx, uc.abort)
				// abort may have run before the deadline was lifted, and been undone by it.
				if err := ctx.Err(); err != nil {
					return nil, informational, err
				}
			}
			return resp, informational, nil
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, informational, errSwitchedProtocols
		}
		// 103 Early Hints and the like go to the client as they come.
		informational = true
		h := w.Header()
		for k, vv := range resp.Header {
			h[k] = vv
		}
		w.WriteHeader(resp.StatusCode)
		for k := range resp.Header {
			delete(h, k)
		}
	}
	return nil, informational, errors.New("the instance sent more than 5 informational (1xx) answers")
}

// headWaitSlice bounds how long a client that went away can keep an instance's connection
// waiting for an answer head.
const headWaitSlice = time.Second

// awaitHead waits until the next answer head begins to arrive (or deadline), looking at ctx
// every headWaitSlice; then it bounds the rest of the head by deadline, unless the head is
// already all in the buffer.
func awaitHead(ctx context.Context, uc *upstreamConn, deadline time.Time) error {
	for {
		slice := time.Now().Add(headWaitSlice)
		if slice.After(deadline) {
			slice = deadline
		}
		uc.conn.SetReadDeadline(slice)
		_, err := uc.br.Peek(1)
		if err == nil {
			break
		}
		if !isTimeout(err) || !slice.Before(deadline) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if buffered, _ := uc.br.Peek(uc.br.Buffered()); !bytes.Contains(buffered, headEnd) {
		uc.conn.SetReadDeadline(deadline)
	}
	return nil
}

var headEnd = []byte("\r\n\r\n")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeRequestHead writes what ReverseProxy with SetXForwarded would send for a request without
// a body: the inbound head minus hop-by-hop headers and client-supplied forwarding headers, plus
// the gateway's X-Forwarded-*. The inbound Host is kept.
func writeRequestHead(bw *bufio.Writer, r *http.Request, addr string) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if r.Host != "" {
		bw.WriteString(r.Host)
	} else {
		bw.WriteString(addr)
	}
	bw.WriteString("\r\n")
	for k, vv := range r.Header {
		switch k {
		case "Host", "Content-Length", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
			continue
		}
		if hopByHop(k) || listedInConnection(r.Header, k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if headerHasToken(r.Header["Te"], "trailers") {
		// The client takes trailers, so the instance may send them (as ReverseProxy tells it).
		bw.WriteString("Te: trailers\r\n")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(r.Host)
	if r.TLS == nil {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\n\r\n")
	}
}

// copyResponseHeader copies the answer's end-to-end headers into the client's (still empty)
// header map, sharing the value slices: the answer is not used after.
func copyResponseHeader(dst, src http.Header) {
	for k, vv := range src {
		if hopByHop(k) || listedInConnection(src, k) {
			continue
		}
		dst[k] = vv
	}
	if _, typed := src["Content-Type"]; !typed {
		// Present but empty: net/http then sends no Content-Type rather than sniffing one that
		// the instance never said.
		dst["Content-Type"] = nil
	}
}

// hopByHop: the headers of RFC 9110 section 7.6.1 that ReverseProxy removes in both directions.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listedInConnection reports whether the Connection header names k as hop-by-hop.
func listedInConnection(h http.Header, k string) bool {
	return headerHasToken(h["Connection"], k)
}

// headerHasToken reports whether a comma-separated header names token (case-insensitively).
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
			if v == "" {
				break
			}
		}
	}
	return false
}

// stickyCookie is the Set-Cookie value that pins a client to its route or instance.
func stickyCookie(name, value string) string {
	c := http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	return c.String()
}
