// Package routing chooses, for one request, the route and the instance of a gateway, following
// design.md's routing rules 1-5. It is pure code: no sockets, no Terraform, no JSON.
//
// A Table is immutable once built; the gateway builds a new one on every change and swaps it in
// atomically, so a request finishes on the table it started with. Backends (instances) are shared
// between table versions through a Pool, so health and load survive a weight change.
//
// Shares are exact per cycle, positions random: the weighted split walks a precomputed cycle in
// which each route appears weight/gcd times (weight 10 of 100: exactly 1 request in each 10), and
// each cycle is visited in its own pseudo-random order drawn from the table's seed (see permute),
// so no periodic pattern of clients lines up with one route. A condition of strength s takes
// exactly s of every 100 requests that reach it, evenly spread. Counters belong to a table version
// and restart with a new one.
package routing

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// Matcher decides whether a request meets a route's condition. internal/condition implements it.
// Match must not allocate for header and user-agent predicates and must be safe for concurrent use.
type Matcher interface {
	Match(r *http.Request) bool
}

// Sticky pins a client to a route or an instance with a cookie (design.md rule 4).
type Sticky uint8

const (
	StickyNone Sticky = iota
	StickyRoute
	StickyInstance
)

// Balance chooses an instance inside a route (design.md rule 5).
type Balance uint8

const (
	RoundRobin Balance = iota
	LeastConnections
)

// Route is one way out of a gateway, as the table needs it.
type Route struct {
	Name              string
	Weight            int     // 0..100
	Condition         Matcher // nil: no condition
	ConditionStrength int     // 0..100, used only with a Condition
	Backends          []*Backend
	// Next, when not nil, sends the request on to another gateway's current table in-process
	// (a route to another gateway). Backends is then empty.
	Next *atomic.Pointer[Table]
}

// Spec is everything a Table is built from.
type Spec struct {
	Routes  []Route
	Sticky  Sticky
	Balance Balance
	// CookieName is the sticky cookie's name (one per gateway).
	CookieName string
	// Seed keys the random order within each weighted cycle. 0 (the default) draws a seed from
	// crypto/rand when the table is built; tests set one to make the order reproducible.
	Seed uint64
}

// Table is an immutable, validated routing table with its own counters and seed.
type Table struct {
	routes     []Route
	sticky     Sticky
	balance    Balance
	cookieName string
	allZero    bool // every weight is 0: only conditional traffic is served

	// conditional lists, in route order, the routes that have a condition.
	conditional []int
	// weighted lists the routes with a weight above 0 (at most 100 of them), in route order.
	weighted []int
	// cycle is one period of the smooth weighted round-robin over weights/gcd, as indexes into
	// weighted; rechoose walks it. Written only by New, read without a lock after.
	cycle []uint8
	// shuffled holds numShuffles random orders of cycle (see shuffles); the n-th weighted
	// choice takes shuffled[shuffleOf(seed, n/L)*L + n%L], L = len(cycle). Written only by New,
	// read without a lock after.
	shuffled []uint8
	// seed keys the shuffles and permutations. Written only by New, read without a lock after.
	seed uint64

	state []routeState // per route, same index as routes

	// Counters of the weighted choice and of the re-choice after an unavailable route, padded so
	// that goroutines on different cores do not fight over one cache line. Atomics: no lock; each
	// Add hands its caller a position no other caller gets.
	_        [64]byte
	wrr      atomic.Uint64
	_        [56]byte
	rechoice atomic.Uint64
	_        [56]byte

	errAllZero         *NoRouteError
	errNoInstance      *NoRouteError
	errNoOtherInstance *NoRouteError // the same, on a retry that excluded the backend that failed
	errNoRoutes        *NoRouteError
	byName             map[string]int     // weighted route name -> route index, for many routes
	byAddr             map[string]addrRef // weighted routes' backend addr -> where, for many backends
}

// addrRef locates an instance for the instance-sticky cookie.
type addrRef struct {
	route   int
	backend *Backend
}

// routeState holds a route's counters in one table version.
type routeState struct {
	rr      atomic.Uint64 // round-robin position among the route's backends
	matched atomic.Uint64 // requests whose first matching condition was this route's
	// The route takes take of every period matching requests (strength/100 reduced).
	take, period uint64
	// errCondNoInstance: taken by its condition, no instance, and no weight elsewhere.
	errCondNoInstance *NoRouteError
	_                 [24]byte
}

// lookupScanMax is how many candidates a sticky cookie is compared with one by one before a map
// lookup becomes the cheaper way to find its route or instance.
const lookupScanMax = 8

// maxHops bounds a chain of routes to other gateways (Route.Next), which could be a cycle.
const maxHops = 8

// New validates spec whole (weights 0..100 summing to 100 or all 0, strengths 0..100, names
// unique and non-empty, a route has backends or Next but not both) and builds a table.
// A validation error is a *SpecError listing every fault.
func New(spec Spec) (*Table, error) {
	if err := validate(spec); err != nil {
		return nil, err
	}
	t := &Table{
		routes:     make([]Route, len(spec.Routes)),
		sticky:     spec.Sticky,
		balance:    spec.Balance,
		cookieName: spec.CookieName,
		state:      make([]routeState, len(spec.Routes)),
		allZero:    true,
		seed:       spec.Seed,
	}
	if t.seed == 0 {
		t.seed = newSeed()
	}
	copy(t.routes, spec.Routes)
	weights := make([]int, 0, len(spec.Routes))
	for i := range t.routes {
		r := &t.routes[i]
		r.Backends = append([]*Backend(nil), r.Backends...) // the caller may reuse its slice
		if r.Condition != nil {
			t.conditional = append(t.conditional, i)
			g := gcd(uint64(r.ConditionStrength), 100)
			t.state[i].take, t.state[i].period = uint64(r.ConditionStrength)/g, 100/g
			t.state[i].errCondNoInstance = &NoRouteError{Reason: fmt.Sprintf(
				"route %q took the request by its condition but has no healthy instance, and all weights are 0 so no other route may take it", r.Name)}
		}
		if r.Weight > 0 {
			t.allZero = false
			t.weighted = append(t.weighted, i)
			weights = append(weights, r.Weight)
		}
	}
	t.cycle = smoothCycle(weights)
	t.shuffled = shuffles(t.cycle, t.seed)
	if len(t.weighted) > lookupScanMax {
		t.byName = make(map[string]int, len(t.weighted))
	}
	backends := 0
	for _, i := range t.weighted {
		backends += len(t.routes[i].Backends)
	}
	if backends > lookupScanMax {
		t.byAddr = make(map[string]addrRef, backends)
	}
	for _, i := range t.weighted {
		if t.byName != nil {
			t.byName[t.routes[i].Name] = i
		}
		if t.byAddr == nil {
			continue
		}
		for _, b := range t.routes[i].Backends {
			if _, dup := t.byAddr[b.Addr]; !dup { // an instance in two routes: the first one pins it
				t.byAddr[b.Addr] = addrRef{route: i, backend: b}
			}
		}
	}
	t.errNoRoutes = &NoRouteError{Reason: "this gateway has no routes"}
	t.errAllZero = &NoRouteError{Reason: "all route weights of this gateway are 0, so only requests that match a route's condition are served, and no condition took this request"}
	t.errNoInstance = &NoRouteError{Reason: "no healthy instance in any route of this gateway"}
	t.errNoOtherInstance = &NoRouteError{Reason: "no healthy instance in any route of this gateway other than the one that just failed this request"}
	return t, nil
}

// Routes returns the routes the table was built from (read-only).
func (t *Table) Routes() []Route { return t.routes }

// Decision is the outcome of Choose. It is a value: choosing allocates nothing.
type Decision struct {
	// Route is the index into the final table's Routes (after following Next hops), Table is that
	// final table.
	Table   *Table
	Route   int
	Backend *Backend
	// SetCookie tells the proxy to send the sticky cookie (CookieName = CookieValue) because the
	// client had none or had one that could not be honoured.
	SetCookie   bool
	CookieName  string
	CookieValue string
}

// NoRouteError explains a 503: why no route or instance could take the request.
type NoRouteError struct{ Reason string }

func (e *NoRouteError) Error() string { return e.Reason }

// Choose picks route and backend for r (rules 1-5). exclude, when not nil, is a backend that just
// failed this request: it is skipped (retry on another instance). A *NoRouteError means 503.
//
// Choose takes no lock and allocates nothing: counters are atomics of this table version.
// Following Route.Next, each table applies its own rules; when more than one of them wants to set
// its sticky cookie, the Decision carries the last (innermost) one.
func (t *Table) Choose(r *http.Request, now time.Time, exclude *Backend) (Decision, error) {
	nowNano := now.UnixNano()
	var d Decision
	cur := t
	for hop := 0; ; hop++ {
		p, err := cur.choose(r, nowNano, exclude)
		if err != nil {
			return Decision{}, err
		}
		if p.setCookie {
			d.SetCookie, d.CookieName, d.CookieValue = true, cur.cookieName, p.cookieValue
		}
		if p.next == nil {
			d.Table, d.Route, d.Backend = cur, p.route, p.backend
			return d, nil
		}
		if hop == maxHops {
			return Decision{}, &NoRouteError{Reason: fmt.Sprintf(
				"route %q leads through more than %d gateways; routes between gateways probably form a cycle", cur.routes[p.route].Name, maxHops)}
		}
		cur = p.next
	}
}
