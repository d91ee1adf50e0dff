package runtime

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/localrt"
)

// localDriver is a Local driver in front of a real local runtime served over HTTP, as
// `vamp-gateway dev` serves it.
func localDriver(t *testing.T) *Local {
	t.Helper()
	runner := localrt.New(localrt.Options{Dir: t.TempDir(), StopGrace: time.Second, DrainDelay: time.Millisecond})
	t.Cleanup(runner.Close)
	mux := http.NewServeMux()
	mux.Handle("/v1/services", runner.Handler())
	mux.Handle("/v1/services/", runner.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return NewLocal(&gatewayapi.Client{BaseURL: srv.URL})
}

func TestLocalLifecycle(t *testing.T) {
	d := localDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := Service{
		ID:          "demo/worker_cluster/worker:1.0.0",
		Deployable:  "cmd:sleep 300",
		Environment: map[string]string{"MODE": "canary"},
		CPU:         0.5,
		MemoryMB:    128,
		Instances:   2,
	}
	st, err := d.Apply(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Healthy || len(st.Instances) != 2 {
		t.Fatalf("Apply returned %+v, want 2 healthy instances", st)
	}

	got, found, err := d.Get(ctx, want.ID)
	if err != nil || !found {
		t.Fatalf("Get: found=%v err=%v", found, err)
	}
	// Scale travels in the runtime's definition and comes back for an import; the variables
	// that carry it are not the user's environment.
	if got.Service.CPU != 0.5 || got.Service.MemoryMB != 128 || got.Service.Instances != 2 {
		t.Errorf("scale read back as %v/%v/%v, want 0.5/128/2", got.Service.CPU, got.Service.MemoryMB, got.Service.Instances)
	}
	if len(got.Service.Environment) != 1 || got.Service.Environment["MODE"] != "canary" {
		t.Errorf("environment read back as %v, want only MODE=canary", got.Service.Environment)
	}

	list, err := d.List(ctx, "demo/")
	if err != nil || len(list) != 1 || list[0].Service.ID != want.ID {
		t.Fatalf("List(demo/) = %v, %v; want the one service", list, err)
	}
	if other, _ := d.List(ctx, "other/"); len(other) != 0 {
		t.Errorf("List(other/) = %v, want none", other)
	}

	if err := d.Delete(ctx, want.ID); err != nil {
		t.Fatal(err)
	}
	if _, found, err := d.Get(ctx, want.ID); err != nil || found {
		t.Errorf("after Delete: found=%v err=%v, want gone", found, err)
	}
	if err := d.Delete(ctx, want.ID); err != nil {
		t.Errorf("deleting a missing service: %v, want no error", err)
	}
}

func TestLocalApplyReportsWhyAServiceIsUnhealthy(t *testing.T) {
	d := localDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// The process never listens on its port, so the TCP check never passes.
	_, err := d.Apply(ctx, Service{ID: "demo/c/broken:1", Deployable: "cmd:echo cannot start >&2; sleep 30",
		Ports: map[string]string{"webport": "8080/http"}, Instances: 1, CPU: 0.1, MemoryMB: 16})
	if err == nil {
		t.Fatal("Apply of a service that never becomes healthy succeeded")
	}
	if !strings.Contains(err.Error(), "cannot start") {
		t.Errorf("error %q does not carry the process's output", err)
	}
	var notHealthy *NotHealthyError
	if !errors.As(err, &notHealthy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not a *NotHealthyError that wraps the deadline", err)
	}
	// A new service that failed is removed: the runtime is as it was before the Apply.
	if _, found, err := d.Get(context.Background(), "demo/c/broken:1"); err != nil || found {
		t.Errorf("after the failed Apply: found=%v err=%v, want the new service removed", found, err)
	}
}

// An update that does not get healthy goes back to the previous definition: the old instance
// keeps serving and the runtime reports the old definition.
func TestLocalFailedUpdateGoesBack(t *testing.T) {
	d := localDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	good := Service{ID: "demo/c/svc:1", Deployable: "cmd:sleep 300", Instances: 1, CPU: 0.1, MemoryMB: 16}
	before, err := d.Apply(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Deployable = "cmd:echo no config >&2; sleep 300"
	bad.Ports = map[string]string{"webport": "8080/http"}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, err := d.Apply(short, bad); err == nil || !strings.Contains(err.Error(), "no config") || !strings.Contains(err.Error(), "previous definition") {
		t.Fatalf("Apply of a broken update: %v, want the output and that the runtime went back", err)
	}
	got, found, err := d.Get(ctx, good.ID)
	if err != nil || !found {
		t.Fatalf("Get: found=%v err=%v", found, err)
	}
	if got.Service.Deployable != good.Deployable || len(got.Instances) != 1 || len(got.Instances[0].Ports) > 0 {
		t.Errorf("after the failed update the runtime runs %+v, want the previous definition", got)
	}
	if len(before.Instances) != 1 || !got.Healthy {
		t.Errorf("the previous instance is not serving: %+v", got)
	}
}

func TestLocalRefusesDockerImages(t *testing.T) {
	d := localDriver(t)
	_, err := d.Apply(context.Background(), Service{ID: "demo/c/sava:1.0.0", Deployable: "magneticio/sava:1.0.0", Instances: 1})
	if err == nil || !strings.Contains(err.Error(), "Marathon") {
		t.Fatalf("Apply of a Docker image: %v, want an error that points at the Marathon runtime", err)
	}
}

func TestLocalReservedEnvironment(t *testing.T) {
	d := localDriver(t)
	_, err := d.Apply(context.Background(), Service{ID: "demo/c/x:1", Deployable: "cmd:sleep 1", Instances: 1, Environment: map[string]string{envCPU: "1"}})
	if err == nil || !strings.Contains(err.Error(), envCPU) || !strings.Contains(err.Error(), "rename") {
		t.Fatalf("Apply with %s set: %v, want an error naming it and the fix", envCPU, err)
	}
}

func TestAddresses(t *testing.T) {
	st := Status{Instances: []Instance{
		{Host: "127.0.0.1", Ports: map[string]int{"webport": 8080, "admin": 9000}},
		{Host: "::1", Ports: map[string]int{"webport": 8081, "admin": 9001}},
	}}
	got := strings.Join(st.Addresses(), " ")
	if want := "127.0.0.1:9000 127.0.0.1:8080 [::1]:9001 [::1]:8081"; got != want {
		t.Errorf("Addresses() = %q, want %q (ports in name order)", got, want)
	}
}

func TestSplitID(t *testing.T) {
	d, c, b, ok := SplitID(ID("sava", "sava_cluster", "sava:1.0.0"))
	if !ok || d != "sava" || c != "sava_cluster" || b != "sava:1.0.0" {
		t.Errorf("SplitID(ID(...)) = %q %q %q %v", d, c, b, ok)
	}
	if _, _, _, ok := SplitID("sava/9050"); ok {
		t.Error("SplitID accepted a two-part name")
	}
}
