package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A randomized, deterministic-seed mix of what clients do to the front end at once: keep-alive,
// pipelining, request bodies (hand-off to net/http), huge heads, aborts, slow readers, slow
// instances. Every answer must reach the request it belongs to, whole, with nothing before or
// after it; and when the clients are gone, nothing may be left in flight.

const (
	stressSeed         = 20261127
	stressClients      = 16
	stressOpsPerClient = 150
	stressWait         = 10 * time.Second // a hang fails the test instead of blocking it
)

func TestFrontEndMixedTrafficKeepsEveryAnswerWhole(t *testing.T) {
	inst := startStressInstance(t)
	s, _, addr := startServer(t, Options{}, ServerOptions{}, inst.addr)
	backend := s.f.Table.Load().Routes()[0].Backends[0]

	clients := make([]*stressClient, stressClients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &stressClient{
			t: t, index: i, addr: addr, inst: inst,
			rng: rand.New(rand.NewPCG(stressSeed, uint64(i))),
		}
		clients[i] = c
		wg.Go(c.run)
	}
	wg.Wait()

	done, open := 0, map[string]bool{}
	for _, c := range clients {
		done += c.done
		if c.conn != nil {
			open[c.conn.LocalAddr().String()] = true
		}
	}
	if want := stressClients * stressOpsPerClient; done != want {
		t.Errorf("seed %d: %d of %d client operations completed (see the errors above)", stressSeed, done, want)
	}

	// Nothing in flight once every client has its answers: aborted requests included.
	pollFor(t, "every request to the instance to be released (Backend.Active 0)", func() string {
		if n := backend.Active(); n != 0 {
			return fmt.Sprintf("Backend.Active is %d", n)
		}
		return ""
	})
	pollFor(t, "the instance to finish every request it got (aborted slow ones cancelled)", func() string {
		if n := inst.inFlight.Load(); n != 0 {
			return fmt.Sprintf("%d handlers still running", n)
		}
		return ""
	})
	pollFor(t, "the front end to track only connections its clients still hold open", func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		for fc := range s.conns {
			if !open[fc.remoteAddr] {
				return fmt.Sprintf("it still tracks %s (state %d), closed by its client; %d tracked, %d open", fc.remoteAddr, fc.state.Load(), len(s.conns), len(open))
			}
		}
		return ""
	})
	for _, c := range clients {
		c.drop()
	}
	pollFor(t, "the front end to forget every connection once its clients closed them", func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		if n := len(s.conns); n != 0 {
			return fmt.Sprintf("%d connections tracked", n)
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after every client left: %v", err)
	}
}

// pollFor polls cond (which says what is still wrong, "" once it holds) for stressWait.
func pollFor(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(stressWait)
	for {
		wrong := cond()
		if wrong == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("waited %v for %s: %s", stressWait, what, wrong)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stressInstance answers by path; every answer names the request id, path and method it got.
//
//	/len/N     N bytes with Content-Length
//	/chunk/N   N bytes chunked, in four flushed writes
//	/stream/N  N bytes with Content-Length, flushed every 4 KiB
//	/close/N   N bytes and Connection: close; odd N without a length (the body ends with the connection)
//	/head      4321 bytes with Content-Length (HEAD: the length only)
//	/echo      the request body's sha256 and length
//	/slow/N    N bytes once the request's gate opens (or the request is cancelled)
//	/status/S  status S without a body
type stressInstance struct {
	addr     string
	stop     chan struct{} // closed at cleanup: no handler waits past the test
	gates    sync.Map      // request id → *slowGate
	inFlight atomic.Int32
}

// slowGate holds a /slow request: the instance closes arrived when the request is there and
// answers once the client closes release.
type slowGate struct {
	arrived, release chan struct{}
	once             sync.Once
}

func startStressInstance(t *testing.T) *stressInstance {
	in := &stressInstance{stop: make(chan struct{})}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(in.stop) }) // runs first: releases waiting handlers
	in.addr = srv.Listener.Addr().String()
	return in
}

func (in *stressInstance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.inFlight.Add(1)
	defer in.inFlight.Add(-1)
	id := r.Header.Get("X-Req-Id")
	h := w.Header()
	h.Set("X-Req-Id", id)
	h.Set("X-Path", r.URL.Path)
	h.Set("X-Method", r.Method)
	kind, n := stressPath(r.URL.Path)
	// The gateway drops some requests midway (the clients abort them): a failed write or flush
	// only ends an answer early, which the client's checks see where it matters.
	write := func(b []byte) { _, _ = w.Write(b) }
	rc := http.NewResponseController(w)
	flush := func() { _ = rc.Flush() }
	switch kind {
	case "len":
		h.Set("Content-Length", strconv.Itoa(n))
		write(stressBody(id, n))
	case "chunk":
		body := stressBody(id, n)
		for i := range 4 {
			write(body[i*n/4 : (i+1)*n/4])
			flush()
		}
	case "stream":
		h.Set("Content-Length", strconv.Itoa(n))
		for body := stressBody(id, n); len(body) > 0; {
			part := body[:min(len(body), 4<<10)]
			write(part)
			flush()
			body = body[len(part):]
		}
	case "close":
		h.Set("Connection", "close")
		if n%2 == 1 {
			h.Set("Transfer-Encoding", "identity") // net/http: no length, close after the body
		} else {
			h.Set("Content-Length", strconv.Itoa(n))
		}
		body := stressBody(id, n)
		write(body[:n/2])
		flush()
		write(body[n/2:])
	case "head":
		h.Set("Content-Length", "4321")
		if r.Method != http.MethodHead {
			write(stressBody(id, 4321))
		}
	case "echo":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // the client went away mid-body
		}
		fmt.Fprintf(w, "%x %d", sha256.Sum256(body), len(body))
	case "slow":
		// No gate: nobody will open it (an aborted request); wait for the gateway to cancel.
		var release chan struct{}
		v, _ := in.gates.Load(id)
		if g, ok := v.(*slowGate); ok {
			g.once.Do(func() { close(g.arrived) })
			release = g.release
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-in.stop:
			return
		}
		h.Set("Content-Length", strconv.Itoa(n))
		write(stressBody(id, n))
	case "status":
		w.WriteHeader(n)
	default:
		http.Error(w, "no such path", http.StatusNotFound)
	}
}

// stressPath splits /kind/N.
func stressPath(path string) (kind string, n int) {
	kind, arg, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	n, _ = strconv.Atoi(arg)
	return kind, n
}

// stressBody is n bytes that only the request id and n give: an answer to another request, or
// with a part lost or repeated, does not match.
func stressBody(id string, n int) []byte {
	h := fnv.New64a()
	_, _ = io.WriteString(h, id) // a hash.Hash's Write never fails
	src := rand.NewPCG(h.Sum64(), uint64(n))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], src.Uint64())
	}
	return b[:n]
}

// stressReq is one request of a client and what its answer must be.
type stressReq struct {
	method, path, id string
	body             []byte // POST and PUT
	chunked          bool   // the body goes chunked (else with Content-Length)
	cookie           int    // size of a Cookie header; > 16 KiB does not fit the front end's buffer
	closeConn        bool   // Connection: close
	http10           bool
}

func (r *stressReq) String() string {
	s := fmt.Sprintf("%s %s (X-Req-Id %s", r.method, r.path, r.id)
	if r.body != nil {
		s += fmt.Sprintf(", %d-byte body", len(r.body))
		if r.chunked {
			s += " chunked"
		}
	}
	if r.cookie > 0 {
		s += fmt.Sprintf(", %d-byte Cookie", r.cookie)
	}
	if r.closeConn {
		s += ", Connection: close"
	}
	if r.http10 {
		s += ", HTTP/1.0"
	}
	return s + ")"
}

// closes: the server closes the connection after the answer.
func (r *stressReq) closes() bool { return r.closeConn || r.http10 }

func (r *stressReq) appendRaw(b []byte, rng *rand.Rand) []byte {
	proto := "HTTP/1.1"
	if r.http10 {
		proto = "HTTP/1.0"
	}
	b = fmt.Appendf(b, "%s %s %s\r\nHost: shop.example\r\nX-Req-Id: %s\r\nUser-Agent: stress\r\n", r.method, r.path, proto, r.id)
	if r.cookie > 0 {
		b = fmt.Appendf(b, "Cookie: big=%s\r\n", strings.Repeat("c", r.cookie))
	}
	if r.closeConn {
		b = append(b, "Connection: close\r\n"...)
	}
	switch {
	case r.body != nil && r.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n\r\n"...)
		for rest := r.body; len(rest) > 0; {
			part := rest[:min(len(rest), 1+rng.IntN(16<<10))]
			b = fmt.Appendf(b, "%x\r\n%s\r\n", len(part), part)
			rest = rest[len(part):]
		}
		return append(b, "0\r\n\r\n"...)
	case r.body != nil:
		b = fmt.Appendf(b, "Content-Length: %d\r\n\r\n", len(r.body))
		return append(b, r.body...)
	}
	return append(b, "\r\n"...)
}

// check says what is wrong with the answer to r, "" if nothing.
func (r *stressReq) check(resp *http.Response, body []byte) string {
	kind, n := stressPath(r.path)
	wantStatus := http.StatusOK
	if kind == "status" {
		wantStatus = n
	}
	if resp.StatusCode != wantStatus {
		return fmt.Sprintf("status %s, want %d; body %q", resp.Status, wantStatus, short(string(body)))
	}
	for k, want := range map[string]string{"X-Req-Id": r.id, "X-Path": r.path, "X-Method": r.method} {
		if got := resp.Header.Get(k); got != want {
			return fmt.Sprintf("%s %q, want %q: the answer belongs to another request", k, got, want)
		}
	}
	var want []byte
	switch {
	case r.method == http.MethodHead || kind == "status":
		wantLen := int64(-1)
		switch {
		case r.method == http.MethodHead && kind == "len":
			wantLen = int64(n)
		case r.method == http.MethodHead && kind == "head":
			wantLen = 4321
		}
		if wantLen >= 0 && resp.ContentLength != wantLen {
			return fmt.Sprintf("Content-Length %d, want %d", resp.ContentLength, wantLen)
		}
	case kind == "echo":
		want = fmt.Appendf(nil, "%x %d", sha256.Sum256(r.body), len(r.body))
	case kind == "head":
		want = stressBody(r.id, 4321)
	default:
		want = stressBody(r.id, n)
	}
	if bytes.Equal(body, want) {
		return ""
	}
	at := 0
	for at < min(len(body), len(want)) && body[at] == want[at] {
		at++
	}
	return fmt.Sprintf("body of %d bytes, want %d; first difference at byte %d", len(body), len(want), at)
}

// stressClient runs one client's operations on raw connections.
type stressClient struct {
	t     *testing.T
	index int
	addr  string
	inst  *stressInstance
	rng   *rand.Rand
	done  int // operations completed
	seq   int // request ids

	conn net.Conn // nil: none open
	tc   *trickleConn
	br   *bufio.Reader
}

// trickleConn reads at most max bytes at a time (0: no limit): a client that reads slowly.
type trickleConn struct {
	net.Conn
	max int
}

func (c *trickleConn) Read(b []byte) (int, error) {
	if c.max > 0 && len(b) > c.max {
		b = b[:c.max]
	}
	return c.Conn.Read(b)
}

func (c *stressClient) run() {
	for op := range stressOpsPerClient {
		what, err := c.operation()
		if err != nil {
			c.t.Errorf("seed %d, client %d, operation %d (%s): %v", stressSeed, c.index, op, what, err)
			c.drop()
			return
		}
		c.done++
		if c.conn != nil && c.rng.IntN(5) == 0 {
			c.drop()
		}
	}
}

func (c *stressClient) drop() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.tc, c.br = nil, nil, nil
	}
}

func (c *stressClient) connect() error {
	if c.conn != nil {
		return nil
	}
	d := net.Dialer{Timeout: stressWait}
	if c.rng.IntN(4) == 0 {
		d.Control = smallWindow
	}
	conn, err := d.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn, c.tc = conn, &trickleConn{Conn: conn}
	c.br = bufio.NewReader(c.tc)
	return nil
}

// smallWindow gives a connection a small receive buffer, so that the gateway's writes to it
// block midway. With loopback's 64 KiB segments, a receiver whose buffer is smaller than one
// segment announces its freed space only when the sender probes (at 0.2 s, 0.4 s, 0.8 s ...):
// the segment size is set to Ethernet's too, before the connection is made.
func smallWindow(_, _ string, rc syscall.RawConn) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		if err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10); err == nil {
			err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1460)
		}
	}); cerr != nil {
		return cerr
	}
	return err
}

// size is a body size up to 200 KiB, mostly small.
func (c *stressClient) size() int {
	switch c.rng.IntN(10) {
	case 0, 1, 2, 3, 4, 5:
		return c.rng.IntN(4<<10 + 1)
	case 6, 7, 8:
		return c.rng.IntN(32<<10 + 1)
	}
	return c.rng.IntN(200<<10 + 1)
}

func (c *stressClient) path(slow bool) string {
	n := c.size()
	switch c.rng.IntN(12) {
	case 0, 1, 2:
		return fmt.Sprintf("/len/%d", n)
	case 3, 4:
		return fmt.Sprintf("/chunk/%d", n)
	case 5, 6:
		return fmt.Sprintf("/stream/%d", n)
	case 7:
		return fmt.Sprintf("/close/%d", n)
	case 8:
		return "/head"
	case 9:
		return "/status/204"
	case 10:
		return "/status/304"
	}
	if slow {
		return fmt.Sprintf("/slow/%d", n)
	}
	return fmt.Sprintf("/len/%d", n)
}

func (c *stressClient) req(method, path string) *stressReq {
	c.seq++
	return &stressReq{method: method, path: path, id: fmt.Sprintf("c%02d-%04d", c.index, c.seq)}
}

// upload is a POST or PUT to /echo with a body.
func (c *stressClient) upload(chunked bool) *stressReq {
	r := c.req([]string{http.MethodPost, http.MethodPut}[c.rng.IntN(2)], "/echo")
	r.body = make([]byte, c.size())
	for i := range r.body {
		r.body[i] = byte(c.rng.IntN(256))
	}
	r.chunked = chunked
	return r
}

// operation does one random thing and describes it.
func (c *stressClient) operation() (string, error) {
	if err := c.connect(); err != nil {
		return "connect", err
	}
	if err := c.conn.SetDeadline(time.Now().Add(stressWait)); err != nil {
		return "set the deadline", err
	}
	switch k := c.rng.IntN(100); {
	case k < 30:
		r := c.req(http.MethodGet, c.path(true))
		switch c.rng.IntN(20) {
		case 0:
			r.closeConn = true
		case 1:
			r.http10 = true
		}
		return r.String(), c.exchange(r)
	case k < 38:
		r := c.req(http.MethodHead, c.path(true))
		return r.String(), c.exchange(r)
	case k < 48:
		r := c.upload(false)
		return r.String(), c.exchange(r)
	case k < 55:
		r := c.upload(true)
		return r.String(), c.exchange(r)
	case k < 67:
		reqs := make([]*stressReq, 2+c.rng.IntN(2))
		var what []string
		for i := range reqs {
			switch c.rng.IntN(5) {
			case 0, 1:
				reqs[i] = c.upload(c.rng.IntN(2) == 0)
			case 2:
				reqs[i] = c.req(http.MethodHead, c.path(true))
			default:
				reqs[i] = c.req(http.MethodGet, c.path(true))
			}
			what = append(what, reqs[i].String())
		}
		return "pipelined " + strings.Join(what, ", "), c.exchange(reqs...)
	case k < 75:
		return c.abort()
	case k < 80:
		r := c.req([]string{http.MethodGet, http.MethodHead}[c.rng.IntN(2)], c.path(true))
		r.cookie = 20 << 10
		return r.String(), c.exchange(r)
	case k < 90:
		r := c.req(http.MethodGet, c.path(false))
		tc := c.tc
		tc.max = 1 + c.rng.IntN(256)
		defer func() { tc.max = 0 }()
		return fmt.Sprintf("%s read %d bytes at a time", r, tc.max), c.exchange(r)
	default:
		r := c.req(http.MethodGet, fmt.Sprintf("/slow/%d", c.size()))
		return r.String(), c.exchange(r)
	}
}

// abort sends a request and closes the connection before reading its answer, or after its
// first bytes.
func (c *stressClient) abort() (string, error) {
	defer c.drop()
	var r *stressReq
	if c.rng.IntN(3) == 0 {
		r = c.upload(c.rng.IntN(2) == 0)
	} else {
		r = c.req(http.MethodGet, c.path(true))
	}
	// No gate for a /slow request: the instance holds it until the gateway cancels it.
	if err := <-c.send(r.appendRaw(nil, c.rng)); err != nil {
		return "abort " + r.String(), err
	}
	if r.method != http.MethodGet || strings.HasPrefix(r.path, "/slow/") || c.rng.IntN(2) == 0 {
		return "abort before the answer " + r.String(), nil
	}
	what := "abort within the answer " + r.String()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: r.method})
	if err != nil {
		return what, fmt.Errorf("reading the answer head: %w", err)
	}
	if id := resp.Header.Get("X-Req-Id"); id != r.id {
		return what, fmt.Errorf("X-Req-Id %q: the answer belongs to another request", id)
	}
	// A part of the body (less where it is shorter): the abort is what is tested.
	_, _ = io.ReadFull(resp.Body, make([]byte, c.rng.IntN(8<<10)))
	return what, nil
}

// send writes b while the caller reads: a pipelined client that did not read until it had
// written everything could block the server's writes, and with them its reads.
func (c *stressClient) send(b []byte) <-chan error {
	sent := make(chan error, 1)
	go func(conn net.Conn) {
		_, err := conn.Write(b)
		sent <- err
	}(c.conn)
	return sent
}

// exchange sends reqs in one write and checks their answers in order. A lone /slow request is
// answered once the instance has it; in a pipeline, whenever it gets there.
func (c *stressClient) exchange(reqs ...*stressReq) error {
	var raw []byte
	var lone *slowGate
	for _, r := range reqs {
		if strings.HasPrefix(r.path, "/slow/") {
			g := &slowGate{arrived: make(chan struct{}), release: make(chan struct{})}
			if len(reqs) > 1 {
				close(g.release)
			} else {
				lone = g
			}
			c.inst.gates.Store(r.id, g)
			defer c.inst.gates.Delete(r.id)
		}
		raw = r.appendRaw(raw, c.rng)
	}
	sent := c.send(raw)
	if lone != nil {
		timer := time.NewTimer(stressWait)
		select {
		case <-lone.arrived:
			timer.Stop()
			close(lone.release)
		case <-timer.C:
			close(lone.release)
			return fmt.Errorf("the slow request did not reach the instance within %v", stressWait)
		}
	}
	for i, r := range reqs {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: r.method})
		if err != nil {
			return fmt.Errorf("answer %d (to %s): head: %w", i+1, r, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("answer %d (to %s): body after %d bytes: %w", i+1, r, len(body), err)
		}
		if wrong := r.check(resp, body); wrong != "" {
			return fmt.Errorf("answer %d (to %s): %s", i+1, r, wrong)
		}
		if r.closes() {
			if !resp.Close {
				return fmt.Errorf("answer %d (to %s): the answer does not say the connection closes", i+1, r)
			}
			if b, err := c.br.ReadByte(); err != io.EOF {
				return fmt.Errorf("answer %d (to %s): want the connection closed after it, got byte %q, error %v", i+1, r, b, err)
			}
		}
	}
	if err := <-sent; err != nil {
		return fmt.Errorf("writing the requests: %w", err)
	}
	if reqs[len(reqs)-1].closes() {
		c.drop()
	} else if n := c.br.Buffered(); n > 0 {
		extra, _ := c.br.Peek(n)
		return fmt.Errorf("%d bytes after the last answer: %q", n, short(string(extra)))
	}
	return nil
}
