package proxy

import "syscall"

// rawSockets: on Windows the front end reads client sockets through net.Conn (Go's overlapped
// I/O), so it never has a descriptor to read itself; readFD and peekFD are not called.
const rawSockets = false

func readFD(uintptr, []byte) (int, error) { return 0, syscall.EWINDOWS }

func peekFD(uintptr, []byte) (int, error) { return 0, syscall.EWINDOWS }
