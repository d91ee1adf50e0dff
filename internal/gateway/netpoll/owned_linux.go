package netpoll

import (
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// OwnedSocket is the descriptor of a connection (a client's, or one to an instance) that only the
// front end polls: a duplicate of the accepted or dialled connection's, whose net.Conn is closed
// so that the runtime's poller forgets the socket. Kept in both epoll sets, every byte that
// arrives ran two epoll callbacks and the runtime's poller harvested events that nobody waited
// for (docs/benchmarks.md: the gateway's kernel time). It implements syscall.RawConn for the
// waiter: reads never wait in it (the waiter waits), writes that find the socket's buffer full
// wait for the arrival-order set's EPOLLOUT wake-up. Only one goroutine at a time uses it (its
// connection's, or the pool's); another may only shut it down (ShutdownFromOutside), never close it: its descriptor number
// could go to a new socket at once.
type OwnedSocket struct {
	fd int
	w  *Waiter
	mu sync.Mutex // closed changes under it, so that ShutdownFromOutside never meets a reused number
	// closed is written by the owner only; the owner reads it without the lock.
	closed bool
}

// OwnSocket takes the socket of conn from the runtime's poller and closes conn. On an error conn
// is left as it was.
func OwnSocket(conn net.Conn) (*OwnedSocket, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, unix.EINVAL
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, dupErr := -1, error(nil)
	if err := raw.Control(func(orig uintptr) {
		// The duplicate shares the open file description, so it is non-blocking already.
		r, err := unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			dupErr = os.NewSyscallError("fcntl", err)
			return
		}
		fd = r
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	conn.Close() // the duplicate keeps the socket open
	return &OwnedSocket{fd: fd}, nil
}

// NewOwnedSocket makes the front end the owner of fd, a socket it made itself (a dial's, which
// never enters the runtime's poller); Close closes it.
func NewOwnedSocket(fd int) *OwnedSocket { return &OwnedSocket{fd: fd} }

func (s *OwnedSocket) Control(f func(fd uintptr)) error {
	if s.closed {
		return net.ErrClosed
	}
	f(uintptr(s.fd))
	return nil
}

// Read calls f once: the waiter's read callbacks never ask to wait.
func (s *OwnedSocket) Read(f func(fd uintptr) bool) error {
	if s.closed {
		return net.ErrClosed
	}
	f(uintptr(s.fd))
	return nil
}

// Write calls f until it is done, waiting for the socket to take more when it is full.
func (s *OwnedSocket) Write(f func(fd uintptr) bool) error {
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

// Close closes the socket (its owner only; see ShutdownFromOutside).
func (s *OwnedSocket) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		unix.Close(s.fd)
	}
}

// ShutdownFromOutside ends the connection for the peer and for the owner's next read (which then
// sees its end and closes the socket), from any goroutine (Shutdown, Close).
func (s *OwnedSocket) ShutdownFromOutside() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		// Fails only on a socket that is not connected any more: its owner's next read sees the
		// end anyway.
		_ = unix.Shutdown(s.fd, unix.SHUT_RDWR)
	}
}

// NetConn gives the socket back to the runtime as a net.Conn (a hand-off to net/http); s is
// closed after it.
func (s *OwnedSocket) NetConn() (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, net.ErrClosed
	}
	s.closed = true
	f := os.NewFile(uintptr(s.fd), "vamp-gateway-client")
	defer f.Close()
	return net.FileConn(f) // a duplicate, in the runtime's poller
}
