package proxy

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// guardedConn is a connection of the net/http transport to an instance: the net/http path's
// form of the reuse check (upstreamConn.quiet). net/http's transport reads an idle connection in
// the background and closes it when bytes come while no request is on it, but a request that takes
// the connection before that read ran gets those bytes as its answer. So when the transport takes
// an idle connection (reusedConnTrace: GotConn), the first write of the request looks first: bytes
// readable on the socket, or read by the transport since the take, fail the write, and the
// transport sends the request again on a new connection (it does so for a write that wrote
// nothing); bytes that the background read returns between the take and that write fail the read.
//
// It also holds the net/http path to the front end's rule for answer heads: a head with obsolete
// line folding is a malformed answer (502), which net/http's transport would unfold and pass on.
type guardedConn struct {
	net.Conn
	check     atomic.Bool  // taken from the pool, its request not written yet
	dataReads atomic.Int64 // reads that returned bytes
	atTake    atomic.Int64 // dataReads when it was taken
	idleAt    atomic.Int64 // dataReads when it was put back in the pool after take idleFor
	idleFor   atomic.Int64
	takes     atomic.Int64 // times the transport took it (GotConn)
	poisoned  atomic.Bool  // bytes came while it was idle
	// newRequest: a request was written since the answer head was last scanned; head (the
	// reading goroutine's) scans the next answer's head.
	newRequest atomic.Bool
	writing    bool // the writing goroutine's: its request is being written
	// headRequest: the request being written is a HEAD.
	headRequest atomic.Bool
	head        httpframe.HeadScan
}

// errStrayBytes: bytes came on an idle instance connection; they answer no request.
var errStrayBytes = errors.New("the instance sent bytes on an idle connection, which answer no request")

func (g *guardedConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.dataReads.Add(1)
		if g.check.Load() {
			return 0, errStrayBytes
		}
		if g.newRequest.Swap(false) {
			g.head = httpframe.NewHeadScan(g.headRequest.Load())
		}
		bad, stray := g.head.Scan(p[:n])
		if bad != nil {
			return 0, bad
		}
		if stray {
			// Bytes after an answer without a body: the answer is passed on, the connection
			// is not reused (the transport keeps the bytes in its buffer, out of sight).
			g.poisoned.Store(true)
		}
	}
	return n, err
}

func (g *guardedConn) Write(p []byte) (int, error) {
	if g.check.Swap(false) {
		if g.poisoned.Load() || g.dataReads.Load() != g.atTake.Load() || !netpoll.ConnQuiet(g.Conn) {
			return 0, errStrayBytes
		}
		g.writing = false
	}
	if !g.writing {
		g.writing = true
		g.headRequest.Store(len(p) >= 5 && string(p[:5]) == "HEAD ")
		g.newRequest.Store(true)
	}
	return g.Conn.Write(p)
}

// taken: the transport took the connection from its pool for a request.
func (g *guardedConn) taken() {
	g.atTake.Store(g.dataReads.Load())
	g.check.Store(true)
}

// reuseTrace tells the guardedConn of one request when the transport took it from its pool and
// when it put it back. Bytes read between those moments (by the transport's background read,
// into its own buffer, where a peek does not see them) answer no request: the next request's
// write fails, and the transport sends it again on a new connection.
//
// The transport reports the put (PutIdleConn) after the connection is back in its pool, so the
// next request may take it before: then the idle reads are not known, and only the peek checks.
type reuseTrace struct {
	conn  *guardedConn
	take  int64
	trace httptrace.ClientTrace
}

func (t *reuseTrace) gotConn(info httptrace.GotConnInfo) {
	g, ok := info.Conn.(*guardedConn)
	if !ok {
		return
	}
	t.conn, t.take = g, g.takes.Add(1)
	if info.Reused {
		if g.idleFor.Load() == t.take-1 && g.dataReads.Load() != g.idleAt.Load() {
			g.poisoned.Store(true)
		}
		g.taken()
	}
}

func (t *reuseTrace) putIdleConn(err error) {
	if t.conn != nil && err == nil {
		t.conn.idleAt.Store(t.conn.dataReads.Load())
		t.conn.idleFor.Store(t.take)
	}
}

// withReuseCheck makes req's transport connection check itself when it is reused.
func withReuseCheck(req *http.Request) *http.Request {
	t := &reuseTrace{}
	t.trace.GotConn, t.trace.PutIdleConn = t.gotConn, t.putIdleConn
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &t.trace))
}
