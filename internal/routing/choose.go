package routing

import "net/http"

// pick is one table's choice: a backend of route, or (next != nil) a hop to another table.
type pick struct {
	route       int
	backend     *Backend
	next        *Table
	setCookie   bool
	cookieValue string
}

// choose applies rules 1-5 within t alone.
func (t *Table) choose(r *http.Request, nowNano int64, exclude *Backend) (pick, error) {
	if len(t.routes) == 0 {
		return pick{}, t.errNoRoutes
	}
	// Rule 2: the first route whose condition matches decides whether it takes the request.
	for _, i := range t.conditional {
		if !t.routes[i].Condition.Match(r) {
			continue
		}
		if t.state[i].takeNext() {
			if p, ok := t.tryRoute(i, nowNano, exclude); ok {
				return p, nil // a condition outranks the sticky cookie: no cookie either way
			}
			if t.allZero {
				return pick{}, t.state[i].errCondNoInstance
			}
			// Rule 5: no instance there, so the request goes by weight like the rest.
		}
		break
	}
	// Rule 1: with every weight 0 only conditional traffic is served.
	if t.allZero {
		return pick{}, t.errAllZero
	}
	switch t.sticky {
	case StickyRoute:
		return t.chooseStickyRoute(r, nowNano, exclude)
	case StickyInstance:
		return t.chooseStickyInstance(r, nowNano, exclude)
	}
	return t.byWeight(nowNano, exclude)
}

// chooseStickyRoute honours a cookie that names a route with weight and an instance, else
// chooses by weight and asks for the cookie to be set (rule 4).
func (t *Table) chooseStickyRoute(r *http.Request, nowNano int64, exclude *Backend) (pick, error) {
	if name, ok := cookieValue(r.Header, t.cookieName); ok {
		if i := t.weightedRouteNamed(name); i >= 0 {
			if p, ok := t.tryRoute(i, nowNano, exclude); ok {
				return p, nil
			}
		}
	}
	p, err := t.byWeight(nowNano, exclude)
	if err != nil {
		return pick{}, err
	}
	p.setCookie, p.cookieValue = true, t.routes[p.route].Name
	return p, nil
}

// chooseStickyInstance honours a cookie that names an available instance of a route with weight,
// else chooses by weight and asks for the cookie to be set (rule 4). A route to another gateway
// has no instance of this table to pin; the next table's own stickiness applies there.
func (t *Table) chooseStickyInstance(r *http.Request, nowNano int64, exclude *Backend) (pick, error) {
	if addr, ok := cookieValue(r.Header, t.cookieName); ok {
		if ref, ok := t.weightedBackendAt(addr); ok && ref.backend != exclude && ref.backend.available(nowNano) {
			return pick{route: ref.route, backend: ref.backend}, nil
		}
	}
	p, err := t.byWeight(nowNano, exclude)
	if err != nil {
		return pick{}, err
	}
	if p.backend != nil {
		p.setCookie, p.cookieValue = true, p.backend.Addr
	}
	return p, nil
}

// byWeight is rule 3: the next slot of the weighted cycle, in this cycle's random order, or a
// re-choice among the routes that can serve when that one cannot (rule 5).
func (t *Table) byWeight(nowNano int64, exclude *Backend) (pick, error) {
	n := t.wrr.Add(1) - 1
	l := uint64(len(t.cycle))
	i := t.weighted[t.shuffled[shuffleOf(t.seed, n/l)*l+n%l]]
	if p, ok := t.tryRoute(i, nowNano, exclude); ok {
		return p, nil
	}
	return t.rechoose(nowNano, exclude)
}

// rechoose picks by weight among the routes that can serve now. It walks the cycle skipping the
// routes that cannot, so the survivors keep their proportions, and draws the slot in a random
// order per cycle of survivors as byWeight does.
// This is the degraded path: it scans every weighted route.
func (t *Table) rechoose(nowNano int64, exclude *Backend) (pick, error) {
	var can [2]uint64 // bit w: weighted[w] can serve; len(weighted) <= 100
	for w, i := range t.weighted {
		if t.canServe(i, nowNano, exclude) {
			can[w/64] |= 1 << (w % 64)
		}
	}
	slots := uint64(0)
	for _, w := range t.cycle {
		slots += can[w/64] >> (w % 64) & 1
	}
	if slots > 0 {
		n := t.rechoice.Add(1) - 1
		k := permute(t.seed, n/slots, n%slots, slots)
		for _, w := range t.cycle {
			if can[w/64]>>(w%64)&1 == 0 {
				continue
			}
			if k == 0 {
				if p, ok := t.tryRoute(t.weighted[w], nowNano, exclude); ok {
					return p, nil
				}
				break // it lost its last instance meanwhile: take any route that still can
			}
			k--
		}
		for _, i := range t.weighted {
			if p, ok := t.tryRoute(i, nowNano, exclude); ok {
				return p, nil
			}
		}
	}
	if exclude != nil {
		return pick{}, t.errNoOtherInstance
	}
	return pick{}, t.errNoInstance
}

// canServe reports whether route i has an instance to take a request, without taking one.
func (t *Table) canServe(i int, nowNano int64, exclude *Backend) bool {
	r := &t.routes[i]
	if r.Next != nil {
		return r.Next.Load() != nil
	}
	for _, b := range r.Backends {
		if b != exclude && b.available(nowNano) {
			return true
		}
	}
	return false
}

// tryRoute picks an instance of route i (rule 5), or the table that route i leads to.
func (t *Table) tryRoute(i int, nowNano int64, exclude *Backend) (pick, bool) {
	r := &t.routes[i]
	if r.Next != nil {
		next := r.Next.Load()
		return pick{route: i, next: next}, next != nil
	}
	n := uint64(len(r.Backends))
	switch n {
	case 0:
		return pick{}, false
	case 1: // nothing to balance: spare the shared counter
		if b := r.Backends[0]; b != exclude && b.available(nowNano) {
			return pick{route: i, backend: b}, true
		}
		return pick{}, false
	}
	start := t.state[i].rr.Add(1) - 1
	if t.balance == LeastConnections {
		// Fewest requests in flight; the rotating start spreads ties evenly.
		var best *Backend
		var bestActive int64
		for k := uint64(0); k < n; k++ {
			b := r.Backends[(start+k)%n]
			if b == exclude || !b.available(nowNano) {
				continue
			}
			if a := b.active.Load(); best == nil || a < bestActive {
				best, bestActive = b, a
			}
		}
		return pick{route: i, backend: best}, best != nil
	}
	for k := uint64(0); k < n; k++ {
		if b := r.Backends[(start+k)%n]; b != exclude && b.available(nowNano) {
			return pick{route: i, backend: b}, true
		}
	}
	return pick{}, false
}

// weightedRouteNamed returns the index of the route with a weight above 0 called name, or -1.
func (t *Table) weightedRouteNamed(name string) int {
	if t.byName != nil {
		if i, ok := t.byName[name]; ok {
			return i
		}
		return -1
	}
	for _, i := range t.weighted {
		if t.routes[i].Name == name {
			return i
		}
	}
	return -1
}

// weightedBackendAt finds the instance at addr in the routes with a weight above 0.
func (t *Table) weightedBackendAt(addr string) (addrRef, bool) {
	if t.byAddr != nil {
		ref, ok := t.byAddr[addr]
		return ref, ok
	}
	for _, i := range t.weighted {
		for _, b := range t.routes[i].Backends {
			if b.Addr == addr {
				return addrRef{route: i, backend: b}, true
			}
		}
	}
	return addrRef{}, false
}

// takeNext counts one more request whose first matching condition is this route's and says
// whether the route takes it: exactly take of every period, spread out (strength 50 takes every
// other one, starting with the first).
func (s *routeState) takeNext() bool {
	if s.take == s.period {
		return true
	}
	if s.take == 0 {
		return false
	}
	m := (s.matched.Add(1) - 1) % s.period
	// Take when ceil((m+1)·take/period) steps up from ceil(m·take/period).
	return ((m+1)*s.take+s.period-1)/s.period > (m*s.take+s.period-1)/s.period
}
