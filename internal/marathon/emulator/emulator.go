// Package emulator is a stand-in for Marathon's REST API (v2) for tests: apps
// with versions, asynchronous deployments, tasks with health-check results,
// the event stream, and the error bodies Marathon sends. It is built from
// Marathon's RAML API description and is driven by the real
// github.com/gambol99/go-marathon client. README.md lists what it emulates
// and what it does not.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/apiversion"
)

// DefaultTickInterval is how often the background loop advances the emulated
// cluster when Options.TickInterval is zero.
const DefaultTickInterval = 20 * time.Millisecond

// Marathon versions the emulator can answer as (Options.Version).
const (
	// DefaultVersion is emulated when Options.Version is empty: Marathon 1.5 and later answer
	// only in the 1.5 networking format ("networks", "container.portMappings"; Marathon's
	// docs/docs/networking.md: "As of version 1.5, Marathon will only produce responses in the
	// new 1.5 networking API format") and refuse a value of the wrong JSON type with 422.
	DefaultVersion = "1.10.0"
	// Version14 is the last release line before the 1.5 networking API (DC/OS 1.9): it stores
	// and answers the legacy format (container.docker.network, container.docker.portMappings),
	// ignores the 1.5 fields it does not know, and refuses a wrong JSON type with 400.
	Version14 = "1.4.12"
)

// TaskAddressFunc chooses where a task runs. It is called (under the
// emulator's lock: it must not call back into the Emulator) for every task
// launch with the app id and the app's launch sequence number (0 for the
// first task ever launched for the app, 1 for the next, ... replacements
// get new numbers). An empty host or nil ports keep the emulator's choice.
type TaskAddressFunc func(appID string, seq int) (host string, ports []int)

// Options configure an Emulator. The zero value is a usable emulator without
// authentication that advances every DefaultTickInterval.
type Options struct {
	// TickInterval is the period of the background loop; 0 means
	// DefaultTickInterval.
	TickInterval time.Duration
	// Manual disables the background loop: the cluster only advances when
	// the test calls Step.
	Manual bool
	// Username and Password, when Username is set, require HTTP basic auth.
	Username, Password string
	// Token, when set, accepts the DC/OS header "Authorization: token=<Token>".
	// With both set, either credential is accepted.
	Token string
	// Agents are the host names tasks are spread over, round robin; default
	// agent-1.emulator.invalid .. agent-3.emulator.invalid.
	Agents []string
	// HostPortMin and HostPortMax bound the dynamically assigned host ports;
	// default 31000-32000, Mesos' default port resource.
	HostPortMin, HostPortMax int
	// TaskAddress, if set, chooses task hosts and ports (see TaskAddressFunc).
	TaskAddress TaskAddressFunc
	// Version is the Marathon version emulated, reported by /v2/info; default DefaultVersion.
	// Versions before 1.5 (e.g. Version14) use the legacy networking format and answer 400 for
	// a wrong JSON type; 1.5 and later the 1.5 networking format and 422.
	Version string
}

// Emulator is an emulated Marathon. Create it with New, serve it with Start
// (or use it as an http.Handler), stop it with Close.
type Emulator struct {
	opts Options
	// legacy: the emulated Marathon predates the 1.5 networking API.
	legacy bool

	mu              sync.Mutex
	apps            map[string]*app
	deployments     []*deployment
	lastVersion     time.Time
	hostPortNext    int
	servicePortNext int
	agentSeq        int
	bridgeSeq       int // container addresses handed out on Docker's bridge
	taskAddress     TaskAddressFunc
	// failHealth lists the app ids whose newly launched tasks fail their
	// health checks (FailHealthChecks); apps need not exist yet.
	failHealth map[string]bool
	// changed is closed and replaced whenever the state changes, so that
	// waiters wake up without polling.
	changed chan struct{}

	events    *broker
	server    *http.Server
	url       string
	stop      chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
}

// New returns an emulator with no apps. It does not listen until Start.
func New(opts Options) *Emulator {
	if opts.TickInterval <= 0 {
		opts.TickInterval = DefaultTickInterval
	}
	if len(opts.Agents) == 0 {
		opts.Agents = []string{"agent-1.emulator.invalid", "agent-2.emulator.invalid", "agent-3.emulator.invalid"}
	}
	if opts.HostPortMin <= 0 || opts.HostPortMax < opts.HostPortMin {
		opts.HostPortMin, opts.HostPortMax = 31000, 32000
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	return &Emulator{
		opts:            opts,
		legacy:          apiversion.Before15(opts.Version),
		apps:            map[string]*app{},
		hostPortNext:    opts.HostPortMin,
		servicePortNext: 10000,
		taskAddress:     opts.TaskAddress,
		failHealth:      map[string]bool{},
		changed:         make(chan struct{}),
		events:          newBroker(),
		stop:            make(chan struct{}),
		loopDone:        make(chan struct{}),
	}
}

// Start listens on a free port of 127.0.0.1, serves the API there and starts
// the background loop (unless Options.Manual). It returns the base URL, e.g.
// http://127.0.0.1:41234, to give to marathon.Config.URL.
func (e *Emulator) Start() (string, error) {
	if e.server != nil {
		return "", errors.New("emulator: Start called twice")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("emulator: listen on 127.0.0.1: %w", err)
	}
	e.server = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	e.url = "http://" + ln.Addr().String()
	go func() { _ = e.server.Serve(ln) }()
	if e.opts.Manual {
		close(e.loopDone)
	} else {
		go e.loop()
	}
	return e.url, nil
}

// URL is the base URL returned by Start.
func (e *Emulator) URL() string { return e.url }

// Close stops the loop, ends the event streams and closes the listener and
// all connections. It is safe to call more than once.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() {
		close(e.stop)
		if e.server != nil {
			<-e.loopDone
		}
		e.events.close()
		if e.server != nil {
			_ = e.server.Close()
		}
	})
}

func (e *Emulator) loop() {
	defer close(e.loopDone)
	ticker := time.NewTicker(e.opts.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-ticker.C:
			e.Step()
		}
	}
}

// Step advances the emulated cluster by one tick: staging tasks start
// running, running tasks report health-check results, apps converge on
// their definitions (new tasks first, then old ones killed) and finished
// deployments disappear. A deployment of a new app with health checks takes
// three ticks: launch, running, healthy.
func (e *Emulator) Step() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tick()
}

// notify wakes every waiter; callers hold e.mu.
func (e *Emulator) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// WaitUntil blocks until cond returns true or ctx ends. cond is evaluated
// after every state change (it may call the snapshot methods such as Apps).
// In Manual mode something else must call Step.
func (e *Emulator) WaitUntil(ctx context.Context, cond func() bool) error {
	for {
		e.mu.Lock()
		changed := e.changed
		e.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("emulator: condition not reached: %w", ctx.Err())
		}
	}
}

// WaitDeploymentsDone blocks until no deployment is running.
func (e *Emulator) WaitDeploymentsDone(ctx context.Context) error {
	return e.WaitUntil(ctx, func() bool { return len(e.Deployments()) == 0 })
}

// WaitDeploymentDone blocks until the deployment with the given id is gone
// (finished, cancelled or superseded).
func (e *Emulator) WaitDeploymentDone(ctx context.Context, id string) error {
	return e.WaitUntil(ctx, func() bool {
		for _, d := range e.Deployments() {
			if d.ID == id {
				return false
			}
		}
		return true
	})
}
