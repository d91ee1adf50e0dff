package taskwatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

const (
	serviceID = "sava/sava_cluster/sava:1.0.0"
	appID     = "/vamp/sava/sava-cluster/sava-1.0.0"
)

// backends are real HTTP servers standing for tasks: launch seq n of an app answers "task n".
type backends struct {
	mu    sync.Mutex
	bySeq map[int]*httptest.Server
}

func (b *backends) address(_ string, seq int) (string, []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	srv := b.bySeq[seq]
	if srv == nil {
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "task %d", seq)
		}))
		b.bySeq[seq] = srv
	}
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return host, []int{p}
}

func (b *backends) port(seq int) int {
	_, ports := b.address("", seq)
	return ports[0]
}

func (b *backends) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.bySeq {
		s.Close()
	}
}

// countingAPI is the real client, counting finished polls so a test can wait for polls to pass.
type countingAPI struct {
	API
	polls atomic.Int64
}

func (c *countingAPI) Apps(v url.Values) ([]*marathon.App, error) {
	defer c.polls.Add(1)
	return c.API.Apps(v)
}

type fixture struct {
	emu      *emulator.Emulator
	client   *marathon.Client
	api      *countingAPI
	backends *backends
}

func start(t *testing.T, opts emulator.Options) *fixture {
	t.Helper()
	b := &backends{bySeq: map[int]*httptest.Server{}}
	t.Cleanup(b.close)
	opts.TaskAddress = b.address
	e := emulator.New(opts)
	u, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	client, err := marathon.Connect(marathon.Connection{URL: u, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{emu: e, client: client, api: &countingAPI{API: client}, backends: b}
}

func (f *fixture) deploy(t *testing.T, s runtime.Service) {
	t.Helper()
	d := marathon.New(f.client, marathon.Options{PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) source(t *testing.T, poll time.Duration) *Source {
	t.Helper()
	src := New(f.api, Options{PollInterval: poll})
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	return src
}

func (f *fixture) task(t *testing.T) emulator.Task {
	t.Helper()
	app, ok := f.emu.App(appID)
	if !ok || len(app.Tasks) != 1 {
		t.Fatalf("want the app with one task, got %+v", app)
	}
	return app.Tasks[0]
}

func seed(healthChecks ...runtime.HealthCheck) runtime.Service {
	return runtime.Service{
		ID: serviceID, Deployable: "magneticio/sava:1.0.0", Ports: map[string]string{"webport": "8080/http"},
		CPU: 0.2, MemoryMB: 128, Instances: 1, HealthChecks: healthChecks,
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling an observable condition, not synchronisation
	}
}

// resolvesTo reports whether id/webport resolves to exactly the backends of the given launches,
// all healthy.
func resolvesTo(src *Source, f *fixture, id string, seqs ...int) bool {
	got, err := src.Resolve(id, "webport")
	if err != nil || len(got) != len(seqs) {
		return false
	}
	for i, seq := range seqs {
		if got[i] != (discovery.Instance{Host: "127.0.0.1", Port: f.backends.port(seq), Healthy: true}) {
			return false
		}
	}
	return true
}

// signals counts Subscribe calls.
type signals struct{ n atomic.Int64 }

func (s *signals) fn() { s.n.Add(1) }

func TestResolveByAppIDAndServiceID(t *testing.T) {
	f := start(t, emulator.Options{})
	f.deploy(t, seed())
	src := f.source(t, time.Hour)
	for _, id := range []string{appID, serviceID} {
		if !resolvesTo(src, f, id, 0) {
			got, err := src.Resolve(id, "webport")
			t.Fatalf("Resolve(%q) = %+v, %v; want the first task's backend", id, got, err)
		}
	}
	// The address is a real task: a request reaches its backend.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", f.backends.port(0)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if _, err := src.Resolve(appID, "adminport"); err == nil || !strings.Contains(err.Error(), `no port named "adminport"; its ports: webport`) {
		t.Errorf("unknown port: %v", err)
	}
	if _, err := src.Resolve("/vamp/nope", "webport"); !errors.Is(err, discovery.ErrUnknownService) || !strings.Contains(err.Error(), `"/vamp/nope"`) {
		t.Errorf("unknown app: %v", err)
	}
	if _, err := src.Resolve("sava/sava_cluster/nope", "webport"); !errors.Is(err, discovery.ErrUnknownService) || !strings.Contains(err.Error(), "io.vamp.service") {
		t.Errorf("unknown service: %v", err)
	}
}

// An app deployed after the last poll resolves at once: a miss lists the apps again.
func TestResolveMissRefreshes(t *testing.T) {
	f := start(t, emulator.Options{})
	src := f.source(t, time.Hour)
	f.deploy(t, seed())
	if !resolvesTo(src, f, serviceID, 0) {
		got, err := src.Resolve(serviceID, "webport")
		t.Fatalf("Resolve after deploy = %+v, %v; want the new task", got, err)
	}
}

func TestFollowsKilledAndMovedTasks(t *testing.T) {
	f := start(t, emulator.Options{})
	f.deploy(t, seed())
	src := f.source(t, 10*time.Millisecond)
	var sig signals
	defer src.Subscribe(sig.fn)()

	// Nothing changes: polls go by, subscribers are not called.
	before := f.api.polls.Load()
	waitFor(t, "five polls", func() bool { return f.api.polls.Load() >= before+5 })
	if n := sig.n.Load(); n != 0 {
		t.Fatalf("subscribers were called %d times while nothing changed", n)
	}

	if err := f.emu.KillTask(appID, f.task(t).ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replacement of the killed task", func() bool { return resolvesTo(src, f, appID, 1) })
	if sig.n.Load() == 0 {
		t.Fatal("the task set changed but no subscriber was called")
	}

	calls := sig.n.Load()
	if err := f.emu.MoveTask(appID, f.task(t).ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the moved task", func() bool { return resolvesTo(src, f, appID, 2) })
	if sig.n.Load() == calls {
		t.Fatal("the task moved but no subscriber was called")
	}
}

func TestHealthChangesAreFollowed(t *testing.T) {
	f := start(t, emulator.Options{})
	// failures 0: Marathon never kills the task for failing, so its health flips in place.
	f.deploy(t, seed(runtime.HealthCheck{Port: "webport", Path: "/", Protocol: "HTTP", Failures: 0}))
	src := f.source(t, 10*time.Millisecond)
	var sig signals
	defer src.Subscribe(sig.fn)()
	if !resolvesTo(src, f, appID, 0) {
		t.Fatal("the healthy task does not resolve")
	}
	if err := f.emu.SetTaskHealth(appID, f.task(t).ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task reported unhealthy", func() bool {
		got, err := src.Resolve(appID, "webport")
		return err == nil && len(got) == 1 && !got[0].Healthy
	})
	if sig.n.Load() == 0 {
		t.Fatal("health changed but no subscriber was called")
	}
}

// With the event stream, a change is followed even when the poll interval is an hour.
func TestEventsTriggerPolls(t *testing.T) {
	f := start(t, emulator.Options{})
	f.deploy(t, seed())
	events, err := gomarathon.NewClient(gomarathon.Config{
		URL: f.emu.URL(), EventsTransport: gomarathon.EventsTransportSSE, HTTPClient: &http.Client{},
	})
	if err != nil {
		t.Fatal(err)
	}
	src := f.source(t, time.Hour)
	if err := src.FollowEvents(events); err != nil {
		t.Fatal(err)
	}
	var sig signals
	defer src.Subscribe(sig.fn)()
	if err := f.emu.KillTask(appID, f.task(t).ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replacement, through an event", func() bool { return resolvesTo(src, f, appID, 1) })
	if sig.n.Load() == 0 {
		t.Fatal("no subscriber was called")
	}
}

// A failing Marathon keeps the last view: routes do not lose their instances.
func TestPollFailureKeepsLastView(t *testing.T) {
	f := start(t, emulator.Options{})
	f.deploy(t, seed())
	src := f.source(t, time.Hour)
	f.emu.Close()
	if err := src.refresh(); err == nil {
		t.Fatal("a poll of a closed Marathon succeeded")
	}
	if !resolvesTo(src, f, appID, 0) {
		t.Fatal("the last view was dropped when a poll failed")
	}
}

func TestCloseWithoutStart(t *testing.T) {
	done := make(chan struct{})
	go func() { New(nil, Options{}).Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close of a source that was never started does not return")
	}
}

// The gateway routes to a task's agent and host port on Docker's bridge (not to the container
// address in the task's ipAddresses, which only the agent reaches) and on the host network, on
// Marathon 1.5+ (the 1.5 networking format) as on 1.4 (the legacy one).
func TestResolveOnEachNetworkAndVersion(t *testing.T) {
	for _, tc := range []struct {
		name, version, dialect string
	}{
		{"bridge on 1.5+", emulator.DefaultVersion, ""},
		{"host on 1.5+", emulator.DefaultVersion, `{"networks": [{"mode": "host"}]}`},
		{"bridge on 1.4", emulator.Version14, ""},
		{"host on 1.4", emulator.Version14, `{"container": {"docker": {"network": "HOST"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, emulator.Options{Version: tc.version})
			s := seed()
			s.Marathon = tc.dialect
			f.deploy(t, s)
			src := f.source(t, time.Hour)
			if !resolvesTo(src, f, appID, 0) {
				got, err := src.Resolve(appID, "webport")
				t.Fatalf("Resolve = %v, %v; want the first task's backend 127.0.0.1:%d", got, err, f.backends.port(0))
			}
		})
	}
}
