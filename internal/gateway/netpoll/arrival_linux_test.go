package netpoll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// testArrivals is an arrival-order set for one test, closed after it.
func testArrivals(t *testing.T) *Arrivals {
	t.Helper()
	set := NewArrivals()
	if !set.Enabled() {
		t.Fatalf("no arrival-order set on Linux: %v", set.Err())
	}
	t.Cleanup(func() {
		if err := set.Close(); err != nil {
			t.Errorf("closing the arrival-order set: %v", err)
		}
	})
	return set
}

// isTimeout: err is a deadline's (os.ErrDeadlineExceeded, as net.Conn's).
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// socketPair returns the two ends of a loopback TCP connection: ours (with a waiter in a set of
// the test's own, as the front end makes them) and the peer's.
func socketPair(t *testing.T, mayRead bool) (*Waiter, net.Conn, net.Conn) {
	t.Helper()
	return socketPairIn(t, testArrivals(t), mayRead)
}

// socketPairIn is socketPair with the waiter in set.
func socketPairIn(t *testing.T, set *Arrivals, mayRead bool) (*Waiter, net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	ours, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	sc, ok := ours.(syscall.Conn)
	if !ok {
		t.Fatalf("an accepted %T has no descriptor", ours)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	w := set.NewWaiter(raw, mayRead)
	if w == nil {
		t.Fatal("no arrival-order waiter on Linux")
	}
	t.Cleanup(func() { w.Release(); ours.Close(); peer.Close() })
	return w, ours, peer
}

// readWithin reads once, with no deadline: only a wake-up ends the wait, so a lost one shows
// as a read that never returns (the guard's 10 s are for that, not a timing target).
func readWithin(t *testing.T, w *Waiter, buf []byte) (int, error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := w.Read(buf)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-time.After(10 * time.Second):
		w.Interrupt()
		<-done
		t.Fatal("the read still waits with data or a close to read: a wake-up was lost")
		return 0, nil
	}
}

// readToEOF reads with a bufSize buffer until the peer's close and returns what it read.
func readToEOF(t *testing.T, w *Waiter, bufSize int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, bufSize)
	for {
		n, err := readWithin(t, w, buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

// The peer's data and its close can arrive before the first read, in one wake-up: the read
// returns the data without showing the close, and no later wake-up comes. The waiter must read
// again on its own (instances that end an answer by closing rely on it).
func TestWaiterSeesCloseThatCameWithTheData(t *testing.T) {
	for _, mayRead := range []bool{false, true} {
		w, _, peer := socketPair(t, mayRead)
		if _, err := peer.Write([]byte("the whole answer")); err != nil {
			t.Fatal(err)
		}
		peer.Close()
		if got := readToEOF(t, w, 64); string(got) != "the whole answer" {
			t.Fatalf("read %q", got)
		}
	}
}

// Every byte the peer sends is read, whatever the sizes of its writes and of the reader's buffer.
func TestWaiterReadsEverythingSent(t *testing.T) {
	w, _, peer := socketPair(t, false)
	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	go func() {
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 1+len(rest)%7919)
			if _, err := peer.Write(rest[:n]); err != nil {
				t.Errorf("the peer's write: %v", err)
				break
			}
			rest = rest[n:]
		}
		peer.Close()
	}()
	got := readToEOF(t, w, 1000)
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d (equal prefix %d)", len(got), len(want), commonPrefix(got, want))
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func TestWaiterDeadlineEndsTheWait(t *testing.T) {
	w, _, _ := socketPair(t, true)
	w.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := w.Read(make([]byte, 8)); !isTimeout(err) {
		t.Fatalf("read on a silent socket past its deadline: %v, want a timeout", err)
	}
	w.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := w.Read(make([]byte, 8)); !isTimeout(err) {
		t.Fatalf("read with a deadline in the past: %v, want a timeout", err)
	}
}

// A deadline that passes while its reader does not wait, the timer's wake-up taken by another
// look at the socket (the pool's IdleQuiet), still ends the reader's next wait: the waiter keeps
// that its timer ran (Wait reads the clock only then).
func TestWaiterDeadlinePassedBetweenWaitsEndsTheNextWait(t *testing.T) {
	w, _, peer := socketPair(t, true)
	w.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := peer.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := w.Read(buf); n != 1 || err != nil {
		t.Fatalf("read of the peer's byte before the deadline: %d bytes, %v", n, err)
	}
	for len(w.wake) == 0 { // until the deadline's timer has run and left its wake-up
		runtime.Gosched()
	}
	if !w.IdleQuiet(false) {
		t.Fatal("IdleQuiet: the socket has nothing to read, want quiet")
	}
	if len(w.wake) != 0 {
		t.Fatal("IdleQuiet left the timer's wake-up")
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Read(buf)
		done <- err
	}()
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("read after the deadline passed: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read still waits 10 s after its deadline passed")
	}
}

// A socket closed by another goroutine (Shutdown) wakes its reader, whose read then fails.
func TestWaiterInterruptEndsTheWaitOfAClosedSocket(t *testing.T) {
	w, ours, _ := socketPair(t, true)
	done := make(chan error, 1)
	go func() {
		_, err := w.Read(make([]byte, 8))
		done <- err
	}()
	ours.Close()
	w.Interrupt()
	select {
	case err := <-done:
		if err == nil || isTimeout(err) {
			t.Fatalf("read of a closed socket: %v, want its close", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read still waits after its socket was closed and the waiter interrupted")
	}
}

// After release (park, hand-off), the next wait puts the socket back into the set.
func TestWaiterReadsAgainAfterRelease(t *testing.T) {
	w, _, peer := socketPair(t, true)
	buf := make([]byte, 16)
	if _, err := peer.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if n, err := readWithin(t, w, buf); err != nil || string(buf[:n]) != "one" {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	w.Release()
	if w.registered {
		t.Fatal("still registered after release")
	}
	if _, err := peer.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	if n, err := readWithin(t, w, buf); err != nil || string(buf[:n]) != "two" {
		t.Fatalf("read after release: %q, %v", buf[:n], err)
	}
}

// write writes all of a buffer far larger than the socket's, waiting while the peer is slow.
func TestWaiterWritesAllToASlowReader(t *testing.T) {
	w, ours, peer := socketPair(t, true)
	want := bytes.Repeat([]byte("vamp"), 2<<20) // 8 MiB
	got := readAll(peer)
	n, err := w.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("write: %d of %d bytes, %v", n, len(want), err)
	}
	ours.Close()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, want %d", len(b), len(want))
	}
	if _, err := w.Write([]byte("x")); err == nil || errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("write on a closed socket: %v, want its close", err)
	}
}

// ownedPair is socketPair with our end owned by the front end (as a connection to an instance).
func ownedPair(t *testing.T) (*Waiter, *OwnedSocket, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialled, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sock, err := OwnSocket(dialled)
	if err != nil {
		t.Fatal(err)
	}
	w := testArrivals(t).NewWaiter(sock, false)
	t.Cleanup(func() { w.Release(); sock.Close(); peer.Close() })
	return w, sock, peer
}

// An owned socket reads as any other, and its writes wait for room in its own epoll set: 8 MiB
// to a slow reader arrive whole, and the socket is the only one left open after its net.Conn
// was closed.
func TestOwnedSocketReadsAndWritesWithoutTheRuntimesPoller(t *testing.T) {
	w, sock, peer := ownedPair(t)
	if _, err := peer.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := readWithin(t, w, buf); err != nil || string(buf[:n]) != "answer" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
	want := bytes.Repeat([]byte("vamp"), 2<<20)
	got := readAll(peer)
	if n, err := w.Write(want); err != nil || n != len(want) {
		t.Fatalf("write: %d of %d bytes, %v", n, len(want), err)
	}
	w.Release()
	sock.Close()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, want %d", len(b), len(want))
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write on a closed owned socket succeeded")
	}
}

// readAll reads conn in 4 KiB pieces until it ends and then sends what it read.
func readAll(conn net.Conn) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		chunk := make([]byte, 4096)
		for {
			n, err := conn.Read(chunk)
			b.Write(chunk[:n])
			if err != nil {
				got <- b.Bytes()
				return
			}
		}
	}()
	return got
}

// TestConnQuietSeesBytesAndClose: the peek used where no waiter watches the socket.
func TestConnQuietSeesBytesAndClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(net.Conn) error
	}{
		{"stray bytes", func(c net.Conn) error { _, err := io.WriteString(c, "x"); return err }},
		{"closed", func(c net.Conn) error { return c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ours, peer := socketPair(t, false)
			if !ConnQuiet(ours) {
				t.Fatal("a connection with nothing on it is not quiet")
			}
			if err := tc.then(peer); err != nil {
				t.Fatal(err)
			}
			// Polled: the peer's bytes or close reach our socket soon, not at once.
			for deadline := time.Now().Add(10 * time.Second); ConnQuiet(ours); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("waited 10s for ConnQuiet to see it")
				}
			}
		})
	}
}

// TestDataRoundOnlyAfterADrainAndAWakeUp: DataRound names a round of the dispatcher only for
// bytes read after the socket was drained and a round that began after the drain woke the
// waiter (then that round is Harvested soon); bytes read without such a wake-up (a new socket's
// first read, the rest after a read that filled the buffer) have none.
func TestDataRoundOnlyAfterADrainAndAWakeUp(t *testing.T) {
	set := testArrivals(t)
	w, ours, peer := socketPairIn(t, set, true)
	if _, err := io.WriteString(peer, "abcd"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ConnQuiet(ours); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("waited 10s for the bytes to arrive")
		}
	}
	small, big := make([]byte, 2), make([]byte, 64)
	if n, err := readWithin(t, w, small); n != 2 || err != nil || w.DataRound() != 0 {
		t.Fatalf("first read: %d %v, round %d (want none: no wake-up)", n, err, w.DataRound())
	}
	if n, err := readWithin(t, w, big); string(big[:n]) != "cd" || err != nil || w.DataRound() != 0 {
		t.Fatalf("the rest: %q %v, round %d (want none: read after a full buffer)", big[:n], err, w.DataRound())
	}
	if _, err := io.WriteString(peer, "efgh"); err != nil { // after the drain: only a wake-up brings it
		t.Fatal(err)
	}
	n, err := readWithin(t, w, big)
	if string(big[:n]) != "efgh" || err != nil {
		t.Fatalf("read after the drain: %q %v", big[:n], err)
	}
	round := w.DataRound()
	if round == 0 {
		t.Fatal("bytes read after a drain and a wake-up have no round")
	}
	for deadline := time.Now().Add(10 * time.Second); !set.Harvested(round); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("round %d not handled in full after 10s", round)
		}
	}
}

// TestAfterRoundRunsAtTheEndOfTheNextRound: a round asked for comes without any socket event (the
// set's eventfd), and the function runs at its end with a round that covers what was there when
// it was asked for.
func TestAfterRoundRunsAtTheEndOfTheNextRound(t *testing.T) {
	a := NewArrivals()
	t.Cleanup(func() { a.Close() })
	ran := make(chan uint64, 8)
	a.SetAfterRound(func(round uint64) { ran <- round })
	if !a.Enabled() {
		t.Fatalf("no epoll set: %v", a.Err())
	}
	for range 3 {
		want := a.NextRound()
		if !a.AfterRound() {
			t.Fatal("AfterRound = false on an open set")
		}
		select {
		case round := <-ran:
			if round < want || !a.Harvested(round) {
				t.Fatalf("ran after round %d (harvested: %v), want round %d or later, harvested", round, a.Harvested(round), want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no round ran: nothing but AfterRound's eventfd was in the set")
		}
	}
}

// TestCloseRunsWhatWaitsForARound: a round asked for and not come by Close runs the function at
// Close, with the largest round (it covers everything); after Close nothing is asked for.
func TestCloseRunsWhatWaitsForARound(t *testing.T) {
	a := NewArrivals()
	var rounds []uint64
	a.SetAfterRound(func(round uint64) { rounds = append(rounds, round) })
	if !a.Enabled() {
		t.Fatalf("no epoll set: %v", a.Err())
	}
	// Asked for, and not come: nothing is in the set (no socket, and the eventfd not written),
	// so no round runs before Close.
	a.asked.Store(true)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{^uint64(0)}; !slices.Equal(rounds, want) {
		t.Fatalf("the function ran with %v at Close, want %v", rounds, want)
	}
	if a.AfterRound() {
		t.Fatal("AfterRound = true on a closed set: no round will come")
	}
}
