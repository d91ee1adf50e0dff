//go:build !linux

package proxy

import (
	"context"
	"net"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/netpoll"
)

// dialSocket connects to addr for the pool, as a net.Conn that frontSocket takes over (on Linux
// also into a socket of the front end's own: dial_linux.go).
func (u *upstreams) dialSocket(ctx context.Context, addr string) (conn net.Conn, sock *netpoll.OwnedSocket, aw *netpoll.Waiter, err error) {
	if conn, err = dialTCP(ctx, &u.dialer, addr, u.dialer.Timeout); err != nil {
		return nil, nil, nil, err
	}
	sock, _, aw = frontSocket(u.arrivals, conn, false, u.io)
	return conn, sock, aw, nil
}

// dialTCP connects to addr by Go's dialer (d.Timeout bounds it); on Linux the time-out is
// judged by the socket (dial_linux.go).
func dialTCP(ctx context.Context, d *net.Dialer, addr string, _ time.Duration) (net.Conn, error) {
	return d.DialContext(ctx, "tcp", addr)
}
