package localrt

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
)

// Every named port gets its own free port, passed as PORT (the first), PORT_<NAME> and
// VAMP_PORT_<NAME>, with the service's env; the runner's token does not leak into the process.
func TestPortsAreAssignedAndPassedInTheEnvironment(t *testing.T) {
	t.Setenv("VAMP_GATEWAY_TOKEN", "s3cret")
	r := newTestRunner(t)
	svc := helperService(t, "sava/sava_cluster/sava:1.0.0", "serve", map[string]string{"FOO": "bar"})
	svc.Ports = append(svc.Ports, Port{Name: "admin-port", Protocol: "tcp"})
	svc.Instances = 2
	mustPut(t, r, svc)
	st := waitHealthy(t, r, svc.ID)

	seen := map[int]bool{}
	for _, in := range st.Instances {
		web, admin := in.Ports["webport"], in.Ports["admin-port"]
		if web == 0 || admin == 0 || web == admin {
			t.Fatalf("instance %d: ports %v, want two distinct assigned ports", in.Index, in.Ports)
		}
		for _, p := range []int{web, admin} {
			if seen[p] {
				t.Fatalf("port %d assigned twice: %+v", p, st.Instances)
			}
			seen[p] = true
		}
		body, err := httpGet(web, "/env")
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]string
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"PORT": strconv.Itoa(web), "PORT_WEBPORT": strconv.Itoa(web), "VAMP_PORT_WEBPORT": strconv.Itoa(web),
			"PORT_ADMIN_PORT": strconv.Itoa(admin), "VAMP_PORT_ADMIN_PORT": strconv.Itoa(admin),
			"FOO": "bar", "HOST": "127.0.0.1", "VAMP_SERVICE_ID": svc.ID, "VAMP_INSTANCE": strconv.Itoa(in.Index),
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("instance %d: env %s = %q, want %q", in.Index, k, env[k], v)
			}
		}
		if _, leaked := env["VAMP_GATEWAY_TOKEN"]; leaked {
			t.Errorf("instance %d: VAMP_GATEWAY_TOKEN leaked into the process environment", in.Index)
		}
	}

	got, err := r.Resolve(svc.ID, "admin-port")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Healthy || !got[1].Healthy || got[0].Host != "127.0.0.1" {
		t.Fatalf("Resolve = %+v, want 2 healthy instances on 127.0.0.1", got)
	}
	if _, err := r.Resolve(svc.ID, "nope"); err == nil || !strings.Contains(err.Error(), `"webport"`) {
		t.Errorf("Resolve of an unknown port: err = %v, want one that lists the ports", err)
	}
	if _, err := r.Resolve("other", "webport"); !errors.Is(err, discovery.ErrUnknownService) {
		t.Errorf("Resolve of an unknown service: err = %v, want ErrUnknownService", err)
	}
}

// An instance is healthy only once its check passes: an HTTP check answering 503 keeps it out.
func TestInstanceIsHealthyOnlyAfterItsCheckPasses(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	gate := filepath.Join(t.TempDir(), "open")
	svc := helperService(t, "app/c/v1", "serve", map[string]string{"HEALTH_GATE": gate})
	svc.HealthChecks = []HealthCheck{{Port: "webport", Path: "/health", Protocol: "http", Interval: "50ms", Timeout: "1s", InitialDelay: "1h"}}
	mustPut(t, r, svc)

	eventually(t, "a failed check to be reported", func() bool {
		st, _ := r.Get(svc.ID)
		return strings.Contains(st.Instances[0].LastError, "status 503")
	})
	st, _ := r.Get(svc.ID)
	if st.Healthy || st.Instances[0].Healthy {
		t.Fatalf("healthy while its check answers 503: %+v", st)
	}
	if inst, _ := r.Resolve(svc.ID, "webport"); len(inst) != 1 || inst[0].Healthy {
		t.Fatalf("Resolve = %+v, want one unhealthy instance", inst)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st = waitHealthy(t, r, svc.ID)
	if st.Instances[0].Restarts != 0 {
		t.Errorf("restarts = %d during the grace period, want 0", st.Instances[0].Restarts)
	}
}

// A process that dies is restarted on the same port and becomes healthy again.
func TestKilledProcessIsRestartedOnTheSamePort(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	svc := helperService(t, "app/c/v1", "serve", nil)
	mustPut(t, r, svc)
	before := waitHealthy(t, r, svc.ID).Instances[0]

	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var after InstanceStatus
	eventually(t, "the instance to be restarted and healthy", func() bool {
		st, _ := r.Get(svc.ID)
		after = st.Instances[0]
		return after.Restarts == 1 && after.Healthy
	})
	if after.Ports["webport"] != before.Ports["webport"] {
		t.Fatalf("port changed across the restart: %d -> %d", before.Ports["webport"], after.Ports["webport"])
	}
	if after.PID == before.PID || after.PID == 0 {
		t.Fatalf("pid %d after restart, was %d", after.PID, before.PID)
	}
	if body, err := httpGet(after.Ports["webport"], "/pid"); err != nil || body != strconv.Itoa(after.PID) {
		t.Fatalf("GET /pid = %q, %v; want %d", body, err, after.PID)
	}
}

// A health check that keeps failing after passing gets the process restarted.
func TestFailingHealthCheckRestartsTheProcess(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	gate := filepath.Join(t.TempDir(), "open")
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	svc := helperService(t, "app/c/v1", "serve", map[string]string{"HEALTH_GATE": gate})
	// The grace period ends at the first pass (Marathon's rule): then failures count.
	svc.HealthChecks = []HealthCheck{{Port: "webport", Path: "/health", Interval: "30ms", Failures: 2, InitialDelay: "1h"}}
	mustPut(t, r, svc)
	first := waitHealthy(t, r, svc.ID).Instances[0]
	if err := os.Remove(gate); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a restart after failed checks", func() bool {
		st, _ := r.Get(svc.ID)
		return st.Instances[0].Restarts >= 1
	})
	if !processGone(first.PID) {
		eventually(t, "the unhealthy process to be gone", func() bool { return processGone(first.PID) })
	}
	st, _ := r.Get(svc.ID)
	if !strings.Contains(strings.Join(st.Instances[0].Output, "\n"), "failed 2 times in a row") {
		t.Errorf("output %q does not explain the restart", st.Instances[0].Output)
	}
}

// Delete stops the process and the children it spawned (one ignores SIGTERM), and waits.
func TestDeleteStopsEveryProcessOfTheGroup(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	svc := helperService(t, "app/c/v1", "serve", map[string]string{"SPAWN_CHILD": "1"})
	svc.Instances = 2
	mustPut(t, r, svc)
	st := waitHealthy(t, r, svc.ID)
	var pids []int
	for _, in := range st.Instances {
		body, err := httpGet(in.Ports["webport"], "/child")
		if err != nil {
			t.Fatal(err)
		}
		child, _ := strconv.Atoi(body)
		if child == 0 || processGone(child) || processGone(in.PID) {
			t.Fatalf("instance %d: pid %d, child %d: want both running", in.Index, in.PID, child)
		}
		pids = append(pids, in.PID, child)
	}
	if !r.Delete(svc.ID) {
		t.Fatal("Delete found no service")
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("pid %d still runs after Delete returned", pid)
		}
	}
	if _, ok := r.Get(svc.ID); ok {
		t.Error("the service is still listed after Delete")
	}
	if r.Delete(svc.ID) {
		t.Error("a second Delete found the service again")
	}
}

// A Docker image deployable is refused with a message that names the fix.
func TestDockerImageDeployableIsRefused(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	_, err := r.Put(Service{ID: "sava/sava_cluster/sava:1.0.0", Deployable: "magneticio/sava:1.0.0", Instances: 1})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "deployable" {
		t.Fatalf("err = %v, want a FieldError at deployable", err)
	}
	want := `deployable "magneticio/sava:1.0.0" is a Docker image; the local dev runtime runs only "cmd:..." deployables — use the Marathon runtime for images, or a cmd: deployable locally`
	if fe.Message != want {
		t.Fatalf("message\n got %s\nwant %s", fe.Message, want)
	}
	if len(r.List()) != 0 {
		t.Fatal("a refused service was defined")
	}
}

// An update starts the new processes, waits until they are healthy and only then stops the old
// ones: every Resolve during the update has a healthy instance that answers. An identical PUT
// changes nothing.
func TestUpdateReplacesProcessesWithoutAGap(t *testing.T) {
	t.Parallel()
	// A drain delay that no scheduling hiccup between a Resolve and its request can outlast.
	r := New(Options{StopGrace: 2 * time.Second, DrainDelay: time.Second})
	t.Cleanup(r.Close)
	v1 := helperService(t, "app/c/v", "serve", map[string]string{"VERSION": "1"})
	v1.Instances = 2
	mustPut(t, r, v1)
	old := waitHealthy(t, r, v1.ID)

	if again := mustPut(t, r, v1); !slices.EqualFunc(again.Instances, old.Instances, func(a, b InstanceStatus) bool { return a.PID == b.PID }) {
		t.Fatalf("an identical PUT changed the processes: %+v -> %+v", old.Instances, again.Instances)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var resolves, gaps, failures atomic.Int64
	versions := sync.Map{}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			inst, err := r.Resolve(v1.ID, "webport")
			resolves.Add(1)
			var healthy []discovery.Instance
			for _, in := range inst {
				if in.Healthy {
					healthy = append(healthy, in)
				}
			}
			if err != nil || len(healthy) == 0 {
				gaps.Add(1)
				continue
			}
			body, err := httpGet(healthy[0].Port, "/")
			if err != nil {
				failures.Add(1)
				continue
			}
			versions.Store(body, true)
		}
	})

	v2 := v1
	v2.Env = map[string]string{helperEnv: "serve", "VERSION": "2"}
	st := mustPut(t, r, v2)
	if len(st.Replacing) != 2 {
		t.Errorf("status during the update lists %d replaced instances, want 2", len(st.Replacing))
	}
	waitHealthy(t, r, v1.ID)
	for _, in := range old.Instances {
		eventually(t, "the old processes to stop", func() bool { return processGone(in.PID) })
	}
	close(stop)
	wg.Wait()

	if gaps.Load() != 0 || failures.Load() != 0 {
		t.Fatalf("%d of %d resolves had no healthy instance, %d requests failed", gaps.Load(), resolves.Load(), failures.Load())
	}
	if _, ok := versions.Load("helper:2"); !ok {
		t.Fatal("never reached the new version")
	}
	final, _ := r.Get(v1.ID)
	if final.Service.Env["VERSION"] != "2" || len(final.Replacing) != 0 || len(final.Instances) != 2 {
		t.Fatalf("final status %+v", final)
	}
	inst, _ := r.Resolve(v1.ID, "webport")
	if len(inst) != 2 {
		t.Fatalf("Resolve after the update = %+v, want the 2 new instances only", inst)
	}
}

// Subscribers hear of every change: a new service, its health, its deletion.
func TestSubscribeIsCalledOnChanges(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	calls := make(chan struct{}, 1000)
	cancel := r.Subscribe(func() { calls <- struct{}{} })
	svc := helperService(t, "app/c/v1", "serve", nil)
	mustPut(t, r, svc)
	if len(calls) == 0 {
		t.Fatal("Put did not notify")
	}
	// The notification of health: after it, Resolve says healthy.
	eventually(t, "a notification that shows a healthy instance", func() bool {
		select {
		case <-calls:
			inst, _ := r.Resolve(svc.ID, "webport")
			return len(inst) == 1 && inst[0].Healthy
		default:
			return false
		}
	})
	for len(calls) > 0 {
		<-calls
	}
	r.Delete(svc.ID)
	if len(calls) == 0 {
		t.Fatal("Delete did not notify")
	}
	cancel()
	for len(calls) > 0 {
		<-calls
	}
	mustPut(t, r, svc)
	waitHealthy(t, r, svc.ID)
	if len(calls) != 0 {
		t.Fatal("called after cancel")
	}
}

func TestLineRingKeepsTheLastLines(t *testing.T) {
	t.Parallel()
	ring := newLineRing(3, nil, "")
	if _, err := ring.Write([]byte("one\ntwo\nthr")); err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Write([]byte("ee\nfour\nfive")); err != nil {
		t.Fatal(err)
	}
	ring.Mark("exited")
	got := ring.Lines()
	want := []string{"four", "five", "[vamp] exited"}
	if !slices.Equal(got, want) {
		t.Fatalf("Lines() = %q, want %q", got, want)
	}
	if _, err := ring.Write([]byte(strings.Repeat("x", 5000) + "\n")); err != nil {
		t.Fatal(err)
	}
	if got := ring.Lines(); len(got[2]) != maxLineLen {
		t.Fatalf("a long line kept %d bytes, want %d", len(got[2]), maxLineLen)
	}
}

// The state file brings the services back after a restart of the runtime; Close does not
// forget them, Delete does.
func TestStateFileRestoresServicesAfterARestart(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "services.json")
	first := New(Options{StateFile: file, StopGrace: 2 * time.Second})
	svc := helperService(t, "app/c/v1", "serve", map[string]string{"VERSION": "1"})
	mustPut(t, first, svc)
	waitHealthy(t, first, svc.ID)
	first.Close()

	second := New(Options{StateFile: file, StopGrace: 2 * time.Second})
	t.Cleanup(second.Close)
	if err := second.Restore(); err != nil {
		t.Fatal(err)
	}
	st := waitHealthy(t, second, svc.ID)
	if body, err := httpGet(st.Instances[0].Ports["webport"], "/"); err != nil || body != "helper:1" {
		t.Fatalf("restored service answers %q, %v", body, err)
	}
	second.Delete(svc.ID)
	data, err := os.ReadFile(file)
	if err != nil || strings.Contains(string(data), svc.ID) {
		t.Fatalf("state file after Delete: %s, %v; want no service", data, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, %v; want 0600 (it may hold secrets)", fi.Mode(), err)
	}
}

func TestRestoreRefusesABadStateFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "services.json")
	if err := os.WriteFile(file, []byte(`{"services":[{"id":"a/b","deployable":"magneticio/sava:1.0.0","instances":1}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := New(Options{StateFile: file})
	t.Cleanup(r.Close)
	err := r.Restore()
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "services[0].deployable") {
		t.Fatalf("err = %v, want one naming the file and services[0].deployable", err)
	}
}

// An update whose processes never get healthy leaves the old ones serving; putting the old
// definition back drops the broken roll-out and keeps the same processes.
func TestBrokenUpdateKeepsTheOldInstancesAndRollsBack(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	good := helperService(t, "app/c/v", "serve", nil)
	mustPut(t, r, good)
	before := waitHealthy(t, r, good.ID).Instances[0]

	broken := helperService(t, "app/c/v", "crash", nil)
	mustPut(t, r, broken)
	eventually(t, "the broken instance to crash and restart", func() bool {
		st, _ := r.Get(good.ID)
		return st.Instances[0].Restarts >= 1
	})
	st, _ := r.Get(good.ID)
	if st.Healthy || len(st.Replacing) != 1 || !st.Replacing[0].Healthy || st.Replacing[0].PID != before.PID {
		t.Fatalf("during the broken update: %+v; want the old instance healthy in replacing", st)
	}
	if !strings.Contains(strings.Join(st.Instances[0].Output, "\n"), "config file /etc/sava.conf not found") {
		t.Errorf("the broken instance's output %q lacks its error", st.Instances[0].Output)
	}
	inst, _ := r.Resolve(good.ID, "webport")
	healthy := 0
	for _, in := range inst {
		if in.Healthy {
			healthy++
			if in.Port != before.Ports["webport"] {
				t.Errorf("healthy instance on port %d, want the old one's %d", in.Port, before.Ports["webport"])
			}
		}
	}
	if healthy != 1 {
		t.Fatalf("Resolve during the broken update = %+v, want exactly the old instance healthy", inst)
	}

	back := mustPut(t, r, good)
	if len(back.Replacing) != 0 || back.Instances[0].PID != before.PID || !back.Healthy {
		t.Fatalf("after rolling back: %+v; want the old process, healthy, nothing pending", back)
	}
	brokenPort := st.Instances[0].Ports["webport"]
	eventually(t, "the broken roll-out to leave discovery", func() bool {
		inst, _ := r.Resolve(good.ID, "webport")
		return len(inst) == 1 && inst[0].Port != brokenPort
	})
}
