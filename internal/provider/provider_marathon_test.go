package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/taskwatch"
)

// The Marathon acceptance tests run the real Terraform CLI against the Marathon emulator and a
// real gateway in this process that follows the emulator's tasks (taskwatch, as the gateway
// binary does with --marathon-url). Each task is a real HTTP server on 127.0.0.1 that answers
// with its app id (which carries the version) and launch number.

const (
	app100 = "/vamp/sava/sava-cluster/sava-1.0.0"
	app110 = "/vamp/sava/sava-cluster/sava-1.1.0"
	// marathonPoll is the gateway's poll interval in these tests; Marathon's event stream makes
	// it see most changes sooner.
	marathonPoll = 50 * time.Millisecond
)

type marathonEnv struct {
	emu *emulator.Emulator
	// marathonURL is what the provider talks to: the emulator behind a recorder of 409s.
	marathonURL   string
	gatewayURL    string
	token         string
	gatewayClient gatewayapi.Client
	// versions are app versions recorded by recordVersion.
	versions map[string]string
	source   *taskwatch.Source
	tasks    *taskServers
	// locked receives the app id of every change Marathon refused with 409, forced of every
	// forced change it accepted.
	locked, forced chan string
}

// taskServers are the HTTP servers that stand for tasks, one per launch.
type taskServers struct {
	mu     sync.Mutex
	byAddr map[string]*httptest.Server
}

func (ts *taskServers) launch(appID string, seq int) (string, []int) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s task %d\n", appID, seq)
	}))
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ts.mu.Lock()
	ts.byAddr[srv.Listener.Addr().String()] = srv
	ts.mu.Unlock()
	p, _ := strconv.Atoi(port)
	return host, []int{p}
}

// kill stops the server of a task, as the task's process ends.
func (ts *taskServers) kill(host string, port int) {
	ts.mu.Lock()
	srv := ts.byAddr[net.JoinHostPort(host, strconv.Itoa(port))]
	ts.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

func (ts *taskServers) closeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, s := range ts.byAddr {
		s.Close()
	}
}

func startMarathonEnv(t *testing.T) *marathonEnv {
	t.Helper()
	env := &marathonEnv{tasks: &taskServers{byAddr: map[string]*httptest.Server{}}, locked: make(chan string, 16), forced: make(chan string, 16), token: randomToken()}
	t.Cleanup(env.tasks.closeAll)
	env.emu = emulator.New(emulator.Options{TaskAddress: env.tasks.launch})
	emuURL, err := env.emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.emu.Close)
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		env.emu.ServeHTTP(rec, r)
		if !strings.HasPrefix(r.URL.Path, "/v2/apps/") || r.Method != http.MethodPut {
			return
		}
		switch {
		case rec.status == http.StatusConflict:
			notify(env.locked, strings.TrimPrefix(r.URL.Path, "/v2/apps"))
		case r.URL.Query().Get("force") == "true" && rec.status < 300:
			notify(env.forced, strings.TrimPrefix(r.URL.Path, "/v2/apps"))
		}
	}))
	t.Cleanup(recorder.Close)
	env.marathonURL = recorder.URL

	client, err := marathon.Connect(marathon.Connection{URL: emuURL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	events, err := gomarathon.NewClient(gomarathon.Config{URL: emuURL, EventsTransport: gomarathon.EventsTransportSSE, HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	env.source = taskwatch.New(client, taskwatch.Options{PollInterval: marathonPoll})
	if err := env.source.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.source.Close)
	if err := env.source.FollowEvents(events); err != nil {
		t.Fatal(err)
	}

	srv, stop, err := startGateway(gateway.Config{
		AdminListen: "127.0.0.1:0", AdminToken: env.token, BindHost: "127.0.0.1",
		Sources: []discovery.Source{env.source},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping the gateway: %v", err)
		}
	})
	env.gatewayURL = "http://" + srv.AdminAddr().String()
	env.gatewayClient = gatewayapi.Client{BaseURL: env.gatewayURL, Token: env.token}
	env.versions = map[string]string{}
	return env
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// provider is the provider block for this environment; settings go into the marathon block.
func (env *marathonEnv) provider(settings ...string) string {
	return fmt.Sprintf(`
provider "vamp" {
  gateway {
    url   = %q
    token = %q
  }
  marathon {
    url           = %q
    poll_interval = "20ms"
    %s
  }
}
`, env.gatewayURL, env.token, env.marathonURL, strings.Join(settings, "\n    "))
}

// seedOnMarathon is the scenario through data "vamp_blueprint": the seed documents unchanged
// but for the port (docker images: the Marathon runtime runs them as they are).
func seedOnMarathon(port int, docs ...string) string {
	var yaml []string
	for _, d := range docs {
		yaml = append(yaml, heredoc(strings.Replace(d, "9050:", strconv.Itoa(port)+":", 1)))
	}
	return fmt.Sprintf(`
data "vamp_blueprint" "sava" {
  yaml = [
    %s
  ]
}

resource "vamp_deployment" "sava" {
  name     = data.vamp_blueprint.sava.name
  gateways = data.vamp_blueprint.sava.gateways
  clusters = data.vamp_blueprint.sava.clusters
}
`, strings.Join(yaml, ",\n    "))
}

// marathonHCL is the deployment in HCL: the given services (HCL objects) and routes.
func marathonHCL(port int, services []string, routes, extra string) string {
	return fmt.Sprintf(`
resource "vamp_deployment" "sava" {
  name     = "sava"
  gateways = { "%d" = "sava_cluster/webport" }
  clusters = {
    sava_cluster = {
      services = [
        %s
      ]
      gateways = {
        webport = {
          routes = {
            %s
          }
        }
      }
    }
  }
  %s
}
`, port, strings.Join(services, ",\n        "), routes, extra)
}

// savaService is a service of the seed's breed in HCL; more is added to the service object.
func savaService(version, more string) string {
	return savaServiceEnv(version, "", more)
}

// savaServiceEnv is savaService with the breed's environment variable RELEASE set.
func savaServiceEnv(version, release, more string) string {
	env := ""
	if release != "" {
		env = fmt.Sprintf(`, environment_variables = { RELEASE = %q }`, release)
	}
	return fmt.Sprintf(`{ breed = { name = "sava:%[1]s", deployable = "magneticio/sava:%[1]s", ports = { webport = "8080/http" }%[2]s }%[3]s }`, version, env, more)
}

const healthChecked = `, health_checks = [{ port = "webport", path = "/", protocol = "HTTP", interval = "1s", timeout = "1s", failures = 3 }]`

// load sends requests to a gateway port from a goroutine until stopped, counting failures.
type load struct {
	stop, done   chan struct{}
	ok, failed   atomic.Int64
	mu           sync.Mutex
	firstFailure string
}

func startLoad(port int) *load {
	l := &load{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("%s: %s", resp.Status, body)
				}
			}
			if err != nil {
				l.failed.Add(1)
				l.mu.Lock()
				if l.firstFailure == "" {
					l.firstFailure = err.Error()
				}
				l.mu.Unlock()
				continue
			}
			l.ok.Add(1)
		}
	}()
	return l
}

// finish stops the load and fails unless every request succeeded.
func (l *load) finish(t *testing.T, what string) {
	t.Helper()
	close(l.stop)
	<-l.done
	t.Logf("%s: %d requests through the gateway, %d failed", what, l.ok.Load()+l.failed.Load(), l.failed.Load())
	if l.failed.Load() > 0 || l.ok.Load() == 0 {
		t.Errorf("%s: %d of %d requests failed (first: %s)", what, l.failed.Load(), l.ok.Load()+l.failed.Load(), l.firstFailure)
	}
}

func (env *marathonEnv) app(t *testing.T, id string) emulator.App {
	t.Helper()
	app, ok := env.emu.App(id)
	if !ok {
		t.Fatalf("Marathon has no app %s", id)
	}
	return app
}

// image is the docker image of the app's current definition.
func image(app emulator.App) string {
	c, _ := app.Definition["container"].(map[string]any)
	d, _ := c["docker"].(map[string]any)
	s, _ := d["image"].(string)
	return s
}

// recordVersion remembers the apps' current versions, for checkVersionUnchanged.
func (env *marathonEnv) recordVersion(appIDs ...string) func() {
	return func() {
		for _, id := range appIDs {
			app, _ := env.emu.App(id)
			env.versions[id] = app.Version
		}
	}
}

// checkVersionUnchanged: no apply deployed the apps again since recordVersion (an app rolled
// back to its previous definition gets a new version too).
func (env *marathonEnv) checkVersionUnchanged(appIDs ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, id := range appIDs {
			app, ok := env.emu.App(id)
			if !ok {
				return fmt.Errorf("Marathon has no app %s", id)
			}
			if app.Version != env.versions[id] {
				return fmt.Errorf("app %s was deployed again: version %s, was %s", id, app.Version, env.versions[id])
			}
		}
		return nil
	}
}

func notify(ch chan string, appID string) {
	select {
	case ch <- appID:
	default:
	}
}

// TestMarathonSeedAppDefinition: the app definition generated for the seed's breed (the seed
// blueprint as the provider normalizes it) is the one shown in the docs
// (examples/marathon/sava-1.0.0.app.json), and Marathon's validation (the emulator's, from
// Marathon's RAML: id pattern, required fields, types) accepts it as posted.
func TestMarathonSeedAppDefinition(t *testing.T) {
	bp, err := blueprint.ParseYAML([]byte(seedBlueprint100))
	if err != nil {
		t.Fatal(err)
	}
	bp.Normalize()
	app, err := marathon.BuildApp("", deployplan.RuntimeService(bp.Name, "sava_cluster", bp.Clusters["sava_cluster"].Services[0]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(app, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "../../examples/marathon/sava-1.0.0.app.json"
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the generated definition differs from %s (the docs show that file; UPDATE_GOLDEN=1 rewrites it):\n%s", golden, got)
	}

	e := emulator.New(emulator.Options{})
	u, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	resp, err := http.Post(u+"/v2/apps", "application/json", bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("Marathon (emulated) rejected the seed's app definition: %s %s", resp.Status, answer)
	}
	if app.ID != app100 || app.Container.Docker.Image != "magneticio/sava:1.0.0" || (*app.Container.PortMappings)[0].Name != "webport" {
		t.Fatalf("unexpected definition: %s", got)
	}
}

// TestMarathonGatewayAppExample: the example that runs the gateway on DC/OS' public agents is an
// app Marathon's validation (the emulator's, from the RAML) accepts, with the settings the guide
// promises.
func TestMarathonGatewayAppExample(t *testing.T) {
	raw, err := os.ReadFile("../../examples/marathon/gateway-app.json")
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		AcceptedResourceRoles []string `json:"acceptedResourceRoles"`
		Container             struct {
			Docker struct{ Network string } `json:"docker"`
		} `json:"container"`
		Networks []struct{ Mode string }      `json:"networks"`
		Args     []string                     `json:"args"`
		Env      map[string]map[string]string `json:"env"`
		Secrets  map[string]map[string]string `json:"secrets"`
	}
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	secret := app.Env["VAMP_GATEWAY_TOKEN"]["secret"]
	if !slices.Equal(app.AcceptedResourceRoles, []string{"slave_public"}) || len(app.Networks) != 1 || app.Networks[0].Mode != "host" || app.Container.Docker.Network != "" ||
		!slices.Contains(app.Args, "--marathon-url") || secret == "" || app.Secrets[secret]["source"] == "" {
		t.Fatalf("the gateway app lost a promised setting: %s", raw)
	}
	e := emulator.New(emulator.Options{})
	u, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	resp, err := http.Post(u+"/v2/apps", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("Marathon (emulated) rejected examples/marathon/gateway-app.json: %s %s", resp.Status, answer)
	}
}
