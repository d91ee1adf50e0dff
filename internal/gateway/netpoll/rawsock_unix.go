//go:build unix

package netpoll

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// RawSockets: the front end reads client sockets itself, through their descriptors.
const RawSockets = true

// ReadFD reads from a non-blocking socket descriptor.
func ReadFD(fd uintptr, b []byte) (int, error) { return unix.Read(int(fd), b) }

// PeekFD looks at the socket's next bytes without taking them or waiting.
func PeekFD(fd uintptr, b []byte) (int, error) {
	n, _, err := unix.Recvfrom(int(fd), b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return n, err
}

// ConnQuiet reports whether nothing is readable on an idle connection, not even its end: one
// non-blocking peek (upstreamConn.quiet, where no waiter watches the socket).
func ConnQuiet(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true // nothing to look at: a pipe in a test
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	quiet := false
	if err := raw.Control(func(fd uintptr) {
		var one [1]byte
		_, err := PeekFD(fd, one[:])
		quiet = err == unix.EAGAIN
	}); err != nil {
		return false
	}
	return quiet
}

// ShutdownWrite ends the socket's sending side (a FIN to the peer), keeping its receiving side.
func ShutdownWrite(fd uintptr) error { return unix.Shutdown(int(fd), unix.SHUT_WR) }
