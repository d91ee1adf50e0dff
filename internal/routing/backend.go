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
	// pool made it (Pool.Get): its passive ejections are ordered and bounded there.
	pool *Pool

	// unhealthy is stored negated so that a Backend's zero value is healthy, as the Pool promises.
	unhealthy atomic.Bool
	// ejectedUntil is a Unix time in nanoseconds; 0 means never ejected.
	ejectedUntil atomic.Int64
	active       atomic.Int64
}

// Pool keeps one Backend per address for a gateway process, and knows which tables in service
// route to each: a Backend may be shared by the tables of several gateways, and passive ejection
// (Table.Eject) must leave every one of them an available instance.
type Pool struct {
	backends sync.Map // string -> *Backend

	// ejectMu orders the passive ejections of the pool's backends (Table.Eject, Backend.Eject),
	// so that each one's check of what stays available sees all those before it; it guards
	// serving and referrers.
	ejectMu sync.Mutex
	// serving is the table in service of each gateway (InService), by name.
	serving map[string]*Table
	// referrers are the tables in serving whose routes list a backend (Route.Backends; a table
	// that reaches it only through Route.Next is not listed: the table it reaches is).
	referrers map[*Backend][]*Table
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{serving: map[string]*Table{}, referrers: map[*Backend][]*Table{}}
}

// InService records t as the table that gateway name serves by from now on, in place of the one
// before (nil: the gateway is gone). Passive ejection of a backend is withheld while any table in
// service that lists it would be left without an available instance (Table.Eject). t's backends
// must come from p. Call it before the gateway starts routing by t.
func (p *Pool) InService(name string, t *Table) {
	p.ejectMu.Lock()
	defer p.ejectMu.Unlock()
	if p.serving == nil {
		p.serving, p.referrers = map[string]*Table{}, map[*Backend][]*Table{}
	}
	old := p.serving[name]
	if old == t {
		return
	}
	if old != nil {
		for b := range old.listed() {
			refs := p.referrers[b]
			for i, r := range refs {
				if r == old {
					refs = append(refs[:i:i], refs[i+1:]...)
					break
				}
			}
			if len(refs) == 0 {
				delete(p.referrers, b)
			} else {
				p.referrers[b] = refs
			}
		}
	}
	if t == nil {
		delete(p.serving, name)
		return
	}
	p.serving[name] = t
	for b := range t.listed() {
		p.referrers[b] = append(p.referrers[b], t)
	}
}

// listed are the backends t's routes list, each once.
func (t *Table) listed() map[*Backend]struct{} {
	set := map[*Backend]struct{}{}
	for i := range t.routes {
		for _, b := range t.routes[i].Backends {
			set[b] = struct{}{}
		}
	}
	return set
}

// Get returns the Backend for addr, creating it healthy on first use.
func (p *Pool) Get(addr string) *Backend {
	if b, ok := p.backends.Load(addr); ok {
		return b.(*Backend) //nolint:forcetypeassert // backends holds only *Backend: this is its only store
	}
	b, _ := p.backends.LoadOrStore(addr, &Backend{Addr: addr, pool: p})
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
	if mu := b.ejectMu(); mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	if b.ejectedUntil.Load() < until {
		b.ejectedUntil.Store(until)
	}
}

// ejectMu is the mutex that orders b's ejections: its pool's; nil for a Backend not made by a
// Pool (which the package's rules do not cover: get Backends from a Pool).
func (b *Backend) ejectMu() *sync.Mutex {
	if b.pool == nil {
		return nil
	}
	return &b.pool.ejectMu
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
