package netpoll

import (
	"net"
	"syscall"
	"unsafe"
)

// RawSockets: on Windows the front end reads client sockets through net.Conn (Go's overlapped
// I/O), so it never has a descriptor to read itself; ReadFD and PeekFD are not called.
const RawSockets = false

func ReadFD(uintptr, []byte) (int, error) { return 0, syscall.EWINDOWS }

func PeekFD(uintptr, []byte) (int, error) { return 0, syscall.EWINDOWS }

// fionread is FIONREAD of winsock2.h: the number of bytes ready to read.
const fionread = 0x4004667f

// ConnQuiet reports whether no bytes are readable on an idle connection (FIONREAD; a close is
// not seen here: the request written on it then fails unanswered, and is sent again).
func ConnQuiet(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	quiet := false
	if err := raw.Control(func(fd uintptr) {
		var n, ret uint32
		err := syscall.WSAIoctl(syscall.Handle(fd), fionread, nil, 0, (*byte)(unsafe.Pointer(&n)), 4, &ret, nil, 0)
		quiet = err == nil && n == 0
	}); err != nil {
		return false
	}
	return quiet
}

// ShutdownWrite is not called on Windows (RawSockets is false: the front end has no descriptor).
func ShutdownWrite(uintptr) error { return syscall.EWINDOWS }
