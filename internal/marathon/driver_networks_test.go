package marathon

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

const seedAppID = "/vamp/sava/sava-cluster/sava-1.0.0"

func startDriverOn(t *testing.T, emu emulator.Options) (*emulator.Emulator, *Driver) {
	t.Helper()
	e := emulator.New(emu)
	url, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	client, err := Connect(Connection{URL: url, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e, New(client, Options{PollInterval: 5 * time.Millisecond})
}

// definition is the app as Marathon stores and answers it, as plain JSON.
func definition(t *testing.T, e *emulator.Emulator, id string) map[string]any {
	t.Helper()
	app, ok := e.App(id)
	if !ok {
		t.Fatalf("Marathon has no app %s", id)
	}
	raw, _ := json.Marshal(app.Definition)
	var def map[string]any
	_ = json.Unmarshal(raw, &def)
	return def
}

func field(m any, path ...string) any {
	v := m
	for _, k := range path {
		obj, _ := v.(map[string]any)
		v = obj[k]
	}
	return v
}

// applyAndReadBack deploys s and checks what a plan compares: the service read back equals
// the one applied where the driver owns the field (ports by name and spec, image, scale), and
// every instance has a port for every named port.
func applyAndReadBack(t *testing.T, d *Driver, s runtime.Service) runtime.Status {
	t.Helper()
	ctx := timeout(t, 10*time.Second)
	st, err := d.Apply(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := d.Get(ctx, s.ID)
	if err != nil || !found {
		t.Fatalf("Get: found=%v err=%v", found, err)
	}
	if !reflect.DeepEqual(got.Service.Ports, s.Ports) || got.Service.Deployable != s.Deployable || got.Service.Instances != s.Instances {
		t.Fatalf("read back ports %v, deployable %q, instances %d; applied %v, %q, %d (a plan would show a change)",
			got.Service.Ports, got.Service.Deployable, got.Service.Instances, s.Ports, s.Deployable, s.Instances)
	}
	if len(got.Instances) != int(s.Instances) {
		t.Fatalf("%d instances read back, want %d", len(got.Instances), s.Instances)
	}
	for _, inst := range got.Instances {
		for name := range s.Ports {
			if inst.Ports[name] < 31000 || inst.Ports[name] > 32000 || inst.Host == "" {
				t.Fatalf("instance %+v: want a host and a host port from 31000-32000 for %s", inst, name)
			}
		}
	}
	return st
}

// On Marathon 1.5+ (the emulator's default) a Docker app is written in the 1.5 format, on
// Docker's bridge network, and its ports read back: before, the driver read ports only from
// container.docker.portMappings, which Marathon 1.5+ never answers, so they came back empty.
func TestDockerBridgeAppOnMarathon15(t *testing.T) {
	e, d := startDriverOn(t, emulator.Options{})
	s := seedService("magneticio/sava:1.0.0")
	s.Ports["admin"] = "8081/http"
	applyAndReadBack(t, d, s)
	def := definition(t, e, seedAppID)
	mappings, _ := field(def, "container", "portMappings").([]any)
	if fmt.Sprint(def["networks"]) != "[map[mode:container/bridge]]" || len(mappings) != 2 || field(def, "container", "docker", "network") != nil {
		t.Fatalf("stored %v: want networks [{mode: container/bridge}] and two container.portMappings", def)
	}
	if names := PortNames(mustApp(t, d, seedAppID)); !reflect.DeepEqual(names, []string{"admin", "webport"}) {
		t.Fatalf("port names %v, want [admin webport] (name order, the order of the task's host ports)", names)
	}
}

// A dialect choosing the host network gets the ports as port definitions (Marathon drops
// port mappings on the host network), in the 1.5 form or the deprecated one.
func TestDockerHostNetworkDialect(t *testing.T) {
	for _, dialect := range []string{`{"networks": [{"mode": "host"}]}`, `{"container": {"docker": {"network": "HOST"}}}`} {
		t.Run(dialect, func(t *testing.T) {
			e, d := startDriverOn(t, emulator.Options{})
			s := seedService("magneticio/sava:1.0.0")
			s.Marathon = dialect
			applyAndReadBack(t, d, s)
			def := definition(t, e, seedAppID)
			defs, _ := def["portDefinitions"].([]any)
			if fmt.Sprint(def["networks"]) != "[map[mode:host]]" || len(defs) != 1 || field(defs[0], "name") != "webport" ||
				field(def, "container", "portMappings") != nil {
				t.Fatalf("stored %v: want networks [{mode: host}] and the port as a port definition", def)
			}
			// Applying the same service again changes nothing Marathon would deploy.
			before, _ := e.App(seedAppID)
			if _, err := d.Apply(timeout(t, 10*time.Second), s); err != nil {
				t.Fatal(err)
			}
			after, _ := e.App(seedAppID)
			if field(before.Definition, "versionInfo", "lastConfigChangeAt") != field(after.Definition, "versionInfo", "lastConfigChangeAt") {
				t.Fatalf("re-applying the same service changed the app's configuration: %v -> %v", before.Definition, after.Definition)
			}
		})
	}
}

// Marathon 1.4 (DC/OS 1.9) does not know the 1.5 fields: the driver sees its version in
// /v2/info and writes the legacy format, which it reads back as well.
func TestDockerBridgeAppOnMarathon14(t *testing.T) {
	e, d := startDriverOn(t, emulator.Options{Version: emulator.Version14})
	applyAndReadBack(t, d, seedService("magneticio/sava:1.0.0"))
	def := definition(t, e, seedAppID)
	mappings, _ := field(def, "container", "docker", "portMappings").([]any)
	if def["networks"] != nil || field(def, "container", "docker", "network") != "BRIDGE" || len(mappings) != 1 {
		t.Fatalf("stored %v: want the 1.4 format (docker.network BRIDGE, docker.portMappings)", def)
	}
}

func mustApp(t *testing.T, d *Driver, id string) *App {
	t.Helper()
	app, err := d.api.App(id, "app.tasks")
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// On a named container network a task is reached at its own IP address and the container
// port; with host and bridge networking at the agent and the task's host ports.
func TestTaskEndpointsFollowTheNetwork(t *testing.T) {
	task := &gomarathon.Task{Host: "agent-1", Ports: []int{31001, 31002}, IPAddresses: []*gomarathon.IPAddress{{IPAddress: "9.0.0.7", Protocol: "IPv4"}}}
	mappings := []PortMapping{{ContainerPort: 8080, Name: "web"}, {ContainerPort: 9090, Name: "admin"}}
	bridge := &App{Container: &Container{PortMappings: &mappings}, Networks: []Network{{Mode: ModeBridge}}}
	overlay := &App{Container: &Container{PortMappings: &mappings}, Networks: []Network{{Mode: ModeContainer, Name: "dcos"}}}
	defs := []gomarathon.PortDefinition{{Name: "web"}, {Name: "admin"}}
	host := &App{Networks: []Network{{Mode: ModeHost}}}
	host.PortDefinitions = &defs
	for name, tc := range map[string]struct {
		app  *App
		want []Endpoint
	}{
		"bridge":    {bridge, []Endpoint{{"agent-1", 31001}, {"agent-1", 31002}}},
		"host":      {host, []Endpoint{{"agent-1", 31001}, {"agent-1", 31002}}},
		"container": {overlay, []Endpoint{{"9.0.0.7", 8080}, {"9.0.0.7", 9090}}},
	} {
		if got := TaskEndpoints(tc.app, task); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: endpoints %v, want %v", name, got, tc.want)
		}
	}
}
