//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// rawSockets: the front end reads client sockets itself, through their descriptors.
const rawSockets = true

// readFD reads from a non-blocking socket descriptor.
func readFD(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }

// peekFD looks at the socket's next bytes without taking them or waiting.
func peekFD(fd uintptr, b []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}

// connQuiet reports whether nothing is readable on an idle connection, not even its end: one
// non-blocking peek (upstreamConn.quiet, where no waiter watches the socket).
func connQuiet(conn net.Conn) bool {
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
		_, err := peekFD(fd, one[:])
		quiet = err == syscall.EAGAIN
	}); err != nil {
		return false
	}
	return quiet
}
