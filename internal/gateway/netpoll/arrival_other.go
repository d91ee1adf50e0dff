//go:build !linux

package netpoll

import (
	"net"
	"syscall"
	"time"
)

// Without epoll, reads wait in the runtime's poller (see arrival_linux.go); no waiter is made.

// Arrivals has no epoll set here: Enabled is false and NewWaiter returns nil.
type Arrivals struct{}

// NewArrivals returns a set that is never enabled.
func NewArrivals() *Arrivals { return &Arrivals{} }

func (a *Arrivals) Enabled() bool { return false }

func (a *Arrivals) Err() error { return nil }

func (a *Arrivals) Close() error { return nil }

func (a *Arrivals) NewWaiter(syscall.RawConn, bool) *Waiter { return nil }

// Waiter is never made here; its methods that are safe on nil do nothing.
type Waiter struct{ mayRead bool }

func (w *Waiter) Interrupt() {}

func (w *Waiter) Release() {}

func (w *Waiter) WatchIdle(func()) {}

func (w *Waiter) SetPooled(bool) {}

func (w *Waiter) IdleHint() bool { return false }

func (w *Waiter) ClaimPooled() bool { return false }

func (w *Waiter) Unpool() bool { return false }

func (w *Waiter) DataRound() uint64 { return 0 }

func (a *Arrivals) Harvested(uint64) bool { return false }

func (a *Arrivals) NextRound() uint64 { return 0 }

func (a *Arrivals) PollNow() {}

func (a *Arrivals) SetAfterRound(func(uint64)) {}

func (a *Arrivals) AfterRound() bool { return false }

func (w *Waiter) MayRead() bool { panic("unreachable: no waiter without epoll") }

func (w *Waiter) IdleQuiet(bool) bool { panic("unreachable: no waiter without epoll") }

func (w *Waiter) TryRead([]byte) (int, error) { panic("unreachable: no waiter without epoll") }

func (w *Waiter) Read([]byte) (int, error) { panic("unreachable: no waiter without epoll") }

func (w *Waiter) Wait() error { panic("unreachable: no waiter without epoll") }

func (w *Waiter) SetReadDeadline(time.Time) { panic("unreachable: no waiter without epoll") }

func (w *Waiter) SetWriteTimeout(time.Duration) { panic("unreachable: no waiter without epoll") }

func (w *Waiter) Write([]byte) (int, error) { panic("unreachable: no waiter without epoll") }

// OwnedSocket is never made here (OwnSocket fails).
type OwnedSocket struct{ fd int }

func OwnSocket(net.Conn) (*OwnedSocket, error) { return nil, syscall.EINVAL }

func (s *OwnedSocket) Close() {}

func (s *OwnedSocket) ShutdownFromOutside() {}

func (s *OwnedSocket) NetConn() (net.Conn, error) { return nil, syscall.EINVAL }

func (s *OwnedSocket) Control(func(fd uintptr)) error { return syscall.EINVAL }

func (s *OwnedSocket) Read(func(fd uintptr) bool) error { return syscall.EINVAL }

func (s *OwnedSocket) Write(func(fd uintptr) bool) error { return syscall.EINVAL }
