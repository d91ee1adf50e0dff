package netpoll

import (
	"os"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Parking: a front-end connection that has waited ParkAfter for its next request gives up its
// goroutine. Its socket goes into an epoll set of the parker's own, and the parker starts a new
// goroutine for it when the client sends something, or closes it at its idle timeout. A parked
// connection costs its socket and a few hundred bytes; a waiting goroutine costs its stack
// (4-8 KiB once it has served a request), which for 10,000 keep-alive clients is most of the
// gateway's memory.

// ParkAfter is how long a connection waits with its goroutine before it parks.
const ParkAfter = time.Second

// releaseAfterParked: once this many connections have parked since the memory of their
// goroutines was last given back to the operating system, it is given back (releaseMemory),
// releaseDelay later so that one release covers a whole wave of clients going quiet, and at
// most once per releaseEvery.
const (
	releaseAfterParked = 1024
	releaseDelay       = 2 * time.Second
	releaseEvery       = 10 * time.Second
)

// Parkable is a connection that a Parker holds while it waits for its next request.
type Parkable interface {
	// Parking is called under the parker's lock as the connection parks as id (what Unpark
	// takes), its socket already watched. false: it may not park (it was closed meanwhile),
	// and Park returns false. When Park returns false without calling it, nothing changed.
	Parking(id uint64) bool
	// Resume is called on a goroutine of its own when the parked socket has something to read
	// (a request, or the client's close). The connection is no longer parked.
	Resume()
	// Expire is called when the connection stayed parked for its timeout. The connection is no
	// longer parked; Expire closes it.
	Expire()
}

// Parker holds idle connections without their goroutines, in an epoll set of its own. Its owner
// (a Server) makes it with NewParker and closes it with Close once its connections are gone;
// the set and its watcher goroutine start at the first Park.
type Parker struct {
	once   sync.Once
	epfd   int   // -1: parking is not available
	stop   int   // an eventfd: a write to it ends the watcher (Close)
	err    error // why parking is not available
	mu     sync.Mutex
	closed bool
	parked map[uint64]*parkedConn
	nextID uint64
	// sinceRelease counts the connections parked since the last release.
	sinceRelease   int
	lastRelease    time.Time
	releasePending bool
}

type parkedConn struct {
	c     Parkable
	fd    int
	timer *time.Timer // the idle timeout
}

// stopID is the epoll event data of the stop eventfd; connections' ids start at 1.
const stopID = 0

// NewParker returns a parker; its epoll set is made at the first Park.
func NewParker() *Parker { return &Parker{epfd: -1} }

func (p *Parker) start() {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		p.err = os.NewSyscallError("epoll_create1", err)
		return // connections then wait with their goroutines
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		p.err = os.NewSyscallError("eventfd", err)
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = stopID
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, stop, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(stop)
		p.err = os.NewSyscallError("epoll_ctl", err)
		return
	}
	p.epfd, p.stop = epfd, stop
	p.parked = map[uint64]*parkedConn{}
	go p.watch()
}

// Park hands c, whose socket is fd, to the parker for at most timeout. false: c must keep
// waiting on its own. After true, c belongs to the parker until Resume, Expire or a successful
// Unpark: the caller's goroutine must not touch it again.
func (p *Parker) Park(c Parkable, fd int, timeout time.Duration) bool {
	p.once.Do(p.start)
	if p.epfd < 0 || fd < 0 {
		return false
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	p.nextID++
	id := p.nextID
	// Into the set first: a wake-up that comes at once waits for the lock, and finds the
	// connection parked (or, when Parking refuses, not).
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = id
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Unlock()
		return false
	}
	if !c.Parking(id) {
		// Just added, so it is there: the delete fails only on a descriptor closed meanwhile,
		// which left the set with it.
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		p.mu.Unlock()
		return false // Shutdown closed it meanwhile
	}
	pc := &parkedConn{c: c, fd: fd}
	p.parked[id] = pc
	p.sinceRelease++
	if p.sinceRelease >= releaseAfterParked && !p.releasePending {
		p.releasePending = true
		time.AfterFunc(max(releaseDelay, releaseEvery-time.Since(p.lastRelease)), p.releaseMemory)
	}
	// The idle timeout: whoever takes the connection out of parked first owns it (take).
	pc.timer = time.AfterFunc(timeout, func() {
		if c := p.take(id); c != nil {
			c.Expire()
		}
	})
	p.mu.Unlock()
	return true
}

// take removes a parked connection from the parker; nil if something else took it first.
func (p *Parker) take(id uint64) Parkable {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.parked[id]
	if pc == nil {
		return nil
	}
	delete(p.parked, id)
	if !p.closed {
		// Fails only on a descriptor that left the set already (closed); the parked
		// connection is out of p.parked either way, and watch ignores a late event for its id.
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pc.fd, nil)
	}
	pc.timer.Stop()
	return pc.c
}

// watch starts a goroutine for every parked connection that has something to read (a request,
// or the client's close), until Close.
func (p *Parker) watch() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			id := *(*uint64)(unsafe.Pointer(&ev.Fd))
			if id == stopID {
				unix.Close(p.epfd)
				unix.Close(p.stop)
				return
			}
			if c := p.take(id); c != nil {
				go c.Resume()
			}
		}
	}
}

// releaseMemory gives the memory of the goroutines that parked connections left back to the
// operating system. Freed stacks otherwise stay with the process until a garbage collection
// that an idle gateway (which allocates nothing) does not run for minutes.
func (p *Parker) releaseMemory() {
	p.mu.Lock()
	p.sinceRelease, p.lastRelease, p.releasePending = 0, time.Now(), false
	p.mu.Unlock()
	debug.FreeOSMemory()
}

// Unpark takes the connection parked as id back from the parker (Shutdown, Close); false: it
// is not parked (any more), and whoever took it owns it.
func (p *Parker) Unpark(id uint64) bool {
	return p.take(id) != nil
}

// Parked reports whether a connection is parked as id. It takes the parker's lock, which a
// connection's Parking ran under: what the connection did before it parked is seen after it.
func (p *Parker) Parked(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parked[id] != nil
}

// Err is why connections cannot park (nil when they can, or before the first Park).
func (p *Parker) Err() error { return p.err }

// Close stops the watcher and closes the epoll set. Connections still parked stay parked until
// their owner unparks them or their timeout expires them; none parks after Close.
func (p *Parker) Close() error {
	p.once.Do(func() {}) // never started: it never will
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.epfd < 0 {
		p.closed = true
		return nil
	}
	p.closed = true
	one := [8]byte{1} // an eventfd counts in 8-byte native-endian words; any non-zero value wakes
	if _, err := unix.Write(p.stop, one[:]); err != nil {
		return os.NewSyscallError("write", err)
	}
	return nil
}
