//go:build unix

package proxy

import "syscall"

// rawSockets: the front end reads client sockets itself, through their descriptors.
const rawSockets = true

// readFD reads from a non-blocking socket descriptor.
func readFD(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }

// peekFD looks at the socket's next bytes without taking them or waiting.
func peekFD(fd uintptr, b []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
