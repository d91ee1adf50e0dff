package proxy

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/metrics"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// upstreamConn is one keep-alive HTTP/1.1 connection to an instance, owned by one request at a
// time: the front end writes and reads it on the request's own goroutine, with none of
// http.Transport's per-connection reader and writer goroutines.
type upstreamConn struct {
	addr      string
	pool      *connPool // the pool it goes back to
	conn      net.Conn
	buf       []byte // answer bytes read and not yet passed on are buf[r:w]
	r, w      int
	idleSince time.Time
	// deadline is the read deadline set last (see readSliced).
	deadline time.Time
	// readAt is when the last read began (readSliced): at most one wait slice before the
	// answer's last bytes came, and the time the connection goes idle from (release), without a
	// clock read of its own.
	readAt time.Time
	// wdeadline is the write deadline set last on conn (boundWrite), in Unix nanoseconds.
	wdeadline int64
	// aw makes reads wait in arrival order (netpoll.Arrivals); nil: in the runtime's poller.
	aw *netpoll.Waiter
	// sock is the socket when the front end owns it (netpoll.OwnedSocket); conn is then closed.
	sock *netpoll.OwnedSocket
	// ups counts the connection among the pool's open ones (upstreams.open) until it closes;
	// nil for a connection the pool did not dial (tests).
	ups    *upstreams
	closed bool
}

// write writes b to the instance; a write that finds the socket full gives up once the
// instance took no byte for stall (a StalledWriteError; how much was written is returned).
func (c *upstreamConn) write(b []byte, stall time.Duration) (int, error) {
	if err := boundWrite(c.sock, c.aw, c.conn, &c.wdeadline, stall); err != nil {
		return 0, err
	}
	n, err := writeSocket(c.aw, c.conn, b)
	if err != nil && isTimeout(err) {
		err = &StalledWriteError{Peer: "instance", After: stall, Err: err}
	}
	return n, err
}

// leavePool takes the connection out of the pool's count of open connections (upstreams.open)
// for good: it is a tunnel's from now on (detach), closed by the tunnel.
func (c *upstreamConn) leavePool() {
	if c.ups != nil && !c.closed {
		c.ups.open.Add(-1)
	}
	c.ups = nil
}

// close closes the connection (its owner, or the pool for an idle one); once.
func (c *upstreamConn) close() {
	if c.closed {
		return
	}
	c.closed = true
	if c.ups != nil {
		c.ups.open.Add(-1)
	}
	c.aw.Release()
	if c.sock != nil {
		c.sock.Close()
		return
	}
	c.conn.Close()
}

// upstreamBufSize is an instance connection's read buffer; a larger answer head grows it up to
// maxResponseHead for that answer.
const upstreamBufSize = 16 << 10

// connPool keeps the idle connections to one instance, most recently used first (the warmest
// connection is taken, the coldest ones age out), and the requests that wait for one.
type connPool struct {
	mu   sync.Mutex
	idle []*upstreamConn
	gone bool // the instance was forgotten: connections given back are closed
	// dialing counts the dials to the instance in progress, at most upstreams.maxDials; the
	// requests that found no idle connection and no free dial wait in queue, first come first
	// served, for a connection given back (put) or a dial that ended (dialDone).
	dialing int
	queue   []*poolWaiter
}

// poolWaiter is a request waiting in its pool's queue. It is handed either a connection that
// was given back (c) or, with c nil, a dial of its own (counted in dialing already); ready then
// holds one value.
type poolWaiter struct {
	ready chan struct{}
	c     *upstreamConn
}

// upstreams are the connection pools of the forwarding path, one per instance address.
type upstreams struct {
	dialer net.Dialer
	// maxIdle bounds the idle connections kept per instance (0: no bound of its own); keepOpen
	// bounds the connections kept open to every instance together (poolBound); maxDials the dials
	// in progress per instance, beyond which requests wait in the pool's queue, for at most
	// queueTimeout (0: no bound).
	maxIdle      int
	keepOpen     int64
	maxDials     int
	queueTimeout time.Duration
	idleTimeout  time.Duration
	pools        sync.Map // addr -> *connPool
	closed       atomic.Bool
	io           ioMode
	arrivals     *netpoll.Arrivals // the proxy's
	// open counts the connections to instances that are open: in use and idle.
	open atomic.Int64
	// stats: the dials, waits and purges, for /metrics (Proxy.InstancePool).
	stats metrics.InstancePool
}

// poolBound is how many connections to instances, in use and idle, of every instance together,
// the pool keeps open: a connection given back beyond it is closed. It is the process's limit
// on client connections, maxConns (--max-conns). The descriptor budget: each client connection
// and each instance connection is one descriptor, and the limit is derived as (RLIMIT_NOFILE -
// reserve) / 2 (connlimit.DefaultFor), so the clients at their limit and the instance connections
// the pool keeps for them fit together. An HTTP/1.1 client uses one instance connection at a
// time, so the pool can keep one for every client: a gateway at its connection limit finds the
// connection for the next request in the pool and dials none. (A bound of 256 idle connections
// per instance closed every connection beyond 512 given back under 10,000 clients on two
// instances, and the next request dialled a new one: 0.79 dials per request, docs/benchmarks.md.)
// Idle connections that are not needed any more age out (IdleConnTimeout: put, take), or are
// evicted when the instance closes them. maxConns 0 (no limit): the default limit of this
// process's open-files limit (connlimit.Default).
func poolBound(maxConns int) int64 {
	if maxConns <= 0 {
		maxConns, _ = connlimit.Default()
	}
	return int64(maxConns)
}

func (u *upstreams) pool(addr string) *connPool {
	p, ok := u.pools.Load(addr)
	if !ok {
		p, _ = u.pools.LoadOrStore(addr, &connPool{gone: u.closed.Load()})
	}
	return p.(*connPool) //nolint:forcetypeassert // u.pools holds only *connPool (stored here only)
}

// get returns an idle connection to addr (reused true) or dials a new one.
func (u *upstreams) get(ctx context.Context, addr string, now time.Time) (c *upstreamConn, reused bool, err error) {
	return u.take(ctx, addr, now, 0)
}

// take is get for a request whose first bytes the arrival-order dispatcher reported in the
// given round (netpoll.Waiter.DataRound; 0: not known), which can spare the look at a pooled connection
// (quietTaken).
func (u *upstreams) take(ctx context.Context, addr string, now time.Time, seen uint64) (c *upstreamConn, reused bool, err error) {
	p := u.pool(addr)
	p.mu.Lock()
	for {
		for len(p.idle) > 0 {
			c = p.idle[len(p.idle)-1]
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			wasPooled := c.aw.Unpool()
			if now.Sub(c.idleSince) >= u.idleTimeout {
				c.close() // idle too long: the instance may have dropped it already
				continue
			}
			p.mu.Unlock()
			if u.quietTaken(c, wasPooled, seen) {
				if c.buf == nil {
					c.buf = make([]byte, upstreamBufSize) // a purge took it (cold)
				}
				return c, true, nil
			}
			// Bytes came, or the instance closed it, while nobody asked: whatever they are, they
			// answer no request, and the next request must not read them as its answer.
			c.close()
			p.mu.Lock()
		}
		if u.maxDials <= 0 || p.dialing < u.maxDials {
			p.dialing++
			p.mu.Unlock()
			return u.dialCounted(ctx, addr, p)
		}
		// Every dial allowed is in progress: wait for a connection given back or a dial's end,
		// instead of one more dial per waiting request.
		w := &poolWaiter{ready: make(chan struct{}, 1)}
		p.queue = append(p.queue, w)
		p.mu.Unlock()
		u.stats.QueueWaits.Add(1)
		if c, err = u.await(ctx, p, w, addr); err != nil {
			return nil, false, err
		}
		if c == nil {
			return u.dialCounted(ctx, addr, p) // the dial was handed over with its count
		}
		// Given back just now, never pooled: one look says whether anything came since.
		if u.quietTaken(c, false, seen) {
			return c, true, nil
		}
		c.close()
		p.mu.Lock()
	}
}

// await waits for w's turn in p's queue: a connection (c) or a dial of its own (nil), or a
// QueueTimeoutError after queueTimeout, or ctx's error once ctx ends (the client went away): the
// request then leaves the queue, and what it was handed meanwhile goes to the next one.
func (u *upstreams) await(ctx context.Context, p *connPool, w *poolWaiter, addr string) (*upstreamConn, error) {
	var timeout <-chan time.Time
	if u.queueTimeout > 0 {
		t := time.NewTimer(u.queueTimeout)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	timedOut := false
	select {
	case <-w.ready:
		return w.c, nil
	case <-timeout:
		err, timedOut = &QueueTimeoutError{Addr: addr, After: u.queueTimeout}, true
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	if i := slices.Index(p.queue, w); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
		p.mu.Unlock()
		if timedOut {
			u.stats.QueueTimeouts.Add(1) // counted only when the request goes elsewhere
		}
		return nil, err
	}
	p.mu.Unlock()
	<-w.ready // handed something as the wait ended (handOff signals under p.mu)
	if ctx.Err() == nil {
		return w.c, nil // the time-out lost the race: it is this request's
	}
	if w.c != nil {
		u.put(w.c, time.Now())
	} else {
		p.mu.Lock()
		p.dialing-- // the dial handed over with its count
		p.handOff(nil)
		p.mu.Unlock()
	}
	return nil, err
}

// handOff gives c (nil: a dial, counted in p.dialing) to the request that has waited longest;
// p.mu is held. false: no request waits.
func (p *connPool) handOff(c *upstreamConn) bool {
	if len(p.queue) == 0 {
		return false
	}
	w := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	if c == nil {
		p.dialing++
	}
	w.c = c
	w.ready <- struct{}{} // buffered: never blocks
	return true
}

// dialCounted dials for a request whose dial p.dialing counts, and ends that count: a request
// waiting in p's queue gets the dial.
func (u *upstreams) dialCounted(ctx context.Context, addr string, p *connPool) (*upstreamConn, bool, error) {
	c, err := u.dial(ctx, addr, p)
	p.mu.Lock()
	p.dialing--
	p.handOff(nil)
	p.mu.Unlock()
	return c, false, err
}

func (u *upstreams) dial(ctx context.Context, addr string, pool *connPool) (*upstreamConn, error) {
	u.stats.Dials.Add(1)
	conn, sock, aw, err := u.dialSocket(ctx, addr)
	if err != nil {
		if res := connlimit.Classify(connlimit.OpDial, addr, err); res != nil {
			return nil, res // the gateway's own failure, not the instance's
		}
		return nil, &DialError{Addr: addr, Err: err}
	}
	u.open.Add(1)
	c := &upstreamConn{addr: addr, pool: pool, conn: conn, sock: sock, aw: aw, buf: make([]byte, upstreamBufSize), ups: u}
	c.aw.WatchIdle(c.evictIdle)
	return c, nil
}

// evictIdle takes a pooled connection on which something arrived (bytes or its close) out of
// its pool and closes it; the dispatcher calls it (waiter.pooled). A wake-up for bytes that were
// read before the connection went back to the pool finds it quiet, and it goes back.
func (c *upstreamConn) evictIdle() {
	p := c.pool
	for {
		p.mu.Lock()
		i := slices.Index(p.idle, c)
		if i < 0 {
			p.mu.Unlock()
			return // taken meanwhile: its taker checks it (quiet)
		}
		p.idle = slices.Delete(p.idle, i, i+1)
		p.mu.Unlock()
		// The wake-up that called this may not be signalled yet: look.
		if !c.quiet(true) {
			c.close()
			return
		}
		p.mu.Lock()
		if p.gone {
			p.mu.Unlock()
			c.close()
			return
		}
		look := p.addIdle(c)
		p.mu.Unlock()
		if !look || !c.aw.ClaimPooled() {
			return
		}
	}
}

// addIdle adds c to the idle connections; p.mu is held. true: bytes may have come between c's
// last read and the moment the dispatcher began to watch it for its pool (they left a wake-up
// only), and the caller is to evict it (evictIdle) once it has claimed that (claimPooled).
func (p *connPool) addIdle(c *upstreamConn) (look bool) {
	p.idle = append(p.idle, c)
	c.aw.SetPooled(true)
	return c.aw.IdleHint()
}

// quiet reports whether nothing arrived on an idle connection since its last answer ended:
// no stray bytes, no close. Only such a connection is reused (as net/http's transport and
// HAProxy do): bytes that come after a complete answer answer no request, and would be read as
// the answer to the next one. The answer's own end was checked when the connection was put back
// (relay: no byte beyond the framed end). With look, one non-blocking read (waiter.idleQuiet) or
// peek (connQuiet in rawsock_*.go) says; without, where reads wait in arrival order, what the
// epoll set reported since the last read (a system call only when it reported something).
func (c *upstreamConn) quiet(look bool) bool {
	if c.aw != nil {
		return c.aw.IdleQuiet(look)
	}
	return netpoll.ConnQuiet(c.conn)
}

// quietTaken is quiet for a connection just taken from its pool (wasPooled: Unpool's answer)
// for a request whose first bytes the dispatcher reported in round seen.
//
// It looks (one non-blocking read), whatever the epoll set reported, unless the set's report
// provably covers every byte that came before the request: the set reports when the runtime
// polls it, which on a busy process can be after the next request took the connection (bytes
// written microseconds after an answer got to the next client that way, in a test, when the
// take trusted the set alone). The report covers them when the request's first bytes were seen
// by a round of the dispatcher that has been handled in full (Harvested): stray bytes that came
// before the request entered the set's ready list before it, so that round (or an earlier one)
// reported them too and left its mark: a wake-up or a close on the connection (IdleQuiet sees
// both), or, while it was pooled, its eviction (then Unpool says false). That is the order an
// event loop such as HAProxy's keeps (it handles the events of a poll before the requests they
// bring); a request read without such a round's wake-up (a new connection's first read, bytes
// pipelined behind the last request, a connection back from the parker) looks, as before.
func (u *upstreams) quietTaken(c *upstreamConn, wasPooled bool, seen uint64) bool {
	if c.aw == nil {
		return netpoll.ConnQuiet(c.conn)
	}
	if wasPooled && seen != 0 && !u.arrivals.Harvested(seen) {
		// The round is not handled yet: one round now covers this request and every other read
		// before it, where a look would cost each its own system call. (The HTTP/2 front end's
		// requests, read outside the set, start once their round ended: startAfterRound.)
		u.arrivals.PollNow()
	}
	return c.aw.IdleQuiet(!wasPooled || !u.arrivals.Harvested(seen))
}

// put gives a connection whose last response was read to its end back to its pool: to the
// request that has waited longest for one, or among the idle ones, unless the pool keeps enough
// (maxIdle, keepOpen: poolBound).
func (u *upstreams) put(c *upstreamConn, now time.Time) {
	p := c.pool
	c.idleSince = now
	c.r, c.w = 0, 0
	if len(c.buf) > upstreamBufSize {
		c.buf = make([]byte, upstreamBufSize) // a large head grew it; the pool keeps small ones
	}
	p.mu.Lock()
	if !p.gone && p.handOff(c) {
		p.mu.Unlock()
		return
	}
	if p.gone || (u.maxIdle > 0 && len(p.idle) >= u.maxIdle) || (u.keepOpen > 0 && u.open.Load() > u.keepOpen) {
		if p.gone {
			p.handOff(nil) // a forgotten instance's waiting requests dial for themselves
		}
		p.mu.Unlock()
		c.close()
		return
	}
	// The coldest connection has been idle longest; drop it once it is past the timeout, so a
	// pool that shrinks under less load does not keep sockets the instance has closed.
	if len(p.idle) > 0 && now.Sub(p.idle[0].idleSince) >= u.idleTimeout {
		p.idle[0].close()
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	// Bytes that arrive from now on make the dispatcher evict it; those that came since its last
	// read (an answer's end is where the instance's bytes should stop) left only a wake-up.
	look := p.addIdle(c)
	p.mu.Unlock()
	if look && c.aw.ClaimPooled() {
		c.evictIdle()
	}
}

// poolPurgeInterval is how often idle connections to instances are purged (purge): HAProxy's
// pool-purge-delay default.
const poolPurgeInterval = 5 * time.Second

// purgeEvery purges the pools every interval until stop is closed.
func (u *upstreams) purgeEvery(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			u.purge(now, interval)
		}
	}
}

// purge gives idle connections back to the instances that the load no longer needs, as HAProxy
// does every pool-purge-delay: in every pool, those idle past the idle timeout are closed, and of
// those idle for the whole last interval (not taken since the previous purge), the colder half;
// the warmer half stay open without their read buffers (16 KiB each), which take gives back to
// the one taken again: after a burst of 10,000 clients, the thousands of instance connections the
// pool keeps open for a while no longer keep 16 KiB each alive, a heap that made the Go
// collector's goal large and every allocation land on cold memory (docs/benchmarks.md, session
// 12).
// The pool's bound (--max-conns) lets a gateway keep a connection for every client after a
// burst; an instance with a connection limit of its own, shared by several gateways, gets them
// back within a few intervals once the burst is over, instead of after the idle timeout (90 s)
// or never when no request comes to trim them (put and take trim only when used). It returns how
// many it closed.
func (u *upstreams) purge(now time.Time, interval time.Duration) int {
	closed := 0
	u.pools.Range(func(_, v any) bool {
		if p, ok := v.(*connPool); ok {
			closed += p.purge(now, interval, u.idleTimeout)
		}
		return true
	})
	u.stats.Purged.Add(uint64(closed))
	return closed
}

// purge is upstreams.purge for one pool; p.idle is ordered about coldest first (a connection
// the dispatcher looked at goes back at the warm end with its idleSince), so each connection is
// judged by its own idleSince, and the colder half is the half met first.
func (p *connPool) purge(now time.Time, interval, idleTimeout time.Duration) int {
	p.mu.Lock()
	unused := 0
	for _, c := range p.idle {
		if idle := now.Sub(c.idleSince); idle >= interval && idle < idleTimeout {
			unused++
		}
	}
	spare := unused / 2 // of the unused ones, those kept: the warmer half
	var victims []*upstreamConn
	kept := p.idle[:0]
	for _, c := range p.idle {
		idle := now.Sub(c.idleSince)
		switch {
		case idle >= idleTimeout:
			victims = append(victims, c)
		case idle >= interval && unused > spare:
			unused--
			victims = append(victims, c)
		default:
			if idle >= interval {
				c.buf = nil // cold: its read buffer goes until it is taken again (take)
			}
			kept = append(kept, c)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.mu.Unlock()
	for _, c := range victims {
		c.close()
	}
	return len(victims)
}

// forget closes the idle connections to addr and stops keeping new ones.
func (u *upstreams) forget(addr string) {
	v, ok := u.pools.LoadAndDelete(addr)
	if !ok {
		return
	}
	if p, ok := v.(*connPool); ok {
		p.close(true)
	}
}

// close closes every idle connection, and those that finish their exchange later: nothing is
// pooled any more (the proxy shuts down).
func (u *upstreams) close() {
	u.closed.Store(true)
	u.pools.Range(func(_, v any) bool {
		if p, ok := v.(*connPool); ok {
			p.close(true)
		}
		return true
	})
}

func (p *connPool) close(gone bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.gone = p.gone || gone
	for len(p.queue) > 0 { // no connection will come back to the waiting requests: each dials
		p.handOff(nil)
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// maxResponseHead bounds an answer's status line and headers (http.Transport's default).
const maxResponseHead = 10 << 20

var errResponseHeadTooLarge = errors.New("the instance's answer head exceeds 10 MiB")
