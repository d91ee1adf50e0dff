package netpoll

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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

// Arrivals is the epoll set and the waiters registered in it, by descriptor. Its owner (the
// proxy) makes it with NewArrivals and closes it with Close; the set itself is made at its first
// use, so an owner that never reads a socket in arrival order costs nothing.
type Arrivals struct {
	once   sync.Once
	epfd   int
	file   *os.File        // the epoll descriptor; closing it ends the dispatcher
	rc     syscall.RawConn // the epoll descriptor, in the runtime's poller
	err    error           // why there is no epoll set (Enabled false)
	closed atomic.Bool
	// enabled: the set started and reads wait in it (Enabled), so that the question costs one
	// load on the data path.
	enabled atomic.Bool
	mu      sync.RWMutex
	waiters map[int32]*Waiter
	// round counts the dispatcher's rounds: one per readiness of the set, its epoll_pwait calls
	// until one returns less than a full batch (the set's ready list was empty then). done is
	// the last round whose every event was handled: flags set, waiters signalled (Harvested).
	round, done atomic.Uint64
	// harvestMu makes the rounds one at a time, the dispatcher's and those run by PollNow; it
	// guards events and woken, the rounds' scratch space.
	harvestMu sync.Mutex
	events    []unix.EpollEvent
	woken     []*Waiter
	// roundFile is an eventfd in the set (edge-triggered, so it is never read): a write to it
	// makes the runtime's next poll run the dispatcher, with or without a socket event
	// (AfterRound). A file, so that a write that races Close fails instead of writing to a
	// descriptor number used again.
	roundFile *os.File
	// afterRound is the owner's function run at the end of a round that AfterRound asked for
	// (SetAfterRound: set before the first use, then only read); asked says that one was asked
	// for and has not run yet.
	afterRound func(round uint64)
	asked      atomic.Bool
}

// NewArrivals returns an arrival-order set. Its epoll set and dispatcher goroutine start at its
// first use and end at Close.
func NewArrivals() *Arrivals { return &Arrivals{} }

// Enabled reports whether reads wait in arrival order (false: the epoll set could not be made,
// Err says why, and reads wait in the runtime's poller). Safe on nil (false).
func (a *Arrivals) Enabled() bool {
	if a != nil && a.enabled.Load() {
		return true
	}
	return a.enable()
}

// enable starts the set (once) and says whether there is one (Enabled). Safe on nil (false).
func (a *Arrivals) enable() bool {
	if a == nil {
		return false
	}
	a.once.Do(a.start)
	if a.rc == nil {
		return false
	}
	a.enabled.Store(true)
	return true
}

// Err is why the epoll set could not be made (nil when Enabled, or before the first use).
func (a *Arrivals) Err() error { return a.err }

// Close stops the dispatcher and closes the epoll set. Call it once the sockets that wait in it
// are closed (the proxy's Close, after its servers'): a wait that starts later fails with
// ErrClosed.
func (a *Arrivals) Close() error {
	a.once.Do(func() { a.err = ErrClosed }) // never started: it never will
	if a.closed.Swap(true) || a.file == nil {
		return nil
	}
	err := a.file.Close()
	_ = a.roundFile.Close()
	// A round asked for before the close may never come: what waits for it runs now.
	a.runAfterRound(^uint64(0))
	return err
}

// SetAfterRound sets the function that runs at the end of a round asked for with AfterRound, on
// the goroutine that ran the round (the dispatcher's, or PollNow's caller's), with the round's
// number; and once more at Close with the largest round there is, if one was asked for then.
// Set it before the set's first use.
func (a *Arrivals) SetAfterRound(f func(round uint64)) { a.afterRound = f }

// AfterRound asks for the function of SetAfterRound to run at the end of the dispatcher's next
// round, and for that round to come at the runtime's next poll even if no socket of the set has
// an event (one write to an eventfd in the set per round asked for). Work handed over this way
// runs in the order of the set's events: after the events of every socket that were there when
// it was asked for. false: there are no rounds (the set is not enabled, or it is closed), and
// the caller does the work itself. Safe on nil (false).
func (a *Arrivals) AfterRound() bool {
	if a == nil || !a.enabled.Load() || a.afterRound == nil {
		return false
	}
	if !a.asked.Swap(true) {
		one := [8]byte{1}
		if _, err := a.roundFile.Write(one[:]); err != nil {
			// Closed: no round will come. (A full counter would take 2^64-2 writes.)
			a.asked.Store(false)
			return false
		}
	}
	return !a.closed.Load()
}

// runAfterRound runs the function of SetAfterRound if a round was asked for (AfterRound).
func (a *Arrivals) runAfterRound(round uint64) {
	if a.asked.Load() && a.asked.Swap(false) {
		a.afterRound(round)
	}
}

func (a *Arrivals) start() {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		a.err = os.NewSyscallError("epoll_create1", err)
		return
	}
	// Non-blocking, so that os.NewFile puts it in the runtime's poller: the dispatcher's
	// goroutine then waits for it like any socket's, without holding a thread.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		a.err = os.NewSyscallError("fcntl", err)
		return
	}
	file := os.NewFile(uintptr(epfd), "vamp-gateway-arrivals")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		a.err = err
		return
	}
	roundFD, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		file.Close()
		a.err = os.NewSyscallError("eventfd", err)
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(roundFD)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, roundFD, &ev); err != nil {
		unix.Close(roundFD)
		file.Close()
		a.err = os.NewSyscallError("epoll_ctl", err)
		return
	}
	a.epfd, a.file, a.rc, a.waiters = epfd, file, rc, map[int32]*Waiter{}
	a.roundFile = os.NewFile(uintptr(roundFD), "vamp-gateway-rounds")
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
//
// It returns when the set is closed (Close).
func (a *Arrivals) dispatch() {
	batch := func(uintptr) bool {
		a.harvest()
		return false
	}
	for {
		if err := a.rc.Read(batch); err != nil {
			if a.closed.Load() {
				return
			}
			panic("vamp gateway: the arrival-order epoll set failed: " + err.Error())
		}
	}
}

// harvest is one round: it takes the set's events and signals their waiters, until a batch is
// not full (the set's ready list was empty then).
func (a *Arrivals) harvest() {
	a.harvestMu.Lock()
	defer a.harvestMu.Unlock()
	if a.events == nil {
		a.events = make([]unix.EpollEvent, 256)
		a.woken = make([]*Waiter, 0, len(a.events))
	}
	round := a.round.Add(1)
	for {
		// Raw: a zero timeout never blocks, so the scheduler need not know (see recvOnce,
		// also for why syscall's and not x/sys/unix's).
		r, _, errno := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(a.epfd), uintptr(unsafe.Pointer(&a.events[0])), uintptr(len(a.events)), 0, 0, 0)
		n := int(r)
		if errno != 0 || n <= 0 {
			a.done.Store(round)
			a.runAfterRound(round)
			return
		}
		a.woken = a.wake(a.events[:n], a.woken, round)
		// A full batch may have left events behind, and those wake the runtime no more.
		if n < len(a.events) {
			a.done.Store(round)
			a.runAfterRound(round)
			return
		}
	}
}

// PollNow runs a round of the dispatcher on the calling goroutine: once it returns, every event
// of the set that was there when it was called has been handled (its round is Harvested). For a
// pool that would otherwise look at a taken socket itself (one system call per socket): one
// round covers the sockets of every request read before it.
func (a *Arrivals) PollNow() {
	if a != nil && a.enabled.Load() && !a.closed.Load() {
		a.harvest()
	}
}

// wake signals the waiters of a batch of events of the given round, the first arrival last.
// woken is scratch space, returned empty for the next batch.
func (a *Arrivals) wake(events []unix.EpollEvent, woken []*Waiter, round uint64) []*Waiter {
	a.mu.RLock()
	for _, ev := range events {
		if w := a.waiters[ev.Fd]; w != nil {
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				w.peerClosed.Store(true)
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 && w.writeWaiting.Load() {
				select {
				case w.writeWake <- struct{}{}:
				default:
				}
			}
			if ev.Events&^unix.EPOLLOUT != 0 {
				// Every flag of the batch is set before the first signal (Waiter.DataRound).
				w.signalRound.Store(round)
				// A pooled socket that became readable or closed is evicted at once. Checked
				// after its signalRound was stored: a pool that marks a socket pooled just now
				// (SetPooled, then IdleHint) either sees that round or is seen here, so no
				// event falls between the two. Its goroutine starts before the signals below,
				// so that it does not take the next-to-run slot from the first arrival.
				if w.pooled.Load() && w.pooled.CompareAndSwap(true, false) {
					go w.onIdleEvent()
				}
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
	for _, w := range woken[1:] {
		w.signal()
	}
	woken[0].signal()
	clear(woken)
	return woken[:0]
}

// Waiter reads one socket and waits for it in arrival order. Only the goroutine that owns the
// socket calls its methods, except Interrupt. A nil *Waiter is a socket without one: its methods
// that say "Safe on nil" may be called on it, the others not.
type Waiter struct {
	set *Arrivals
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
	// The dispatcher's rounds (Arrivals.round) the socket's data was seen in, for DataRound:
	// signalRound is the last round that signalled the waiter (set by the dispatcher), wokeRound
	// what it was when the last wait ended, drainRound what Arrivals.round was right after the
	// last read that left the socket empty (drained: it found nothing, or less than it could take).
	signalRound           atomic.Uint64
	wokeRound, drainRound uint64
	// hintRound is signalRound as of the owner's last wait or look (IdleQuiet): a round that
	// signalled the waiter after it may have brought something nobody read yet (IdleHint).
	hintRound uint64
	drained   bool
	// dataSeen: see DataRound.
	dataSeen uint64
	// deadline ends a wait (zero: none); timer wakes the waiter at it and sets fired. A wait
	// reads the clock only once fired is set (a wait before the deadline's timer ran need not:
	// two clock reads per request fewer); SetReadDeadline clears it before it arms the timer. A
	// timer of an earlier deadline that ran late may set it early: the clock then says.
	deadline time.Time
	timer    *time.Timer
	fired    atomic.Bool
	// writeTimeout ends a wait for room to write on an owned socket that lasts this long (0:
	// none): the peer took no byte for it. writeTimer wakes that wait (armed only while a write
	// waits, so that a write that finds room costs no clock read).
	writeTimeout time.Duration
	writeTimer   *time.Timer

	// The read and the write in progress, for recvFn and sendFn (method values made once, so
	// that neither allocates).
	recvFn   func(fd uintptr) bool
	readBuf  []byte
	readN    int
	readErr  error
	sendFn   func(fd uintptr) bool
	writeBuf []byte
	writeN   int
	writeErr error
}

// NewWaiter returns a waiter in the set for the socket behind raw, or nil when reads are to wait
// in the runtime's poller (no arrival order here, or no descriptor). mayRead: data may already be
// there (a client's request; not an instance's answer before its request). Safe on nil.
func (a *Arrivals) NewWaiter(raw syscall.RawConn, mayRead bool) *Waiter {
	if raw == nil || !a.Enabled() {
		return nil
	}
	w := &Waiter{set: a, raw: raw, fd: -1, mayRead: mayRead, wake: make(chan struct{}, 1)}
	if err := raw.Control(func(fd uintptr) { w.fd = int32(fd) }); err != nil || w.fd < 0 {
		return nil // closed: no descriptor to wait on
	}
	w.recvFn, w.sendFn = w.recvOnce, w.sendOnce
	if s, ok := raw.(*OwnedSocket); ok {
		w.writeWake, s.w = make(chan struct{}, 1), w
	}
	return w
}

// signal wakes the waiter, or leaves a wake-up for its next wait.
func (w *Waiter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Interrupt wakes a waiter whose socket another goroutine has closed, so that its next read
// fails instead of its wait lasting to the deadline. Safe on nil.
func (w *Waiter) Interrupt() {
	if w != nil {
		w.signal()
	}
}

// WatchIdle makes evict run when something arrives on the socket while it is pooled
// (SetPooled); call it before the socket's first wait. Safe on nil.
func (w *Waiter) WatchIdle(evict func()) {
	if w != nil {
		w.onIdleEvent = evict
	}
}

// SetPooled says whether the socket is an idle pooled connection (see pooled). Safe on nil.
func (w *Waiter) SetPooled(pooled bool) {
	if w != nil && w.onIdleEvent != nil {
		w.pooled.Store(pooled)
	}
}

// IdleHint reports whether something may have arrived on the socket since its last read (its
// owner asks). Safe on nil.
func (w *Waiter) IdleHint() bool {
	return w != nil && (w.mayRead || len(w.wake) > 0 || w.signalRound.Load() > w.hintRound || w.peerClosed.Load())
}

// ClaimPooled takes the eviction of a pooled socket on itself (false: it was not pooled, or the
// dispatcher took it).
func (w *Waiter) ClaimPooled() bool { return w.pooled.CompareAndSwap(true, false) }

// IdleQuiet reports whether nothing arrived on an idle socket since its last read: the epoll
// set kept watching it, so with no wake-up pending, no close seen and no data left behind by the
// last read (mayRead) there is nothing, without a system call. Otherwise, or with look, one
// non-blocking read says (its byte, if any, is lost with the connection, which is then closed).
func (w *Waiter) IdleQuiet(look bool) bool {
	if w.peerClosed.Load() {
		return false
	}
	// A round that signals from here on leaves a wake-up for the next look, and evicts the
	// socket if it is pooled by then (Arrivals.wake).
	w.hintRound = w.signalRound.Load()
	if len(w.wake) > 0 { // a look at the channel costs less than a receive that finds nothing
		select {
		case <-w.wake:
			w.mayRead = true
		default:
		}
	}
	if !look && !w.mayRead && w.registered {
		return true
	}
	var one [1]byte
	_, err := w.TryRead(one[:])
	return err == ErrWouldBlock
}

// MayRead reports whether data may be there without a wake-up (see mayRead): a read is worth
// trying before a wait.
func (w *Waiter) MayRead() bool { return w.mayRead }

// TryRead reads once without waiting; ErrWouldBlock: nothing there.
func (w *Waiter) TryRead(buf []byte) (int, error) {
	w.readBuf, w.readN, w.readErr = buf, 0, nil
	err := w.raw.Read(w.recvFn)
	w.readBuf = nil
	if err != nil {
		return 0, err // closed
	}
	w.mayRead = w.readErr == nil && (w.readN == len(buf) || w.peerClosed.Load())
	if w.readN > 0 {
		// Every byte read now was unread when the last round that signalled the waiter looked
		// at the socket, if that round began after the drain: it saw the first of them there.
		w.dataSeen = 0
		if w.drained && w.wokeRound > w.drainRound {
			w.dataSeen = w.wokeRound
		}
	}
	w.drained = w.readErr == ErrWouldBlock || (w.readErr == nil && w.readN < len(buf))
	if w.drained {
		w.drainRound = w.set.round.Load()
	}
	return w.readN, w.readErr
}

// DataRound is, for the last read that returned data, a round of the dispatcher that saw the
// first of those bytes in the socket (0: none is known: they were there before the socket was
// last drained, or were read without a wake-up from a round that began after that). Safe on nil.
//
// What it is for (the proxy's pool): bytes that arrived on an idle pooled connection before
// those were in the epoll set's ready list before them, so that round (or an earlier one)
// reported them too, and once it is Harvested they left their mark on the pooled connection's
// waiter: a wake-up, a close, or its claim for eviction (Unpool).
func (w *Waiter) DataRound() uint64 {
	if w == nil {
		return 0
	}
	return w.dataSeen
}

// NextRound is the first round of the dispatcher that looks at the set after this call: once it
// is Harvested, every event of a socket of the set that was ready before the call has been
// handled. For requests read outside the set (the HTTP/2 front end), in place of DataRound. Safe
// on nil (0: not known).
func (a *Arrivals) NextRound() uint64 {
	if a == nil || !a.enabled.Load() {
		return 0
	}
	return a.round.Load() + 1
}

// Harvested reports whether the dispatcher has handled every event of round (see DataRound).
// Safe on nil (false).
func (a *Arrivals) Harvested(round uint64) bool {
	return a != nil && round != 0 && a.done.Load() >= round
}

// Unpool ends the socket's time in its pool (SetPooled(false)), reporting whether it was still
// pooled: false means the dispatcher (or the pool itself) claimed an event on it meanwhile, or it
// is not watched (WatchIdle). Safe on nil (false).
func (w *Waiter) Unpool() bool { return w != nil && w.pooled.Swap(false) }

// recvOnce and sendOnce call recvfrom(2) and sendto(2) raw, without telling the scheduler: on
// a non-blocking socket neither blocks, and at two of each per request, the scheduler's
// bookkeeping around a syscall (and the runtime's monitor taking the processor away from a long
// loopback write) cost more than the calls themselves. Not read(2) and write(2): those go
// through the file layer's checks and notifications first, which cost the gateway 2.5% of its
// requests/s (docs/benchmarks.md). MSG_NOSIGNAL: a client that went away makes the write fail
// with EPIPE, without a SIGPIPE for the runtime to field. syscall.RawSyscall6, not
// unix.RawSyscall6: the latter is an assembly jump to the former, and a call through it passes two
// ABI wrappers (about 20 instructions per call, 79 per request: docs/benchmarks.md); its Errno is
// the same type (unix.Errno aliases syscall.Errno).
func (w *Waiter) recvOnce(fd uintptr) bool {
	if len(w.readBuf) == 0 {
		return true
	}
	for {
		r, _, errno := syscall.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&w.readBuf[0])), uintptr(len(w.readBuf)), 0, 0, 0)
		switch {
		case errno == unix.EINTR:
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

// Write writes all of b; when the socket's buffer is full it waits for room (in this set for an
// owned socket, in the runtime's poller for one that net.Conn still owns).
func (w *Waiter) Write(b []byte) (int, error) {
	w.writeBuf, w.writeN, w.writeErr = b, 0, nil
	err := w.raw.Write(w.sendFn)
	w.writeBuf = nil
	if err == nil {
		err = w.writeErr
	}
	return w.writeN, err
}

func (w *Waiter) sendOnce(fd uintptr) bool {
	for w.writeN < len(w.writeBuf) {
		rest := w.writeBuf[w.writeN:]
		r, _, errno := syscall.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)), unix.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			w.writeN += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			w.writeErr = errno
			return true
		}
	}
	return true
}

// Read reads what the socket has, waiting for it until the deadline.
func (w *Waiter) Read(buf []byte) (int, error) {
	for {
		if w.mayRead {
			n, err := w.TryRead(buf)
			if err != ErrWouldBlock {
				return n, err
			}
		}
		if err := w.Wait(); err != nil {
			return 0, err
		}
	}
}

// Wait waits for a wake-up: data, the client's close, an interrupt or the deadline. It returns
// os.ErrDeadlineExceeded once the deadline has passed (its timer has run: fired).
func (w *Waiter) Wait() error {
	if !w.deadline.IsZero() && w.fired.Load() && !time.Now().Before(w.deadline) {
		return os.ErrDeadlineExceeded
	}
	if !w.registered {
		if err := w.set.add(w); err != nil {
			return err
		}
	}
	<-w.wake
	w.mayRead = true
	w.wokeRound = w.signalRound.Load()
	w.hintRound = w.wokeRound
	return nil
}

// waitWritable waits for an owned socket to take more bytes, for at most the write timeout
// (SetWriteTimeout: os.ErrDeadlineExceeded after a wait that long).
func (w *Waiter) waitWritable() error {
	if !w.registered {
		if err := w.set.add(w); err != nil {
			return err
		}
	}
	d := w.writeTimeout
	if d <= 0 {
		<-w.writeWake
		return nil
	}
	// Only a write that found the socket full gets here: the timer costs nothing per write.
	if w.writeTimer == nil {
		w.writeTimer = time.NewTimer(d)
	} else {
		w.writeTimer.Reset(d)
	}
	select {
	case <-w.writeWake:
		w.writeTimer.Stop()
		return nil
	case <-w.writeTimer.C:
		return os.ErrDeadlineExceeded
	}
}

// SetWriteTimeout makes a write that waits for room on an owned socket stop waiting (with
// os.ErrDeadlineExceeded) once it waited d without the socket taking a byte (0: never). A
// socket that net.Conn still polls takes a deadline on its net.Conn instead.
func (w *Waiter) SetWriteTimeout(d time.Duration) { w.writeTimeout = d }

// SetReadDeadline sets when waits end (zero: never), like net.Conn's SetReadDeadline.
func (w *Waiter) SetReadDeadline(t time.Time) {
	w.deadline = t
	switch {
	case t.IsZero():
		if w.timer != nil {
			w.timer.Stop()
		}
	case w.timer == nil:
		w.timer = time.AfterFunc(time.Until(t), w.expire)
	default:
		w.fired.Store(false) // before Reset: the timer's next run is for t
		w.timer.Reset(time.Until(t))
	}
}

// expire is the deadline timer's: the deadline may have passed (fired), and the waiter wakes.
func (w *Waiter) expire() {
	w.fired.Store(true)
	w.signal()
}

// Release takes the socket out of the epoll set and stops the timer: before the socket is
// closed or handed to other code (net/http, the parker). Its next wait adds it again. Safe on
// nil, and after the socket was closed.
func (w *Waiter) Release() {
	if w == nil {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.deadline, w.writeTimeout = time.Time{}, 0
	w.mayRead = true
	w.drained, w.dataSeen = false, 0
	w.peerClosed.Store(false) // the next wait's registration reports it again
	if w.registered {
		w.set.remove(w)
	}
}

func (a *Arrivals) add(w *Waiter) error {
	if a.closed.Load() {
		return ErrClosed
	}
	a.mu.Lock()
	a.waiters[w.fd] = w
	a.mu.Unlock()
	var err error
	cerr := w.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: w.fd}
		if w.writeWake != nil { // an owned socket's writes wait here too
			ev.Events |= unix.EPOLLOUT
		}
		if e := unix.EpollCtl(a.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev); e != nil {
			err = os.NewSyscallError("epoll_ctl", e)
		}
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

func (a *Arrivals) remove(w *Waiter) {
	// Both fail only when the socket is closed, which took it out of the set already.
	_ = w.raw.Control(func(fd uintptr) {
		_ = unix.EpollCtl(a.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
	a.forget(w)
	w.registered = false
}

// forget drops w from the table unless its descriptor number went to a newer socket.
func (a *Arrivals) forget(w *Waiter) {
	a.mu.Lock()
	if a.waiters[w.fd] == w {
		delete(a.waiters, w.fd)
	}
	a.mu.Unlock()
}
