package marathon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

func startDriver(t *testing.T) (*emulator.Emulator, *Driver) {
	t.Helper()
	e := emulator.New(emulator.Options{})
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

func timeout(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// seedService is a service variant like the seed scenario's sava breed.
func seedService(image string) runtime.Service {
	return runtime.Service{
		ID:          "sava/sava_cluster/sava:1.0.0",
		Deployable:  image,
		Ports:       map[string]string{"webport": "8080/http"},
		Environment: map[string]string{"GREETING": "hi"},
		CPU:         0.2, MemoryMB: 64, Instances: 2,
		HealthChecks: []runtime.HealthCheck{{Port: "webport", Path: "/health", Protocol: "HTTP", InitialDelay: "10s", Interval: "5s", Timeout: "2s", Failures: 3}},
	}
}

func TestAppIDScheme(t *testing.T) {
	for in, want := range map[string]string{
		"sava/sava_cluster/sava:1.0.0": "/vamp/sava/sava-cluster/sava-1.0.0",
		"Shop/Web/v2":                  "/vamp/shop/web/v2",
	} {
		got, err := AppID("", in)
		if err != nil || got != want {
			t.Errorf("AppID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, wantMsg := range map[string]string{
		"sava/_c/b":   `cluster name "_c"`,
		"sava/c/b..1": `breed name "b..1"`,
		"sava/c":      "deployment/cluster/breed",
	} {
		if _, err := AppID("", in); err == nil || !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("AppID(%q) error %v, want one naming %s", in, err, wantMsg)
		}
	}
}

// The definition generated for the seed's breed is one Marathon accepts:
// posted as JSON to the emulator, which validates it per Marathon's RAML.
func TestSeedAppDefinitionIsValidMarathon(t *testing.T) {
	e, _ := startDriver(t)
	s := seedService("magneticio/sava:1.0.0")
	s.Marathon = `{"constraints": [["hostname", "UNIQUE"]], "container": {"docker": {"forcePullImage": true}}, "acceptedResourceRoles": ["slave_public"]}`
	app, err := BuildApp("", s)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(app)
	resp, err := http.Post(e.URL()+"/v2/apps", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("Marathon (emulated) rejected the generated definition: %d %s\n%s", resp.StatusCode, answer, body)
	}
	d := app.Container.Docker
	if d.Image != "magneticio/sava:1.0.0" || d.ForcePullImage == nil || !*d.ForcePullImage || d.Network != "" || d.PortMappings != nil {
		t.Fatalf("dialect merge lost the image or forcePullImage, or wrote the legacy network fields: %+v", d)
	}
	// Marathon 1.5's networking format: Docker's bridge network, the ports in container.portMappings.
	if len(app.Networks) != 1 || app.Networks[0].Mode != ModeBridge || app.Container.PortMappings == nil {
		t.Fatalf("networks %+v, port mappings %v: want [{mode: container/bridge}] and container.portMappings", app.Networks, app.Container.PortMappings)
	}
	pm := (*app.Container.PortMappings)[0]
	if pm.Name != "webport" || pm.ContainerPort != 8080 || (*pm.Labels)[LabelPort] != "8080/http" {
		t.Fatalf("port mapping %+v", pm)
	}
	hc := (*app.HealthChecks)[0]
	if *hc.PortIndex != 0 || *hc.Path != "/health" || hc.GracePeriodSeconds != 10 || hc.IntervalSeconds != 5 || hc.TimeoutSeconds != 2 {
		t.Fatalf("health check %+v", hc)
	}
	if (*app.Constraints)[0][1] != "UNIQUE" || app.AcceptedResourceRoles[0] != "slave_public" {
		t.Fatalf("dialect constraints/roles not merged: %v %v", app.Constraints, app.AcceptedResourceRoles)
	}
	l := *app.Labels
	if l[LabelDeployment] != "sava" || l[LabelCluster] != "sava_cluster" || l[LabelService] != "sava:1.0.0" {
		t.Fatalf("labels %v", l)
	}
}

func TestDialectErrorsNameTheProblem(t *testing.T) {
	for dialect, want := range map[string]string{
		`{"secrets": {"pw": {"source": "db/pw"}}}`:                                       `unknown field "secrets"`,
		`{"networks": [{"mode": "overlay"}]}`:                                            "not a Marathon network mode",
		`{"container": {"docker": {"network": "NONE"}}}`:                                 "not one Marathon translates",
		`{"networks": [{"mode": "host"}], "container": {"docker": {"network": "HOST"}}}`: "gives both networks and container.docker.network",
		`[1]`:                             "must be a JSON object",
		`{"id": "/x"}`:                    `must not set "id"`,
		`{"cpus": `:                       "not valid JSON",
		`{"env": {"A": {"secret": "s"}}}`: "env",
	} {
		s := seedService("img")
		s.Marathon = dialect
		if _, err := BuildApp("", s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("dialect %s: error %v, want one containing %q", dialect, err, want)
		}
	}
	s := seedService("img")
	s.HealthChecks[0].Port = "admin"
	if _, err := BuildApp("", s); err == nil || !strings.Contains(err.Error(), `port "admin" is not one of the breed's ports [webport]`) {
		t.Errorf("unknown health-check port: %v", err)
	}
}

func TestApplyWaitsForRunningHealthyInstances(t *testing.T) {
	e, d := startDriver(t)
	st, err := d.Apply(timeout(t, 10*time.Second), seedService("sava:1"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Healthy || len(st.Instances) != 2 {
		t.Fatalf("status %+v, want 2 healthy instances", st)
	}
	for _, inst := range st.Instances {
		if !inst.Healthy || inst.Ports["webport"] < 31000 {
			t.Fatalf("instance %+v, want healthy with a host port for webport", inst)
		}
	}
	if app, _ := e.App("/vamp/sava/sava-cluster/sava-1.0.0"); len(app.Deployments) != 0 {
		t.Fatalf("Apply returned while deployment %v was running", app.Deployments)
	}
	got, found, err := d.Get(context.Background(), "sava/sava_cluster/sava:1.0.0")
	if err != nil || !found {
		t.Fatalf("Get: %v %v", found, err)
	}
	s := got.Service
	if s.ID != "sava/sava_cluster/sava:1.0.0" || s.Deployable != "sava:1" || s.Ports["webport"] != "8080/http" ||
		s.Environment["GREETING"] != "hi" || s.CPU != 0.2 || s.MemoryMB != 64 || s.Instances != 2 ||
		len(s.HealthChecks) != 1 || s.HealthChecks[0].Port != "webport" || s.HealthChecks[0].Interval != "5s" {
		t.Fatalf("read back %+v", s)
	}
}

func TestFailedHealthChecksFailApplyAndRollBack(t *testing.T) {
	e, d := startDriver(t)
	if _, err := d.Apply(timeout(t, 10*time.Second), seedService("sava:1")); err != nil {
		t.Fatal(err)
	}
	appID := "/vamp/sava/sava-cluster/sava-1.0.0"
	before, _ := e.App(appID)
	if err := e.FailHealthChecks(appID, true); err != nil {
		t.Fatal(err)
	}
	// The apply's deadline is the test's cancel, issued once Marathon has
	// killed a failing task: no race between the deadline and the failure.
	applyCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := d.Apply(applyCtx, seedService("sava:2"))
		done <- err
	}()
	if err := e.WaitUntil(timeout(t, 10*time.Second), func() bool {
		app, _ := e.App(appID)
		return app.Version != before.Version && app.LastTaskFailure != ""
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := <-done
	if err == nil {
		t.Fatal("Apply succeeded although the new tasks never became healthy")
	}
	t.Logf("Apply error: %v", err)
	for _, want := range []string{"did not finish", "0 of 2 instances", "last task failure", "health check failed 3 times", "rolled the app back"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	after, _ := e.App(appID)
	if after.Version != before.Version || len(after.Deployments) != 0 {
		t.Fatalf("after rollback: version %s (want %s), deployments %v", after.Version, before.Version, after.Deployments)
	}
	for _, tk := range after.Tasks {
		if tk.Version != before.Version {
			t.Fatalf("task %+v of the failed version survived the rollback", tk)
		}
	}
}

// A new service variant that never gets healthy fails and is removed again.
func TestNewAppNeverHealthyIsRemoved(t *testing.T) {
	e, d := startDriver(t)
	if err := e.FailHealthChecks("/vamp/sava/sava-cluster/sava-1.0.0", true); err != nil {
		t.Fatal(err)
	}
	_, err := d.Apply(timeout(t, 300*time.Millisecond), seedService("sava:1"))
	if err == nil || !strings.Contains(err.Error(), "removed the new app") {
		t.Fatalf("Apply of a never-healthy new app: %v", err)
	}
	if apps := e.Apps(); len(apps) != 0 {
		t.Fatalf("apps left after the rollback: %+v", apps)
	}
}

func TestInvalidDefinitionNamesTheField(t *testing.T) {
	_, d := startDriver(t)
	s := seedService("sava:1")
	s.Marathon = `{"upgradeStrategy": {"minimumHealthCapacity": 2}}`
	_, err := d.Apply(timeout(t, 5*time.Second), s)
	t.Logf("Apply error: %v", err)
	if err == nil || !strings.Contains(err.Error(), "/upgradeStrategy/minimumHealthCapacity") || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("error %v, want Marathon's rejection naming /upgradeStrategy/minimumHealthCapacity", err)
	}
}

func TestLockedAppWaitsOrForces(t *testing.T) {
	e, d := startDriver(t)
	if _, err := d.Apply(timeout(t, 10*time.Second), seedService("sava:1")); err != nil {
		t.Fatal(err)
	}
	appID := "/vamp/sava/sava-cluster/sava-1.0.0"
	if _, err := e.LockApp(appID); err != nil {
		t.Fatal(err)
	}
	_, err := d.Apply(timeout(t, 200*time.Millisecond), seedService("sava:2"))
	if err == nil || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), "force") {
		t.Fatalf("Apply on a locked app: %v, want an error saying it stays locked", err)
	}
	if app, _ := e.App(appID); field(app.Definition, "container", "docker", "image") != "sava:1" {
		t.Fatal("the waiting driver changed the locked app")
	}

	forcing := New(d.api, Options{PollInterval: 5 * time.Millisecond, ForceOnLock: true})
	done := make(chan error, 1)
	go func() {
		_, err := forcing.Apply(timeout(t, 10*time.Second), seedService("sava:2"))
		done <- err
	}()
	if err := e.WaitUntil(timeout(t, 10*time.Second), func() bool {
		app, _ := e.App(appID)
		return field(app.Definition, "container", "docker", "image") == "sava:2"
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.UnlockApp(appID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("forced Apply: %v", err)
	}
}

func TestDriftDeleteAndList(t *testing.T) {
	e, d := startDriver(t)
	ctx := timeout(t, 10*time.Second)
	other := seedService("blog:1")
	other.ID = "blog/web/blog:1"
	for _, s := range []runtime.Service{seedService("sava:1"), other} {
		if _, err := d.Apply(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.ScaleApp("/vamp/sava/sava-cluster/sava-1.0.0", 3); err != nil {
		t.Fatal(err)
	}
	st, _, err := d.Get(ctx, "sava/sava_cluster/sava:1.0.0")
	if err != nil || st.Service.Instances != 3 {
		t.Fatalf("scale changed in Marathon: read back %d instances, %v; want 3", st.Service.Instances, err)
	}
	list, err := d.List(ctx, "sava/")
	if err != nil || len(list) != 1 || list[0].Service.ID != "sava/sava_cluster/sava:1.0.0" {
		t.Fatalf("List(sava/) = %+v, %v", list, err)
	}
	if err := d.Delete(ctx, "sava/sava_cluster/sava:1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := d.Get(ctx, "sava/sava_cluster/sava:1.0.0"); found || err != nil {
		t.Fatalf("after Delete: found=%v err=%v", found, err)
	}
	if err := d.Delete(ctx, "sava/sava_cluster/sava:1.0.0"); err != nil {
		t.Fatalf("deleting a missing app: %v", err)
	}
}

func TestIDCollisionIsAnError(t *testing.T) {
	_, d := startDriver(t)
	ctx := timeout(t, 10*time.Second)
	a := seedService("sava:1")
	a.ID = "shop/web_a/v1"
	if _, err := d.Apply(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a
	b.ID = "shop/web-a/v1"
	if _, err := d.Apply(ctx, b); err == nil || !strings.Contains(err.Error(), `belongs to "shop/web_a/v1"`) {
		t.Fatalf("colliding ids: %v", err)
	}
}

// Connect wires basic auth and the DC/OS token (with DC/OS' /marathon prefix) into go-marathon
// and into the client's own app requests.
func TestConnectAuth(t *testing.T) {
	e := emulator.New(emulator.Options{Token: "t0k"})
	url, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for token, wantErr := range map[string]bool{"t0k": false, "bad": true} {
		c, err := Connect(Connection{URL: url, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(c, Options{}).List(context.Background(), "")
		var apiErr *gomarathon.APIError
		if gotErr := err != nil; gotErr != wantErr ||
			(wantErr && (!errors.As(err, &apiErr) || apiErr.ErrCode != gomarathon.ErrCodeUnauthorized)) {
			t.Errorf("token %s: %v, want an error: %v", token, err, wantErr)
		}
	}
	// Basic auth, on the client's own requests (List reads apps) and go-marathon's (Info).
	basic := emulator.New(emulator.Options{Username: "ops", Password: "pw"})
	basicURL, err := basic.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer basic.Close()
	for password, wantErr := range map[string]bool{"pw": false, "nope": true} {
		c, err := Connect(Connection{URL: basicURL, Username: "ops", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		_, listErr := New(c, Options{}).List(context.Background(), "")
		_, infoErr := c.Info()
		if (listErr != nil) != wantErr || (infoErr != nil) != wantErr {
			t.Errorf("password %s: list %v, info %v; want errors: %v", password, listErr, infoErr, wantErr)
		}
	}
	if _, err := Connect(Connection{}); err == nil || !strings.Contains(err.Error(), "MARATHON_URL") {
		t.Errorf("empty url: %v", err)
	}
}

// A URL list (as go-marathon takes it) is tried in order: a member that cannot be reached is
// skipped by the client's own app requests too.
func TestClientTriesTheNextMarathon(t *testing.T) {
	e, _ := startDriver(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more: connection refused
	c, err := Connect(Connection{URL: down + "," + e.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, Options{PollInterval: 5 * time.Millisecond}).Apply(timeout(t, 10*time.Second), seedService("sava:1")); err != nil {
		t.Fatalf("with the first Marathon down: %v", err)
	}
	if _, err := c.App("/vamp/sava/sava-cluster/sava-1.0.0"); err != nil {
		t.Fatal(err)
	}
}
