package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	marathon "github.com/gambol99/go-marathon"
)

// start runs an emulator on a real socket and returns it with a real
// go-marathon client pointed at it.
func start(t *testing.T, opts Options) (*Emulator, marathon.Marathon) {
	t.Helper()
	e := New(opts)
	url, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	client, err := marathon.NewClient(marathon.Config{URL: url, PollingWaitTime: 5 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return e, client
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// webApp is the kind of definition the provider's driver sends: a docker
// image in bridge mode with a named port and an HTTP health check.
func webApp(id, image string, instances int) *marathon.Application {
	a := marathon.NewDockerApplication().Name(id).CPU(0.25).Memory(64).Count(instances)
	a.Container.Docker.Container(image).Bridged().Expose(8080)
	a.AddLabel("io.vamp.service", "web")
	a.AddHealthCheck(marathon.HealthCheck{Protocol: "HTTP", Path: ptr("/health"), PortIndex: ptr(0), MaxConsecutiveFailures: ptr(3)})
	return a
}

func ptr[T any](v T) *T { return &v }

func apiErr(t *testing.T, err error) *marathon.APIError {
	t.Helper()
	var ae *marathon.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want a *marathon.APIError, got %v", err)
	}
	return ae
}

func imageOf(t *testing.T, a *marathon.Application) string {
	t.Helper()
	if a.Container == nil || a.Container.Docker == nil {
		t.Fatalf("app %s has no docker container", a.ID)
	}
	return a.Container.Docker.Image
}

func createAndWait(t *testing.T, e *Emulator, c marathon.Marathon, app *marathon.Application) *marathon.Application {
	t.Helper()
	created, err := c.CreateApplication(app)
	if err != nil {
		t.Fatal(err)
	}
	ids := created.DeploymentIDs()
	if len(ids) != 1 {
		t.Fatalf("POST /v2/apps answered deployments %v, want exactly one", created.Deployments)
	}
	if err := e.WaitDeploymentDone(ctx(t), ids[0].DeploymentID); err != nil {
		t.Fatal(err)
	}
	return created
}

func TestCreateAppDeploysRunningHealthyTasks(t *testing.T) {
	e, c := start(t, Options{})
	created, err := c.CreateApplication(webApp("/shop/web", "shop/web:1", 2))
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != "/shop/web" || created.Version == "" || len(created.DeploymentIDs()) != 1 {
		t.Fatalf("create answered id=%q version=%q deployments=%v", created.ID, created.Version, created.Deployments)
	}
	if err := c.WaitOnDeployment(created.DeploymentIDs()[0].DeploymentID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ok, err := c.ApplicationOK("/shop/web")
	if err != nil || !ok {
		t.Fatalf("ApplicationOK = %v, %v after the deployment finished", ok, err)
	}
	tasks, err := c.Tasks("/shop/web")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Tasks) != 2 {
		t.Fatalf("got %d tasks, want 2", len(tasks.Tasks))
	}
	seen := map[string]bool{}
	for _, task := range tasks.Tasks {
		if task.State != "TASK_RUNNING" || task.StartedAt == "" || task.Version != created.Version {
			t.Errorf("task %+v: want TASK_RUNNING, startedAt set, version %s", task, created.Version)
		}
		if !strings.HasPrefix(task.ID, "shop_web.") || task.AppID != "/shop/web" {
			t.Errorf("task id %q / appId %q do not follow Marathon's scheme", task.ID, task.AppID)
		}
		if len(task.Ports) != 1 || task.Ports[0] < 31000 || task.Ports[0] > 32000 {
			t.Errorf("task ports %v, want one host port from 31000-32000", task.Ports)
		}
		if len(task.ServicePorts) != 1 || task.ServicePorts[0] < 10000 {
			t.Errorf("task service ports %v, want one assigned service port", task.ServicePorts)
		}
		if len(task.HealthCheckResults) != 1 || !task.HealthCheckResults[0].Alive {
			t.Errorf("task health %v, want one alive result", task.HealthCheckResults)
		}
		seen[fmt.Sprint(task.Host, ":", task.Ports[0])] = true
	}
	if len(seen) != 2 {
		t.Errorf("the two tasks share host and port")
	}
	app, err := c.Application("/shop/web")
	if err != nil {
		t.Fatal(err)
	}
	if app.TasksRunning != 2 || app.TasksHealthy != 2 || *app.Instances != 2 || *app.Mem != 64 {
		t.Errorf("app counts running=%d healthy=%d instances=%d mem=%v", app.TasksRunning, app.TasksHealthy, *app.Instances, *app.Mem)
	}
	// Marathon 1.5+ answers in the 1.5 networking format, which go-marathon v0.7.1 cannot
	// decode: the port mapping it was sent in container.docker is now in container.portMappings.
	if app.Container.Docker.PortMappings != nil || app.Container.Docker.Network != "" {
		t.Errorf("go-marathon read a legacy docker network %q / port mappings from a 1.5 answer", app.Container.Docker.Network)
	}
	pm := rawApp(t, e, "/shop/web").portMapping(t, 0)
	if sp, _ := pm["servicePort"].(float64); pm["containerPort"] != 8080.0 || sp < 10000 || pm["protocol"] != "tcp" || pm["hostPort"] != 0.0 {
		t.Errorf("port mapping %v: want containerPort 8080, hostPort 0, an assigned servicePort and tcp", pm)
	}
}

// appBody is an app as GET /v2/apps/{id} answers it, decoded without go-marathon.
type appBody map[string]any

func rawApp(t *testing.T, e *Emulator, id string) appBody {
	t.Helper()
	status, body := postJSON(t, http.MethodGet, e.URL()+"/v2/apps"+id, nil)
	app, _ := body["app"].(map[string]any)
	if status != http.StatusOK || app == nil {
		t.Fatalf("GET /v2/apps%s: %d %v", id, status, body)
	}
	return app
}

// portMapping is container.portMappings[i] of the 1.5 networking format.
func (a appBody) portMapping(t *testing.T, i int) map[string]any {
	t.Helper()
	c, _ := a["container"].(map[string]any)
	pms, _ := c["portMappings"].([]any)
	if i >= len(pms) {
		t.Fatalf("app %v has no container.portMappings[%d]", a["id"], i)
	}
	pm, ok := pms[i].(map[string]any)
	if !ok {
		t.Fatalf("app %v: container.portMappings[%d] is %v, not an object", a["id"], i, pms[i])
	}
	return pm
}

// at walks decoded JSON: a string step indexes an object, an int step an array; it is nil where
// the path leads nowhere.
func at(v any, path ...any) any {
	for _, step := range path {
		switch k := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if a, isApp := v.(appBody); isApp {
				m, ok = a, true
			}
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k < 0 || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// list is v as a JSON array, or nil.
func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestDeploymentProgressesOneStepAtATime(t *testing.T) {
	e, c := start(t, Options{Manual: true})
	created, err := c.CreateApplication(webApp("/web", "web:1", 1))
	if err != nil {
		t.Fatal(err)
	}
	id := created.DeploymentIDs()[0].DeploymentID
	deps, err := c.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 1 || deps[0].ID != id || deps[0].CurrentStep != 1 || deps[0].TotalSteps != 2 ||
		!slices.Equal(deps[0].AffectedApps, []string{"/web"}) {
		t.Fatalf("GET /v2/deployments = %+v, want the new deployment at step 1 of 2", deps)
	}
	if len(deps[0].Steps) != 2 || deps[0].Steps[0][0].Action != "StartApplication" || deps[0].Steps[1][0].Action != "ScaleApplication" {
		t.Fatalf("steps %v, want StartApplication then ScaleApplication", deps[0].Steps)
	}
	wantState := func(state string, healthy *bool) {
		t.Helper()
		a, _ := e.App("/web")
		if len(a.Tasks) != 1 || a.Tasks[0].State != state || (healthy == nil) != (a.Tasks[0].Healthy == nil) ||
			(healthy != nil && *healthy != *a.Tasks[0].Healthy) {
			t.Fatalf("tasks %+v, want one %s task with health %v", a.Tasks, state, healthy)
		}
	}
	e.Step()
	wantState("TASK_STAGING", nil)
	e.Step()
	wantState("TASK_RUNNING", nil)
	if found, _ := c.HasDeployment(id); !found {
		t.Fatal("deployment finished before the task was healthy")
	}
	e.Step()
	wantState("TASK_RUNNING", ptr(true))
	if found, _ := c.HasDeployment(id); found {
		t.Fatal("deployment still listed after its task became healthy")
	}
}

func TestScalingKeepsRunningTasks(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 1))
	before, _ := e.App("/web")
	dep, err := c.ScaleApplicationInstances("/web", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WaitDeploymentDone(ctx(t), dep.DeploymentID); err != nil {
		t.Fatal(err)
	}
	after, _ := e.App("/web")
	if len(after.Tasks) != 3 || !slices.ContainsFunc(after.Tasks, func(tk Task) bool { return tk.ID == before.Tasks[0].ID }) {
		t.Fatalf("after scaling to 3: tasks %+v, want 3 including the original %s", after.Tasks, before.Tasks[0].ID)
	}
	if imageOf(t, mustApp(t, c, "/web")) != "web:1" {
		t.Fatal("scaling changed the image")
	}
}

func mustApp(t *testing.T, c marathon.Marathon, id string) *marathon.Application {
	t.Helper()
	a, err := c.Application(id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRollingUpgradeReplacesOldTasks(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 2))
	old, _ := e.App("/web")
	dep, err := c.UpdateApplication(webApp("/web", "web:2", 2), false)
	if err != nil {
		t.Fatal(err)
	}
	if dep.Version == old.Version {
		t.Fatal("an update kept the version")
	}
	if err := e.WaitDeploymentDone(ctx(t), dep.DeploymentID); err != nil {
		t.Fatal(err)
	}
	now, _ := e.App("/web")
	if len(now.Tasks) != 2 {
		t.Fatalf("tasks %+v, want 2", now.Tasks)
	}
	for _, tk := range now.Tasks {
		if tk.Version != dep.Version || slices.ContainsFunc(old.Tasks, func(o Task) bool { return o.ID == tk.ID }) {
			t.Errorf("task %+v survived the upgrade to %s", tk, dep.Version)
		}
	}
}

func postJSON(t *testing.T, method, url string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Marathon's own example payloads from its RAML are accepted as they are.
func TestMarathonExamplePayloadsAccepted(t *testing.T) {
	e, c := start(t, Options{})
	// Marathon's example app.json gives both cmd and args, which Marathon refuses
	// (AppValidation.containsCmdArgsOrContainer); without args it is accepted.
	appJSON := readTestdata(t, "app.json")
	status, body := postJSON(t, http.MethodPost, e.URL()+"/v2/apps", appJSON)
	if status != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(body["details"]), "must either contain one of 'cmd' or 'args'") {
		t.Fatalf("POST examples/app.json (cmd and args): %d %v, want 422 naming cmd and args", status, body)
	}
	var foo map[string]any
	if err := json.Unmarshal(appJSON, &foo); err != nil {
		t.Fatal(err)
	}
	delete(foo, "args")
	appJSON, _ = json.Marshal(foo)
	status, body = postJSON(t, http.MethodPost, e.URL()+"/v2/apps", appJSON)
	if status != http.StatusCreated || body["id"] != "/foo" {
		t.Fatalf("POST examples/app.json without args: %d %v", status, body)
	}
	status, body = postJSON(t, http.MethodPost, e.URL()+"/v2/apps", readTestdata(t, "app-check-http-example.json"))
	if status != http.StatusCreated || body["id"] != "/http-index-test" {
		t.Fatalf("POST examples/app-check-http-example.json: %d %v", status, body)
	}
	status, body = postJSON(t, http.MethodPut, e.URL()+"/v2/apps", readTestdata(t, "apps_create.json"))
	if status != http.StatusOK || body["deploymentId"] == nil || body["version"] == nil {
		t.Fatalf("PUT examples/apps_create.json: %d %v", status, body)
	}
	if err := e.WaitDeploymentsDone(ctx(t)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range e.Apps() {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{"/foo", "/http-index-test", "/test/sleep120", "/test/sleep60"}) {
		t.Fatalf("apps %v", ids)
	}
	// go-marathon cannot decode /foo (its env holds a secret reference, and
	// go-marathon's Env is map[string]string), so read the JSON directly.
	status, body = postJSON(t, http.MethodGet, e.URL()+"/v2/apps/foo", nil)
	foo, _ = body["app"].(map[string]any)
	if status != http.StatusOK || foo["instances"] != 2.0 || foo["cpus"] != 0.1 || len(list(foo["tasks"])) != 2 {
		t.Fatalf("GET /v2/apps/foo: %d %v", status, body)
	}
	// Posted in the 1.4 format (container.docker.network BRIDGE, container.docker.portMappings),
	// answered in the 1.5 one.
	pm := appBody(foo).portMapping(t, 0)
	if pm["servicePort"] != 10019.0 || pm["name"] != "http" {
		t.Fatalf("/foo port mapping %v, want the given servicePort 10019 kept", pm)
	}
	if nets := fmt.Sprint(foo["networks"]); nets != "[map[mode:container/bridge]]" || at(foo, "container", "docker", "network") != nil {
		t.Fatalf("/foo networks %s, docker %v: want the 1.5 format, networks [{mode: container/bridge}] and no docker.network", nets, foo["container"])
	}
	if env := foo["env"]; at(env, "PASSWORD", "secret") != "/db/password" {
		t.Fatalf("/foo env %v lost the secret reference", env)
	}
	sleep := mustApp(t, c, "/test/sleep60")
	if sleep.CPUs != 0.3 || *sleep.Mem != 9 || !slices.Equal(sleep.Dependencies, []string{"/test/sleep120", "/other/namespace/or/app"}) {
		t.Fatalf("/test/sleep60 read back as %+v", sleep)
	}
}

func TestInvalidDefinitionsNameTheField(t *testing.T) {
	e, _ := start(t, Options{})
	cases := []struct {
		name, body string
		status     int // 400: a type error, which Marathon 1.5+ answers with 422 "Invalid JSON"
		path, want string
		msg        string
	}{
		{"uppercase id", `{"id": "/Shop/web", "cmd": "x"}`, 422, "/id", "must fully match regular expression", ""},
		{"underscore id", `{"id": "/shop/my_web", "cmd": "x"}`, 422, "/id", `segment "my_web"`, ""},
		{"empty segment", `{"id": "/shop//web", "cmd": "x"}`, 422, "/id", "empty segments", ""},
		{"dot-dot", `{"id": "/shop/../web", "cmd": "x"}`, 422, "/id", "'..'", ""},
		{"dash at end", `{"id": "/web-", "cmd": "x"}`, 422, "/id", "must fully match", ""},
		{"missing id", `{"cmd": "x"}`, 422, "/id", "error.path.missing", ""},
		{"cpus too small", `{"id": "/w", "cmd": "x", "cpus": 0}`, 422, "/cpus", "expected 0.001 or more", ""},
		{"cpus a string", `{"id": "/w", "cmd": "x", "cpus": "1"}`, 400, "/cpus", "error.expected.jsnumber", ""},
		{"negative mem", `{"id": "/w", "cmd": "x", "mem": -1}`, 422, "/mem", "expected 0 or more", ""},
		{"negative instances", `{"id": "/w", "cmd": "x", "instances": -1}`, 422, "/instances", "expected 0 or more", ""},
		{"fractional instances", `{"id": "/w", "cmd": "x", "instances": 1.5}`, 400, "/instances", "error.expected.int", ""},
		{"nothing to run", `{"id": "/w"}`, 422, "/", "must either contain one of 'cmd' or 'args'", ""},
		{"cmd and args", `{"id": "/w", "cmd": "x", "args": ["y"]}`, 422, "/", "must either contain one of 'cmd' or 'args'", ""},
		{"cmd and args with a container", `{"id": "/w", "cmd": "x", "args": ["y"], "container": {"docker": {"image": "i"}}}`, 422, "/", "must either contain one of 'cmd' or 'args'", ""},
		{"mixed network APIs", `{"id": "/w", "container": {"docker": {"image": "i", "network": "BRIDGE"}}, "networks": [{"mode": "container/bridge"}]}`, 422, "/networks", "cannot mix deprecated and canonical network APIs", ""},
		{"mixed network modes", `{"id": "/w", "container": {"docker": {"image": "i"}}, "networks": [{"mode": "host"}, {"mode": "container/bridge"}]}`, 422, "/networks", "May specify a single host network", ""},
		{"unnamed container network", `{"id": "/w", "container": {"docker": {"image": "i"}}, "networks": [{"mode": "container"}]}`, 422, "/networks", "container network name is not defined", ""},
		{"bad network mode", `{"id": "/w", "container": {"docker": {"image": "i"}}, "networks": [{"mode": "BRIDGE"}]}`, 422, "/networks(0)/mode", "container/bridge", ""},
		{"network mode a number", `{"id": "/w", "container": {"docker": {"image": "i"}}, "networks": [{"mode": 1}]}`, 400, "/networks(0)/mode", "error.expected.jsstring", ""},
		{"id a number", `{"id": 123, "cmd": "x"}`, 400, "/id", "error.expected.jsstring", ""},
		{"docker without image", `{"id": "/w", "container": {"type": "DOCKER", "docker": {}}}`, 422, "/container/docker/image", "error.path.missing", ""},
		{"bad network", `{"id": "/w", "container": {"docker": {"image": "i", "network": "WIFI"}}}`, 422, "/container/docker/network", "BRIDGE", ""},
		{"port out of range", `{"id": "/w", "container": {"docker": {"image": "i"}, "portMappings": [{"containerPort": 70000}]}}`, 422, "/container/portMappings(0)/containerPort", "65535 or less", ""},
		{"bad port name", `{"id": "/w", "cmd": "x", "portDefinitions": [{"port": 0, "name": "Web_Port"}]}`, 422, "/portDefinitions(0)/name", "must fully match", ""},
		{"duplicate port names", `{"id": "/w", "cmd": "x", "portDefinitions": [{"name": "a"}, {"name": "a"}]}`, 422, "/portDefinitions(1)/name", "unique", ""},
		{"bad protocol", `{"id": "/w", "cmd": "x", "portDefinitions": [{"protocol": "sctp"}]}`, 422, "/portDefinitions(0)/protocol", "tcp", ""},
		{"health port index", `{"id": "/w", "cmd": "x", "healthChecks": [{"protocol": "HTTP", "portIndex": 2}]}`, 422, "/healthChecks(0)/portIndex", "got 2, the app has 1 ports", ""},
		{"health protocol", `{"id": "/w", "cmd": "x", "healthChecks": [{"protocol": "GRPC"}]}`, 422, "/healthChecks(0)/protocol", "MESOS_HTTP", ""},
		{"health interval", `{"id": "/w", "cmd": "x", "healthChecks": [{"intervalSeconds": -5}]}`, 422, "/healthChecks(0)/intervalSeconds", "expected 0 or more", ""},
		{"upgrade strategy", `{"id": "/w", "cmd": "x", "upgradeStrategy": {"minimumHealthCapacity": 2}}`, 422, "/upgradeStrategy/minimumHealthCapacity", "is greater than 1", ""},
		{"labels not strings", `{"id": "/w", "cmd": "x", "labels": {"a": 1}}`, 400, "/labels/a", "error.expected.jsstring", ""},
		{"constraint operator", `{"id": "/w", "cmd": "x", "constraints": [["hostname", "NEAR"]]}`, 422, "/constraints(0)", "operator", ""},
	}
	// A value of the wrong JSON type ("Invalid JSON"): 422 on Marathon 1.5+, 400 on 1.4. The
	// body is types/error.raml's Error either way: {"message", "details": [{"path", "errors"}]}
	// (apps.raml's 400 example: {"message":"Invalid JSON","details":[{"path":"/id","errors":
	// ["error.expected.jsstring"]}]}).
	legacy := New(Options{Version: Version14})
	if _, err := legacy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(legacy.Close)
	for _, tc := range cases {
		// (Marathon 1.4 does not know "networks": it ignores them.)
		if tc.status == 400 && !strings.Contains(tc.body, `"networks"`) {
			t.Run(tc.name+" on 1.4", func(t *testing.T) {
				status, body := postJSON(t, http.MethodPost, legacy.URL()+"/v2/apps", []byte(tc.body))
				if status != http.StatusBadRequest || body["message"] != "Invalid JSON" {
					t.Fatalf("Marathon 1.4: %d %v, want 400 Invalid JSON", status, body)
				}
			})
		}
		if tc.status == 400 {
			tc.status, tc.msg = http.StatusUnprocessableEntity, "Invalid JSON"
		}
		t.Run(tc.name, func(t *testing.T) {
			status, body := postJSON(t, http.MethodPost, e.URL()+"/v2/apps", []byte(tc.body))
			if status != tc.status {
				t.Fatalf("status %d, want %d (body %v)", status, tc.status, body)
			}
			wantMsg := tc.msg
			if wantMsg == "" {
				wantMsg = "Object is not valid"
			}
			if body["message"] != wantMsg {
				t.Fatalf("message %v, want %q", body["message"], wantMsg)
			}
			raw, _ := json.Marshal(body["details"])
			var details []fieldError
			_ = json.Unmarshal(raw, &details)
			for _, d := range details {
				if d.Path == tc.path && strings.Contains(strings.Join(d.Errors, " "), tc.want) {
					return
				}
			}
			t.Fatalf("details %s do not name %s with %q", raw, tc.path, tc.want)
		})
	}
	if len(e.Apps()) != 0 {
		t.Fatalf("invalid definitions created apps: %v", e.Apps())
	}
}

func TestGoMarathonSeesValidationPath(t *testing.T) {
	_, c := start(t, Options{})
	_, err := c.CreateApplication(webApp("/Web", "web:1", 1))
	ae := apiErr(t, err)
	if ae.ErrCode != marathon.ErrCodeInvalidBean || !strings.Contains(ae.Error(), "path: '/id'") {
		t.Fatalf("go-marathon error %q (code %d), want ErrCodeInvalidBean naming /id", ae.Error(), ae.ErrCode)
	}
	_, err = c.UpdateApplication(webApp("/w", "web:1", 1).Count(-2), false)
	if ae := apiErr(t, err); !strings.Contains(ae.Error(), "/instances") {
		t.Fatalf("go-marathon error %q does not name /instances", ae.Error())
	}
}

func TestDuplicateCreateIs409WithoutDeployments(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 1))
	_, err := c.CreateApplication(webApp("/web", "web:1", 1))
	if ae := apiErr(t, err); ae.ErrCode != marathon.ErrCodeDuplicateID || !strings.Contains(ae.Error(), "already exists") {
		t.Fatalf("duplicate create: %v (code %d), want ErrCodeDuplicateID", ae, ae.ErrCode)
	}
}

func TestLockedAppGets409UnlessForced(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 1))
	lockID, err := e.LockApp("/web")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateApplication(webApp("/web", "web:2", 1), false)
	ae := apiErr(t, err)
	if ae.ErrCode != marathon.ErrCodeAppLocked || !strings.Contains(ae.Error(), lockID) || !strings.Contains(ae.Error(), "force=true") {
		t.Fatalf("update of a locked app: %q (code %d), want ErrCodeAppLocked naming %s", ae.Error(), ae.ErrCode, lockID)
	}
	if _, err := c.DeleteApplication("/web", false); apiErr(t, err).ErrCode != marathon.ErrCodeAppLocked {
		t.Fatalf("delete of a locked app: %v", err)
	}
	if _, err := c.RestartApplication("/web", false); apiErr(t, err).ErrCode != marathon.ErrCodeAppLocked {
		t.Fatalf("restart of a locked app: %v", err)
	}
	dep, err := c.UpdateApplication(webApp("/web", "web:2", 1), true)
	if err != nil {
		t.Fatalf("forced update: %v", err)
	}
	if found, _ := c.HasDeployment(lockID); found {
		t.Fatal("the forced update did not supersede the locking deployment")
	}
	if err := e.WaitUntil(ctx(t), func() bool {
		a, _ := e.App("/web")
		return len(a.Tasks) == 1 && a.Tasks[0].Version == dep.Version && a.Tasks[0].Healthy != nil && *a.Tasks[0].Healthy
	}); err != nil {
		t.Fatal(err)
	}
	if found, _ := c.HasDeployment(dep.DeploymentID); !found {
		t.Fatal("deployment finished while the app was still locked")
	}
	if err := e.UnlockApp("/web"); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitDeploymentDone(ctx(t), dep.DeploymentID); err != nil {
		t.Fatal(err)
	}
	if imageOf(t, mustApp(t, c, "/web")) != "web:2" {
		t.Fatal("forced update not applied")
	}
}

func TestFailingHealthChecksKeepDeploymentRunning(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 1))
	if err := e.FailHealthChecks("/web", true); err != nil {
		t.Fatal(err)
	}
	dep, err := c.UpdateApplication(webApp("/web", "web:2", 1), false)
	if err != nil {
		t.Fatal(err)
	}
	// Marathon kills a task after maxConsecutiveFailures failed checks and
	// records it as lastTaskFailure; the deployment keeps trying.
	if err := e.WaitUntil(ctx(t), func() bool { a, _ := e.App("/web"); return a.LastTaskFailure != "" }); err != nil {
		t.Fatal(err)
	}
	if found, _ := c.HasDeployment(dep.DeploymentID); !found {
		t.Fatal("deployment finished although the new task never became healthy")
	}
	app, err := c.ApplicationBy("/web", &marathon.GetAppOpts{Embed: []string{"app.lastTaskFailure", "app.tasks"}})
	if err != nil {
		t.Fatal(err)
	}
	if app.LastTaskFailure == nil || !strings.Contains(app.LastTaskFailure.Message, "health check failed") || app.LastTaskFailure.Version != dep.Version {
		t.Fatalf("lastTaskFailure %+v, want a health-check failure of version %s", app.LastTaskFailure, dep.Version)
	}
	var oldHealthy bool
	for _, tk := range app.Tasks {
		if tk.Version != dep.Version && tk.State == "TASK_RUNNING" && tk.HealthCheckResults[0].Alive {
			oldHealthy = true
		}
	}
	if !oldHealthy {
		t.Fatalf("the old healthy task was killed before the new one was healthy: %+v", app.Tasks)
	}
}

func TestCancelDeploymentRollsBack(t *testing.T) {
	e, c := start(t, Options{})
	first := createAndWait(t, e, c, webApp("/web", "web:1", 2))
	if err := e.FailHealthChecks("/web", true); err != nil {
		t.Fatal(err)
	}
	dep, err := c.UpdateApplication(webApp("/web", "web:2", 2), false)
	if err != nil {
		t.Fatal(err)
	}
	if imageOf(t, mustApp(t, c, "/web")) != "web:2" {
		t.Fatal("the app definition did not change with the update")
	}
	rollback, err := c.DeleteDeployment(dep.DeploymentID, false)
	if err != nil {
		t.Fatal(err)
	}
	if rollback.DeploymentID == "" || rollback.DeploymentID == dep.DeploymentID {
		t.Fatalf("cancel answered %+v, want a new rollback deployment", rollback)
	}
	if err := c.WaitOnDeployment(rollback.DeploymentID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	app := mustApp(t, c, "/web")
	if imageOf(t, app) != "web:1" || app.Version != first.Version {
		t.Fatalf("after rollback: image %s version %s, want web:1 version %s", imageOf(t, app), app.Version, first.Version)
	}
	if len(app.Tasks) != 2 {
		t.Fatalf("after rollback: %d tasks, want 2", len(app.Tasks))
	}
	for _, tk := range app.Tasks {
		if tk.Version != first.Version {
			t.Errorf("task %s of version %s survived the rollback", tk.ID, tk.Version)
		}
	}
	_, err = c.DeleteDeployment(dep.DeploymentID, false)
	if ae := apiErr(t, err); ae.ErrCode != marathon.ErrCodeNotFound {
		t.Fatalf("cancelling a finished deployment: %v", ae)
	}
}

func TestForceCancelKeepsTheNewDefinition(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 1))
	_ = e.FailHealthChecks("/web", true)
	dep, err := c.UpdateApplication(webApp("/web", "web:2", 1), false)
	if err != nil {
		t.Fatal(err)
	}
	// go-marathon's DeleteDeployment never sends force, so call the API.
	req, _ := http.NewRequest(http.MethodDelete, e.URL()+"/v2/deployments/"+dep.DeploymentID+"?force=true", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("force cancel: %d, want 202", resp.StatusCode)
	}
	if len(e.Deployments()) != 0 || imageOf(t, mustApp(t, c, "/web")) != "web:2" {
		t.Fatalf("force cancel: deployments %v, want none and the new definition kept", e.Deployments())
	}
}

func TestKilledTaskIsReplacedElsewhere(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 2))
	before, _ := e.App("/web")
	victim := before.Tasks[0]
	if err := e.KillTask("/web", victim.ID); err != nil {
		t.Fatal(err)
	}
	replacement := waitReplacement(t, e, before, victim.ID)
	if replacement.Host == victim.Host || slices.Equal(replacement.Ports, victim.Ports) {
		t.Fatalf("replacement %+v reuses the host or port of the dead task %+v", replacement, victim)
	}
	app := mustApp(t, c, "/web")
	if app.LastTaskFailure == nil || app.LastTaskFailure.TaskID != victim.ID || app.LastTaskFailure.State != "TASK_FAILED" {
		t.Fatalf("lastTaskFailure %+v, want the killed task", app.LastTaskFailure)
	}
	// the same through the API, as go-marathon's KillTask does it
	now, _ := e.App("/web")
	if _, err := c.KillTask(now.Tasks[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	waitReplacement(t, e, now, now.Tasks[0].ID)
}

// waitReplacement waits until the app again has as many running, healthy
// tasks as before, none of them the one that went away, and returns the new one.
func waitReplacement(t *testing.T, e *Emulator, before App, goneID string) Task {
	t.Helper()
	var fresh Task
	err := e.WaitUntil(ctx(t), func() bool {
		a, _ := e.App("/web")
		if len(a.Tasks) != len(before.Tasks) {
			return false
		}
		for _, tk := range a.Tasks {
			if tk.ID == goneID || tk.State != "TASK_RUNNING" || tk.Healthy == nil || !*tk.Healthy {
				return false
			}
			if !slices.ContainsFunc(before.Tasks, func(b Task) bool { return b.ID == tk.ID }) {
				fresh = tk
			}
		}
		return fresh.ID != ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return fresh
}

// A moved task stays until its replacement is running and healthy, so a
// gateway following the tasks never has zero healthy backends.
func TestMovedTaskStaysUntilReplacementHealthy(t *testing.T) {
	e, c := start(t, Options{Manual: true})
	if _, err := c.CreateApplication(webApp("/web", "web:1", 1)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.Step()
	}
	before, _ := e.App("/web")
	orig := before.Tasks[0]
	if err := e.MoveTask("/web", orig.ID); err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 3; step++ {
		e.Step()
		a, _ := e.App("/web")
		hasOrig := slices.ContainsFunc(a.Tasks, func(tk Task) bool { return tk.ID == orig.ID })
		if step < 3 && (!hasOrig || len(a.Tasks) != 2) {
			t.Fatalf("step %d: tasks %+v, want the original and its replacement", step, a.Tasks)
		}
		if step == 3 && (hasOrig || len(a.Tasks) != 1 || a.Tasks[0].Host == orig.Host) {
			t.Fatalf("step %d: tasks %+v, want only the healthy replacement on another host", step, a.Tasks)
		}
	}
}

func TestTaskAddressFuncPointsAtRealBackends(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "backend says hi")
	}))
	defer backend.Close()
	addr := backend.Listener.Addr().String()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	backendPort, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	e, c := start(t, Options{TaskAddress: func(appID string, seq int) (string, []int) {
		seqs = append(seqs, seq)
		return host, []int{backendPort}
	}})
	createAndWait(t, e, c, webApp("/web", "web:1", 1))
	// go-marathon's TaskEndpoints looks for container.docker.portMappings, which Marathon 1.5+
	// does not answer; the task's host and host ports are what a client routes to.
	tasks, err := c.Tasks("/web")
	if err != nil {
		t.Fatal(err)
	}
	var endpoints []string
	for _, task := range tasks.Tasks {
		endpoints = append(endpoints, net.JoinHostPort(task.Host, strconv.Itoa(task.Ports[0])))
	}
	if len(endpoints) != 1 || endpoints[0] != addr {
		t.Fatalf("endpoints %v, want [%s]", endpoints, addr)
	}
	resp, err := http.Get("http://" + endpoints[0] + "/")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "backend says hi" || !slices.Equal(seqs, []int{0}) {
		t.Fatalf("backend answered %q, launches %v", got, seqs)
	}
}

func TestAuthentication(t *testing.T) {
	t.Run("basic", func(t *testing.T) {
		e := New(Options{Username: "ops", Password: "s3cret"})
		url, err := e.Start()
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		anon, _ := marathon.NewClient(marathon.Config{URL: url})
		if _, err := anon.Info(); apiErr(t, err).ErrCode != marathon.ErrCodeUnauthorized {
			t.Fatalf("no credentials: %v, want 401", err)
		}
		wrong, _ := marathon.NewClient(marathon.Config{URL: url, HTTPBasicAuthUser: "ops", HTTPBasicPassword: "nope"})
		if _, err := wrong.Info(); apiErr(t, err).ErrCode != marathon.ErrCodeUnauthorized {
			t.Fatalf("wrong password: %v, want 401", err)
		}
		right, _ := marathon.NewClient(marathon.Config{URL: url, HTTPBasicAuthUser: "ops", HTTPBasicPassword: "s3cret"})
		if info, err := right.Info(); err != nil || info.Name != "marathon" {
			t.Fatalf("right password: %v %v", info, err)
		}
	})
	t.Run("dcos token", func(t *testing.T) {
		e := New(Options{Token: "tok-123"})
		url, err := e.Start()
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		wrong, _ := marathon.NewClient(marathon.Config{URL: url, DCOSToken: "tok-999"})
		if _, err := wrong.Applications(nil); apiErr(t, err).ErrCode != marathon.ErrCodeUnauthorized {
			t.Fatalf("wrong token: %v, want 401", err)
		}
		// go-marathon prefixes /marathon with a DC/OS token, like the admin router.
		right, _ := marathon.NewClient(marathon.Config{URL: url, DCOSToken: "tok-123"})
		if ok, err := right.Ping(); err != nil || !ok {
			t.Fatalf("right token: ping %v %v", ok, err)
		}
		if _, err := right.CreateApplication(webApp("/web", "web:1", 1)); err != nil {
			t.Fatalf("right token: create: %v", err)
		}
	})
}

func TestVersionsListedAndRestorable(t *testing.T) {
	e, c := start(t, Options{})
	first := createAndWait(t, e, c, webApp("/web", "web:1", 1))
	dep, err := c.UpdateApplication(webApp("/web", "web:2", 1), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WaitDeploymentDone(ctx(t), dep.DeploymentID); err != nil {
		t.Fatal(err)
	}
	versions, err := c.ApplicationVersions("/web")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions.Versions, []string{dep.Version, first.Version}) {
		t.Fatalf("versions %v, want [%s %s] (newest first)", versions.Versions, dep.Version, first.Version)
	}
	if _, err := time.Parse(time.RFC3339Nano, first.Version); err != nil {
		t.Fatalf("version %q is not a timestamp: %v", first.Version, err)
	}
	old, err := c.ApplicationByVersion("/web", first.Version)
	if err != nil || imageOf(t, old) != "web:1" {
		t.Fatalf("version %s: %v %v", first.Version, old, err)
	}
	back, err := c.SetApplicationVersion("/web", &marathon.ApplicationVersion{Version: first.Version})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WaitDeploymentDone(ctx(t), back.DeploymentID); err != nil {
		t.Fatal(err)
	}
	if imageOf(t, mustApp(t, c, "/web")) != "web:1" {
		t.Fatal("PUT {version} did not restore the old definition")
	}
	if has, _ := c.HasApplicationVersion("/web", dep.Version); !has {
		t.Fatal("version history lost a version")
	}
}

func TestListAppsFiltersAndEmbeds(t *testing.T) {
	e, c := start(t, Options{})
	a := webApp("/shop/web", "web:1", 1)
	a.AddLabel("io.vamp.deployment", "shop")
	b := webApp("/blog/web", "web:1", 1)
	b.AddLabel("io.vamp.deployment", "blog")
	createAndWait(t, e, c, a)
	createAndWait(t, e, c, b)
	for query, want := range map[string][]string{
		"label=io.vamp.deployment==shop":        {"/shop/web"},
		"label=io.vamp.deployment!=shop":        {"/blog/web"},
		"label=io.vamp.deployment in (blog,x)":  {"/blog/web"},
		"label=io.vamp.service":                 {"/blog/web", "/shop/web"},
		"label=io.vamp.missing":                 nil,
		"id=/shop":                              {"/shop/web"},
		"label=io.vamp.deployment notin (shop)": {"/blog/web"},
	} {
		k, v, _ := strings.Cut(query, "=")
		got, err := c.ListApplications(map[string][]string{k: {v}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}
	apps, err := c.Applications(map[string][]string{"embed": {"apps.tasks"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps.Apps) != 2 || len(apps.Apps[0].Tasks) != 1 {
		t.Fatalf("embed=apps.tasks: %+v", apps.Apps)
	}
	plain, _ := c.Applications(nil)
	if len(plain.Apps[0].Tasks) != 0 || plain.Apps[0].TasksRunning != 1 {
		t.Fatalf("without embed: tasks %d running %d, want no tasks but counts", len(plain.Apps[0].Tasks), plain.Apps[0].TasksRunning)
	}
	all, err := c.AllTasks(&marathon.AllTasksOpts{Status: "running"})
	if err != nil || len(all.Tasks) != 2 {
		t.Fatalf("/v2/tasks?status=running: %v %v", all, err)
	}
	group, err := c.Group("/shop")
	if err != nil || len(group.Apps) != 1 || group.Apps[0].ID != "/shop/web" {
		t.Fatalf("/v2/groups/shop: %+v %v", group, err)
	}
}

func TestDeleteApp(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 2))
	dep, err := c.DeleteApplication("/web", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitOnDeployment(dep.DeploymentID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Application("/web"); apiErr(t, err).ErrCode != marathon.ErrCodeNotFound || !strings.Contains(err.Error(), "App '/web' does not exist") {
		t.Fatalf("deleted app: %v", err)
	}
	if all, _ := c.AllTasks(nil); len(all.Tasks) != 0 {
		t.Fatalf("tasks left after delete: %+v", all.Tasks)
	}
}

func TestEventStream(t *testing.T) {
	e := New(Options{})
	url, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c, err := marathon.NewClient(marathon.Config{URL: url, EventsTransport: marathon.EventsTransportSSE})
	if err != nil {
		t.Fatal(err)
	}
	events, err := c.AddEventsListener(marathon.EventIDDeploymentInfo | marathon.EventIDDeploymentSuccess |
		marathon.EventIDStatusUpdate | marathon.EventIDChangedHealthCheck)
	if err != nil {
		t.Fatal(err)
	}
	defer c.RemoveEventsListener(events)
	// The subscription is attached once the emulator has a subscriber.
	if err := e.WaitUntil(ctx(t), func() bool { return e.events.count() > 0 }); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateApplication(webApp("/web", "web:1", 1))
	if err != nil {
		t.Fatal(err)
	}
	depID := created.DeploymentIDs()[0].DeploymentID
	seen := map[string]bool{}
	timeout := time.After(10 * time.Second)
	// go-marathon hands each event to the listener in its own goroutine, so
	// the order is not preserved: wait for all four kinds.
	for len(seen) < 4 {
		select {
		case ev := <-events:
			seen[ev.Name] = true
			switch x := ev.Event.(type) {
			case *marathon.EventDeploymentInfo:
				if x.Plan.ID != depID {
					t.Errorf("deployment_info for %s, want %s", x.Plan.ID, depID)
				}
			case *marathon.EventDeploymentSuccess:
				if x.ID != depID {
					t.Errorf("deployment_success for %s, want %s", x.ID, depID)
				}
			case *marathon.EventStatusUpdate:
				if x.AppID != "/web" || x.TaskID == "" || len(x.Ports) != 1 {
					t.Errorf("status_update_event %+v", x)
				}
			case *marathon.EventHealthCheckChanged:
				if x.AppID != "/web" || !x.Alive {
					t.Errorf("health_status_changed_event %+v", x)
				}
			}
		case <-timeout:
			t.Fatalf("events seen %v, want deployment_info, status_update_event, health_status_changed_event and deployment_success", seen)
		}
	}
}

func TestKillWithScaleShrinksTheApp(t *testing.T) {
	e, c := start(t, Options{})
	createAndWait(t, e, c, webApp("/web", "web:1", 3))
	before, _ := e.App("/web")
	if _, err := c.KillTask(before.Tasks[0].ID, &marathon.KillTaskOpts{Scale: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitDeploymentsDone(ctx(t)); err != nil {
		t.Fatal(err)
	}
	after, _ := e.App("/web")
	if after.Instances != 2 || len(after.Tasks) != 2 || slices.ContainsFunc(after.Tasks, func(tk Task) bool { return tk.ID == before.Tasks[0].ID }) {
		t.Fatalf("after kill with scale: instances %d tasks %+v, want 2 without %s", after.Instances, after.Tasks, before.Tasks[0].ID)
	}
}

func TestEventTypeFilter(t *testing.T) {
	e, c := start(t, Options{})
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, e.URL()+"/v2/events?event_type=deployment_success", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	created := createAndWait(t, e, c, webApp("/web", "web:1", 1))
	var lines []string
	buf := make([]byte, 4096)
	for !strings.Contains(strings.Join(lines, ""), created.DeploymentIDs()[0].DeploymentID) {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("stream ended after %q: %v", lines, err)
		}
		lines = append(lines, string(buf[:n]))
	}
	stream := strings.Join(lines, "")
	if strings.Contains(stream, "status_update_event") || !strings.Contains(stream, "event: deployment_success\n") {
		t.Fatalf("filtered stream %q, want only deployment_success (and the attach event)", stream)
	}
	plain, _ := http.Get(e.URL() + "/v2/events")
	plain.Body.Close()
	if plain.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("events without Accept: text/event-stream: %d, want 405", plain.StatusCode)
	}
}

// TestNetworkingFormatFollowsTheVersion: Marathon 1.5+ answers in the 1.5 networking format
// whatever format it was sent (docs/docs/upgrade/network-api-migration.md: "Marathon can still
// accept requests using the 1.4 version of the API, but it will always reply with the 1.5
// version"), Marathon 1.4 echoes the legacy format and does not know the 1.5 fields. /v2/info
// tells which version answers.
func TestNetworkingFormatFollowsTheVersion(t *testing.T) {
	legacyBridge := `{"id": "/bridge", "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "BRIDGE",
		"portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "web"}]}}}`
	// The examples of the migration guide, 1.5 API.
	bridge15 := `{"id": "/bridge-new", "container": {"type": "DOCKER", "docker": {"image": "nginx"},
		"portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "web"}]}, "networks": [{"mode": "container/bridge"}]}`
	host15 := `{"id": "/host-new", "container": {"type": "DOCKER", "docker": {"image": "nginx"}},
		"portDefinitions": [{"port": 0, "protocol": "tcp", "name": "web"}], "networks": [{"mode": "host"}]}`

	t.Run("1.5+", func(t *testing.T) {
		e, c := start(t, Options{})
		info, err := c.Info()
		if err != nil || info.Version != DefaultVersion {
			t.Fatalf("/v2/info version %v (%v), want %s", info, err, DefaultVersion)
		}
		for _, body := range []string{legacyBridge, bridge15, host15} {
			if status, answer := postJSON(t, http.MethodPost, e.URL()+"/v2/apps", []byte(body)); status != http.StatusCreated {
				t.Fatalf("POST %s: %d %v", body, status, answer)
			}
		}
		if err := e.WaitDeploymentsDone(ctx(t)); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"/bridge", "/bridge-new"} {
			app := rawApp(t, e, id)
			pm := app.portMapping(t, 0)
			docker := at(app, "container", "docker")
			if fmt.Sprint(app["networks"]) != "[map[mode:container/bridge]]" || docker == nil || at(docker, "network") != nil || at(docker, "portMappings") != nil ||
				pm["name"] != "web" || pm["containerPort"] != 80.0 || app["portDefinitions"] != nil {
				t.Errorf("%s answered %v: want networks [{mode: container/bridge}], container.portMappings, no docker.network/portMappings, no portDefinitions", id, app)
			}
			tasks := list(app["tasks"])
			if len(tasks) != 1 || len(list(at(tasks[0], "ports"))) != 1 {
				t.Fatalf("%s tasks %v: want one task with the mapping's host port", id, tasks)
			}
			// On Docker's bridge the task's IP address is the container's, which only its agent
			// reaches: a client routes to host and host port.
			ips := fmt.Sprint(at(tasks[0], "ipAddresses"))
			if !strings.Contains(ips, "ipAddress:172.17.") {
				t.Errorf("%s task ipAddresses %s, want a container address on Docker's bridge (172.17.0.0/16)", id, ips)
			}
		}
		host := rawApp(t, e, "/host-new")
		defs, _ := host["portDefinitions"].([]any)
		if fmt.Sprint(host["networks"]) != "[map[mode:host]]" || len(defs) != 1 || at(defs, 0, "name") != "web" ||
			at(host, "container", "portMappings") != nil {
			t.Errorf("/host-new answered %v: want networks [{mode: host}] and its port definition", host)
		}
	})
	t.Run("1.4", func(t *testing.T) {
		e, c := start(t, Options{Version: Version14})
		if info, err := c.Info(); err != nil || info.Version != Version14 {
			t.Fatalf("/v2/info version %v (%v), want %s", info, err, Version14)
		}
		for _, body := range []string{legacyBridge, bridge15} {
			if status, answer := postJSON(t, http.MethodPost, e.URL()+"/v2/apps", []byte(body)); status != http.StatusCreated {
				t.Fatalf("POST %s: %d %v", body, status, answer)
			}
		}
		app, err := c.Application("/bridge")
		if err != nil {
			t.Fatal(err)
		}
		if app.Container.Docker.Network != "BRIDGE" || app.Container.Docker.PortMappings == nil || (*app.Container.Docker.PortMappings)[0].Name != "web" {
			t.Errorf("/bridge read back as %+v, want the legacy format it was sent", app.Container.Docker)
		}
		// 1.4 ignores networks and container.portMappings: the app falls back to host networking
		// with one default port definition, which is why a client must not send 1.5 fields to it.
		newApp := rawApp(t, e, "/bridge-new")
		defs, _ := newApp["portDefinitions"].([]any)
		if newApp["networks"] != nil || at(newApp, "container", "portMappings") != nil || len(defs) != 1 || at(defs, 0, "name") != "default" {
			t.Errorf("/bridge-new on 1.4 answered %v: want the 1.5 fields dropped and the default port definition", newApp)
		}
	})
}

// A body that is not JSON is 400 on every version (Marathon 1.5+: details is the parser's
// message, MarathonExceptionMapperTest "Render json parse exception correctly").
func TestBodyNotJSONIs400(t *testing.T) {
	for version, wantString := range map[string]bool{DefaultVersion: true, Version14: false} {
		e, _ := start(t, Options{Version: version})
		status, body := postJSON(t, http.MethodPost, e.URL()+"/v2/apps", []byte(`{"id":"/test"`))
		_, isString := body["details"].(string)
		if status != http.StatusBadRequest || body["message"] != "Invalid JSON" || isString != wantString {
			t.Errorf("Marathon %s: %d %v, want 400 Invalid JSON with details as a string: %v", version, status, body, wantString)
		}
	}
}
