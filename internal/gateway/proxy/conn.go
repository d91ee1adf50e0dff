package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// clientConn is one client connection of the front end, served by one goroutine: read a request
// head, forward it (front.go), repeat; or hand the connection to net/http.
type clientConn struct {
	s    *Server
	conn net.Conn
	raw  syscall.RawConn // nil: the connection has no descriptor to read directly
	// aw makes reads wait in arrival order (netpoll.Arrivals); nil: in the runtime's poller.
	aw *netpoll.Waiter
	// sock is the socket when the front end owns it (netpoll.OwnedSocket); conn is then closed and
	// raw is sock.
	sock *netpoll.OwnedSocket
	// awShared is aw for other goroutines (closeFromOutside): the owner changes aw when the
	// connection parks and resumes.
	awShared   atomic.Pointer[netpoll.Waiter]
	remoteAddr string
	clientIP   string
	state      atomic.Int32
	fd         int32 // the descriptor, -1 without one; for the parker (in state's padding)

	// buf holds the bytes read and not yet served, buf[:n]; nil while there are none, so that
	// an idle connection holds no buffer.
	buf *[]byte
	n   int

	// readFn is readInRuntimePoller as a method value, made once per connection.
	readFn  func(fd uintptr) bool
	readN   int
	readErr error

	// deadline is the read deadline set last, and for what, so that a keep-alive connection
	// does not reset its timer for every request.
	deadline     time.Time
	deadlineKind deadlineKind
	// served: a request head was read on the connection; an HTTP/2 preface may only come before
	// the first (RFC 9113 3.4: refuseLatePreface). In deadlineKind's padding: no byte more.
	served bool
	// wdeadline is the write deadline set last on conn (boundWrite), in Unix nanoseconds: not a
	// time.Time, so that an idle connection stays in its size class (256 bytes:
	// TestClientConnFitsItsSizeClass).
	wdeadline int64
	// idleSince is when the connection last began to wait for a request.
	idleSince time.Time
	parkID    uint64 // while parked (Server.parker)

	// x is the state of the request being served, nil between requests (exchanges).
	x *exchangeState
	// reqEnd is where the request being served ends in the buffer: its head's length, and its
	// body's when the body passed through the buffer (frontBody); serve drops the buffer up to it.
	reqEnd int
	// h2 is the connection's HTTP/2 side once it is served as HTTP/2 (h2conn.go): Shutdown and
	// Close reach it there.
	h2 atomic.Pointer[h2Conn]
	// seenRound is the arrival-order dispatcher's round that reported the first bytes of the
	// request being served (netpoll.Waiter.DataRound), 0 when none is known (upstreams.take).
	seenRound uint64
}

// exchangeState is one request's parsed head and its answer's; pooled, so that an idle
// connection does not keep them.
type exchangeState struct {
	rq   httpframe.Request
	rs   httpframe.Response
	body frontBody
}

// frontBody is the state of the body of the request being served (front.go streams it). The
// head stays at the start of the connection's buffer (the parsed request points into it); the
// body's bytes pass through the buffer after it, one read at a time.
type frontBody struct {
	scan  httpframe.BodyScanner
	start int // where the body begins in the buffer: the head's length
	// buffered: the body's bytes that came with the head (they go out in the head's write);
	// whole: they are the whole body, which the buffer then holds until the exchange ends, so
	// the request can be sent again and the connection read on even if nobody sends it.
	buffered int
	whole    bool
	// sent: the whole body went to the instance; early: the instance answered before that, and
	// both connections close after the answer.
	sent, early bool
	continued   bool // the client got 100 Continue
}

// bodyAccountedFor: the client's connection can go on to the next request after the answer.
func (b *frontBody) bodyAccountedFor() bool { return b.whole || b.sent }

var exchanges = sync.Pool{New: func() any { return new(exchangeState) }}

// getExchange takes an exchangeState from the pool.
func getExchange() *exchangeState {
	if x, ok := exchanges.Get().(*exchangeState); ok {
		return x
	}
	return new(exchangeState)
}

type connState = int32

const (
	stateActive connState = iota // reading or serving a request
	stateIdle                    // waiting for a request: Shutdown may close it
	stateClosed
	stateHandedOff
	stateParked // waiting for a request without a goroutine (Server.parker)
	stateH2     // served as HTTP/2 (h2conn.go) until it ends
)

type deadlineKind uint8

const (
	noDeadline deadlineKind = iota
	idleDeadline
	headDeadline
	bodyDeadline
)

// The front end's buffers: a connection takes one while it holds request bytes, and an answer
// takes one while it passes. A head that does not fit goes to net/http, and so does a request
// whose body did not come whole with its head when the head leaves less than minBodyWindow of
// the buffer for the body to pass through.
const (
	frontBufSize  = 16 << 10
	minBodyWindow = 4 << 10
)

var frontBufs = sync.Pool{New: func() any { b := make([]byte, frontBufSize); return &b }}

// getFrontBuf takes a buffer of frontBufSize bytes from the pool.
func getFrontBuf() *[]byte {
	if p, ok := frontBufs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, frontBufSize)
	return &b
}

// putFrontBuf gives p back to the pool after it was appended to as b; a b that outgrew it
// (a large head) is left to the garbage collector with p, so the pool keeps its size.
func putFrontBuf(p *[]byte, b []byte) {
	if cap(b) == frontBufSize {
		*p = b[:frontBufSize]
		frontBufs.Put(p)
	}
}

func newClientConn(s *Server, conn net.Conn) *clientConn {
	c := &clientConn{s: s, conn: conn, remoteAddr: conn.RemoteAddr().String(), fd: -1}
	if host, _, err := net.SplitHostPort(c.remoteAddr); err == nil {
		c.clientIP = host
	}
	sock, raw, aw := frontSocket(s.p.arrivals, conn, true, s.p.io)
	if raw != nil {
		c.sock, c.raw, c.readFn = sock, raw, c.readInRuntimePoller
		// Control fails only on a closed socket: c.fd stays -1 (never parked), and the first
		// read fails.
		_ = raw.Control(func(fd uintptr) { c.fd = int32(fd) })
		c.setWaiter(aw)
	}
	c.state.Store(stateActive)
	return c
}

// ioMode is how the front end reads and writes its sockets. The first that the platform has is
// used; tests choose the others to run every way.
type ioMode uint8

const (
	// ioArrivalOrder: sockets owned and read in arrival order (netpoll.Arrivals, netpoll.OwnedSocket).
	ioArrivalOrder ioMode = iota
	// ioRuntimePoller: read through the descriptor, waiting in the runtime's poller
	// (readInRuntimePoller).
	ioRuntimePoller
	// ioNetConn: read through net.Conn (Windows).
	ioNetConn
)

// frontSocket prepares the socket of an accepted or dialled connection for the front end: owned
// (out of the runtime's poller, netpoll.OwnSocket) where reads wait in arrival order in set, else read
// through conn's own descriptor; raw is nil when there is no descriptor to read (then conn is
// used as it is). mayRead: data may already be there (a client's request; not an instance's
// answer before its request).
func frontSocket(set *netpoll.Arrivals, conn net.Conn, mayRead bool, mode ioMode) (sock *netpoll.OwnedSocket, raw syscall.RawConn, aw *netpoll.Waiter) {
	if mode == ioArrivalOrder && set.Enabled() {
		if sock, err := netpoll.OwnSocket(conn); err == nil {
			return sock, sock, set.NewWaiter(sock, mayRead)
		}
	}
	sc, ok := conn.(syscall.Conn)
	if !ok || !netpoll.RawSockets || mode == ioNetConn {
		return nil, nil, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, nil, nil
	}
	if mode != ioArrivalOrder {
		return nil, raw, nil
	}
	return nil, raw, set.NewWaiter(raw, mayRead)
}

// newWaiter is a waiter for c's socket, nil where reads wait in the runtime's poller.
func (c *clientConn) newWaiter() *netpoll.Waiter {
	if c.s.p.io != ioArrivalOrder {
		return nil
	}
	return c.s.p.arrivals.NewWaiter(c.raw, true)
}

var errHeadTooLarge = errors.New("request head larger than the front end's buffer")

func (c *clientConn) serve() {
	if h := c.s.opts.hooks; h != nil && h.served != nil {
		defer h.served()
	}
	parked := false
	defer func() {
		// A parked connection is the parker's from the moment Park returns: it may be resumed
		// on another goroutine (its state active again) before this one gets here, so its state
		// is not this goroutine's to look at (reading it closed connections being served).
		if parked {
			return
		}
		if s := c.state.Load(); s != stateHandedOff && s != stateParked && s != stateH2 {
			c.close()
		}
	}()
	for {
		headLen, err := c.readHead()
		if err == errParked {
			parked = true
			return // the parker has it now
		}
		if errors.Is(err, errHeadTooLarge) {
			c.handOff()
			return
		}
		if err != nil {
			return
		}
		if bytes.HasPrefix((*c.buf)[:c.n], h2Preface) {
			if c.served {
				c.refuseLatePreface()
				return
			}
			c.serveH2() // HTTP/2 with prior knowledge (h2conn.go)
			return
		}
		c.served = true
		c.x = getExchange()
		c.x.body = frontBody{whole: true}
		if !c.x.rq.Parse(*c.buf, headLen, c.remoteAddr) {
			// Not the front end's to forward: net/http's, unless its framing is refused (the
			// same check framedConn makes on every later head of the connection).
			if _, err := httpframe.CheckRequestHead((*c.buf)[:headLen]); err != nil {
				c.x.rq.CloseAfter = true
				c.writeError(err.HTTPStatus(), err.Error())
				return
			}
			c.handOff()
			return
		}
		if ferr, ours := c.startBody(headLen); ferr != nil {
			c.x.rq.CloseAfter = true
			c.writeError(ferr.HTTPStatus(), ferr.Error())
			return
		} else if !ours {
			c.handOff()
			return
		}
		keep := c.s.p.serveFront(c)
		end := c.reqEnd
		c.forgetRequest()
		if !keep || c.s.shutdown.Load() {
			return
		}
		c.consume(end)
	}
}

// refuseLatePreface answers an HTTP/2 preface that came after a request of the connection: a
// client switches to HTTP/2 with prior knowledge only at a connection's start (RFC 9113 3.4),
// so the bytes are a malformed request (400), and the connection closes after the answer.
func (c *clientConn) refuseLatePreface() {
	c.x = getExchange()
	c.x.rq.Reset()
	c.x.rq.CloseAfter = true
	c.x.body = frontBody{whole: true}
	c.writeError(http.StatusBadRequest, errLatePreface.Error())
}

var errLatePreface = errors.New("vamp gateway: an HTTP/2 preface after a request on the same connection: HTTP/2 with prior knowledge begins only at a connection's start (RFC 9113 3.4); send it first on a new connection")

// startBody looks at the body bytes that came with the head (headLen bytes): a body that breaks
// its framing there is refused before any instance sees the request (a FramingError), and a
// body that did not come whole, behind a head that leaves too little of the buffer for it to
// pass through, is not the front end's (ours false: net/http's).
func (c *clientConn) startBody(headLen int) (_ *httpframe.FramingError, ours bool) {
	b := &c.x.body
	*b = frontBody{start: headLen, whole: true}
	c.reqEnd = headLen
	if !c.x.rq.HasBody() {
		return nil, true
	}
	b.scan = httpframe.NewBodyScanner(c.x.rq.Framing)
	n, done, err := b.scan.Scan((*c.buf)[headLen:c.n])
	if err != nil {
		return err, true
	}
	b.buffered, b.whole = n, done
	if done {
		c.reqEnd = headLen + n
		return nil, true
	}
	return nil, headLen <= len(*c.buf)-minBodyWindow
}

// readBody reads more of a request body into the buffer, waiting at most bodyWaitSlice (the
// deadline moves only when it is less than half a slice away, so a busy upload does not reset
// the timer for every read).
func (c *clientConn) readBody() (int, error) {
	now := time.Now()
	if c.deadlineKind != bodyDeadline || c.deadline.Sub(now) < bodyWaitSlice/2 {
		c.deadline, c.deadlineKind = now.Add(bodyWaitSlice), bodyDeadline
		if err := c.setSocketDeadline(c.deadline); err != nil {
			return 0, err
		}
	}
	return c.read()
}

// The bounds of lingerClose: how long and how much of an unread body is read and dropped.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// lingerClose prepares the close of a connection whose client may still be sending a body that
// nobody reads any more (the instance answered early, or failed): closing with its bytes unread
// would reset the connection, and the reset can destroy the answer in the client's receive
// buffer before the client reads it. So the sending side ends first (FIN), and what the client
// still sends is read and dropped for a bounded while, as net/http's server does
// (closeWriteAndWait). The caller then closes the connection.
func (c *clientConn) lingerClose() {
	ended := false
	if c.raw == nil {
		if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
			ended = cw.CloseWrite() == nil
		}
	} else {
		_ = c.raw.Control(func(fd uintptr) { ended = netpoll.ShutdownWrite(fd) == nil })
	}
	if !ended {
		return
	}
	c.deadline, c.deadlineKind = time.Now().Add(lingerTime), bodyDeadline
	if err := c.setSocketDeadline(c.deadline); err != nil {
		return
	}
	for dropped := 0; dropped < lingerBytes; {
		c.n = c.x.body.start // the head stays: the request still points into it
		n, err := c.read()
		dropped += n
		if err != nil {
			return
		}
	}
}

// Parking is the parker's (netpoll.Parkable): the connection parks as id unless Shutdown closed
// it meanwhile.
func (c *clientConn) Parking(id uint64) bool {
	c.parkID = id
	return c.state.CompareAndSwap(stateIdle, stateParked)
}

// Expire is the parker's: the connection stayed parked for its idle timeout.
func (c *clientConn) Expire() { c.close() }

// Resume is the parker's: it serves a connection that the parker saw become readable.
func (c *clientConn) Resume() {
	c.state.Store(stateActive)
	c.setWaiter(c.newWaiter())
	if c.s.shutdown.Load() {
		c.close()
		return
	}
	c.serve()
}

var errParked = errors.New("the connection went to the parker")

// readHead reads until the buffer holds a whole request head and returns its length. A
// connection that waits longer than its server's parkAfter goes to the parker (errParked).
func (c *clientConn) readHead() (int, error) {
	scanned := 0
	c.seenRound = 0 // bytes pipelined behind the last request came before any round known here
	if c.n == 0 {
		if !c.state.CompareAndSwap(stateActive, stateIdle) {
			return 0, net.ErrClosed
		}
		if c.s.shutdown.Load() { // Shutdown may have looked at this connection just before
			return 0, net.ErrClosed
		}
		c.idleSince = time.Now()
		if err := c.setIdleDeadline(true); err != nil {
			return 0, err
		}
		c.s.p.yieldBeforeRead()
	}
	for {
		if c.n > 0 {
			buf := (*c.buf)[:c.n]
			from := max(scanned-3, 0)
			if i := bytes.Index(buf[from:], headEnd); i >= 0 {
				return from + i + 4, nil
			}
			if i := httpframe.RequestHeadEnd(buf); i >= 0 {
				return i, nil // ended by a bare LF: net/http's (the parse hands it off)
			}
			if c.n == len(*c.buf) {
				return 0, errHeadTooLarge
			}
			scanned = c.n
		}
		idle := c.n == 0
		n, err := c.read()
		if idle && n == 0 && isTimeout(err) {
			idleFor := time.Since(c.idleSince)
			switch {
			case idleFor >= c.s.opts.IdleTimeout:
				return 0, err
			case c.s.opts.parkAfter > 0 && idleFor >= c.s.opts.parkAfter:
				c.deadlineKind = noDeadline // the next wait sets its own
				// The parker watches it now, and a parked connection keeps no waiter (its
				// channel and timer are a third of what an idle connection costs).
				c.aw.Release()
				c.setWaiter(nil)
				if s := c.s; s.parker.Park(c, int(c.fd), s.opts.IdleTimeout-time.Since(c.idleSince)) {
					if h := s.opts.hooks; h != nil && h.parked != nil {
						h.parked()
					}
					return 0, errParked
				}
				c.setWaiter(c.newWaiter())
				if err := c.setReadTimeout(idleDeadline, c.s.opts.IdleTimeout-idleFor); err != nil {
					return 0, err
				}
			default:
				// An earlier wait's deadline ended this one early.
				if err := c.setIdleDeadline(false); err != nil {
					return 0, err
				}
			}
			continue
		}
		if n > 0 && idle {
			c.seenRound = c.aw.DataRound()
			if !c.state.CompareAndSwap(stateIdle, stateActive) {
				return 0, net.ErrClosed // Shutdown closed it as idle
			}
			if i := bytes.Index((*c.buf)[:c.n], headEnd); i >= 0 {
				return i + 4, nil // the whole head in one read: no header deadline needed
			}
			if i := httpframe.RequestHeadEnd((*c.buf)[:c.n]); i >= 0 {
				return i, nil
			}
			if err := c.setReadTimeout(headDeadline, c.s.opts.ReadHeaderTimeout); err != nil {
				return 0, err
			}
		}
		if err != nil {
			return 0, err
		}
	}
}

var headEnd = []byte("\r\n\r\n")

// setIdleDeadline makes the wait for the next request end at the idle timeout or, where
// connections park, when it is time to park. With keepEarlier, a deadline set for an earlier
// wait that ends sooner is kept: it ends this wait early, and the wait then goes on (readHead),
// which costs less than resetting the timer for every request of a busy connection. An error:
// the socket takes no deadline (it is closed), and the connection must end.
func (c *clientConn) setIdleDeadline(keepEarlier bool) error {
	d := c.s.opts.IdleTimeout
	if c.s.opts.parkAfter > 0 && c.s.opts.parkAfter < d {
		d = c.s.opts.parkAfter
	}
	target := c.idleSince.Add(d)
	if keepEarlier && c.deadlineKind == idleDeadline && c.deadline.After(c.idleSince) && !c.deadline.After(target) {
		return nil
	}
	c.deadline, c.deadlineKind = target, idleDeadline
	return c.setSocketDeadline(target)
}

// setReadTimeout sets the read deadline to now+d, unless one of the same kind set less than a
// second ago is still on: timeouts of many seconds need no finer grain, and a timer reset per
// request is work the common case can skip. An error: as setIdleDeadline.
func (c *clientConn) setReadTimeout(kind deadlineKind, d time.Duration) error {
	now := time.Now()
	if kind == c.deadlineKind && c.deadline.Sub(now) > d-time.Second {
		return nil
	}
	c.deadline, c.deadlineKind = now.Add(d), kind
	return c.setSocketDeadline(c.deadline)
}

// setSocketDeadline sets when reads of the client's socket stop waiting.
func (c *clientConn) setSocketDeadline(t time.Time) error {
	return setSocketReadDeadline(c.aw, c.conn, t)
}

// read reads more request bytes into the buffer, taking one from the pool if the connection
// has none.
func (c *clientConn) read() (int, error) {
	if c.raw == nil {
		if c.buf == nil {
			c.buf = getFrontBuf()
		}
		n, err := c.conn.Read((*c.buf)[c.n:])
		c.n += n
		return n, err
	}
	if c.aw != nil {
		return c.readInArrivalOrder()
	}
	c.readN, c.readErr = 0, nil
	if err := c.raw.Read(c.readFn); err != nil {
		return 0, err
	}
	c.n += c.readN
	return c.readN, c.readErr
}

// readInArrivalOrder is read with c.aw. As in readInRuntimePoller, a connection holding no request bytes
// gives its buffer back while it waits.
func (c *clientConn) readInArrivalOrder() (int, error) {
	for {
		if c.aw.MayRead() {
			if c.buf == nil {
				c.buf = getFrontBuf()
			}
			n, err := c.aw.TryRead((*c.buf)[c.n:])
			if err != netpoll.ErrWouldBlock {
				c.n += n
				return n, err
			}
		}
		if c.n == 0 && c.buf != nil {
			frontBufs.Put(c.buf)
			c.buf = nil
		}
		if err := c.aw.Wait(); err != nil {
			return 0, err
		}
	}
}

// readInRuntimePoller is the front end's read(2) on the socket, called by the runtime's poller
// (RawConn.Read) until it returns true. When nothing is there and the connection holds no request bytes, the buffer goes
// back to the pool before the goroutine parks: a waiting connection holds no buffer.
func (c *clientConn) readInRuntimePoller(fd uintptr) bool {
	if c.buf == nil {
		c.buf = getFrontBuf()
	}
	for {
		n, err := netpoll.ReadFD(fd, (*c.buf)[c.n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if c.n == 0 {
				frontBufs.Put(c.buf)
				c.buf = nil
			}
			return false
		case err != nil:
			c.readErr = err
		case n == 0:
			c.readErr = io.EOF
		default:
			c.readN = n
		}
		return true
	}
}

// consume drops the served request head, keeping bytes of the next one (pipelining).
func (c *clientConn) consume(headLen int) {
	rest := copy(*c.buf, (*c.buf)[headLen:c.n])
	c.n = rest
	if c.n == 0 {
		frontBufs.Put(c.buf)
		c.buf = nil
	}
}

// handOff gives the connection, with the bytes read so far, to net/http.
func (c *clientConn) handOff() {
	if !c.state.CompareAndSwap(stateActive, stateHandedOff) {
		return
	}
	conn, prefix, ok := c.detach()
	if !ok {
		c.s.remove(c)
		return
	}
	if c.s.forget(c) { // net/http holds the connection's slot from here on (framedConn gives it back)
		c.s.handoff.deliver(newFramedConn(conn, prefix, c.s.p.opts.Conns))
	} else {
		conn.Close()
	}
}

// detach takes the connection out of the front end's reading (buffer, waiter, owned socket) and
// returns it as a net.Conn without a deadline, with the bytes read so far. false: the socket is
// closed, nothing is left to serve on it.
func (c *clientConn) detach() (conn net.Conn, prefix []byte, ok bool) {
	if c.n > 0 {
		prefix = bytes.Clone((*c.buf)[:c.n])
	}
	c.forgetRequest()
	c.releaseBuf()
	c.aw.Release()
	c.setWaiter(nil)
	conn = c.conn
	if c.sock != nil {
		var err error
		if conn, err = c.sock.NetConn(); err != nil {
			return nil, nil, false
		}
	} else if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, nil, false
	}
	return conn, prefix, true
}

// clientGone reports whether the client closed its connection, without waiting: while its
// request waits on an instance, a client that left must not keep the instance busy.
func (c *clientConn) clientGone() bool {
	if c.raw == nil {
		return false
	}
	if err := c.setSocketDeadline(time.Time{}); err != nil {
		return true // the socket is closed
	}
	c.deadlineKind = noDeadline
	gone := false
	var one [1]byte
	err := c.raw.Read(func(fd uintptr) bool {
		n, err := netpoll.PeekFD(fd, one[:])
		gone = err == nil && n == 0 || err != nil && err != syscall.EAGAIN && err != syscall.EINTR
		return true
	})
	return gone || err != nil
}

// closeIfIdle closes the connection if it waits for a request (Shutdown).
func (c *clientConn) closeIfIdle() {
	if c.state.CompareAndSwap(stateIdle, stateClosed) {
		c.closeFromOutside()
		return
	}
	if c.state.Load() == stateParked && c.s.parker.Unpark(c.parkID) {
		c.close()
	}
}

// write writes b to the client; a write that finds the socket full gives up once the client
// took no byte for the idle timeout (a StalledWriteError), as a client that stops sending its
// body does (streamBody).
func (c *clientConn) write(b []byte) error {
	stall := c.s.opts.IdleTimeout
	if err := boundWrite(c.sock, c.aw, c.conn, &c.wdeadline, stall); err != nil {
		return err
	}
	_, err := writeSocket(c.aw, c.conn, b)
	if err != nil && isTimeout(err) {
		err = &StalledWriteError{Peer: "client", After: stall, Err: err}
	}
	return err
}

// boundWrite makes the next write on a socket stop waiting for room once the peer took no byte
// for d. An owned socket's bound is the waiter's, a field that only a write that waits looks at
// (netpoll.Waiter.SetWriteTimeout): no clock read per write. A socket that net.Conn polls has a
// timer behind its deadline, moved only when less than half of d is left (set holds it), so that
// a busy connection does not reset it for every write: there the peer took no byte for between
// d/2 and d. An error: the socket is closed.
func boundWrite(sock *netpoll.OwnedSocket, aw *netpoll.Waiter, conn net.Conn, set *int64, d time.Duration) error {
	if sock != nil {
		aw.SetWriteTimeout(d)
		return nil
	}
	now := time.Now()
	if left := time.Duration(*set - now.UnixNano()); left > d/2 && left <= d {
		return nil
	}
	t := now.Add(d)
	*set = t.UnixNano()
	return conn.SetWriteDeadline(t)
}

// readSocket, writeSocket and setSocketReadDeadline use the arrival-order waiter where there is
// one (netpoll.Waiter), and conn where there is not.
func readSocket(aw *netpoll.Waiter, conn net.Conn, b []byte) (int, error) {
	if aw != nil {
		return aw.Read(b)
	}
	return conn.Read(b)
}

func writeSocket(aw *netpoll.Waiter, conn net.Conn, b []byte) (int, error) {
	if aw != nil {
		return aw.Write(b)
	}
	return conn.Write(b)
}

// An error from setSocketReadDeadline: conn takes no deadline (it is closed), and a read
// that waits on it might never end: the connection must be dropped.
func setSocketReadDeadline(aw *netpoll.Waiter, conn net.Conn, t time.Time) error {
	if aw != nil {
		aw.SetReadDeadline(t)
		return nil
	}
	return conn.SetReadDeadline(t)
}

// closeFromOutside closes the socket of a connection that its goroutine may be waiting on, and
// wakes that goroutine: its next read fails and it cleans up (close).
func (c *clientConn) closeFromOutside() {
	if c.sock != nil {
		c.sock.ShutdownFromOutside()
	} else {
		c.conn.Close()
	}
	c.awShared.Load().Interrupt()
}

// setWaiter is how the owner changes aw.
func (c *clientConn) setWaiter(w *netpoll.Waiter) {
	c.aw = w
	c.awShared.Store(w)
}

func (c *clientConn) close() {
	c.state.Store(stateClosed)
	c.aw.Release()
	if c.sock != nil {
		c.sock.Close()
	} else {
		c.conn.Close()
	}
	c.forgetRequest()
	c.releaseBuf()
	c.s.remove(c)
}

// forgetRequest drops the served request's state (its strings point into the buffer).
func (c *clientConn) forgetRequest() {
	if c.x != nil {
		c.x.rq.Reset()
		exchanges.Put(c.x)
		c.x = nil
	}
}

func (c *clientConn) releaseBuf() {
	if c.buf != nil {
		frontBufs.Put(c.buf)
		c.buf, c.n = nil, 0
	}
}
