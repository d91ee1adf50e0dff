package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// heldDials is a dialer whose dials stop before their connect until the test lets each go on
// (release), and that counts them: in progress now, at most at once, in all.
type heldDials struct {
	started     chan struct{} // one value per dial that reached its connect
	release     chan struct{} // one value lets one dial go on
	inProgress  atomic.Int32
	maxProgress atomic.Int32
	total       atomic.Int32
}

func newHeldDials() *heldDials {
	return &heldDials{started: make(chan struct{}, 64), release: make(chan struct{}, 64)}
}

func (h *heldDials) control(string, string, syscall.RawConn) error {
	n := h.inProgress.Add(1)
	for {
		m := h.maxProgress.Load()
		if n <= m || h.maxProgress.CompareAndSwap(m, n) {
			break
		}
	}
	h.total.Add(1)
	h.started <- struct{}{}
	<-h.release
	h.inProgress.Add(-1)
	return nil
}

// acceptingInstance is an instance that accepts connections and keeps them open until the test
// ends; accepted counts them.
func acceptingInstance(t *testing.T, accepted *atomic.Int32) string {
	t.Helper()
	return rawInstance(t, func(c net.Conn) {
		accepted.Add(1)
		_, _ = io.Copy(io.Discard, c)
	})
}

// heldPool is a pool that allows one dial at a time to an instance that accepts every
// connection (accepted counts them), its dials held until the test releases them; a request waits
// in the queue for at most queueTimeout.
func heldPool(t *testing.T, queueTimeout time.Duration) (up *upstreams, held *heldDials, addr string, accepted *atomic.Int32) {
	t.Helper()
	accepted = &atomic.Int32{}
	addr = acceptingInstance(t, accepted)
	held = newHeldDials()
	arrivals := netpoll.NewArrivals()
	t.Cleanup(func() { arrivals.Close() })
	up = &upstreams{dialer: net.Dialer{Control: held.control}, maxDials: 1, keepOpen: 100,
		queueTimeout: queueTimeout, idleTimeout: time.Hour, arrivals: arrivals}
	t.Cleanup(up.close)
	return up, held, addr, accepted
}

func (p *connPool) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

type taken struct {
	c      *upstreamConn
	reused bool
	err    error
}

// TestDialBoundQueuesRequestsForConnectionsGivenBack: with at most one dial to an instance in
// progress, the requests that come meanwhile wait in the pool's queue instead of dialling; the
// dial's end hands the next request a dial of its own, and each connection given back goes to
// the request that has waited longest. Five requests, two dials, never two at once.
func TestDialBoundQueuesRequestsForConnectionsGivenBack(t *testing.T) {
	up, held, addr, accepted := heldPool(t, time.Hour)
	get := func(results chan<- taken) {
		c, reused, err := up.get(context.Background(), addr, time.Now())
		results <- taken{c, reused, err}
	}

	first := make(chan taken, 1)
	go get(first)
	<-held.started // the one dial allowed is in progress
	queued := make(chan taken, 4)
	for range 4 {
		go get(queued)
	}
	p := up.pool(addr)
	waitFor(t, "four requests to wait in the pool's queue", func() bool { return p.waiting() == 4 })
	if n := held.total.Load(); n != 1 {
		t.Fatalf("%d dials started with one in progress and a bound of 1, want 1", n)
	}

	held.release <- struct{}{} // the first dial ends: its request has its connection ...
	a := <-first
	if a.err != nil || a.reused {
		t.Fatalf("first request: %v (reused %v)", a.err, a.reused)
	}
	<-held.started // ... and the request that waited longest dials now
	if got := p.waiting(); got != 3 {
		t.Fatalf("%d requests wait after one was handed the dial, want 3", got)
	}

	// The first connection given back serves the three others, one after another.
	c := a.c
	for i := range 3 {
		up.put(c, time.Now())
		b := <-queued
		if b.err != nil || !b.reused || b.c != c {
			t.Fatalf("waiting request %d: %v (reused %v, same connection %v), want the connection given back", i+1, b.err, b.reused, b.c == c)
		}
		c = b.c
	}
	up.put(c, time.Now())
	if got := p.idleCount(); got != 1 {
		t.Fatalf("%d idle connections with nobody waiting, want the one given back", got)
	}

	held.release <- struct{}{} // the second dial ends: its request gets the new connection
	d := <-queued
	if d.err != nil || d.reused || d.c == a.c {
		t.Fatalf("the request that dialled: %v (reused %v)", d.err, d.reused)
	}
	up.put(d.c, time.Now())
	if n, m := held.total.Load(), held.maxProgress.Load(); n != 2 || m != 1 {
		t.Fatalf("five requests made %d dials, at most %d at once; want 2 dials, 1 at once", n, m)
	}
	if d, w, to := up.stats.Dials.Load(), up.stats.QueueWaits.Load(), up.stats.QueueTimeouts.Load(); d != 2 || w != 4 || to != 0 {
		t.Fatalf("the pool's counters: %d dials, %d queue waits, %d time-outs; want 2, 4, 0", d, w, to)
	}
	waitFor(t, "the instance to accept both connections", func() bool { return accepted.Load() == 2 })
	if got := up.open.Load(); got != 2 {
		t.Fatalf("the pool counts %d open connections, want 2", got)
	}
}

// TestQueuedRequestTimesOutAsQueueTimeoutError: a request that waits longer than the queue's
// timeout for a connection (the one dial allowed never ends) fails with a QueueTimeoutError, which
// the policy sends to another instance without counting it against this one.
func TestQueuedRequestTimesOutAsQueueTimeoutError(t *testing.T) {
	up, held, addr, _ := heldPool(t, 20*time.Millisecond)
	first := make(chan taken, 1)
	go func() {
		c, reused, err := up.get(context.Background(), addr, time.Now())
		first <- taken{c, reused, err}
	}()
	<-held.started
	_, _, err := up.get(context.Background(), addr, time.Now())
	var qe *QueueTimeoutError
	if !errors.As(err, &qe) || qe.Addr != addr || !isTimeout(err) {
		t.Fatalf("a request that waited past the queue's timeout got %v, want a QueueTimeoutError for %s", err, addr)
	}
	if r, counts := retryFor(err, true, true); r != retryElsewhere || counts {
		t.Fatalf("retryFor(QueueTimeoutError) = %v, %v; want another instance, not counted", r, counts)
	}
	if got := up.pool(addr).waiting(); got != 0 {
		t.Fatalf("%d requests still queued after the time-out, want none", got)
	}
	held.release <- struct{}{}
	if a := <-first; a.err != nil {
		t.Fatal(a.err)
	} else {
		a.c.close()
	}
	if n := held.total.Load(); n != 1 {
		t.Fatalf("%d dials, want 1 (the queued request must not dial)", n)
	}
	if d, w, to := up.stats.Dials.Load(), up.stats.QueueWaits.Load(), up.stats.QueueTimeouts.Load(); d != 1 || w != 1 || to != 1 {
		t.Fatalf("the pool's counters: %d dials, %d queue waits, %d time-outs; want 1, 1, 1", d, w, to)
	}
}

// TestQueuedRequestLeavesTheQueueWhenItsClientGoes: a request waiting in its instance's queue
// whose context ends (the net/http path's client went away) stops waiting at once with the
// context's error, leaves the queue, and never dials; the dial that comes free goes to the request
// queued after it.
func TestQueuedRequestLeavesTheQueueWhenItsClientGoes(t *testing.T) {
	up, held, addr, _ := heldPool(t, time.Hour)
	p := up.pool(addr)
	get := func(ctx context.Context, results chan<- taken) {
		c, reused, err := up.get(ctx, addr, time.Now())
		results <- taken{c, reused, err}
	}
	first := make(chan taken, 1)
	go get(context.Background(), first)
	<-held.started // the one dial allowed is in progress

	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan taken, 1)
	go get(ctx, gone)
	waitFor(t, "the request to wait in the queue", func() bool { return p.waiting() == 1 })
	later := make(chan taken, 1)
	go get(context.Background(), later)
	waitFor(t, "a second request to wait behind it", func() bool { return p.waiting() == 2 })

	cancel()
	g := <-gone // with a queue time-out of an hour: only its context ended the wait
	if !errors.Is(g.err, context.Canceled) || g.c != nil {
		t.Fatalf("the request whose client went got %v (connection %v), want context.Canceled and none", g.err, g.c != nil)
	}
	if r, counts := retryFor(g.err, true, true); r != noRetry || counts {
		t.Fatalf("retryFor(context.Canceled) = %v, %v; want no retry, not counted", r, counts)
	}
	if got := p.waiting(); got != 1 {
		t.Fatalf("%d requests queued after one left, want 1", got)
	}

	held.release <- struct{}{} // the first dial ends: the dial allowed goes to the later request
	if a := <-first; a.err != nil {
		t.Fatal(a.err)
	} else {
		a.c.close()
	}
	<-held.started
	held.release <- struct{}{}
	if l := <-later; l.err != nil || l.reused {
		t.Fatalf("the later request: %v (reused %v), want a connection of its own dial", l.err, l.reused)
	} else {
		l.c.close()
	}
	if n := held.total.Load(); n != 2 {
		t.Fatalf("%d dials, want 2 (the request whose client went must not dial)", n)
	}
}

// TestPoolKeepsConnectionsUpToItsBound: the pool keeps every connection given back while the
// connections open to instances, in use and idle, are within its bound (poolBound: more than
// the old 256 per instance), closes those beyond it, and trims the coldest once it has been idle
// for the idle timeout.
func TestPoolKeepsConnectionsUpToItsBound(t *testing.T) {
	var accepted atomic.Int32
	addr := acceptingInstance(t, &accepted)
	arrivals := netpoll.NewArrivals()
	t.Cleanup(func() { arrivals.Close() })
	const n, bound = 300, 297
	up := &upstreams{keepOpen: bound, maxDials: 0, idleTimeout: time.Minute, arrivals: arrivals}
	t.Cleanup(up.close)
	conns := make([]*upstreamConn, n)
	for i := range conns {
		c, _, err := up.get(context.Background(), addr, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	t0 := time.Now()
	for _, c := range conns {
		up.put(c, t0)
	}
	p := up.pool(addr)
	if got, open := p.idleCount(), up.open.Load(); got != bound || open != bound {
		t.Fatalf("after %d connections came back the pool keeps %d idle, %d open; want %d and %d (its bound)", n, got, open, bound, bound)
	}
	// Taken and given back later: the coldest idle connection has been idle for the timeout, and
	// goes.
	c, reused, err := up.get(context.Background(), addr, t0)
	if err != nil || !reused {
		t.Fatalf("take: %v, reused %v", err, reused)
	}
	up.put(c, t0.Add(time.Minute))
	if got := p.idleCount(); got != bound-1 {
		t.Fatalf("%d idle after a put that found the coldest past the idle timeout, want %d", got, bound-1)
	}
	// A take past the timeout closes the expired ones it meets and finds the warm one.
	c, reused, err = up.get(context.Background(), addr, t0.Add(time.Minute))
	if err != nil || !reused || c.idleSince != t0.Add(time.Minute) {
		t.Fatalf("take: %v, reused %v, want the connection idle since the last put", err, reused)
	}
	c.close()
	if got := up.open.Load(); got != int64(bound-2) {
		t.Fatalf("%d connections counted open, want %d", got, bound-2)
	}
}

// TestPoolBoundIsTheClientLimit: the proxy's pool keeps as many instance connections open as the
// process allows client connections (--max-conns), and no per-instance bound unless one is set.
func TestPoolBoundIsTheClientLimit(t *testing.T) {
	p := New(Options{Conns: connlimit.New(12345)})
	defer p.Close()
	if p.up.keepOpen != 12345 || p.up.maxIdle != 0 || p.up.maxDials != DefaultMaxDialsPerHost || p.up.queueTimeout != p.opts.DialTimeout {
		t.Fatalf("pool bounds: keep %d open, %d idle per instance, %d dials, queue %s; want 12345, 0, %d, the dial timeout",
			p.up.keepOpen, p.up.maxIdle, p.up.maxDials, p.up.queueTimeout, DefaultMaxDialsPerHost)
	}
	def, _ := connlimit.Default()
	q := New(Options{MaxIdleConnsPerHost: 8})
	defer q.Close()
	if q.up.keepOpen != int64(def) || q.up.maxIdle != 8 {
		t.Fatalf("without a limiter: keep %d open, %d idle per instance; want %d (the default limit) and 8", q.up.keepOpen, q.up.maxIdle, def)
	}
}

// TestForgottenPoolHandsItsQueueDials: requests waiting for a connection to an instance that no
// table names any more are not left waiting: each is handed a dial of its own.
func TestForgottenPoolHandsItsQueueDials(t *testing.T) {
	var accepted atomic.Int32
	addr := acceptingInstance(t, &accepted)
	held := newHeldDials()
	up := &upstreams{dialer: net.Dialer{Control: held.control}, maxDials: 1, keepOpen: 100,
		queueTimeout: time.Hour, idleTimeout: time.Hour, arrivals: netpoll.NewArrivals()}
	t.Cleanup(func() { up.arrivals.Close() })
	results := make(chan taken, 3)
	var wg sync.WaitGroup
	get := func() {
		defer wg.Done()
		c, reused, err := up.get(context.Background(), addr, time.Now())
		results <- taken{c, reused, err}
	}
	wg.Add(1)
	go get()
	<-held.started
	p := up.pool(addr)
	wg.Add(2)
	go get()
	go get()
	waitFor(t, "two requests to wait", func() bool { return p.waiting() == 2 })
	up.forget(addr)
	for range 2 {
		<-held.started // each waiting request dials for itself
	}
	for range 3 {
		held.release <- struct{}{}
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		up.put(r.c, time.Now()) // a forgotten pool keeps nothing
	}
	if got := up.open.Load(); got != 0 {
		t.Fatalf("%d connections open after the forgotten pool's were given back, want 0", got)
	}
}

// TestTunnelLeavesThePoolsCount: a connection switched to a tunnel (101) is no longer one of
// the pool's open connections (poolBound counts those), so that tunnels do not use up the pool's
// bound; the tunnel carries bytes both ways.
func TestTunnelLeavesThePoolsCount(t *testing.T) {
	inst := rawInstance(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Header.Get("Upgrade") == "" {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			}
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_, _ = io.Copy(c, br) // an echo
			return
		}
	})
	_, p, addr := startServer(t, Options{}, ServerOptions{}, inst)
	c := dial(t, addr)
	c.get("/") // one pooled connection first
	if got := p.up.open.Load(); got != 1 {
		t.Fatalf("%d instance connections counted open after one request, want 1", got)
	}
	c2 := dial(t, addr)
	c2.send("GET /ws HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	c2.readsWithin10s()
	resp, err := http.ReadResponse(c2.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	c2.send("ping")
	var b [4]byte
	if _, err := io.ReadFull(c2.br, b[:]); err != nil || string(b[:]) != "ping" {
		t.Fatalf("through the tunnel: %q %v", b[:], err)
	}
	// The upgrade took the pooled connection (or a new one) out of the pool's count.
	if got := p.up.open.Load(); got != 0 {
		t.Fatalf("%d instance connections counted open with only a tunnel, want 0", got)
	}
}

// TestPoolPurgesIdleConnectionsLikeHAProxy: every purge closes the idle connections past the idle
// timeout and the colder half of those not used for the whole interval (HAProxy's
// pool-purge-delay), so connections a burst left open go back to the instance once the burst is
// over; connections in use since the last purge stay.
func TestPoolPurgesIdleConnectionsLikeHAProxy(t *testing.T) {
	var accepted, ended atomic.Int32
	addr := rawInstance(t, func(c net.Conn) {
		accepted.Add(1)
		_, _ = io.Copy(io.Discard, c)
		ended.Add(1) // the gateway closed it
	})
	arrivals := netpoll.NewArrivals()
	t.Cleanup(func() { arrivals.Close() })
	const interval, idleTimeout = 5 * time.Second, time.Minute
	up := &upstreams{keepOpen: 100, idleTimeout: idleTimeout, arrivals: arrivals}
	t.Cleanup(up.close)
	conns := make([]*upstreamConn, 13)
	for i := range conns {
		c, _, err := up.get(context.Background(), addr, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	waitFor(t, "the instance to accept 13 connections", func() bool { return accepted.Load() == 13 })
	t0 := time.Now()
	for _, c := range conns[:10] {
		up.put(c, t0) // a burst's, idle since t0
	}
	for _, c := range conns[10:] {
		up.put(c, t0.Add(4*time.Second)) // used a second before the purge
	}
	p := up.pool(addr)
	idle := func() []*upstreamConn {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Clone(p.idle)
	}
	// First purge: 10 unused for the interval, the colder 5 go; the 3 used recently stay.
	if n := up.purge(t0.Add(interval), interval); n != 5 {
		t.Fatalf("first purge closed %d, want 5 (half of the 10 unused for %s)", n, interval)
	}
	if got, want := idle(), append(slices.Clone(conns[5:10]), conns[10:]...); !slices.Equal(got, want) {
		t.Fatalf("after the first purge the pool keeps %d connections, want the 8 warmest in order", len(got))
	}
	// The 5 kept that were unused for the interval keep no read buffer; those used lately do.
	for i, c := range conns[5:] {
		if cold := i < 5; (c.buf == nil) != cold {
			t.Fatalf("after the first purge connection %d has a buffer of %d bytes; want none if unused for the interval, else %d", 5+i, len(c.buf), upstreamBufSize)
		}
	}
	waitFor(t, "the instance to see 5 connections closed", func() bool { return ended.Load() == 5 })
	if open := up.open.Load(); open != 8 {
		t.Fatalf("%d connections counted open after the first purge, want 8", open)
	}
	// Second purge: all 8 unused now, 4 go (coldest first).
	if n := up.purge(t0.Add(2*interval), interval); n != 4 {
		t.Fatalf("second purge closed %d, want 4", n)
	}
	if got, want := idle(), append(slices.Clone(conns[9:10]), conns[10:]...); !slices.Equal(got, want) {
		t.Fatalf("after the second purge the pool keeps %d connections, want the 4 warmest", len(got))
	}
	// A connection taken and given back between purges is in use, not purged.
	c, reused, err := up.get(context.Background(), addr, t0.Add(2*interval))
	if err != nil || !reused || c != conns[12] {
		t.Fatalf("take: %v, reused %v, want the warmest pooled connection", err, reused)
	}
	if len(c.buf) != upstreamBufSize {
		t.Fatalf("a connection taken after a purge took its buffer has %d bytes to read into, want %d", len(c.buf), upstreamBufSize)
	}
	up.put(c, t0.Add(2*interval+time.Second))
	if n := up.purge(t0.Add(3*interval), interval); n != 2 {
		t.Fatalf("third purge closed %d, want 2 (half of the 3 unused, rounded up)", n)
	}
	if got := idle(); len(got) != 2 || got[1] != conns[12] {
		t.Fatalf("after the third purge the pool keeps %d connections, want 2 with the one used last", len(got))
	}
	// Past the idle timeout every idle connection goes, used since the last purge or not.
	if n := up.purge(t0.Add(idleTimeout+3*interval), interval); n != 2 {
		t.Fatalf("a purge past the idle timeout closed %d, want both", n)
	}
	waitFor(t, "the instance to see all 13 connections closed", func() bool { return ended.Load() == 13 })
	if open := up.open.Load(); open != 0 {
		t.Fatalf("%d connections counted open, want 0", open)
	}
	if purged := up.stats.Purged.Load(); purged != 5+4+2+2 {
		t.Fatalf("the purge counter says %d, want the 13 purges closed", purged)
	}
}

// TestPurgeEveryEndsAtStop: the purge's goroutine ends when its stop channel closes (the proxy's
// Close), instead of outliving the proxy.
func TestPurgeEveryEndsAtStop(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	up := &upstreams{idleTimeout: time.Minute}
	go func() {
		up.purgeEvery(time.Millisecond, stop)
		close(done)
	}()
	close(stop)
	<-done
}

// TestAwaitHandedSomethingAsItsContextEnds: a request whose context ends just as the pool hands
// it a connection or a dial (both ready when its wait looks) either takes what it was handed or
// passes it on: the connection goes back to the pool, the dial (with its count) to the next
// request in the queue. Nothing is lost either way, and the dial count stays exact. Go's select
// picks between ready cases at random, so 200 rounds take both ways (all but surely) and the test
// requires that they did.
func TestAwaitHandedSomethingAsItsContextEnds(t *testing.T) {
	var accepted atomic.Int32
	addr := acceptingInstance(t, &accepted)
	arrivals := netpoll.NewArrivals()
	t.Cleanup(func() { arrivals.Close() })
	up := &upstreams{maxDials: 1, keepOpen: 100, queueTimeout: time.Hour, idleTimeout: time.Hour, arrivals: arrivals}
	t.Cleanup(up.close)
	p := up.pool(addr)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	newWaiter := func() *poolWaiter { return &poolWaiter{ready: make(chan struct{}, 1)} }

	c, reused, err := up.get(context.Background(), addr, time.Now())
	if err != nil || reused {
		t.Fatalf("the first connection: %v (reused %v), want a dial", err, reused)
	}
	const rounds = 200
	took, passedOn := 0, 0
	for range rounds {
		w := newWaiter()
		p.mu.Lock()
		p.queue = append(p.queue, w)
		p.handOff(c)
		p.mu.Unlock()
		got, err := up.await(ended, p, w, addr)
		switch {
		case err == nil && got == c:
			took++
		case errors.Is(err, context.Canceled) && got == nil:
			passedOn++
			if n := p.idleCount(); n != 1 {
				t.Fatalf("a connection handed to a request whose context ended: %d idle in the pool, want it back there", n)
			}
			if got, reused, err = up.get(context.Background(), addr, time.Now()); err != nil || !reused || got != c {
				t.Fatalf("taking it again: %v (reused %v, the same %v)", err, reused, got == c)
			}
		default:
			t.Fatalf("await: %v, connection %v; want the connection handed, or context.Canceled and none", err, got != nil)
		}
	}
	if took == 0 || passedOn == 0 {
		t.Fatalf("in %d rounds the request took the connection %d times and passed it on %d times: both ways must be seen", rounds, took, passedOn)
	}
	if n := up.stats.Dials.Load(); n != 1 {
		t.Fatalf("%d dials, want the one: the connection went round and was never lost", n)
	}
	c.close()

	took, passedOn = 0, 0
	for range rounds {
		w, next := newWaiter(), newWaiter()
		p.mu.Lock()
		p.queue = append(p.queue, w, next)
		p.handOff(nil) // a dial for w, counted
		p.mu.Unlock()
		got, err := up.await(ended, p, w, addr)
		p.mu.Lock()
		dialing, queued := p.dialing, len(p.queue)
		p.mu.Unlock()
		switch {
		case err == nil && got == nil:
			took++ // w dials: the count is its own, and the next request still waits
			if dialing != 1 || queued != 1 {
				t.Fatalf("w took its dial: %d dials counted, %d queued; want 1 and 1", dialing, queued)
			}
			p.mu.Lock()
			p.queue = p.queue[:0]
		case errors.Is(err, context.Canceled) && got == nil:
			passedOn++ // the dial, with its count, went to the next request
			select {
			case <-next.ready:
			default:
				t.Fatal("a dial handed to a request whose context ended did not go to the next request")
			}
			if next.c != nil || dialing != 1 || queued != 0 {
				t.Fatalf("the next request got connection %v, %d dials counted, %d queued; want a dial, 1 and 0", next.c != nil, dialing, queued)
			}
			p.mu.Lock()
		default:
			t.Fatalf("await: %v, connection %v; want a dial (nil, nil) or context.Canceled", err, got != nil)
		}
		p.dialing-- // the dial ends (dialCounted)
		p.mu.Unlock()
	}
	if took == 0 || passedOn == 0 {
		t.Fatalf("in %d rounds the request took its dial %d times and passed it on %d times: both ways must be seen", rounds, took, passedOn)
	}
}
