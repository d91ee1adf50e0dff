package routing

import (
	"time"
)

// EjectOutcome is what Table.Eject did.
type EjectOutcome uint8

const (
	// Ejected: the backend is out of rotation until the end asked for.
	Ejected EjectOutcome = iota
	// AlreadyEjected: the backend was ejected already (a request chosen before its ejection
	// failed after it); the ejection in force is left as it is.
	AlreadyEjected
	// Withheld: ejecting the backend would have left the table, or another table in service
	// that routes to it (Pool.InService), without an available instance, so it stays in
	// rotation.
	Withheld
)

func (o EjectOutcome) String() string {
	switch o {
	case Ejected:
		return "ejected"
	case AlreadyEjected:
		return "already ejected"
	case Withheld:
		return "withheld"
	}
	return "unknown"
}

// Eject is passive ejection's one rule: it takes b out of rotation until now+d, if b is not
// ejected already, unless that would leave a table without an available (healthy and not
// ejected) instance in any of its routes or in the tables its routes lead to (Route.Next): t,
// the table the failed request was routed by, or any table in service that lists b
// (Pool.InService: a backend shared by several gateways is ejected only if every one of them
// keeps an instance). Passive ejection is a guess from failures; it never empties a gateway.
// Active health checks are not bounded: an unhealthy instance is skipped even when it is the last.
//
// Ejections are made one at a time (the mutex of b's Pool): of several instances failing at
// once, the check of the last one sees the others ejected, so they cannot all be ejected. A
// withheld ejection writes nothing: an earlier ejection of b, in force or past, stays as it is.
func (t *Table) Eject(b *Backend, now time.Time, d time.Duration) EjectOutcome {
	nowNano, until := now.UnixNano(), now.Add(d).UnixNano()
	var referrers []*Table
	if mu := b.ejectMu(); mu != nil {
		mu.Lock()
		defer mu.Unlock()
		referrers = b.pool.referrers[b]
	}
	if b.ejectedUntil.Load() > nowNano {
		return AlreadyEjected
	}
	if !t.anyAvailableBut(b, nowNano, 0) {
		return Withheld
	}
	for _, o := range referrers {
		if o != t && !o.anyAvailableBut(b, nowNano, 0) {
			return Withheld
		}
	}
	b.ejectedUntil.Store(until)
	return Ejected
}

// anyAvailableBut reports whether any route of t, or of a table a route of t leads to (at most
// maxHops deep, as Choose follows them), has an available backend other than b at nowNano.
func (t *Table) anyAvailableBut(b *Backend, nowNano int64, hops int) bool {
	for i := range t.routes {
		r := &t.routes[i]
		if r.Next != nil {
			if hops < maxHops {
				if next := r.Next.Load(); next != nil && next.anyAvailableBut(b, nowNano, hops+1) {
					return true
				}
			}
			continue
		}
		for _, o := range r.Backends {
			if o != b && o.available(nowNano) {
				return true
			}
		}
	}
	return false
}
