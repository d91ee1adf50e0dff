package metricsource

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Counters gives the current cumulative counters of a gateway route; false when the gateway has
// no such route. The gateway implements it over its per-route statistics.
type Counters interface {
	RouteCounters(gateway, route string) (Snapshot, bool)
}

// CountersFunc adapts a function to Counters.
type CountersFunc func(gateway, route string) (Snapshot, bool)

// RouteCounters calls f.
func (f CountersFunc) RouteCounters(gateway, route string) (Snapshot, bool) { return f(gateway, route) }

// InProcess is a Source over the gateway's own counters. It remembers the snapshots it has
// taken, so a window is "counters now minus counters at since". Snapshots are taken whenever
// Window or Mark is called; the roll-out runner asks at every tick, and the snapshot taken at
// the tick that starts a step is exactly the baseline of that step's window.
//
// Memory is bounded: per route, the last historyLen snapshots and the baselines of the last
// pinLen distinct since values asked for.
type InProcess struct {
	counters Counters
	now      func() time.Time

	mu     sync.Mutex
	routes map[routeKey]*routeHistory
}

const (
	historyLen = 32
	pinLen     = 4
)

type routeKey struct{ gateway, route string }

type stamped struct {
	at   time.Time
	snap Snapshot
}

type routeHistory struct {
	recent []stamped // oldest first, at most historyLen
	pins   []pin     // baselines of recently asked since values, oldest first
}

type pin struct {
	since time.Time
	base  stamped
}

// NewInProcess returns a source reading counters, with now as its clock (time.Now when nil).
func NewInProcess(counters Counters, now func() time.Time) *InProcess {
	if now == nil {
		now = time.Now
	}
	return &InProcess{counters: counters, now: now, routes: make(map[routeKey]*routeHistory)}
}

// Mark records the route's counters now, so that a later window starting now has an exact
// baseline. Call it when a roll-out starts or steps if Window is not called at that moment.
func (s *InProcess) Mark(gateway, route string) error {
	_, err := s.take(gateway, route)
	return err
}

// Forget drops what the source remembers of a route (the route was deleted).
func (s *InProcess) Forget(gateway, route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.routes, routeKey{gateway, route})
}

// take reads and records the current counters.
func (s *InProcess) take(gateway, route string) (stamped, error) {
	snap, ok := s.counters.RouteCounters(gateway, route)
	if !ok {
		return stamped{}, fmt.Errorf("gateway %q has no route %q to measure", gateway, route)
	}
	if err := snap.Latency.check(); err != nil {
		return stamped{}, fmt.Errorf("counters of route %q of gateway %q: %w", route, gateway, err)
	}
	now := stamped{at: s.now(), snap: snap}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history(gateway, route)
	if len(h.recent) == historyLen {
		h.recent = append(h.recent[:0], h.recent[1:]...)
	}
	h.recent = append(h.recent, now)
	return now, nil
}

func (s *InProcess) history(gateway, route string) *routeHistory {
	k := routeKey{gateway, route}
	h := s.routes[k]
	if h == nil {
		h = &routeHistory{}
		s.routes[k] = h
	}
	return h
}

// Window implements Source.
func (s *InProcess) Window(ctx context.Context, gateway, route string, since time.Time) (Window, error) {
	if err := ctx.Err(); err != nil {
		return Window{}, err
	}
	cur, err := s.take(gateway, route)
	if err != nil {
		return Window{}, err
	}
	s.mu.Lock()
	base := s.history(gateway, route).baseline(since, cur)
	s.mu.Unlock()

	// Counters that went backwards were reset (route re-created): everything now is new.
	if cur.snap.Requests < base.snap.Requests || cur.snap.Errors5xx < base.snap.Errors5xx {
		base = stamped{at: cur.snap.Start, snap: Snapshot{}}
	}
	lat, err := cur.snap.Latency.since(base.snap.Latency)
	if err != nil {
		return Window{}, fmt.Errorf("counters of route %q of gateway %q: %w", route, gateway, err)
	}
	from := base.at
	if from.Before(since) {
		from = since // the baseline is the state at since (nothing happened in between)
	}
	return Window{
		From:      from,
		To:        cur.at,
		Requests:  float64(cur.snap.Requests - base.snap.Requests),
		Errors5xx: float64(cur.snap.Errors5xx - base.snap.Errors5xx),
		P99:       lat.Quantile(0.99),
	}, nil
}

// baseline finds the counters as they were at since and pins them, so the same since keeps the
// same baseline however many snapshots follow. Preference: a pinned baseline; the newest
// snapshot taken at or before since; zero counters if since is before the counters' Start;
// the oldest snapshot remembered (the window then starts later than asked, and says so).
func (h *routeHistory) baseline(since time.Time, cur stamped) stamped {
	for _, p := range h.pins {
		if p.since.Equal(since) {
			return p.base
		}
	}
	base, found := stamped{}, false
	for i := len(h.recent) - 1; i >= 0; i-- {
		if !h.recent[i].at.After(since) {
			base, found = h.recent[i], true
			break
		}
	}
	if !found {
		if start := cur.snap.Start; !start.IsZero() && !since.After(start) {
			base = stamped{at: start}
		} else {
			base = h.recent[0]
		}
	}
	if len(h.pins) == pinLen {
		h.pins = append(h.pins[:0], h.pins[1:]...)
	}
	h.pins = append(h.pins, pin{since: since, base: base})
	return base
}
