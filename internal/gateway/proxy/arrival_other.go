//go:build !linux

package proxy

import (
	"net"
	"syscall"
	"time"
)

// Without epoll, reads wait in the runtime's poller (see arrival_linux.go); no waiter is made.

type waiter struct{ mayRead bool }

func arrivalOrder() bool { return false }

func newWaiter(syscall.RawConn, bool) *waiter { return nil }

var errWouldBlock = syscall.EAGAIN

func (w *waiter) interrupt() {}

func (w *waiter) release() {}

func (w *waiter) watchIdle(func()) {}

func (w *waiter) setPooled(bool) {}

func (w *waiter) idleHint() bool { return false }

func (w *waiter) claimPooled() bool { return false }

func (w *waiter) unpool() bool { return false }

func (w *waiter) dataRound() uint64 { return 0 }

func harvested(uint64) bool { return false }

func (w *waiter) idleQuiet(bool) bool { panic("unreachable: no waiter without epoll") }

func (w *waiter) tryRead([]byte) (int, error) { panic("unreachable: no waiter without epoll") }

func (w *waiter) read([]byte) (int, error) { panic("unreachable: no waiter without epoll") }

func (w *waiter) wait() error { panic("unreachable: no waiter without epoll") }

func (w *waiter) setDeadline(time.Time) { panic("unreachable: no waiter without epoll") }

func (w *waiter) write([]byte) (int, error) { panic("unreachable: no waiter without epoll") }

type ownedSocket struct{ fd int }

func ownSocket(net.Conn) (*ownedSocket, error) { return nil, syscall.EINVAL }

func (s *ownedSocket) close() {}

func (s *ownedSocket) shutdownFromOutside() {}

func (s *ownedSocket) netConn() (net.Conn, error) { return nil, syscall.EINVAL }

func (s *ownedSocket) Control(func(fd uintptr)) error { return syscall.EINVAL }

func (s *ownedSocket) Read(func(fd uintptr) bool) error { return syscall.EINVAL }

func (s *ownedSocket) Write(func(fd uintptr) bool) error { return syscall.EINVAL }
