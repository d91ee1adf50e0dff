package proxy

import (
	"context"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// Dial time-outs judged by the socket, not by the dialling goroutine's clock.
//
// Go's dialer waits for a non-blocking connect in the runtime's poller with a deadline, and
// reports a time-out whenever the deadline's timer runs before the goroutine is woken for the
// connect's completion. Under load, with 10,000 clients on one core, the goroutine waits that
// long for the CPU although the kernel completed the connect at once: in conns-10000 thousands of
// dials "timed out" while `ss` showed not one socket towards the instances in SYN-SENT
// (docs/benchmarks.md, session 8). Each such time-out answered a request 502/504 and counted
// towards ejecting a healthy instance. Here the deadline ends the wait, and then the socket
// says: a connect the kernel completed is a connection, only one still in progress is a
// time-out.

// dialSocket connects to addr for the pool: into a socket of the front end's own when reads
// wait in arrival order and addr is an IP address and port (dialOwned; conn is nil then), else
// as a net.Conn (dialTCP) that frontSocket takes over (nothing comes before the first request).
func (u *upstreams) dialSocket(ctx context.Context, addr string) (conn net.Conn, sock *netpoll.OwnedSocket, aw *netpoll.Waiter, err error) {
	if u.io == ioArrivalOrder && u.arrivals.Enabled() {
		if ap, perr := netip.ParseAddrPort(addr); perr == nil {
			sock, aw, err = dialOwned(u.arrivals, &u.dialer, ap, u.dialer.Timeout)
			return nil, sock, aw, err
		}
	}
	if conn, err = dialTCP(ctx, &u.dialer, addr, u.dialer.Timeout); err != nil {
		return nil, nil, nil, err
	}
	sock, _, aw = frontSocket(u.arrivals, conn, false, u.io)
	return conn, sock, aw, nil
}

// dialTCP connects to addr with the given time-out. An address that is an IP address and a
// port is connected by connectSocket and finishConnect (ctx is not looked at: the pool's dials
// are bounded by their time-out alone); any other (a host name) by d, Go's dialer, which
// resolves it.
func dialTCP(ctx context.Context, d *net.Dialer, addr string, timeout time.Duration) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	f, pending, err := connectSocket(ap, d)
	if err != nil {
		return nil, dialOpError(ap, err)
	}
	return finishConnect(f, pending, ap, deadline)
}

// connectSocket makes a non-blocking TCP socket with the options Go's dialer sets (no Nagle,
// keep-alive probes every d.KeepAlive), runs d.Control on it if set (as Go's dialer does), and
// starts its connect to ap. pending: the connect is in progress (EINPROGRESS); false: it
// completed at once. The socket is an *os.File in the runtime's poller; on an error it is closed.
func connectSocket(ap netip.AddrPort, d *net.Dialer) (f *os.File, pending bool, err error) {
	fd, sa, network, err := openSocket(ap, d.KeepAlive)
	if err != nil {
		return nil, false, err
	}
	// Non-blocking: os.NewFile puts it in the runtime's poller.
	f = os.NewFile(uintptr(fd), "vamp-gateway-dial")
	if d.Control != nil {
		var rc syscall.RawConn
		if rc, err = f.SyscallConn(); err == nil {
			err = d.Control(network, ap.String(), rc)
		}
	}
	if err == nil {
		pending, err = startConnect(fd, sa)
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, pending, nil
}

// dialOwned is dialTCP for the arrival-order front end: the socket is the front end's from the
// start (netpoll.OwnedSocket, with its waiter in set) and never enters the runtime's poller; a
// connect in progress waits for its EPOLLOUT wake-up in set, until timeout (0: none), and then
// the socket says whether it completed (connected). That spares what taking over a net.Conn from
// Go's dialer costs (the runtime's registration and its removal, a duplicate, two closes):
// about half the system calls of a dial. Errors as finishConnect's.
func dialOwned(set *netpoll.Arrivals, d *net.Dialer, ap netip.AddrPort, timeout time.Duration) (*netpoll.OwnedSocket, *netpoll.Waiter, error) {
	fd, sa, network, err := openSocket(ap, d.KeepAlive)
	if err != nil {
		return nil, nil, dialOpError(ap, err)
	}
	sock := netpoll.NewOwnedSocket(fd)
	if d.Control != nil {
		err = d.Control(network, ap.String(), sock)
	}
	pending := false
	if err == nil {
		pending, err = startConnect(fd, sa)
	}
	var aw *netpoll.Waiter
	if err == nil {
		if aw = set.NewWaiter(sock, false); aw == nil {
			err = netpoll.ErrClosed
		}
	}
	if err == nil && pending {
		err = waitOwnedConnect(sock, aw, timeout)
	}
	if err != nil {
		aw.Release()
		sock.Close()
		return nil, nil, dialOpError(ap, err)
	}
	return sock, aw, nil
}

// waitOwnedConnect waits for the connect on sock to end, for at most timeout (0: no bound), then
// asks the socket once more (awaitConnect).
func waitOwnedConnect(sock *netpoll.OwnedSocket, aw *netpoll.Waiter, timeout time.Duration) error {
	aw.SetWriteTimeout(timeout)
	defer aw.SetWriteTimeout(0)
	return awaitConnect(sock)
}

// connectingSocket is what awaitConnect needs of a socket whose connect is in progress:
// syscall.RawConn's Write and Control, which an *os.File's RawConn and a netpoll.OwnedSocket both
// have.
type connectingSocket interface {
	Write(f func(fd uintptr) bool) error
	Control(f func(fd uintptr)) error
}

// awaitConnect is the one rule for a dial's time-out: it waits until s is writable (the connect
// ended) or the wait's deadline, set by the caller, passes; then the socket, not the clock, says
// how the connect ended: a connect the kernel completed meanwhile is a connection, only one still
// in progress is a time-out (os.ErrDeadlineExceeded).
func awaitConnect(s connectingSocket) error {
	var cerr error
	done := false
	werr := s.Write(func(fd uintptr) bool {
		done, cerr = connected(int(fd))
		return done || cerr != nil
	})
	if werr != nil && os.IsTimeout(werr) {
		// The time-out ended the wait, which says nothing about the connect: the socket does.
		if err := s.Control(func(fd uintptr) { done, cerr = connected(int(fd)) }); err != nil {
			return err
		}
		if cerr == nil && !done {
			return os.ErrDeadlineExceeded
		}
		return cerr
	}
	if werr != nil {
		return werr
	}
	return cerr
}

// openSocket makes a non-blocking TCP socket for ap with the options Go's dialer sets; network is
// "tcp4" or "tcp6" (for a dialer's Control).
func openSocket(ap netip.AddrPort, keepAlive time.Duration) (fd int, sa unix.Sockaddr, network string, err error) {
	addr := ap.Addr().Unmap()
	family := unix.AF_INET
	network = "tcp4"
	if addr.Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: addr.As4()}
	} else {
		family, network = unix.AF_INET6, "tcp6"
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: addr.As16()}
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, "", os.NewSyscallError("socket", err)
	}
	if err = setDialOptions(fd, keepAlive); err != nil {
		unix.Close(fd)
		return -1, nil, "", err
	}
	return fd, sa, network, nil
}

// startConnect starts the connect of fd to sa: pending when it is in progress (EINPROGRESS).
func startConnect(fd int, sa unix.Sockaddr) (pending bool, err error) {
	switch err := unix.Connect(fd, sa); err {
	case nil:
		return false, nil
	case unix.EINPROGRESS:
		return true, nil
	default:
		return false, os.NewSyscallError("connect", err)
	}
}

func setDialOptions(fd int, keepAlive time.Duration) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if keepAlive <= 0 {
		return nil
	}
	secs := int(max(keepAlive/time.Second, 1))
	for _, o := range [][2]int{{unix.SOL_SOCKET, unix.SO_KEEPALIVE}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}, {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}} {
		v := secs
		if o[1] == unix.SO_KEEPALIVE {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, o[0], o[1], v); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}

// finishConnect waits until deadline (zero: none) for the connect begun by connectSocket on f,
// and returns the connection as a net.Conn. When the deadline passes, the socket is asked
// whether the connect completed (connected): it is a time-out only if not. Its errors are
// *net.OpError (op "dial"), a time-out's Timeout() true, a refused or reset connect's wrapping the
// errno. f is closed (the net.Conn holds a duplicate).
func finishConnect(f *os.File, pending bool, ap netip.AddrPort, deadline time.Time) (net.Conn, error) {
	defer f.Close()
	if pending {
		if err := waitConnected(f, deadline); err != nil {
			return nil, dialOpError(ap, err)
		}
	}
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, dialOpError(ap, err)
	}
	return conn, nil
}

// waitConnected waits for f's connect to end, until deadline; then asks the socket once more
// (awaitConnect).
func waitConnected(f *os.File, deadline time.Time) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if err := f.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return awaitConnect(rc)
}

// connected reports whether the connect on fd completed (true), failed (its error), or is still
// in progress (false, nil), as Go's dialer reads it: SO_ERROR, and the peer's address once that
// says nothing.
func connected(fd int) (bool, error) {
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return false, os.NewSyscallError("getsockopt", err)
	}
	switch errno := syscall.Errno(n); errno {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return false, nil
	case unix.EISCONN:
		return true, nil
	case 0:
		_, err := unix.Getpeername(fd)
		return err == nil, nil
	default:
		return false, os.NewSyscallError("connect", errno)
	}
}

func dialOpError(ap netip.AddrPort, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: err}
}
