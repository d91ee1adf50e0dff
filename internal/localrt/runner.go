package localrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
)

// Runtime is the runtime name of the local runner in gateway routes ("service.runtime").
const Runtime = "local"

// Options configure a Runner. The zero value works.
type Options struct {
	// Dir is the working directory of the processes; empty means the runner's own.
	Dir string
	// Logger gets the runner's events (start, exit, restart, health); nil discards them.
	Logger *slog.Logger
	// Output, when set, receives every line the processes print, prefixed with "[id#index] ".
	Output io.Writer
	// OutputLines is how many lines of output each instance keeps for its status (default 40).
	OutputLines int
	// StopGrace is the time between SIGTERM and SIGKILL when stopping a process (default 10s).
	StopGrace time.Duration
	// DrainDelay is how long an instance that was taken out of discovery keeps running before it
	// is stopped, so the gateway finishes the requests it already sent there (default 1s).
	DrainDelay time.Duration
	// StateFile, when set, keeps the service definitions across restarts: written after every
	// change, read by Restore. It may hold secrets from the services' env: it is created 0600.
	StateFile string
}

// Runner runs local services. It is safe for concurrent use.
type Runner struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	services map[string]*service
	closed   bool
	// changed is closed and replaced at every change of any instance or service; waiters take it
	// under mu, check their condition, then wait on it.
	changed chan struct{}
	subs    map[int]func()
	nextSub int
	// stopping tracks instances being stopped in the background (replaced generations).
	stopping sync.WaitGroup
	saveMu   sync.Mutex // orders state file writes
}

// service is one id's definition, with the generation that serves and, during an update, the
// generation that will replace it once all its instances are healthy.
type service struct {
	current *generation
	pending *generation
}

// generation is the set of instances running one definition.
type generation struct {
	def       Service
	instances []*instance
}

// New returns a Runner with no services.
func New(opts Options) *Runner {
	if opts.OutputLines <= 0 {
		opts.OutputLines = 40
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 10 * time.Second
	}
	if opts.DrainDelay <= 0 {
		opts.DrainDelay = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		opts:     opts,
		log:      log,
		services: map[string]*service{},
		changed:  make(chan struct{}),
		subs:     map[int]func(){},
	}
}

// ErrClosed is returned by Put after Close.
var ErrClosed = errors.New("the local runtime is shutting down")

// Put creates a service or updates it to def. def is normalized and validated first (the error
// is a *FieldError). A definition equal to the one running, or to the one being rolled out, is a
// no-op; a different one starts new instances beside the old ones, which are stopped once every
// new instance is healthy, so the service never has a gap.
func (r *Runner) Put(def Service) (Status, error) {
	def = cloneService(def)
	def.Normalize()
	if err := def.Validate(); err != nil {
		return Status{}, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return Status{}, ErrClosed
	}
	s := r.services[def.ID]
	var toStop *generation
	changed := true
	switch {
	case s == nil:
		g, err := r.newGeneration(def)
		if err != nil {
			r.mu.Unlock()
			return Status{}, err
		}
		s = &service{current: g}
		r.services[def.ID] = s
		g.start()
		r.log.Info("local service created", "id", def.ID, "instances", def.Instances)
	case s.pending != nil && reflect.DeepEqual(s.pending.def, def):
		// Already rolling this definition out.
		changed = false
	case s.pending == nil && reflect.DeepEqual(s.current.def, def):
		changed = false
	case reflect.DeepEqual(s.current.def, def):
		// Back to the running definition: drop a roll-out in progress.
		toStop, s.pending = s.pending, nil
	case s.pending == nil && sameButInstances(s.current.def, def):
		// Only the count changed: start or stop instances, the healthy ones keep running.
		gone, err := r.resizeLocked(s.current, def.Instances)
		if err != nil {
			r.mu.Unlock()
			return Status{}, err
		}
		if gone != nil {
			r.stopLaterLocked(gone, r.opts.DrainDelay)
		}
		r.log.Info("local service scaled", "id", def.ID, "instances", def.Instances)
	default:
		g, err := r.newGeneration(def)
		if err != nil {
			r.mu.Unlock()
			return Status{}, err
		}
		toStop, s.pending = s.pending, g
		g.start()
		r.log.Info("local service update started", "id", def.ID, "instances", def.Instances)
		go r.promoteWhenHealthy(s, g)
	}
	st := s.statusLocked()
	if !changed {
		r.mu.Unlock()
		return st, nil
	}
	if toStop != nil {
		r.stopLaterLocked(toStop, 0)
	}
	r.bumpLocked()
	r.mu.Unlock()
	r.notify()
	r.save()
	return st, nil
}

// Scale implements escalation.Scaler (the gateway's SLA scaling): it sets the instance count of
// the service's latest definition without restarting the running instances. New instances get
// traffic once healthy; removed ones leave discovery at once and stop after the drain delay.
func (r *Runner) Scale(_ context.Context, id string, instances int) error {
	if instances < 1 || instances > MaxInstances {
		return fmt.Errorf("local runtime: scaling %s: %d instances: must be between 1 and %d", id, instances, MaxInstances)
	}
	r.mu.Lock()
	s := r.services[id]
	if s == nil || r.closed {
		r.mu.Unlock()
		return fmt.Errorf("local runtime: scaling %s: no such service", id)
	}
	g := s.latest()
	if g.def.Instances == instances {
		r.mu.Unlock()
		return nil
	}
	gone, err := r.resizeLocked(g, instances)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("local runtime: scaling %s: %w", id, err)
	}
	if gone != nil {
		r.stopLaterLocked(gone, r.opts.DrainDelay)
	}
	r.bumpLocked()
	r.mu.Unlock()
	r.log.Info("local service scaled", "id", id, "instances", instances)
	r.notify()
	r.save()
	return nil
}

// resizeLocked gives g n instances: it starts the missing ones and takes the surplus out of g,
// returning them (nil for none) for the caller to stop after the drain.
func (r *Runner) resizeLocked(g *generation, n int) (gone *generation, err error) {
	for len(g.instances) < n {
		ports, err := freePorts(g.def.Ports)
		if err != nil {
			return nil, err
		}
		in := newInstance(r, &g.def, len(g.instances), ports)
		g.instances = append(g.instances, in)
		go in.run()
	}
	if len(g.instances) > n {
		gone = &generation{def: g.def, instances: slices.Clone(g.instances[n:])}
		g.instances = slices.Clip(g.instances[:n])
	}
	g.def.Instances = n
	return gone, nil
}

// sameButInstances: a and b differ at most in their instance count.
func sameButInstances(a, b Service) bool {
	a.Instances = b.Instances
	return reflect.DeepEqual(a, b)
}

// promoteWhenHealthy makes g the serving generation of s once all its instances are healthy,
// then stops the generation it replaces after the drain delay.
func (r *Runner) promoteWhenHealthy(s *service, g *generation) {
	for {
		r.mu.Lock()
		if s.pending != g || r.closed {
			r.mu.Unlock()
			return // superseded, deleted or shutting down: whoever did it stops g
		}
		if g.healthyLocked() {
			old := s.current
			s.current, s.pending = g, nil
			r.stopLaterLocked(old, r.opts.DrainDelay)
			r.bumpLocked()
			r.mu.Unlock()
			r.log.Info("local service update complete", "id", g.def.ID)
			r.notify()
			return
		}
		ch := r.changed
		r.mu.Unlock()
		<-ch
	}
}

// stopLaterLocked stops g's instances after delay without blocking the caller; Close waits for
// them. Called under mu with closed false, so that no Add races with Close's Wait.
func (r *Runner) stopLaterLocked(g *generation, delay time.Duration) {
	r.stopping.Add(1)
	go func() {
		defer r.stopping.Done()
		if delay > 0 {
			time.Sleep(delay) // the drain: g is out of discovery already
		}
		g.stop()
	}()
}

// Get returns the status of a service; ok is false when there is none.
func (r *Runner) Get(id string) (st Status, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.services[id]
	if s == nil {
		return Status{}, false
	}
	return s.statusLocked(), true
}

// List returns the status of every service, ordered by id.
func (r *Runner) List() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.services))
	for _, id := range slices.Sorted(maps.Keys(r.services)) {
		out = append(out, r.services[id].statusLocked())
	}
	return out
}

// Delete stops every process of a service (SIGTERM to each process group, SIGKILL after the
// grace period), waits for them and forgets the service. ok is false when there was none.
func (r *Runner) Delete(id string) (ok bool) {
	r.mu.Lock()
	s := r.services[id]
	if s == nil {
		r.mu.Unlock()
		return false
	}
	delete(r.services, id)
	// Clearing pending also ends the promoteWhenHealthy goroutine of a roll-out in progress.
	current, pending := s.current, s.pending
	s.pending = nil
	r.bumpLocked()
	r.mu.Unlock()
	r.notify()
	r.save()
	r.log.Info("local service deleting", "id", id)
	stopAll(current, pending)
	r.log.Info("local service deleted", "id", id)
	return true
}

// WaitHealthy waits until every instance of the service's latest definition is healthy. It
// returns ctx's error when that does not happen in time, and an error when the service is gone.
func (r *Runner) WaitHealthy(ctx context.Context, id string) error {
	for {
		r.mu.Lock()
		s := r.services[id]
		if s == nil {
			r.mu.Unlock()
			return fmt.Errorf("service %q was deleted", id)
		}
		if s.pending == nil && s.current.healthyLocked() {
			r.mu.Unlock()
			return nil
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops every process of every service and waits for them; later Puts fail.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	var gens []*generation
	for _, s := range r.services {
		gens = append(gens, s.current, s.pending)
	}
	r.services = map[string]*service{}
	r.bumpLocked()
	r.mu.Unlock()
	r.notify()
	stopAll(gens...)
	r.stopping.Wait()
}

// stopAll stops the instances of the given generations (nil ones are skipped) in parallel.
func stopAll(gens ...*generation) {
	var wg sync.WaitGroup
	for _, g := range gens {
		if g == nil {
			continue
		}
		for _, in := range g.instances {
			wg.Go(in.stop)
		}
	}
	wg.Wait()
}

// Runtime implements discovery.Source.
func (r *Runner) Runtime() string { return Runtime }

// Resolve implements discovery.Source: the instances of service id's named port, on 127.0.0.1.
// While an update rolls out, the old instances are listed with the new ones.
func (r *Runner) Resolve(id, port string) ([]discovery.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.services[id]
	if s == nil {
		return nil, fmt.Errorf("%w: no local service %q", discovery.ErrUnknownService, id)
	}
	var out []discovery.Instance
	found := false
	for _, g := range []*generation{s.current, s.pending} {
		if g == nil {
			continue
		}
		for _, in := range g.instances {
			if p, ok := in.ports[port]; ok {
				found = true
				out = append(out, discovery.Instance{Host: loopback, Port: p, Healthy: in.healthy})
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("local service %q has no port %q; its ports: %s", id, port, portNames(s.latest().def.Ports))
	}
	return out, nil
}

// Subscribe implements discovery.Source: fn is called after every change of a service or of an
// instance's health. fn must return quickly.
func (r *Runner) Subscribe(fn func()) (cancel func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextSub
	r.nextSub++
	r.subs[id] = fn
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, id)
	}
}

var _ discovery.Source = (*Runner)(nil)

// bumpLocked wakes the waiters; call notify after unlocking to tell the subscribers.
func (r *Runner) bumpLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// notify calls every subscriber, outside the lock.
func (r *Runner) notify() {
	r.mu.Lock()
	fns := slices.Collect(maps.Values(r.subs))
	r.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func (r *Runner) newGeneration(def Service) (*generation, error) {
	g := &generation{def: def}
	for i := range def.Instances {
		ports, err := freePorts(def.Ports)
		if err != nil {
			return nil, err
		}
		g.instances = append(g.instances, newInstance(r, &g.def, i, ports))
	}
	return g, nil
}

func (g *generation) start() {
	for _, in := range g.instances {
		go in.run()
	}
}

func (g *generation) stop() { stopAll(g) }

func (g *generation) healthyLocked() bool {
	for _, in := range g.instances {
		if !in.healthy {
			return false
		}
	}
	return true
}

// latest is the definition the service is heading to.
func (s *service) latest() *generation {
	if s.pending != nil {
		return s.pending
	}
	return s.current
}

func (s *service) statusLocked() Status {
	g := s.latest()
	st := Status{Service: cloneService(g.def), Healthy: g.healthyLocked()}
	for _, in := range g.instances {
		st.Instances = append(st.Instances, in.statusLocked())
	}
	if s.pending != nil {
		for _, in := range s.current.instances {
			st.Replacing = append(st.Replacing, in.statusLocked())
		}
	}
	return st
}

func cloneService(s Service) Service {
	s.Ports = slices.Clone(s.Ports)
	s.Env = maps.Clone(s.Env)
	s.HealthChecks = slices.Clone(s.HealthChecks)
	return s
}
