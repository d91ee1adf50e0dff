// Package taskwatch is the gateway's instance discovery on Marathon: a discovery.Source that
// follows the healthy tasks of Marathon apps (the agent and the host port of a named port; on a
// named container network the task's IP and container port) through marathon.Client (apps in
// Marathon 1.5's networking format; the event stream through go-marathon), so that routes
// follow tasks that Marathon starts, moves and kills without a Terraform run.
//
// The source polls GET /v2/apps?embed=apps.tasks every Options.PollInterval (default 1s); with
// FollowEvents, Marathon's event stream (status_update_event, health_status_changed_event,
// app_terminated_event) triggers a poll at once. The poll is the only source of truth: an
// event only says "look now", so a lost event or a reconnecting stream costs at most one poll
// interval. Subscribers are called only when some app's set of running tasks, their addresses
// or their health changed.
//
// Bound: a change that Marathon reports (a task running, healthy, killed) is seen by the gateway
// within PollInterval plus one /v2/apps round trip; with events, within one round trip of the
// event. Marathon itself reports a new task healthy after its first passing health check
// (gracePeriodSeconds, then every intervalSeconds), so a moved task is followed at most
// intervalSeconds + PollInterval after its replacement starts answering.
package taskwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
)

// DefaultPollInterval is how often the apps are listed when Options.PollInterval is zero.
const DefaultPollInterval = time.Second

// API is what the source polls with; *marathon.Client implements it (apps in Marathon 1.5's
// networking format, which go-marathon v0.7.1 cannot decode).
type API interface {
	Apps(url.Values) ([]*marathon.App, error)
}

// Options tune a Source.
type Options struct {
	// PollInterval is the period of GET /v2/apps?embed=apps.tasks; default DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives poll failures (never credentials); default slog.Default().
	Logger *slog.Logger
}

// Source follows Marathon apps' tasks. Create it with New, start it with Start, stop it with
// Close.
type Source struct {
	api  API
	opts Options

	// pollMu serialises polls (the loop and Resolve's on-demand refresh).
	pollMu sync.Mutex

	mu        sync.Mutex
	apps      map[string]appView  // by Marathon app id
	byService map[string][]string // the provider's service id (io.vamp.* labels) -> app ids
	lastPoll  time.Time
	failing   bool // the last poll failed (logged once per failure streak)
	subs      map[int]func()
	nextSub   int

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
	stopEvent func()
}

// appView is what routing needs of an app: its port names and its running tasks.
type appView struct {
	ports []string
	tasks []taskView // sorted by id
}

type taskView struct {
	id string
	// endpoints: where the task answers on each port, in the app's port order (the agent and
	// a host port, or on a named container network the task's IP and the container port).
	endpoints []marathon.Endpoint
	healthy   bool
}

var _ discovery.Source = (*Source)(nil)

// New returns a source that polls api. It does nothing until Start.
func New(api API, opts Options) *Source {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Source{
		api: api, opts: opts,
		apps: map[string]appView{}, byService: map[string][]string{}, subs: map[int]func(){},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Start polls once (its error is returned, but the source keeps trying: a gateway must start
// even when Marathon is briefly unreachable) and then keeps polling in the background.
func (s *Source) Start() error {
	err := s.refresh()
	s.startOnce.Do(func() { go s.loop() })
	return err
}

// Close stops polling and following events.
func (s *Source) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.startOnce.Do(func() { close(s.done) }) // never started: no loop to wait for
		<-s.done
		s.mu.Lock()
		stop := s.stopEvent
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
	})
}

// Wake makes the source poll now instead of at the next interval (bursts fold into one poll).
func (s *Source) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Events is the part of go-marathon that delivers Marathon's event stream: a client created
// with EventsTransport: gomarathon.EventsTransportSSE. Its HTTP client must not have an
// overall Timeout, which would cut the stream.
type Events interface {
	AddEventsListener(filter int) (gomarathon.EventsChannel, error)
	RemoveEventsListener(channel gomarathon.EventsChannel)
}

// eventFilter are the events after which tasks or their health may differ.
const eventFilter = gomarathon.EventIDStatusUpdate | gomarathon.EventIDChangedHealthCheck |
	gomarathon.EventIDFailedHealthCheck | gomarathon.EventIDAppTerminated | gomarathon.EventIDDeploymentSuccess

// FollowEvents makes every task and health event of Marathon's event stream trigger a poll.
// go-marathon reconnects a broken stream by itself; polling goes on regardless.
func (s *Source) FollowEvents(ev Events) error {
	ch, err := ev.AddEventsListener(eventFilter)
	if err != nil {
		return fmt.Errorf("marathon event stream: %w", err)
	}
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-quit:
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				s.Wake()
			}
		}
	}()
	s.mu.Lock()
	s.stopEvent = func() { close(quit); ev.RemoveEventsListener(ch) }
	s.mu.Unlock()
	return nil
}

func (s *Source) loop() {
	defer close(s.done)
	ticker := time.NewTicker(s.opts.PollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
		case <-s.wake:
		}
		_ = s.refresh() // refresh logs; the last good view stays in use
	}
}

// Runtime implements discovery.Source.
func (s *Source) Runtime() string { return marathon.Runtime }

// Resolve implements discovery.Source. id is a Marathon app id ("/vamp/sava/sava-cluster/
// sava-1.0.0") or the provider's service id ("sava/sava_cluster/sava:1.0.0", found through the
// app's io.vamp.* labels, which keep the exact names the app id cannot); port is the name of
// one of the app's port mappings or port definitions. An app the source has not seen yet is
// looked up at once, so a route to an app that was just deployed resolves without waiting for
// the next poll.
func (s *Source) Resolve(id, port string) ([]discovery.Instance, error) {
	app, appID, err := s.lookup(id)
	if errors.Is(err, discovery.ErrUnknownService) {
		if rerr := s.refreshIfOlder(time.Now()); rerr != nil {
			return nil, fmt.Errorf("%w (and listing Marathon's apps failed: %v)", err, rerr)
		}
		app, appID, err = s.lookup(id)
	}
	if err != nil {
		return nil, err
	}
	idx := slices.Index(app.ports, port)
	if idx < 0 {
		return nil, fmt.Errorf("Marathon app %s has no port named %q; its ports: %s", appID, port, portList(app.ports)) //nolint:staticcheck // ST1005: "Marathon" is a proper noun, capitalised anywhere in a sentence
	}
	out := make([]discovery.Instance, 0, len(app.tasks))
	for _, t := range app.tasks {
		if idx < len(t.endpoints) && t.endpoints[idx].Port > 0 && t.endpoints[idx].Host != "" {
			out = append(out, discovery.Instance{Host: t.endpoints[idx].Host, Port: t.endpoints[idx].Port, Healthy: t.healthy})
		}
	}
	return out, nil
}

func (s *Source) lookup(id string) (appView, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(id, "/") {
		if app, ok := s.apps[id]; ok {
			return app, id, nil
		}
		return appView{}, "", fmt.Errorf("%w: Marathon has no app %q", discovery.ErrUnknownService, id)
	}
	switch ids := s.byService[id]; len(ids) {
	case 0:
		return appView{}, "", fmt.Errorf("%w: no Marathon app is labelled as service %q (labels %s, %s, %s)",
			discovery.ErrUnknownService, id, marathon.LabelDeployment, marathon.LabelCluster, marathon.LabelService)
	case 1:
		return s.apps[ids[0]], ids[0], nil
	default:
		return appView{}, "", fmt.Errorf("service %q is the label of several Marathon apps (%s), e.g. in two groups; route to one by its app id",
			id, strings.Join(ids, ", "))
	}
}

// Subscribe implements discovery.Source: fn is called after a poll that saw an app appear,
// disappear, or change its running tasks, their addresses or their health.
func (s *Source) Subscribe(fn func()) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, id)
	}
}

// refreshIfOlder polls unless a poll finished after since (another caller just did it).
func (s *Source) refreshIfOlder(since time.Time) error {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	s.mu.Lock()
	fresh := s.lastPoll.After(since)
	s.mu.Unlock()
	if fresh {
		return nil
	}
	return s.pollLocked()
}

func (s *Source) refresh() error {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	return s.pollLocked()
}

// pollLocked lists the apps with their tasks and swaps the view; callers hold pollMu.
func (s *Source) pollLocked() error {
	list, err := s.api.Apps(url.Values{"embed": {"apps.tasks"}})
	if err != nil {
		s.mu.Lock()
		first := !s.failing
		s.failing = true
		s.mu.Unlock()
		if first {
			s.opts.Logger.Warn("listing Marathon apps failed; routes keep the tasks seen last", "error", err)
		}
		return fmt.Errorf("listing Marathon apps: %w", err)
	}
	apps := make(map[string]appView, len(list))
	byService := map[string][]string{}
	for _, app := range list {
		apps[app.ID] = view(app)
		if sid := marathon.ServiceIDOf(app); sid != "" {
			byService[sid] = append(byService[sid], app.ID)
		}
	}
	for _, ids := range byService {
		slices.Sort(ids)
	}
	s.mu.Lock()
	changed := !reflect.DeepEqual(apps, s.apps)
	s.apps, s.byService = apps, byService
	s.lastPoll = time.Now()
	if s.failing {
		s.opts.Logger.Info("listing Marathon apps works again")
		s.failing = false
	}
	var fns []func()
	if changed {
		fns = slices.Collect(maps.Values(s.subs))
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
	return nil
}

func view(app *marathon.App) appView {
	v := appView{ports: marathon.PortNames(app)}
	for _, t := range app.Tasks {
		if t == nil || t.State != "TASK_RUNNING" {
			continue // staging, killing, or gone: nothing to route to
		}
		v.tasks = append(v.tasks, taskView{id: t.ID, endpoints: marathon.TaskEndpoints(app, t), healthy: marathon.TaskHealthy(app, t)})
	}
	slices.SortFunc(v.tasks, func(a, b taskView) int { return strings.Compare(a.id, b.id) })
	return v
}

func portList(names []string) string {
	if len(names) == 0 {
		return "none (give the app port mappings or port definitions with names)"
	}
	return strings.Join(names, ", ")
}

// AppID is the Marathon app id of a route's service id, found as Resolve finds it (an app id
// is returned as it is; a provider service id through the apps' io.vamp.* labels).
func (s *Source) AppID(id string) (string, error) {
	_, appID, err := s.lookup(id)
	if errors.Is(err, discovery.ErrUnknownService) {
		if rerr := s.refreshIfOlder(time.Now()); rerr != nil {
			return "", fmt.Errorf("%w (and listing Marathon's apps failed: %v)", err, rerr)
		}
		_, appID, err = s.lookup(id)
	}
	return appID, err
}

// Scaler is the gateway's SLA scaler on Marathon (gateway.Config.Scalers["marathon"]): it finds
// a route's app as Resolve does, whatever Marathon group the provider deployed it in, and
// scales it through the driver (a PUT of the app's instances: Marathon write access).
type Scaler struct {
	Source *Source
	Driver *marathon.Driver
}

// Scale implements escalation.Scaler.
func (sc Scaler) Scale(ctx context.Context, id string, instances int) error {
	appID, err := sc.Source.AppID(id)
	if err != nil {
		return fmt.Errorf("marathon: scaling %s: %w", id, err)
	}
	return sc.Driver.Scale(ctx, appID, instances)
}
