// Package netpoll is the gateway's own socket layer under its HTTP/1.1 front end: the
// arrival-order epoll set that wakes the goroutines of readable sockets in the order their data
// came (Arrivals, Waiter), sockets taken out of the runtime's poller (OwnedSocket), the parker
// that holds idle connections without their goroutines (Parker), and the raw reads, peeks and
// writes on descriptors (ReadFD, PeekFD, ConnQuiet). One file per platform: where there is no
// epoll, Arrivals and Parker are never enabled and reads wait in the runtime's poller.
//
// There is no process-wide state: a proxy makes one Arrivals (NewArrivals) and a server one
// Parker (NewParker), passes them to the code that uses them, and closes them on Close.
package netpoll

import (
	"errors"
	"syscall"
)

// ErrClosed: the arrival-order set was closed (Arrivals.Close).
var ErrClosed = errors.New("vamp gateway: the arrival-order epoll set is closed")

// ErrWouldBlock: the socket has nothing to read now (Waiter.TryRead).
var ErrWouldBlock = syscall.EAGAIN
