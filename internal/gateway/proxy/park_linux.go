package proxy

import (
	"runtime/debug"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Parking: a front-end connection that has waited parkAfter for its next request gives up its
// goroutine. Its socket goes into an epoll set of the parker's own, and the parker starts a new
// goroutine for it when the client sends something, or closes it at its idle timeout. A parked
// connection costs its socket and a few hundred bytes; a waiting goroutine costs its stack
// (4-8 KiB once it has served a request), which for 10,000 keep-alive clients is most of the
// gateway's memory.

// parkAfter is how long a connection waits with its goroutine before it parks.
const parkAfter = time.Second

// releaseAfterParked: once this many connections have parked since the memory of their
// goroutines was last given back to the operating system, it is given back (releaseMemory),
// releaseDelay later so that one release covers a whole wave of clients going quiet, and at
// most once per releaseEvery.
const (
	releaseAfterParked = 1024
	releaseDelay       = 2 * time.Second
	releaseEvery       = 10 * time.Second
)

type parker struct {
	once   sync.Once
	epfd   int // -1: parking is not available
	mu     sync.Mutex
	parked map[uint64]*clientConn
	nextID uint64
	// sinceRelease counts the connections parked since the last release.
	sinceRelease   int
	lastRelease    time.Time
	releasePending bool
}

var idleParker = parker{epfd: -1}

func (p *parker) start() {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return // connections then wait with their goroutines
	}
	p.epfd = epfd
	p.parked = map[uint64]*clientConn{}
	go p.watch()
}

// park hands c, idle since idleSince, to the parker. false: c must keep waiting on its own.
// After true, c belongs to the parker: the caller's goroutine must not touch it again.
func (p *parker) park(c *clientConn, idleSince time.Time) bool {
	p.once.Do(p.start)
	if p.epfd < 0 || c.fd < 0 {
		return false
	}
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	c.parkID = id
	if !c.state.CompareAndSwap(stateIdle, stateParked) {
		p.mu.Unlock()
		return false // Shutdown closed it meanwhile
	}
	p.parked[id] = c
	p.sinceRelease++
	if p.sinceRelease >= releaseAfterParked && !p.releasePending {
		p.releasePending = true
		time.AfterFunc(max(releaseDelay, releaseEvery-time.Since(p.lastRelease)), p.releaseMemory)
	}
	// The idle timeout: whoever takes the connection out of parked first owns it (take).
	c.parkTimer = time.AfterFunc(c.s.opts.IdleTimeout-time.Since(idleSince), func() {
		if c := p.take(id); c != nil {
			c.close()
		}
	})
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = id
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev)
	if err != nil {
		delete(p.parked, id)
		c.parkTimer.Stop()
		c.state.Store(stateIdle)
	}
	p.mu.Unlock()
	return err == nil
}

// take removes a parked connection from the parker; nil if something else took it first.
func (p *parker) take(id uint64) *clientConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.parked[id]
	if c == nil {
		return nil
	}
	delete(p.parked, id)
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	c.parkTimer.Stop()
	return c
}

// watch starts a goroutine for every parked connection that has something to read (a request,
// or the client's close).
func (p *parker) watch() {
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			if c := p.take(*(*uint64)(unsafe.Pointer(&ev.Fd))); c != nil {
				go c.resume()
			}
		}
	}
}

// releaseMemory gives the memory of the goroutines that parked connections left back to the
// operating system. Freed stacks otherwise stay with the process until a garbage collection
// that an idle gateway (which allocates nothing) does not run for minutes.
func (p *parker) releaseMemory() {
	p.mu.Lock()
	p.sinceRelease, p.lastRelease, p.releasePending = 0, time.Now(), false
	p.mu.Unlock()
	debug.FreeOSMemory()
}

// unpark takes c back from the parker if it is parked (Shutdown); false: it was not.
func (p *parker) unpark(c *clientConn) bool {
	return c.state.Load() == stateParked && p.take(c.parkID) != nil
}
