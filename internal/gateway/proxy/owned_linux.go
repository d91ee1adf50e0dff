package proxy

import (
	"net"
	"syscall"
)

// ownedSocket is the descriptor of a connection to an instance that only the front end polls: a
// duplicate of the dialled connection's, whose net.Conn is closed so that the runtime's poller
// forgets the socket. Kept in both epoll sets, every byte that arrives ran two epoll callbacks and
// the runtime's poller harvested events that nobody waited for (docs/benchmarks.md: the
// gateway's kernel time). It implements syscall.RawConn for the waiter: reads never wait in it
// (the waiter waits), writes that find the socket's buffer full wait for the arrival-order set's
// EPOLLOUT wake-up. Only one goroutine at a time uses it: its request's, or the pool's.
type ownedSocket struct {
	fd     int
	w      *waiter
	closed bool
}

// ownSocket takes the socket of conn from the runtime's poller. conn is closed either way.
func ownSocket(conn net.Conn) (*ownedSocket, error) {
	defer conn.Close() // the duplicate keeps the socket open
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, syscall.EINVAL
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, dupErr := -1, error(nil)
	if err := raw.Control(func(orig uintptr) {
		// The duplicate shares the open file description, so it is non-blocking already.
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, orig, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			dupErr = errno
			return
		}
		fd = int(r)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	return &ownedSocket{fd: fd}, nil
}

func (s *ownedSocket) Control(f func(fd uintptr)) error {
	if s.closed {
		return net.ErrClosed
	}
	f(uintptr(s.fd))
	return nil
}

// Read calls f once: the waiter's read callbacks never ask to wait.
func (s *ownedSocket) Read(f func(fd uintptr) bool) error {
	if s.closed {
		return net.ErrClosed
	}
	f(uintptr(s.fd))
	return nil
}

// Write calls f until it is done, waiting for the socket to take more when it is full.
func (s *ownedSocket) Write(f func(fd uintptr) bool) error {
	for {
		if s.closed {
			return net.ErrClosed
		}
		// Waiting is announced before the attempt, so an EPOLLOUT edge between a full buffer
		// and the wait still leaves a wake-up.
		s.w.writeWaiting.Store(true)
		if f(uintptr(s.fd)) {
			s.w.writeWaiting.Store(false)
			return nil
		}
		if err := s.w.waitWritable(); err != nil {
			s.w.writeWaiting.Store(false)
			return err
		}
	}
}

func (s *ownedSocket) close() {
	if !s.closed {
		s.closed = true
		syscall.Close(s.fd)
	}
}
