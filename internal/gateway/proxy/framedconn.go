package proxy

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/httpframe"
)

// framedConn is a connection that net/http serves: one the front end handed off (with the bytes
// it had read), or every connection with NetHTTPOnly. Every request head on it passes
// CheckRequestHead before net/http reads a byte of it, and the body the head frames is followed
// to its end (by length, or chunk by chunk) to find the next head: net/http's own parser, which
// takes some ambiguous heads (it lets Transfer-Encoding override Content-Length, and reads an
// HTTP/1.0 body by its Content-Length whatever else the head says), never sees one.
//
// A refused head is never given to net/http: only its first four bytes are (refusalPrefix), then
// the next read fails, and net/http answers 400 and closes the connection. (Bytes first: net/http
// reads one byte ahead while it serves a request, and an error there would cancel that request;
// and it waits for four before it reads the next request.) A malformed chunked body fails the
// read of the body: the request is answered 400 (Proxy.answerError), and the connection closed.
//
// After a request that asks to switch protocols (Upgrade), what follows is held, unread by
// net/http, until the proxy says whether the instance switched (switched, from the handler's
// goroutine): then it passes unchecked, else it is checked as HTTP/1.1. After an HTTP/2 preface
// everything passes unchecked.
type framedConn struct {
	net.Conn
	hold    []byte // read from the socket, not yet given to net/http
	cleared int    // hold[:cleared] may be given: a checked head, body bytes
	state   framedState
	body    httpframe.BodyScanner // the current body (framedBody)
	// upgradeNext: after the current body, wait for the upgrade's outcome (switch).
	upgradeNext bool
	started     bool  // a head was seen
	heads       int   // heads checked and given to net/http
	err         error // the refusal, returned once what was cleared is given
	// refused is err for other goroutines (framingFailure): a body's refusal ends the request's
	// context too, and the handler must still answer 400.
	refused atomic.Pointer[httpframe.FramingError]
	upgrade atomic.Int32 // the upgrade's outcome (switched)
	// slot is the limiter whose connection slot this connection holds (nil: none), given back
	// by the first Close (released).
	slot     *connlimit.Limiter
	released atomic.Bool
}

type framedState uint8

const (
	framedHead framedState = iota
	framedBody
	framedAwaitSwitch
	framedPass
)

// The outcome of an upgrade request, as the proxy tells it (switched).
const (
	switchUndecided int32 = iota
	switchDone
	switchDeclined
)

// maxHandedOffHead is what net/http reads of a head at most (its default MaxHeaderBytes and the
// 4 KiB it allows beyond); it also bounds what is held while an upgrade is undecided.
const maxHandedOffHead = 1<<20 + 4096

// h2Preface is the first line of the HTTP/2 client preface: the HTTP/1.1 front end reads the
// preface's first line and blank line as a request head (readHead) and serves the connection as
// HTTP/2 (serveH2); with NetHTTPOnly net/http does.
var h2Preface = []byte("PRI * HTTP/2.0\r\n")

// newFramedConn wraps conn, whose first bytes prefix were read already.
func newFramedConn(conn net.Conn, prefix []byte, slot *connlimit.Limiter) *framedConn {
	return &framedConn{Conn: conn, hold: prefix, slot: slot}
}

// Close closes the connection and gives its connection slot back (once).
func (c *framedConn) Close() error {
	err := c.Conn.Close()
	if c.released.CompareAndSwap(false, true) {
		c.slot.Release()
	}
	return err
}

type framedConnKey struct{}

// withFramedConn is net/http's ConnContext: the handler finds the connection (switched).
func withFramedConn(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framedConn); ok {
		return context.WithValue(ctx, framedConnKey{}, fc)
	}
	return ctx
}

// switched tells the connection of ctx whether the instance switched protocols for its upgrade
// request (any goroutine).
func switched(ctx context.Context, done bool) {
	if fc, ok := ctx.Value(framedConnKey{}).(*framedConn); ok {
		if done {
			fc.upgrade.Store(switchDone)
		} else {
			fc.upgrade.Store(switchDeclined)
		}
	}
}

func (c *framedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.cleared > 0 {
			n := copy(p, c.hold[:c.cleared])
			c.hold = c.hold[:copy(c.hold, c.hold[n:])]
			c.cleared -= n
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		switch c.state {
		case framedAwaitSwitch:
			switch c.upgrade.Load() {
			case switchDone:
				c.state = framedPass
			case switchDeclined:
				c.state = framedHead
			default:
				// Undecided: keep what comes, give nothing. net/http's read ahead ends here when
				// the answer is written (it moves the deadline into the past).
				if len(c.hold) >= maxHandedOffHead {
					c.fail(&httpframe.FramingError{Reason: "more than 1 MiB sent before the upgrade was answered"})
					continue
				}
				if err := c.fill(); err != nil {
					return 0, err
				}
			}
		case framedHead:
			if end := httpframe.RequestHeadEnd(c.hold); end >= 0 {
				c.startRequest(end)
				continue
			}
			if len(c.hold) >= maxHandedOffHead {
				c.refuse(&httpframe.FramingError{Reason: "a request head larger than 1 MiB"})
				continue
			}
			if err := c.fill(); err != nil {
				return 0, err
			}
		default:
			if len(c.hold) > 0 {
				c.cleared += c.bodyBytes(c.hold)
				continue
			}
			if c.state == framedPass {
				return c.Conn.Read(p)
			}
			// A body: read into p, and keep what follows the body's end for the next head.
			if left := c.body.LengthLeft(); left >= 0 && int64(len(p)) > left {
				p = p[:left]
			}
			n, err := c.Conn.Read(p)
			if n == 0 {
				return 0, err
			}
			k := c.bodyBytes(p[:n])
			if c.err != nil {
				return 0, c.err
			}
			if k < n {
				c.hold = append(c.hold[:0], p[k:n]...)
			}
			return k, err
		}
	}
}

// fill reads more into hold; an error only when nothing came.
func (c *framedConn) fill() error {
	if len(c.hold) == cap(c.hold) {
		c.hold = append(c.hold, make([]byte, max(4096, len(c.hold)))...)[:len(c.hold)]
	}
	n, err := c.Conn.Read(c.hold[len(c.hold):min(cap(c.hold), maxHandedOffHead)])
	c.hold = c.hold[:len(c.hold)+n]
	if n == 0 && err != nil {
		return err
	}
	return nil
}

// startRequest checks the head hold[:end] and clears it (or refuses it).
func (c *framedConn) startRequest(end int) {
	if !c.started && bytes.HasPrefix(c.hold, h2Preface) {
		c.state, c.cleared = framedPass, len(c.hold)
		return
	}
	c.started = true
	f, err := httpframe.CheckRequestHead(c.hold[:end])
	if err != nil && err.HTTPStatus() == http.StatusNotImplemented {
		// A transfer coding it does not implement: net/http answers 501 and closes too, and
		// reads nothing after the head.
		c.fail(err)
		c.cleared = end
		c.heads++
		return
	}
	if err != nil {
		c.refuse(err)
		return
	}
	c.cleared = end
	c.heads++
	c.upgradeNext = f.Upgrade
	if f.Upgrade {
		c.upgrade.Store(switchUndecided)
	}
	if f.Chunked || f.Length > 0 {
		c.state, c.body = framedBody, httpframe.NewBodyScanner(f)
	} else {
		c.endBody()
	}
}

// fail makes every later read fail with err.
func (c *framedConn) fail(err *httpframe.FramingError) {
	c.err = err
	c.refused.Store(err)
}

// framingFailure returns the refusal of the connection of ctx, nil if none.
func framingFailure(ctx context.Context) *httpframe.FramingError {
	if fc, ok := ctx.Value(framedConnKey{}).(*framedConn); ok {
		return fc.refused.Load()
	}
	return nil
}

// refuse gives the first bytes of the refused head (refusalPrefix), then err.
func (c *framedConn) refuse(err *httpframe.FramingError) {
	c.fail(err)
	c.hold = c.hold[:min(len(c.hold), refusalPrefix)]
	c.cleared = len(c.hold)
}

// refusalPrefix: net/http waits for four bytes of the next request before it reads it (an error
// there closes the connection without an answer), and no request fits in four bytes.
const refusalPrefix = 4

// bodyBytes follows the current body through b and returns how many of b's bytes belong to it
// (all of them while they pass unchecked).
func (c *framedConn) bodyBytes(b []byte) int {
	if c.state != framedBody {
		return len(b)
	}
	k, done, err := c.body.Scan(b)
	if err != nil {
		c.fail(err)
		return 0
	}
	if done {
		c.endBody()
	}
	return k
}

func (c *framedConn) endBody() {
	c.state = framedHead
	if c.upgradeNext {
		c.state, c.upgradeNext = framedAwaitSwitch, false
	}
}
