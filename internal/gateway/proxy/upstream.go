package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// upstreamConn is one keep-alive HTTP/1.1 connection to an instance, owned by one request at a
// time: the forwarding path writes and reads it on the request's own goroutine, with none of
// http.Transport's per-connection reader and writer goroutines.
type upstreamConn struct {
	addr      string
	pool      *connPool // the pool it goes back to
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	limit     *headLimit
	// abort makes the connection's blocked reads and writes return; built once per connection
	// so that arming it for a request (context.AfterFunc) allocates no closure.
	abort func()
	// stop, when not nil, disarms abort for the request that holds the connection.
	stop func() bool
}

// disarm stops abort from running for the request that holds the connection; false means it
// ran (or is running): the client went away and the connection must be closed.
func (c *upstreamConn) disarm() bool {
	stop := c.stop
	if stop == nil {
		return true
	}
	c.stop = nil
	return stop()
}

// connPool keeps the idle connections to one instance, most recently used first (the warmest
// connection is taken, the coldest ones age out).
type connPool struct {
	mu   sync.Mutex
	idle []*upstreamConn
	gone bool // the instance was forgotten: connections given back are closed
}

// upstreams are the connection pools of the forwarding path, one per instance address.
type upstreams struct {
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration
	pools       sync.Map // addr -> *connPool
}

func (u *upstreams) pool(addr string) *connPool {
	if p, ok := u.pools.Load(addr); ok {
		return p.(*connPool)
	}
	p, _ := u.pools.LoadOrStore(addr, &connPool{})
	return p.(*connPool)
}

// get returns an idle connection to addr (reused true) or dials a new one.
func (u *upstreams) get(ctx context.Context, addr string, now time.Time) (c *upstreamConn, reused bool, err error) {
	p := u.pool(addr)
	p.mu.Lock()
	for len(p.idle) > 0 {
		c = p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(c.idleSince) < u.idleTimeout {
			p.mu.Unlock()
			return c, true, nil
		}
		c.conn.Close() // idle too long: the instance may have dropped it already
	}
	p.mu.Unlock()
	return u.dial(ctx, addr, p)
}

func (u *upstreams) dial(ctx context.Context, addr string, pool *connPool) (*upstreamConn, bool, error) {
	conn, err := u.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	limit := &headLimit{conn: conn}
	c := &upstreamConn{addr: addr, pool: pool, conn: conn, limit: limit, br: bufio.NewReaderSize(limit, 4<<10), bw: bufio.NewWriterSize(conn, 4<<10)}
	c.abort = func() { conn.SetDeadline(aLongTimeAgo) }
	return c, false, nil
}

// put gives a connection whose last response was read to its end back to its pool.
func (u *upstreams) put(c *upstreamConn, now time.Time) {
	p := c.pool
	c.idleSince = now
	p.mu.Lock()
	if p.gone || len(p.idle) >= u.maxIdle {
		p.mu.Unlock()
		c.conn.Close()
		return
	}
	// The coldest connection has been idle longest; drop it once it is past the timeout, so a
	// pool that shrinks under less load does not keep sockets the instance has closed.
	if len(p.idle) > 0 && now.Sub(p.idle[0].idleSince) >= u.idleTimeout {
		p.idle[0].conn.Close()
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// forget closes the idle connections to addr and stops keeping new ones.
func (u *upstreams) forget(addr string) {
	v, ok := u.pools.LoadAndDelete(addr)
	if !ok {
		return
	}
	v.(*connPool).close(true)
}

// closeIdle closes every idle connection; pools stay usable.
func (u *upstreams) closeIdle() {
	u.pools.Range(func(_, v any) bool {
		v.(*connPool).close(false)
		return true
	})
}

func (p *connPool) close(gone bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.gone = p.gone || gone
	p.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}

// maxResponseHead bounds an answer's status line and headers (http.Transport's default).
const maxResponseHead = 10 << 20

var errResponseHeadTooLarge = errors.New("the instance's answer head exceeds 10 MiB")

// headLimit reads the connection, and while armed (remaining > 0) refuses to read more than
// the remaining bytes: an instance cannot make the gateway buffer headers without end.
type headLimit struct {
	conn      net.Conn
	armed     bool
	remaining int
}

func (l *headLimit) arm() { l.armed, l.remaining = true, maxResponseHead }

func (l *headLimit) disarm() { l.armed = false }

func (l *headLimit) Read(p []byte) (int, error) {
	if !l.armed {
		return l.conn.Read(p)
	}
	if l.remaining <= 0 {
		return 0, errResponseHeadTooLarge
	}
	if len(p) > l.remaining {
		p = p[:l.remaining]
	}
	n, err := l.conn.Read(p)
	l.remaining -= n
	return n, err
}
