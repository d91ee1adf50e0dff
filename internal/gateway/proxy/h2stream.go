package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
)

// h2Stream is one request of an HTTP/2 connection, forwarded on a goroutine of its own (run) as
// an HTTP/1.1 request: its head is written as HTTP/1.1 and parsed as the HTTP/1.1 front end parses
// a head (httpframe.Request), so routing, the head the instance gets and the forwarding are the
// front end's.
type h2Stream struct {
	h  *h2Conn
	id uint32
	// gone: the client reset the stream or the connection ended.
	gone atomic.Bool
	// bodyReady wakes the stream's goroutine when body bytes came (nil: the request has none).
	bodyReady chan struct{}

	// Under h.mu:
	sendWindow, recvWindow int64
	remoteDone             bool // the client ended its side (END_STREAM)
	localDone              bool // the answer ended (END_STREAM sent)
	bodyEnd                bool
	body                   []byte // body bytes received and not yet taken
	trailer                []hpack.HeaderField
	declared, received     int64 // content-length (-1: none) and the body's bytes so far

	// Set by the reader before run starts:
	method, scheme, path, authority string
	fields                          []hpack.HeaderField
	refuse                          error // answered without forwarding (errHeaderListTooLarge)
	// seenRound is the arrival-order dispatcher's first round after the request was read
	// (netpoll.Arrivals.NextRound): a pooled connection taken for it may trust that round's report
	// instead of a look of its own once the round is harvested (upstreams.take).
	seenRound uint64

	// The stream's goroutine's:
	x       *exchangeState
	headBuf *[]byte
	chunked bool   // the body goes to the instance chunk-coded (no content-length)
	whole   []byte // the whole body, held until the exchange ends so it can be sent again
	early   bool   // the instance answered before it took the whole body
	spare   []byte
}

// h2Streams keeps the streams that ended for the next ones (newH2Stream, recycle): a stream and
// its list of fields were the largest of a request's allocations, and a gateway that allocates for
// every request slows down when its heap is large (after a burst of connections), as new objects
// land on memory that is cold or not yet mapped (docs/benchmarks.md, session 12).
var h2Streams sync.Pool

// newH2Stream returns a stream of h with identifier id, opened now, reused if one ended.
func newH2Stream(h *h2Conn, id uint32) *h2Stream {
	st, ok := h2Streams.Get().(*h2Stream)
	if !ok {
		st = new(h2Stream)
	}
	st.h, st.id = h, id
	st.sendWindow, st.recvWindow, st.declared = h.peerInitWindow, h2StreamWindow, -1
	st.seenRound = h.s.p.arrivals.NextRound()
	return st
}

// recycle puts st, ended, back for newH2Stream: all of it zero but its list of fields, emptied,
// whose room the next request takes. Only finished calls it, as the last thing st's goroutine
// does with st, once st is out of its connection's streams: nothing else holds it any more (the
// reader finds streams in h.streams only, and a started stream is in no other list).
func (st *h2Stream) recycle() {
	fields := st.fields
	clear(fields)
	*st = h2Stream{fields: fields[:0]}
	h2Streams.Put(st)
}

// request takes the request's pseudo-headers and fields (RFC 9113 8.3); a malformed request is a
// stream error PROTOCOL_ERROR (8.1.1) (h.mu held).
func (st *h2Stream) request(f *h2HeaderBlock) error {
	malformed := http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	var seen [4]bool
	for _, hf := range f.pseudoFields() {
		var i int
		switch hf.Name {
		case ":method":
			i, st.method = 0, hf.Value
		case ":scheme":
			i, st.scheme = 1, hf.Value
		case ":path":
			i, st.path = 2, hf.Value
		case ":authority":
			i, st.authority = 3, hf.Value
		default:
			return malformed // :status, :protocol (no extended CONNECT), or unknown
		}
		if seen[i] {
			return malformed
		}
		seen[i] = true
	}
	switch {
	case !seen[0]:
		return malformed
	case st.method == http.MethodConnect:
		if seen[1] || seen[2] || !seen[3] {
			return malformed
		}
	case !seen[1] || !seen[2] || st.path == "":
		return malformed
	}
	st.fields = append(st.fields[:0], f.regularFields()...) // the block's fields are the reader's
	for _, hf := range st.fields {
		switch hf.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return malformed // connection-specific (8.2.2)
		case "te":
			if hf.Value != "trailers" {
				return malformed
			}
		case "content-length":
			n, err := strconv.ParseUint(hf.Value, 10, 63)
			if err != nil || st.declared >= 0 && int64(n) != st.declared {
				return malformed
			}
			st.declared = int64(n)
		}
	}
	if !f.StreamEnded() {
		st.bodyReady = make(chan struct{}, 1)
	}
	return nil
}

// cancel stops the stream: the client reset it or the connection ended (h.mu held).
func (st *h2Stream) cancel() {
	st.gone.Store(true)
	st.wakeBody()
}

func (st *h2Stream) wakeBody() {
	if st.bodyReady != nil {
		select {
		case st.bodyReady <- struct{}{}:
		default:
		}
	}
}

// clientGone and interim make the stream the waitingClient of readAnswerHead.
func (st *h2Stream) clientGone() bool { return st.gone.Load() }

func (st *h2Stream) interim(rs *httpframe.Response) error {
	h := st.h
	h.mu.Lock()
	h.encodeStatus(rs.Status)
	for name, value := range rs.ClientFields(httpframe.ClientHead{Informational: true, Decoded: true}) {
		h.encode(name, value)
	}
	gone := st.gone.Load()
	if !gone {
		h.writeHeaders(st.id, false)
	}
	h.hbuf.Reset()
	h.mu.Unlock()
	h.signal()
	if gone {
		return errClientGone
	}
	return nil
}

var errStreamReset = errors.New("the client reset the stream")

// maxIdleStreamWorkers bounds the stream workers that wait for a stream (startStream).
const maxIdleStreamWorkers = 256

// startStream forwards st on a goroutine of its own: an idle stream worker's when there is one,
// else a new one's. A worker goes on with the next stream when it is done, so that a busy
// connection's streams do not each pay for a goroutine and the growth of its stack; at most
// maxIdleStreamWorkers wait, until the proxy closes.
func (p *Proxy) startStream(st *h2Stream) {
	select {
	case p.streams <- st:
	default:
		go p.streamWorker(st)
	}
}

// startAfterRound starts streams, read in that order, at the end of the arrival dispatcher's next
// round (netpoll.Arrivals.AfterRound), at once where there are no rounds.
//
// Why: an HTTP/2 connection is read outside the arrival-order set, by a goroutine of its own, so
// a stream started at once would take its instance connection before a round had reported what
// came on it meanwhile, and would have to run a round itself (PollNow) or look at the socket (a
// system call per stream). Those rounds, run in the middle of others' work, woke a few answers
// early and left the rest for later: at saturation the gateway ran 600 to 1,400 small rounds a
// second where HAProxy's loop ran about 250 turns, and the answers' waits spread out (p99 1.5x to
// 1.9x HAProxy's at the same mean, docs/benchmarks.md, session 11). Started after their round,
// streams trust its report (Harvested: quietTaken), every wait is about one round long, and the
// rounds are the dispatcher's alone.
func (p *Proxy) startAfterRound(sts []*h2Stream) {
	if !p.arrivals.Enabled() {
		startInOrder(p, sts)
		return
	}
	p.pendMu.Lock()
	p.pending = append(p.pending, sts...)
	p.pendMu.Unlock()
	if !p.arrivals.AfterRound() {
		p.startPending(^uint64(0)) // closed meanwhile: no round will come
	}
}

// startPending starts the pending streams read before round ended (the function of
// netpoll.Arrivals.SetAfterRound); those read since wait for the next round.
func (p *Proxy) startPending(round uint64) {
	p.pendMu.Lock()
	ready := p.pending
	p.pending, p.spare = p.spare[:0], nil
	n := 0
	for _, st := range ready {
		if st.seenRound > round {
			p.pending = append(p.pending, st) // read while the round ran (another thread)
			continue
		}
		ready[n] = st
		n++
	}
	later := len(p.pending) > 0
	p.pendMu.Unlock()
	if later && !p.arrivals.AfterRound() {
		defer p.startPending(^uint64(0))
	}
	startInOrder(p, ready[:n])
	clear(ready)
	p.pendMu.Lock()
	if p.spare == nil {
		p.spare = ready[:0]
	}
	p.pendMu.Unlock()
}

// startInOrder starts streams in the order they came: a goroutine made ready goes into the
// scheduler's next-to-run slot and pushes the one there to the back of the run queue, so the
// first is started last and runs first, the others after it in their order (as the arrival-order
// dispatcher wakes its waiters).
func startInOrder(p *Proxy, sts []*h2Stream) {
	if len(sts) == 0 {
		return
	}
	for _, st := range sts[1:] {
		p.startStream(st)
	}
	p.startStream(sts[0])
}

func (p *Proxy) streamWorker(st *h2Stream) {
	for {
		st.run()
		if p.idleWorkers.Add(1) > maxIdleStreamWorkers {
			p.idleWorkers.Add(-1)
			return
		}
		select {
		case st = <-p.streams:
			p.idleWorkers.Add(-1)
		case <-p.closed:
			p.idleWorkers.Add(-1)
			return
		}
	}
}

// run forwards the stream's request and passes the answer back.
func (st *h2Stream) run() {
	h := st.h
	p := h.s.p
	defer st.finished()
	if st.gone.Load() {
		return // reset, or its connection ended, before it started (startAfterRound)
	}
	if st.refuse != nil {
		st.writeError(http.StatusRequestHeaderFieldsTooLarge, "vamp gateway: "+st.refuse.Error()+" ("+strconv.Itoa(h2MaxHeaderList)+" bytes): send fewer or smaller header fields", "")
		return
	}
	st.x = getExchange()
	x := st.x
	h.mu.Lock()
	whole, total := st.bodyEnd, len(st.body)
	if whole && total > 0 {
		st.whole, st.body = st.body, nil
	}
	h.mu.Unlock()
	head := st.buildHead(whole, total)
	start := time.Now()
	r := &x.rq.HTTP
	if !x.rq.Parse(head, len(head), h.remoteAddr) {
		if st.method != http.MethodConnect {
			st.writeError(http.StatusBadRequest, fmt.Sprintf("vamp gateway: refused a request whose target %q, authority %q or fields are not what the gateway forwards: send a path in origin form and plain field values", st.path, st.authority), "")
			return
		}
		r = &http.Request{Method: http.MethodConnect, Host: st.authority, Header: http.Header{}}
	}
	t, d, status, msg := p.routeFor(h.s.f, r, start)
	if status != 0 {
		allow := ""
		if status == http.StatusMethodNotAllowed {
			allow = allowedMethods
		}
		st.writeError(status, msg, allow)
		return
	}
	d.Backend.Acquire()
	att := attempt{in: r, table: t, decision: d, seenRound: st.seenRound, start: start}
	defer p.finish(&att, start)
	resend := !x.rq.HasBody() || whole
	var headLen int
	u, err := p.forward(&att, idempotent(x.rq.Method), resend, func(u *upstreamConn, reused bool) (err error) {
		headLen, err = st.exchange(u, reused, whole)
		return err
	})
	st.giveBackWhole()
	if err != nil {
		var body *ClientBodyError
		if errors.Is(err, errClientGone) || errors.As(err, &body) {
			att.status = 499 // nginx's "client closed request", for the counters only
			return
		}
		status, msg := p.instanceFailed(&att, err)
		st.writeError(status, msg, "")
		return
	}
	st.relay(&att, u, headLen)
}

// buildHead writes the request as an HTTP/1.1 head (RFC 9113 8.3.1: :authority is the Host;
// cookie fields joined by "; ", 8.2.3); the body is framed by its content-length, by its length
// when it came whole, else chunked.
func (st *h2Stream) buildHead(whole bool, total int) []byte {
	size := len(st.method) + len(st.path) + len(st.authority) + 96
	for _, f := range st.fields {
		size += len(f.Name) + len(f.Value) + 4
	}
	var b []byte
	if size <= frontBufSize {
		st.headBuf = getFrontBuf()
		b = (*st.headBuf)[:0]
	} else {
		b = make([]byte, 0, size)
	}
	b = append(b, st.method...)
	b = append(b, ' ')
	b = append(b, st.path...)
	b = append(b, " HTTP/1.1\r\n"...)
	host := st.authority
	cookies := 0
	for _, f := range st.fields {
		switch f.Name {
		case "host":
			if host == "" {
				host = f.Value
			}
		case "cookie":
			cookies++
		}
	}
	if host != "" {
		b = append(b, "Host: "...)
		b = append(b, host...)
		b = append(b, "\r\n"...)
	}
	for _, f := range st.fields {
		if f.Name == "host" || f.Name == "cookie" && cookies > 1 {
			continue
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	if cookies > 1 {
		b = append(b, "cookie: "...)
		n := 0
		for _, f := range st.fields {
			if f.Name == "cookie" {
				if n++; n > 1 {
					b = append(b, "; "...)
				}
				b = append(b, f.Value...)
			}
		}
		b = append(b, "\r\n"...)
	}
	if st.bodyReady != nil && st.declared < 0 {
		switch {
		case !whole:
			b = append(b, "transfer-encoding: chunked\r\n"...)
			st.chunked = true
		case total > 0:
			b = append(b, "content-length: "...)
			b = strconv.AppendInt(b, int64(total), 10)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// exchange sends the request on u and reads the answer's head (forward's exchangeFunc). A body
// that came whole goes with the head and can be sent again; one that streams goes as it comes,
// and a failure after it began is a PartialBodyError.
func (st *h2Stream) exchange(u *upstreamConn, reused, whole bool) (int, error) {
	p := st.h.s.p
	x := st.x
	outp := getFrontBuf()
	head := x.rq.AppendUpstreamHead((*outp)[:0], st.h.clientIP)
	head = append(head, st.whole...)
	_, err := u.write(head, p.opts.ResponseHeaderTimeout)
	putFrontBuf(outp, head)
	if err != nil {
		return 0, sendFailure(err, reused)
	}
	if !x.rq.HasBody() || whole {
		p.yieldBeforeRead()
		return p.readAnswerHead(u, reused, st, &x.rs, x.rq.Method, false)
	}
	headLen, err := st.streamBody(u)
	if headLen > 0 {
		st.early = true // the instance answered before the body's end
		return headLen, nil
	}
	if err != nil {
		var body *ClientBodyError
		if !errors.As(err, &body) {
			// The instance stopped taking the body: an answer it sent before is the answer (a
			// 413 to a large upload), else the exchange failed.
			if headLen, aerr := p.readAnswerHead(u, false, st, &x.rs, x.rq.Method, false); aerr == nil {
				st.early = true
				return headLen, nil
			}
			err = sendFailure(err, reused)
		}
		return 0, &PartialBodyError{Err: err}
	}
	headLen, err = p.readAnswerHead(u, reused, st, &x.rs, x.rq.Method, false)
	if err != nil {
		return 0, &PartialBodyError{Err: err}
	}
	return headLen, nil
}

// streamBody passes the body to the instance as its DATA frames come, chunk-coded when it has no
// content-length, and gives the client its flow-control window back as the parts go out. As on
// HTTP/1.1 (Proxy.streamBody), the instance is looked at once per bodyWaitSlice while the body
// streams or the client pauses, and while a write to it waits (sendBodyPart): an answer it sent
// before the body's end (a 413 to a large upload) is the answer, its head's length returned
// (the rest of the body is not sent; the stream ends with RST_STREAM NO_ERROR after the answer,
// RFC 9113 8.1). 0 once the body went whole.
func (st *h2Stream) streamBody(u *upstreamConn) (int, error) {
	p := st.h.s.p
	x := st.x
	var chunk []byte
	lastByte, looked := time.Now(), time.Time{}
	for {
		if now := time.Now(); now.Sub(looked) >= bodyWaitSlice {
			looked = now
			if headLen, err := p.answerDuringBody(st, &x.rs, x.rq.Method, u); headLen > 0 || err != nil {
				return headLen, err
			}
		}
		part, end, err := st.takeBody()
		if errors.Is(err, errBodySlice) {
			if time.Since(lastByte) >= st.h.s.opts.IdleTimeout {
				return 0, &ClientBodyError{Err: &StalledWriteError{Peer: "client", After: st.h.s.opts.IdleTimeout, Err: errBodyStalled}}
			}
			looked = time.Time{} // the client pauses: look at the instance now
			continue
		}
		if err != nil {
			return 0, &ClientBodyError{Err: err}
		}
		if len(part) > 0 {
			lastByte = time.Now()
			out := part
			if st.chunked {
				chunk = strconv.AppendInt(chunk[:0], int64(len(part)), 16)
				chunk = append(chunk, "\r\n"...)
				chunk = append(chunk, part...)
				out = append(chunk, "\r\n"...)
				chunk = out
			}
			headLen, werr := p.sendBodyPart(st, &x.rs, x.rq.Method, u, out)
			st.giveBack(part)
			if headLen > 0 || werr != nil {
				return headLen, werr
			}
		}
		if !end {
			continue
		}
		if st.chunked {
			last := append(chunk[:0], "0\r\n"...)
			for _, f := range st.trailer {
				if !httpframe.HopByHop(http.CanonicalHeaderKey(f.Name)) {
					last = append(last, f.Name...)
					last = append(last, ": "...)
					last = append(last, f.Value...)
					last = append(last, "\r\n"...)
				}
			}
			if headLen, err := p.sendBodyPart(st, &x.rs, x.rq.Method, u, append(last, "\r\n"...)); headLen > 0 || err != nil {
				return headLen, err
			}
		}
		return 0, nil
	}
}

// takeBody waits for body bytes, at most bodyWaitSlice (errBodySlice then): what came since the
// last call, and whether the body ended. A client that resets the stream is an error.
func (st *h2Stream) takeBody() (part []byte, end bool, err error) {
	h := st.h
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		h.mu.Lock()
		if st.gone.Load() {
			h.mu.Unlock()
			return nil, false, errStreamReset
		}
		if len(st.body) > 0 || st.bodyEnd {
			part, end = st.body, st.bodyEnd
			st.body, st.spare = st.spare[:0], nil
			h.mu.Unlock()
			return part, end, nil
		}
		h.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(bodyWaitSlice)
		}
		select {
		case <-st.bodyReady:
		case <-timer.C:
			return nil, false, errBodySlice
		}
	}
}

var errBodyStalled = errors.New("the client sent no byte of its request body")

// errBodySlice: takeBody waited bodyWaitSlice without a body byte (streamBody looks at the
// instance then, and gives up once the client sent nothing for the idle timeout).
var errBodySlice = errors.New("no request body byte within the wait slice")

// giveBack returns the window of a body part that went to the instance, and keeps its buffer.
func (st *h2Stream) giveBack(part []byte) {
	h := st.h
	n := uint32(len(part))
	h.mu.Lock()
	h.recvWindow += int64(n)
	_ = h.wfr.WriteWindowUpdate(0, n)
	if !st.remoteDone && !st.gone.Load() {
		st.recvWindow += int64(n)
		_ = h.wfr.WriteWindowUpdate(st.id, n)
	}
	st.spare = part[:0]
	h.mu.Unlock()
	h.signal()
}

// giveBackWhole returns the connection window of a body held whole, once its exchange ended.
func (st *h2Stream) giveBackWhole() {
	if len(st.whole) == 0 {
		return
	}
	h := st.h
	h.mu.Lock()
	h.recvWindow += int64(len(st.whole))
	_ = h.wfr.WriteWindowUpdate(0, uint32(len(st.whole)))
	h.mu.Unlock()
	h.signal()
	st.whole = nil
}

// relay passes the answer whose head u's buffer holds (headLen bytes, parsed into x.rs) to the
// client: HEADERS, the body in DATA frames (de-chunked) within the client's windows, trailers in a
// last HEADERS frame. An answer whose body is in the buffer already goes in one append with its
// HEADERS, and u goes back to the pool before the client takes it.
func (st *h2Stream) relay(att *attempt, u *upstreamConn, headLen int) {
	p := st.h.s.p
	x := st.x
	rs := &x.rs
	att.status = rs.Status
	method := x.rq.Method
	bodyless := rs.Bodyless(method)
	bodyAt := u.r + headLen
	if rs.Chunked && !bodyless {
		// A body malformed in the bytes that came with the head is a malformed answer (502), as
		// on HTTP/1.1: nothing has gone to the client yet.
		var first httpframe.ChunkScanner
		if _, _, err := first.Scan(u.buf[bodyAt:u.w]); err != nil {
			u.close()
			st.writeError(http.StatusBadGateway, malformedAnswer(att, err), "")
			return
		}
	}
	ch := httpframe.ClientHead{Decoded: true}
	if d := att.decision; d.SetCookie {
		ch.Cookie = stickyCookie(d.CookieName, d.CookieValue)
	}
	reusable := rs.Reusable && !st.early
	// Content-Length bodies that came whole with the head: all of it at once.
	inBuffer := !bodyless && !rs.Chunked && !rs.UntilClose && int64(u.w-bodyAt) >= rs.Length
	var first []byte
	if inBuffer {
		first = u.buf[bodyAt : bodyAt+int(rs.Length)]
	}
	h := st.h
	h.mu.Lock()
	h.encodeStatus(rs.Status)
	for name, value := range rs.ClientFields(ch) {
		h.encode(name, value)
	}
	if st.gone.Load() {
		h.hbuf.Reset()
		h.mu.Unlock()
		u.close()
		att.status = 499
		return
	}
	h.writeHeaders(st.id, bodyless || inBuffer && len(first) == 0)
	if bodyless || inBuffer && len(first) == 0 {
		st.localDone = true
	}
	sent := 0
	if len(first) > 0 {
		sent = st.appendData(first, true)
	}
	h.mu.Unlock()
	h.signal()
	if bodyless || inBuffer {
		u.r = bodyAt + len(first)
		var rest []byte
		if sent < len(first) {
			rest = append(st.spare[:0], first[sent:]...) // u's buffer is the pool's once u goes back
		}
		p.up.release(u, reusable)
		if len(rest) > 0 {
			_ = st.sendData(rest, true)
		}
		return
	}
	u.r = bodyAt
	body := newAnswerBody(p, u, st, rs)
	body.reusable = reusable
	var r io.Reader = body
	var trailer *http.Response
	if rs.Chunked {
		trailer = &http.Response{}
		br := bufio.NewReader(body)
		r = &chunkedAnswer{raw: body, br: br, dec: httputil.NewChunkedReader(br), resp: trailer}
	}
	bufp := getFrontBuf()
	defer frontBufs.Put(bufp)
	buf := (*bufp)[:h2MaxFrame]
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := st.sendData(buf[:n], false); werr != nil {
				_ = body.Close()
				return
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			// Cut short by the instance: cut short for the client too.
			_ = body.Close()
			st.resetLocal(http2.ErrCodeInternal)
			return
		}
	}
	if trailer != nil && len(trailer.Trailer) > 0 {
		h.mu.Lock()
		for name, values := range trailer.Trailer {
			for _, v := range values {
				h.encode(name, v)
			}
		}
		if !st.gone.Load() {
			h.writeHeaders(st.id, true)
			st.localDone = true
		}
		h.hbuf.Reset()
		h.mu.Unlock()
		h.signal()
		return
	}
	_ = st.sendData(nil, true)
}

// appendData appends as much of b as the windows and the peer's frame size allow, in DATA frames
// (END_STREAM on the last when end), and returns how much (h.mu held).
func (st *h2Stream) appendData(b []byte, end bool) int {
	h := st.h
	sent := 0
	for {
		if len(b) == 0 {
			if end {
				_ = h.wfr.WriteData(st.id, true, nil)
				st.localDone = true
			}
			return sent
		}
		n := min(int64(len(b)), int64(h2MaxFrame), int64(h.peerMaxFrame), st.sendWindow, h.sendWindow)
		if n <= 0 {
			return sent
		}
		last := end && int(n) == len(b)
		_ = h.wfr.WriteData(st.id, last, b[:n])
		st.sendWindow -= n
		h.sendWindow -= n
		sent += int(n)
		b = b[n:]
		if last {
			st.localDone = true
			return sent
		}
	}
}

// sendData sends b in DATA frames, waiting for the client's windows and for room in the output;
// end ends the stream. An error: the client reset the stream or the connection ended.
func (st *h2Stream) sendData(b []byte, end bool) error {
	h := st.h
	h.mu.Lock()
	defer func() {
		h.mu.Unlock()
		h.signal()
	}()
	for {
		if st.gone.Load() || h.closed {
			return errClientGone
		}
		if len(h.out) < h2MaxOut {
			n := st.appendData(b, end)
			b = b[n:]
			if len(b) == 0 && (!end || st.localDone) {
				return nil
			}
		}
		h.signal() // the writer makes room; a WINDOW_UPDATE opens the window
		h.cond.Wait()
	}
}

// writeError answers with a plain-text error, as on HTTP/1.1 (writeError, http.Error).
func (st *h2Stream) writeError(status int, msg, allow string) {
	h := st.h
	body := msg + "\n"
	withBody := st.method != http.MethodHead
	h.mu.Lock()
	h.encodeStatus(status)
	h.encode("Content-Type", "text/plain; charset=utf-8")
	h.encode("X-Content-Type-Options", "nosniff")
	if allow != "" {
		h.encode("Allow", allow)
	}
	h.encode("Date", httpframe.HTTPDate())
	h.encode("Content-Length", strconv.Itoa(len(body)))
	gone := st.gone.Load()
	if !gone {
		h.writeHeaders(st.id, !withBody)
		st.localDone = !withBody
	}
	h.hbuf.Reset()
	h.mu.Unlock()
	h.signal()
	if withBody && !gone {
		_ = st.sendData([]byte(body), true)
	}
}

// resetLocal resets the stream from the gateway's side.
func (st *h2Stream) resetLocal(code http2.ErrCode) {
	h := st.h
	h.mu.Lock()
	if !st.gone.Load() {
		_ = h.wfr.WriteRSTStream(st.id, code)
		h.rememberReset(st.id)
		h.endStream(st)
		st.cancel()
	}
	h.mu.Unlock()
	h.signal()
}

// finished ends the stream's goroutine: an answer that ended before the client's request did
// ends the stream with RST_STREAM NO_ERROR (RFC 9113 8.1); one that did not end (the client went
// away, its body failed) with CANCEL.
func (st *h2Stream) finished() {
	h := st.h
	h.mu.Lock()
	h.running--
	if h.streams[st.id] == st && !h.closed {
		switch {
		case !st.localDone:
			_ = h.wfr.WriteRSTStream(st.id, http2.ErrCodeCancel)
			h.rememberReset(st.id)
		case !st.remoteDone:
			_ = h.wfr.WriteRSTStream(st.id, http2.ErrCodeNo)
			h.rememberReset(st.id)
		}
	}
	st.cancel()
	h.endStream(st)
	h.idleCheck()
	h.mu.Unlock()
	h.signal()
	if st.x != nil {
		exchanges.Put(st.x) // Parse resets it when it is taken again
		st.x = nil
	}
	if st.headBuf != nil {
		frontBufs.Put(st.headBuf)
		st.headBuf = nil
	}
	st.recycle()
}
