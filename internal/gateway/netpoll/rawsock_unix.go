//go:build unix

package netpoll

import (
	"net"
	"syscall"
)

// RawSockets: the front end reads client sockets itself, through their descriptors.
const RawSockets = true

// ReadFD reads from a non-blocking socket descriptor.
func ReadFD(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }

// PeekFD looks at the socket's next bytes without taking them or waiting.
func PeekFD(fd uintptr, b []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
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
		quiet = err == syscall.EAGAIN
	}); err != nil {
		return false
	}
	return quiet
}
