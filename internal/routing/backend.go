package routing

import (
	"sync"
	"sync/atomic"
	"time"
)

// Backend is one instance address. Its health and its count of active requests outlive table
// versions: get it from a Pool, never build one per table.
type Backend struct {
	Addr string // "host:port"

	// unhealthy is stored negated so that a Backend's zero value is healthy, as the Pool promises.
	unhealthy atomic.Bool
	// ejectedUntil is a Unix time in nanoseconds; 0 means never ejected.
	ejectedUntil atomic.Int64
	active       atomic.Int64
}

// Pool keeps one Backend per address for a gateway process.
type Pool struct {
	backends sync.Map // string -> *Backend
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{} }

// Get returns the Backend for addr, creating it healthy on first use.
func (p *Pool) Get(addr string) *Backend {
	if b, ok := p.backends.Load(addr); ok {
		return b.(*Backend) //nolint:forcetypeassert // backends holds only *Backend: this is its only store
	}
	b, _ := p.backends.LoadOrStore(addr, &Backend{Addr: addr})
	return b.(*Backend) //nolint:forcetypeassert // backends holds only *Backend: this is its only store
}

// Forget drops addr from the pool, for an instance that no table names any more. A table that
// still holds the Backend keeps working with it; a later Get creates a fresh, healthy one.
func (p *Pool) Forget(addr string) { p.backends.Delete(addr) }

// Available reports whether the backend may take a request now: healthy and not ejected.
func (b *Backend) Available(now time.Time) bool { return b.available(now.UnixNano()) }

func (b *Backend) available(nowNano int64) bool {
	return !b.unhealthy.Load() && nowNano >= b.ejectedUntil.Load()
}

// SetHealthy records an active health check's verdict.
func (b *Backend) SetHealthy(ok bool) { b.unhealthy.Store(!ok) }

// Healthy reports the last active health verdict (true until a check says otherwise).
func (b *Backend) Healthy() bool { return !b.unhealthy.Load() }

// Eject takes the backend out of rotation until now+d (passive ejection after failures). An
// ejection never shortens a longer one already in force. It ejects unconditionally: the
// gateway's passive ejection goes through Table.Eject, which never ejects a table's last
// available instance.
func (b *Backend) Eject(now time.Time, d time.Duration) {
	until := now.Add(d).UnixNano()
	ejectMu.Lock()
	defer ejectMu.Unlock()
	if b.ejectedUntil.Load() < until {
		b.ejectedUntil.Store(until)
	}
}

// EjectedUntil returns when the current ejection ends; the zero Time if it was never ejected.
func (b *Backend) EjectedUntil() time.Time {
	n := b.ejectedUntil.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Active is the number of requests in flight to this backend.
func (b *Backend) Active() int64 { return b.active.Load() }

// Acquire and Release count a request in flight (least-connections); the proxy calls Release
// exactly once per Decision that named this backend.
func (b *Backend) Acquire() { b.active.Add(1) }
func (b *Backend) Release() { b.active.Add(-1) }
