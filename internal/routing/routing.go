// Package routing chooses, for one request, the route and the instance of a gateway, following
// design.md's routing rules 1-5. It is pure code: no sockets, no Terraform, no JSON.
//
// A Table is immutable once built; the gateway builds a new one on every change and swaps it in
// atomically, so a request finishes on the table it started with. Backends (instances) are shared
// between table versions through a Pool, so health and load survive a weight change.
package routing

import (
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

// Backend is one instance address. Its health and its count of active requests outlive table
// versions: get it from a Pool, never build one per table.
type Backend struct {
	Addr string // "host:port"
	// unexported state: health, ejection deadline, active requests.
	healthy      atomic.Bool
	ejectedUntil atomic.Int64
	active       atomic.Int64
}

// Pool keeps one Backend per address for a gateway process.
type Pool struct{ /* implementation */ }

// NewPool returns an empty pool.
func NewPool() *Pool { panic("todo") }

// Get returns the Backend for addr, creating it healthy on first use.
func (p *Pool) Get(addr string) *Backend { panic("todo") }

// Available reports whether the backend may take a request now: healthy and not ejected.
func (b *Backend) Available(now time.Time) bool { panic("todo") }

// SetHealthy records an active health check's verdict.
func (b *Backend) SetHealthy(ok bool) { panic("todo") }

// Healthy reports the last active health verdict (true until a check says otherwise).
func (b *Backend) Healthy() bool { panic("todo") }

// Eject takes the backend out of rotation until now+d (passive ejection after failures).
func (b *Backend) Eject(now time.Time, d time.Duration) { panic("todo") }

// Active is the number of requests in flight to this backend.
func (b *Backend) Active() int64 { panic("todo") }

// Acquire and Release count a request in flight (least-connections); the proxy calls Release
// exactly once per Decision that named this backend.
func (b *Backend) Acquire() { panic("todo") }
func (b *Backend) Release() { panic("todo") }

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
}

// Table is an immutable, validated routing table with its own deterministic counters.
type Table struct{ /* implementation */ }

// New validates spec whole (weights 0..100 summing to 100 or all 0, strengths 0..100, names
// unique and non-empty, a route has backends or Next but not both) and builds a table.
func New(spec Spec) (*Table, error) { panic("todo") }

// Routes returns the routes the table was built from (read-only).
func (t *Table) Routes() []Route { panic("todo") }

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
func (t *Table) Choose(r *http.Request, now time.Time, exclude *Backend) (Decision, error) {
	panic("todo")
}
