// Package connlimit is the gateway process's limit on client connections (--max-conns, HAProxy's
// global maxconn) and the one rule that tells a failure of the gateway's own resources (out of
// file descriptors, socket buffers, memory or local ports) from a failure of the peer.
//
// Why a limit: every proxied connection holds two file descriptors, the client's and the
// instance's (HTTP and TCP gateways alike). A process that accepts more clients than its
// descriptors allow fails its dials with EMFILE; at the limit the gateway instead stops accepting,
// and the clients beyond it wait in the kernel's listen backlog until a connection closes, as
// with HAProxy.
package connlimit

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/logevery"
)

// Limiter is the process's limit on open client connections, shared by every gateway listener
// (HTTP and TCP). A nil *Limiter has no limit and counts nothing.
//
// A listener waits for a free slot (WaitFree) before it accepts, and takes one (Acquire) for
// the connection it accepted; the connection gives it back when it closes (Release). A listener
// waiting at the limit accepts nothing, so the clients beyond the limit stay in the kernel's
// backlog; it is woken when a connection closes (no polling). Every listener takes its slot
// after its accept, so that listeners waiting for clients hold none; a listener whose accept
// raced another's for the last slot holds its accepted connection, unserved, until one frees
// (at most one such connection per listener).
type Limiter struct {
	max int64

	mu   sync.Mutex
	open int64
	// freed is closed (and cleared) when a slot frees while a listener waits; nil when none waits.
	freed chan struct{}

	hits      atomic.Uint64
	exhausted [numOps][len(localErrnos)]atomic.Uint64
	// retryLine is the log line of a retried accept (Accept), shared by every listener.
	retryLine logevery.Line
}

// New returns a limiter of limit open client connections; limit must be positive.
func New(limit int) *Limiter {
	if limit <= 0 {
		panic("connlimit.New: the limit must be positive")
	}
	return &Limiter{max: int64(limit)}
}

// Max is the limit; 0 for a nil Limiter (no limit).
func (l *Limiter) Max() int {
	if l == nil {
		return 0
	}
	return int(l.max)
}

// Open is the number of client connections that hold a slot now.
func (l *Limiter) Open() int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Hits is how many times a listener found every slot taken and stopped accepting.
func (l *Limiter) Hits() uint64 {
	if l == nil {
		return 0
	}
	return l.hits.Load()
}

// WaitFree returns once a slot is free (without taking it), or false when stop is closed first.
func (l *Limiter) WaitFree(stop <-chan struct{}) bool {
	return l.wait(stop, false)
}

// Acquire takes a slot for a connection just accepted, waiting for one if another listener took
// the last; false when stop is closed first (then no slot is held).
func (l *Limiter) Acquire(stop <-chan struct{}) bool {
	return l.wait(stop, true)
}

func (l *Limiter) wait(stop <-chan struct{}, take bool) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	if l.open >= l.max {
		l.hits.Add(1)
		for l.open >= l.max {
			if l.freed == nil {
				l.freed = make(chan struct{})
			}
			freed := l.freed
			l.mu.Unlock()
			select {
			case <-freed:
			case <-stop:
				return false
			}
			l.mu.Lock()
		}
	}
	if take {
		l.open++
	}
	l.mu.Unlock()
	return true
}

// Release gives back the slot of a connection that closed: once per Acquire.
func (l *Limiter) Release() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.open--
	if l.freed != nil {
		close(l.freed)
		l.freed = nil
	}
	l.mu.Unlock()
}

// Op is what the gateway was doing when it ran out of a local resource.
type Op uint8

// The operations of a ResourceError.
const (
	OpDial   Op = iota // connecting to an instance
	OpAccept           // accepting a client
	numOps
)

func (o Op) String() string {
	if o == OpAccept {
		return "accept"
	}
	return "dial"
}

// Ops are the operations, for metrics.
var Ops = []Op{OpDial, OpAccept}

// localErrnos are the errors that say the gateway itself is out of a resource: descriptors of
// the process (EMFILE) or of the system (ENFILE), socket buffers (ENOBUFS), kernel memory
// (ENOMEM), local addresses or ports (EADDRNOTAVAIL: every ephemeral port to that destination is
// taken). None says anything about the peer.
var localErrnos = [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EADDRNOTAVAIL}

// ErrnoNames are the names of the errors of a ResourceError, for metrics, in a fixed order.
var ErrnoNames = [len(localErrnos)]string{"EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "EADDRNOTAVAIL"}

// ResourceError: a dial or an accept failed because the gateway itself is out of a local
// resource (Errno is one of EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL). Not the peer's
// failure: it does not count towards ejecting an instance, and trying another instance would
// fail the same way. Made where the dial or the accept fails (Classify).
type ResourceError struct {
	Op    Op
	Addr  string // the instance's address (dial) or the listener's (accept)
	Errno syscall.Errno
	Err   error
}

func (e *ResourceError) Error() string {
	return "the gateway is out of " + resource(e.Errno) + " (" + ErrnoNames[errnoIndex(e.Errno)] + ") on " +
		e.Op.String() + " " + e.Addr + ": " + e.Err.Error()
}
func (e *ResourceError) Unwrap() error { return e.Err }

// Resource says what ran out, for people: the text of a 503.
func (e *ResourceError) Resource() string { return resource(e.Errno) }

func resource(errno syscall.Errno) string {
	switch errno {
	case syscall.EMFILE:
		return "file descriptors (its open-files limit)"
	case syscall.ENFILE:
		return "file descriptors (the system's limit)"
	case syscall.ENOBUFS:
		return "socket buffer space"
	case syscall.ENOMEM:
		return "kernel memory"
	}
	return "local addresses or ports"
}

func errnoIndex(errno syscall.Errno) int {
	for i, e := range localErrnos {
		if e == errno {
			return i
		}
	}
	return len(localErrnos) - 1
}

// Classify returns err as a *ResourceError when it says the gateway is out of a local resource
// (errors.Is on the errnos above, never the error's text), and nil otherwise.
func Classify(op Op, addr string, err error) *ResourceError {
	if err == nil {
		return nil
	}
	for _, errno := range localErrnos {
		if errors.Is(err, errno) {
			return &ResourceError{Op: op, Addr: addr, Errno: errno, Err: err}
		}
	}
	return nil
}

// CountExhausted counts a ResourceError (the metric vamp_gateway_resource_exhausted_total).
func (l *Limiter) CountExhausted(e *ResourceError) {
	if l == nil || e == nil || e.Op >= numOps {
		return
	}
	l.exhausted[e.Op][errnoIndex(e.Errno)].Add(1)
}

// Exhausted is how many ResourceErrors of op with the errno ErrnoNames[i] were counted.
func (l *Limiter) Exhausted(op Op, i int) uint64 {
	if l == nil || op >= numOps || i < 0 || i >= len(localErrnos) {
		return 0
	}
	return l.exhausted[op][i].Load()
}
