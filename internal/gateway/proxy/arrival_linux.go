package proxy

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Arrival order: the front end's sockets (clients' and instances') wait for data in one epoll
// set of the gateway's own, and their goroutines are woken in the order the data arrived, the
// way an event loop such as HAProxy's serves them.
//
// Why not the runtime's poller: it hands each batch of ready goroutines to the scheduler in
// reverse order, so at saturation the request whose data came first in a batch waits longest,
// twice per exchange (request, then answer). The median does not move but the tail doubles:
// p99 was 1.8x HAProxy's at the same throughput (docs/benchmarks.md). Served in arrival order,
// every wait is about one batch long.
//
// The sockets are the front end's own (owned_linux.go): duplicated from the accepted or dialled
// net.Conn, which is then closed, so the runtime's poller no longer sees them and every byte
// that arrives wakes one epoll set, not two. A socket that could not be owned stays with its
// net.Conn; its writes then wait in the runtime's poller, and its reads still wait here.

// arrivals is the epoll set and the waiters registered in it, by descriptor.
type arrivals struct {
	once    sync.Once
	epfd    int
	rc      syscall.RawConn // the epoll descriptor, in the runtime's poller
	mu      sync.RWMutex
	waiters map[int32]*waiter
	// round counts the dispatcher's rounds: one per readiness of the set, its epoll_pwait calls
	// until one returns less than a full batch (the set's ready list was empty then). done is
	// the last round whose every event was handled: flags set, waiters signalled (harvested).
	round, done atomic.Uint64
}

var arrivalSet arrivals

// arrivalOrder reports whether reads wait in arrival order (false: the epoll set could not be
// made, and reads wait in the runtime's poller).
func arrivalOrder() bool {
	arrivalSet.once.Do(arrivalSet.start)
	return arrivalSet.rc != nil
}

func (a *arrivals) start() {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return
	}
	// Non-blocking, so that os.NewFile puts it in the runtime's poller: the dispatcher's
	// goroutine then waits for it like any socket's, without holding a thread.
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return
	}
	rc, err := os.NewFile(uintptr(epfd), "vamp-gateway-arrivals").SyscallConn()
	if err != nil {
		syscall.Close(epfd)
		return
	}
	a.epfd, a.rc, a.waiters = epfd, rc, map[int32]*waiter{}
	go a.dispatch()
}

// dispatch wakes the goroutines whose sockets have data, in the order the data came.
//
// It stays inside one RawConn.Read for good, its callback never reporting success: between a
// batch and the next epoll_wait it waits for the runtime's poller to see new events in the set
// (which the runtime learns at its next poll, once the goroutines just woken have run) instead
// of asking the set again straight away, which at saturation found it empty almost every time
// and cost one system call in three. Nothing is lost that way: RawConn.Read clears the
// runtime's readiness only when it starts, and every event added to the set after an
// epoll_wait wakes the runtime's poller again.
func (a *arrivals) dispatch() {
	events := make([]syscall.EpollEvent, 256)
	woken := make([]*waiter, 0, len(events))
	batch := func(fd uintptr) bool {
		round := a.round.Add(1)
		for {
			// Raw: a zero timeout never blocks, so the scheduler need not know (see readOnce).
			r, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
			n := int(r)
			if errno != 0 || n <= 0 {
				a.done.Store(round)
				return false
			}
			woken = a.wake(events[:n], woken, round)
			// A full batch may have left events behind, and those wake the runtime no more.
			if n < len(events) {
				a.done.Store(round)
				return false
			}
		}
	}
	for {
		if err := a.rc.Read(batch); err != nil {
			panic("vamp gateway: the arrival-order epoll set failed: " + err.Error())
		}
	}
}

// wake signals the waiters of a batch of events of the given round, the first arrival last.
// woken is scratch space, returned empty for the next batch.
func (a *arrivals) wake(events []syscall.EpollEvent, woken []*waiter, round uint64) []*waiter {
	a.mu.RLock()
	for _, ev := range events {
		if w := a.waiters[ev.Fd]; w != nil {
			if w.pooled.Load() && w.pooled.CompareAndSwap(true, false) {
				go w.onIdleEvent()
			}
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				w.peerClosed.Store(true)
			}
			if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && w.writeWaiting.Load() {
				select {
				case w.writeWake <- struct{}{}:
				default:
				}
			}
			if ev.Events&^syscall.EPOLLOUT != 0 {
				woken = append(woken, w)
			}
		}
	}
	a.mu.RUnlock()
	if len(woken) == 0 {
		return woken
	}
	// A goroutine made ready goes into the scheduler's next-to-run slot and pushes the one
	// there to the back of the run queue: the last woken runs first, the others then in the
	// order woken. So the first arrival is woken last.
	// Every flag of the batch is set before the first signal (waiter.dataRound).
	for _, w := range woken {
		w.signalRound.Store(round)
	}
	for _, w := range woken[1:] {
		w.signal()
	}
	woken[0].signal()
	clear(woken)
	return woken[:0]
}

// waiter reads one socket and waits for it in arrival order. Only the goroutine that owns the
// socket calls its methods, except interrupt.
type waiter struct {
	raw syscall.RawConn
	fd  int32
	// registered: the socket is in the epoll set (added at its first wait).
	registered bool
	// mayRead: data may be there without a wake-up: nothing read yet, the last read filled the
	// buffer, or a wake-up came since. A read that leaves data behind is always followed by
	// one, and one that finds nothing is not needed: the next wake-up says when to read.
	mayRead bool
	// peerClosed: the peer closed or reset the connection. A read that returns data does not
	// show that, and its wake-up may have been the one before; so after it, reads go on.
	peerClosed atomic.Bool
	wake       chan struct{} // one pending wake-up at most
	// writeWake is non-nil when the socket is the front end's alone (owned_linux.go): its
	// writes wait here too, on writeWake, while writeWaiting says that one does.
	writeWake    chan struct{}
	writeWaiting atomic.Bool
	// pooled: the socket is an idle instance connection in its pool. Bytes or a close that come
	// then answer no request: the dispatcher calls onIdleEvent (set before the first wait), which
	// takes the connection out of its pool at once, as HAProxy does with an idle connection that
	// becomes readable.
	pooled      atomic.Bool
	onIdleEvent func()
	// The dispatcher's rounds (arrivals.round) the socket's data was seen in, for dataRound:
	// signalRound is the last round that signalled the waiter (set by the dispatcher), wokeRound
	// what it was when the last wait ended, drainRound what arrivals.round was right after the
	// last read that left the socket empty (drained: it found nothing, or less than it could take).
	signalRound           atomic.Uint64
	wokeRound, drainRound uint64
	drained               bool
	// dataSeen: see dataRound.
	dataSeen uint64
	// deadline ends a wait (zero: none); timer wakes the waiter at it.
	deadline time.Time
	timer    *time.Timer

	// The read and the write in progress, for readFn and writeFn (method values made once, so
	// that neither allocates).
	readFn   func(fd uintptr) bool
	readBuf  []byte
	readN    int
	readErr  error
	writeFn  func(fd uintptr) bool
	writeBuf []byte
	writeN   int
	writeErr error
}

// epollET is EPOLLET as the uint32 that EpollEvent.Events is (syscall's constant is negative).
const epollET = 1 << 31

// errWouldBlock: the socket has nothing to read now.
var errWouldBlock = syscall.EAGAIN

// newWaiter returns a waiter for the socket behind raw, or nil when reads are to wait in the
// runtime's poller (no arrival order here, or no descriptor).
func newWaiter(raw syscall.RawConn, mayRead bool) *waiter {
	if raw == nil || !arrivalOrder() {
		return nil
	}
	w := &waiter{raw: raw, fd: -1, mayRead: mayRead, wake: make(chan struct{}, 1)}
	raw.Control(func(fd uintptr) { w.fd = int32(fd) })
	if w.fd < 0 {
		return nil
	}
	w.readFn, w.writeFn = w.readOnce, w.writeOnce
	if s, ok := raw.(*ownedSocket); ok {
		w.writeWake, s.w = make(chan struct{}, 1), w
	}
	return w
}

// signal wakes the waiter, or leaves a wake-up for its next wait.
func (w *waiter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// interrupt wakes a waiter whose socket another goroutine has closed, so that its next read
// fails instead of its wait lasting to the deadline. Safe on nil.
func (w *waiter) interrupt() {
	if w != nil {
		w.signal()
	}
}

// watchIdle makes evict run when something arrives on the socket while it is pooled
// (setPooled); call it before the socket's first wait. Safe on nil.
func (w *waiter) watchIdle(evict func()) {
	if w != nil {
		w.onIdleEvent = evict
	}
}

// setPooled says whether the socket is an idle pooled connection (see pooled). Safe on nil.
func (w *waiter) setPooled(pooled bool) {
	if w != nil && w.onIdleEvent != nil {
		w.pooled.Store(pooled)
	}
}

// idleHint reports whether something may have arrived on the socket since its last read (its
// owner asks). Safe on nil.
func (w *waiter) idleHint() bool {
	return w != nil && (w.mayRead || len(w.wake) > 0 || w.peerClosed.Load())
}

// claimPooled takes the eviction of a pooled socket on itself (false: it was not pooled, or the
// dispatcher took it).
func (w *waiter) claimPooled() bool { return w.pooled.CompareAndSwap(true, false) }

// idleQuiet reports whether nothing arrived on an idle socket since its last read: the epoll
// set kept watching it, so with no wake-up pending, no close seen and no data left behind by the
// last read (mayRead) there is nothing, without a system call. Otherwise, or with look, one
// non-blocking read says (its byte, if any, is lost with the connection, which is then closed).
func (w *waiter) idleQuiet(look bool) bool {
	if w.peerClosed.Load() {
		return false
	}
	select {
	case <-w.wake:
		w.mayRead = true
	default:
	}
	if !look && !w.mayRead && w.registered {
		return true
	}
	var one [1]byte
	_, err := w.tryRead(one[:])
	return err == errWouldBlock
}

// tryRead reads once without waiting; errWouldBlock: nothing there.
func (w *waiter) tryRead(buf []byte) (int, error) {
	w.readBuf, w.readN, w.readErr = buf, 0, nil
	err := w.raw.Read(w.readFn)
	w.readBuf = nil
	if err != nil {
		return 0, err // closed
	}
	w.mayRead = w.readErr == nil && (w.readN == len(buf) || w.peerClosed.Load())
	if w.readN > 0 {
		// Every byte read now arrived after the drain; a round that began after the drain and
		// signalled the waiter saw (some of) them in the socket.
		w.dataSeen = 0
		if w.drained && w.wokeRound > w.drainRound {
			w.dataSeen = w.wokeRound
		}
	}
	w.drained = w.readErr == errWouldBlock || (w.readErr == nil && w.readN < len(buf))
	if w.drained {
		w.drainRound = arrivalSet.round.Load()
	}
	return w.readN, w.readErr
}

// dataRound is, for the last read that returned data, a round of the dispatcher that reported
// the first of those bytes in the socket (0: none is known: they came before the socket was
// drained last, or were read without a wake-up from such a round). Safe on nil.
//
// What it is for (upstreamConn.quietTaken): bytes that arrived on an idle pooled connection
// before those were in the epoll set's ready list no later, so that round reported them too,
// and once it is harvested they left their mark (a wake-up, a close, the pool's eviction).
func (w *waiter) dataRound() uint64 {
	if w == nil {
		return 0
	}
	return w.dataSeen
}

// harvested reports whether the dispatcher has handled every event of round (see dataRound).
func harvested(round uint64) bool { return round != 0 && arrivalSet.done.Load() >= round }

// unpool ends the socket's time in its pool, reporting whether it was still pooled: false
// means the dispatcher (or the pool itself) claimed an event on it meanwhile. Safe on nil.
func (w *waiter) unpool() bool { return w != nil && w.pooled.Swap(false) }

// readOnce and writeOnce call recvfrom(2) and sendto(2) raw, without telling the scheduler: on
// a non-blocking socket neither blocks, and at two of each per request, the scheduler's
// bookkeeping around a syscall (and the runtime's monitor taking the processor away from a long
// loopback write) cost more than the calls themselves. Not read(2) and write(2): those go
// through the file layer's checks and notifications first, which cost the gateway 2.5% of its
// requests/s (docs/benchmarks.md). MSG_NOSIGNAL: a client that went away makes the write fail
// with EPIPE, without a SIGPIPE for the runtime to field.
func (w *waiter) readOnce(fd uintptr) bool {
	if len(w.readBuf) == 0 {
		return true
	}
	for {
		r, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&w.readBuf[0])), uintptr(len(w.readBuf)), 0, 0, 0)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			w.readErr = errno
		case r == 0:
			w.readErr = io.EOF
		default:
			w.readN = int(r)
		}
		return true
	}
}

// write writes all of b; when the socket's buffer is full it waits for room (in this set for an
// owned socket, in the runtime's poller for one that net.Conn still owns).
func (w *waiter) write(b []byte) (int, error) {
	w.writeBuf, w.writeN, w.writeErr = b, 0, nil
	err := w.raw.Write(w.writeFn)
	w.writeBuf = nil
	if err == nil {
		err = w.writeErr
	}
	return w.writeN, err
}

func (w *waiter) writeOnce(fd uintptr) bool {
	for w.writeN < len(w.writeBuf) {
		rest := w.writeBuf[w.writeN:]
		r, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)), syscall.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			w.writeN += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			w.writeErr = errno
			return true
		}
	}
	return true
}

// read reads what the socket has, waiting for it until the deadline.
func (w *waiter) read(buf []byte) (int, error) {
	for {
		if w.mayRead {
			n, err := w.tryRead(buf)
			if err != errWouldBlock {
				return n, err
			}
		}
		if err := w.wait(); err != nil {
			return 0, err
		}
	}
}

// wait waits for a wake-up: data, the client's close, an interrupt or the deadline. It returns
// os.ErrDeadlineExceeded once the deadline has passed.
func (w *waiter) wait() error {
	if !w.deadline.IsZero() && !time.Now().Before(w.deadline) {
		return os.ErrDeadlineExceeded
	}
	if !w.registered {
		if err := arrivalSet.add(w); err != nil {
			return err
		}
	}
	<-w.wake
	w.mayRead = true
	w.wokeRound = w.signalRound.Load()
	return nil
}

// waitWritable waits for an owned socket to take more bytes (no deadline: as net.Conn's Write
// without one).
func (w *waiter) waitWritable() error {
	if !w.registered {
		if err := arrivalSet.add(w); err != nil {
			return err
		}
	}
	<-w.writeWake
	return nil
}

// setDeadline sets when waits end (zero: never), like net.Conn's SetReadDeadline.
func (w *waiter) setDeadline(t time.Time) {
	w.deadline = t
	switch {
	case t.IsZero():
		if w.timer != nil {
			w.timer.Stop()
		}
	case w.timer == nil:
		w.timer = time.AfterFunc(time.Until(t), w.signal)
	default:
		w.timer.Reset(time.Until(t))
	}
}

// release takes the socket out of the epoll set and stops the timer: before the socket is
// closed or handed to other code (net/http, the parker). Its next wait adds it again. Safe on
// nil, and after the socket was closed.
func (w *waiter) release() {
	if w == nil {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.deadline = time.Time{}
	w.mayRead = true
	w.drained, w.dataSeen = false, 0
	w.peerClosed.Store(false) // the next wait's registration reports it again
	if w.registered {
		arrivalSet.remove(w)
	}
}

func (a *arrivals) add(w *waiter) error {
	a.mu.Lock()
	a.waiters[w.fd] = w
	a.mu.Unlock()
	var err error
	cerr := w.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: w.fd}
		if w.writeWake != nil { // an owned socket's writes wait here too
			ev.Events |= syscall.EPOLLOUT
		}
		err = syscall.EpollCtl(a.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if cerr != nil {
		err = cerr
	}
	if err != nil {
		a.forget(w)
		return err
	}
	w.registered = true
	return nil
}

func (a *arrivals) remove(w *waiter) {
	w.raw.Control(func(fd uintptr) {
		syscall.EpollCtl(a.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	}) // fails only when closed, which took it out of the set already
	a.forget(w)
	w.registered = false
}

// forget drops w from the table unless its descriptor number went to a newer socket.
func (a *arrivals) forget(w *waiter) {
	a.mu.Lock()
	if a.waiters[w.fd] == w {
		delete(a.waiters, w.fd)
	}
	a.mu.Unlock()
}
