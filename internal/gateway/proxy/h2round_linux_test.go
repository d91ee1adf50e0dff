package proxy

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// roundProxy is a proxy with an arrival-order set of its own whose rounds start the pending
// HTTP/2 streams, as New sets it up, and a stream channel that keeps what is started.
func roundProxy(t *testing.T) *Proxy {
	t.Helper()
	p := &Proxy{streams: make(chan *h2Stream, 16), arrivals: netpoll.NewArrivals()}
	p.arrivals.SetAfterRound(p.startPending)
	t.Cleanup(func() { p.arrivals.Close() })
	if !p.arrivals.Enabled() {
		t.Fatalf("no arrival-order set on Linux: %v", p.arrivals.Err())
	}
	return p
}

// takeStarted returns the n streams started next, with whether the round they were read before had
// been harvested when each was started.
func takeStarted(t *testing.T, p *Proxy, n int) (ids []uint32, harvested []bool) {
	t.Helper()
	for range n {
		select {
		case st := <-p.streams:
			ids = append(ids, st.id)
			harvested = append(harvested, p.arrivals.Harvested(st.seenRound))
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d streams started", len(ids), n)
		}
	}
	return ids, harvested
}

// TestH2StreamsStartAfterTheirRound: the streams of a read start at the end of the dispatcher's
// next round, in their order, so that each takes its instance connection with that round's report
// (before, they started at once and each ran a round of its own, or looked).
func TestH2StreamsStartAfterTheirRound(t *testing.T) {
	p := roundProxy(t)
	h := &h2Conn{s: &Server{p: p}}
	for id := uint32(1); id <= 7; id += 2 {
		h.opened = append(h.opened, &h2Stream{id: id, seenRound: p.arrivals.NextRound()})
	}
	h.startOpened()
	if len(h.opened) != 0 {
		t.Fatalf("%d streams left to start", len(h.opened))
	}
	ids, harvested := takeStarted(t, p, 4)
	if want := []uint32{3, 5, 7, 1}; !slices.Equal(ids, want) {
		t.Fatalf("streams started in the order %v, want %v (the first one last)", ids, want)
	}
	if slices.Contains(harvested, false) {
		t.Fatalf("round harvested when the streams %v started: %v, want all", ids, harvested)
	}
}

// TestH2StreamReadDuringARoundWaitsForTheNext: a stream read while a round ran (on another
// thread) is not started by that round's end, but by the next one's.
func TestH2StreamReadDuringARoundWaitsForTheNext(t *testing.T) {
	p := roundProxy(t)
	late := &h2Stream{id: 1, seenRound: p.arrivals.NextRound() + 1000}
	p.pending = append(p.pending, late)
	p.startPending(late.seenRound - 1)
	if len(p.streams) != 0 {
		t.Fatal("a stream started by a round that began before it was read")
	}
	p.pendMu.Lock()
	still := slices.Contains(p.pending, late)
	p.pendMu.Unlock()
	if !still {
		t.Fatal("the stream is no longer pending")
	}
	p.startPending(late.seenRound)
	if ids, _ := takeStarted(t, p, 1); ids[0] != 1 {
		t.Fatalf("started stream %d, want 1", ids[0])
	}
}

// TestH2StreamsStartAtOnceWithoutRounds: once the set is closed no round comes, and streams start
// at once (a Proxy's Close closes it after its servers, whose streams must still end).
func TestH2StreamsStartAtOnceWithoutRounds(t *testing.T) {
	p := roundProxy(t)
	if err := p.arrivals.Close(); err != nil {
		t.Fatal(err)
	}
	h := &h2Conn{s: &Server{p: p}}
	h.opened = append(h.opened, &h2Stream{id: 1}, &h2Stream{id: 3})
	h.startOpened()
	if len(p.streams) != 2 {
		t.Fatalf("%d of 2 streams started on a closed set", len(p.streams))
	}
}

// TestH2StreamResetBeforeItStartsEndsAtOnce: a stream the client resets while it waits for its
// round (startAfterRound) ends when it starts: its instance is not dialled, nothing is written for
// it (its reset was the client's), and the connection counts no stream goroutine any more.
func TestH2StreamResetBeforeItStartsEndsAtOnce(t *testing.T) {
	inst := rawInstance(t, func(conn net.Conn) { conn.Close() })
	srv, p, _ := startServer(t, Options{}, ServerOptions{}, inst)
	gw, client := net.Pipe()
	t.Cleanup(func() { gw.Close(); client.Close() })
	h := newH2Conn(&clientConn{s: srv}, gw)
	st := &h2Stream{h: h, id: 1, declared: -1, method: "GET", scheme: "http", path: "/", authority: "shop.example"}
	h.mu.Lock()
	h.streams[st.id], h.maxID, h.running = st, st.id, 1
	// The client's RST_STREAM, as process handles it, before the stream's round came.
	h.endStream(st)
	st.cancel()
	h.mu.Unlock()
	st.run() // what its worker does once the round starts it
	if dials := p.InstancePool().Dials.Load(); dials != 0 {
		t.Fatalf("%d dials to the instance for a stream reset before it started, want 0", dials)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running != 0 || len(h.streams) != 0 {
		t.Fatalf("after the stream ended: %d stream goroutines counted, %d streams open; want 0 and 0", h.running, len(h.streams))
	}
	if len(h.out) != 0 {
		t.Fatalf("%d bytes written for a stream the client reset, want none", len(h.out))
	}
}
