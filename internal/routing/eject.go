package routing

import (
	"sync"
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
	// Withheld: ejecting the backend would have left the table without an available instance,
	// so it stays in rotation.
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

// ejectMu orders every passive ejection of the process (Table.Eject, Backend.Eject), so that
// each one's check of what stays available sees all those before it. Ejections are rare (after
// several failures of one instance) and the section is short: a scan of one table's instances.
var ejectMu sync.Mutex

// Eject is passive ejection's one rule: it takes b out of rotation until now+d, if b is not
// ejected already, unless no other instance of t, the table the failed request was routed by, is
// available (healthy and not ejected) in any of its routes or in the tables its routes lead to
// (Route.Next). Passive ejection is a guess from failures; it never empties a table. Active
// health checks are not bounded: an unhealthy instance is skipped even when it is the last.
//
// Ejections are made one at a time (ejectMu): of several instances failing at once, the
// check of the last one sees the others ejected, so they cannot all be ejected. A withheld
// ejection writes nothing: an earlier ejection of b, in force or past, stays as it is.
func (t *Table) Eject(b *Backend, now time.Time, d time.Duration) EjectOutcome {
	nowNano, until := now.UnixNano(), now.Add(d).UnixNano()
	ejectMu.Lock()
	defer ejectMu.Unlock()
	if b.ejectedUntil.Load() > nowNano {
		return AlreadyEjected
	}
	if !t.anyAvailableBut(b, nowNano, 0) {
		return Withheld
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
