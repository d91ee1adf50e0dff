package provider

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/escalation"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/localrt"
)

// slaEnv is what `vamp-gateway dev` runs (a gateway with the local runtime as its discovery
// source and SLA scaler), with time driven by the test: no background ticks, a fake clock.
type slaEnv struct {
	srv    *gateway.Server
	runner *localrt.Runner
	url    string
	token  string

	mu     sync.Mutex
	now    time.Time
	scaled []int // every count the gateway asked the runtime for
}

// Scale records the gateway's decision and makes it real in the local runtime.
func (e *slaEnv) Scale(ctx context.Context, id string, n int) error {
	e.mu.Lock()
	e.scaled = append(e.scaled, n)
	e.mu.Unlock()
	return e.runner.Scale(ctx, id, n)
}

func (e *slaEnv) history() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.scaled)
}

func (e *slaEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// tick advances the clock a second and lets the gateway judge every SLA once.
func (e *slaEnv) tick() {
	e.mu.Lock()
	e.now = e.now.Add(time.Second)
	now := e.now
	e.mu.Unlock()
	e.srv.TickSLAs(context.Background(), now)
}

func startSLAEnv(t *testing.T) *slaEnv {
	t.Helper()
	env := &slaEnv{token: randomToken(), now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	env.runner = localrt.New(localrt.Options{Dir: t.TempDir(), StopGrace: 2 * time.Second, DrainDelay: 50 * time.Millisecond})
	t.Cleanup(env.runner.Close)
	srv, stop, err := startGateway(gateway.Config{
		AdminListen: "127.0.0.1:0", AdminToken: env.token, BindHost: "127.0.0.1",
		RolloutTick: -1, Clock: env.clock,
		Sources: []discovery.Source{env.runner},
		Scalers: map[string]escalation.Scaler{localrt.Runtime: env},
		AdminHandlers: map[string]http.Handler{
			"/v1/services":  env.runner.Handler(),
			"/v1/services/": env.runner.Handler(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping the gateway: %v", err)
		}
	})
	env.srv = srv
	env.url = "http://" + srv.AdminAddr().String()
	return env
}

func (e *slaEnv) provider() string {
	return fmt.Sprintf(`
provider "vamp" {
  gateway {
    url   = %q
    token = %q
  }
}
`, e.url, e.token)
}

// slaConfig is one slow_sava variant with an SLA, behind the gateway port; more is added to the
// breed (e.g. environment variables).
func slaConfig(port int, bin, delayFile, more string) string {
	return fmt.Sprintf(`
resource "vamp_deployment" "slow" {
  name     = "slow"
  gateways = { "%d" = "c/webport" }
  clusters = {
    c = {
      services = [{
        breed = {
          name = "sava:1.0.0", deployable = "cmd:%s", ports = { webport = "8080/http" }
          environment_variables = { SLOW_DELAY_FILE = %q %s }
        }
        health_checks = [{ port = "webport", path = "/health", interval = "1s" }]
        sla = { min_instances = 1, max_instances = 3, upper_p99 = "200ms", lower_p99 = "50ms", window = "3s" }
      }]
    }
  }
}
`, port, bin, delayFile, more)
}

// TestAccSLAScalesASlowVariant: Vamp's escalations end to end: the deployment's sla reaches the
// gateway's route, the gateway scales the artificially slow variant up through the local
// runtime one step per window, and back down once it is fast; Terraform does not see the
// gateway's instance count as drift, and an apply that changes the service keeps it.
func TestAccSLAScalesASlowVariant(t *testing.T) {
	env := startSLAEnv(t)
	bin := testBinary(t, "github.com/vamp-canary/terraform-provider-vamp/internal/provider/testdata/slow_sava")
	delayFile := filepath.Join(t.TempDir(), "delay")
	setDelay := func(d string) {
		if err := os.WriteFile(delayFile, []byte(d), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	config := env.provider() + slaConfig(port, bin, delayFile, "")
	const id = "slow/c/sava:1.0.0"
	running := func() int {
		st, _ := env.runner.Get(id)
		return len(st.Instances)
	}
	// driveTo sends requests and ticks once a (fake) second until the runtime runs want
	// healthy instances; it returns the ticks it took.
	driveTo := func(want int) int {
		ticks := 0
		for h := env.history(); len(h) == 0 || h[len(h)-1] != want; h = env.history() {
			if ticks++; ticks > 20 {
				t.Fatalf("no scale to %d within 20 ticks; scaled %v", want, h)
			}
			if _, err := countVersions(port, 2, chromeUA); err != nil {
				t.Fatal(err)
			}
			env.tick()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := env.runner.WaitHealthy(ctx, id); err != nil || running() != want {
			t.Fatalf("after scaling to %d: %d instances, %v", want, running(), err)
		}
		return ticks
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, ok := env.runner.Get(id); ok {
				return fmt.Errorf("%s still runs after destroy", id)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				PreConfig: func() { setDelay("0s") },
				Config:    config,
				Check: func(*terraform.State) error {
					gw, err := (&gatewayapi.Client{BaseURL: env.url, Token: env.token}).Get(context.Background(), "slow/c/webport")
					if err != nil {
						return err
					}
					want := gatewayapi.ScalePolicy{Min: 1, Max: 3, Upper: "200ms", Lower: "50ms", Window: "3s"}
					if len(gw.Routes) != 1 || gw.Routes[0].Scale == nil || *gw.Routes[0].Scale != want {
						return fmt.Errorf("the cluster gateway's routes are %+v, want one with scale %+v", gw.Routes, want)
					}
					return nil
				},
			},
			{
				// The variant turns slow: the gateway scales it up to the maximum. Terraform's
				// plan stays empty although the runtime runs 3 instances and the config says 1.
				PreConfig: func() {
					setDelay("300ms")
					t.Logf("scaled up to 3 in %d ticks (window 3s, a tick a second)", driveTo(3))
				},
				Config:   config,
				PlanOnly: true,
			},
			{
				// A change to the service redeploys it with the gateway's count, not the config's.
				Config: env.provider() + slaConfig(port, bin, delayFile, `, RELEASE = "2"`),
				Check: func(*terraform.State) error {
					st, _ := env.runner.Get(id)
					if st.Service.Env["RELEASE"] != "2" || st.Service.Instances != 3 {
						return fmt.Errorf("after the apply %s runs %d instances with RELEASE=%q, want 3 with RELEASE=2", id, st.Service.Instances, st.Service.Env["RELEASE"])
					}
					return nil
				},
			},
			{
				// Fast again: back down to the minimum, one step per window.
				PreConfig: func() {
					setDelay("0s")
					t.Logf("scaled down to 1 in %d ticks", driveTo(1))
					if got, want := env.history(), []int{2, 3, 2, 1}; !slices.Equal(got, want) {
						t.Errorf("instance counts %v, want %v (one step per window)", got, want)
					}
				},
				Config:   env.provider() + slaConfig(port, bin, delayFile, `, RELEASE = "2"`),
				PlanOnly: true,
			},
		},
	})
}

// TestAccSLAPlanErrors: a faulty sla fails at plan, each fault at its attribute path with the fix.
func TestAccSLAPlanErrors(t *testing.T) {
	service := func(ports, more string) string {
		return fmt.Sprintf(`{ breed = { name = "sava:1.0.0", deployable = "cmd:sava"%s }%s }`, ports, more)
	}
	const webport = `, ports = { webport = "8080/http" }`
	cases := []struct {
		name, service string
		want          []string
	}{
		{"bounds", service(webport, `, sla = { min_instances = 0, max_instances = 2, upper_p99 = "1s", window = "1m", step = 0 }`),
			[]string{`clusters["c"].services[0].sla.min_instances: 0: keep at least 1 instance`, `clusters["c"].services[0].sla.step: 0`}},
		{"max below min", service(webport, `, sla = { min_instances = 3, max_instances = 2, upper_p99 = "1s", window = "1m" }`),
			[]string{`clusters["c"].services[0].sla.max_instances: 2 is below min_instances 3`}},
		{"durations", service(webport, `, sla = { min_instances = 1, max_instances = 2, upper_p99 = "100ms", lower_p99 = "1s", window = "soon" }`),
			[]string{`clusters["c"].services[0].sla.lower_p99: 1s is not below upper_p99 100ms`, `clusters["c"].services[0].sla.window: "soon" is not a duration such as "2m"`}},
		{"missing", service(webport, `, sla = { max_instances = 2 }`),
			[]string{`clusters["c"].services[0].sla.min_instances: required`, `clusters["c"].services[0].sla.upper_p99: required`}},
		{"start outside", service(webport, `, scale = { instances = 5 }, sla = { min_instances = 1, max_instances = 3, upper_p99 = "1s", window = "1m" }`),
			[]string{`clusters["c"].services[0].scale.instances: 5 is outside sla.min_instances..sla.max_instances (1..3)`}},
		{"no port", service("", `, sla = { min_instances = 1, max_instances = 3, upper_p99 = "1s", window = "1m" }`),
			[]string{`clusters["c"].services[0].sla: the p99 is measured on the service's route`, `give breed.ports a port or remove sla`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config := fmt.Sprintf(`
resource "vamp_deployment" "bad" {
  name     = "bad"
  clusters = { c = { services = [%s] } }
}
`, c.service)
			for _, want := range c.want {
				resource.Test(t, resource.TestCase{
					ProtoV6ProviderFactories: testProviderFactories,
					Steps:                    []resource.TestStep{{Config: config, PlanOnly: true, ExpectError: words("Invalid SLA", want)}},
				})
			}
		})
	}
}
