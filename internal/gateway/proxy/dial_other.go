//go:build !linux

package proxy

import (
	"context"
	"net"
	"time"
)

// dialTCP connects to addr by Go's dialer (d.Timeout bounds it); on Linux the time-out is
// judged by the socket (dial_linux.go).
func dialTCP(ctx context.Context, d *net.Dialer, addr string, _ time.Duration) (net.Conn, error) {
	return d.DialContext(ctx, "tcp", addr)
}
