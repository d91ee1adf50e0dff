package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
)

// TestAccMarathonSeedScenario walks the seed scenario on the Marathon runtime: the real CLI,
// the emulator, and requests through the real gateway to the servers standing for the tasks.
func TestAccMarathonSeedScenario(t *testing.T) {
	env := startMarathonEnv(t)
	port := freePort(t)
	both := []string{savaService("1.0.0", ""), savaService("1.1.0", "")}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if apps := env.emu.Apps(); len(apps) != 0 {
				return fmt.Errorf("Marathon still has %d apps after destroy, e.g. %s", len(apps), apps[0].ID)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// Step 1: the seed blueprint, unchanged: sava:1.0.0 becomes a Marathon app.
				Config: env.provider() + seedOnMarathon(port, seedBlueprint100),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("status"), knownvalue.StringExact("deployed")),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("instances").AtMapKey("sava_cluster/sava:1.0.0"), knownvalue.ListSizeExact(1)),
					statecheck.ExpectKnownValue("vamp_deployment.sava", routeWeight("sava:1.0.0"), knownvalue.Int64Exact(100)),
				},
				Check: resource.ComposeTestCheckFunc(
					env.checkApp(app100, "magneticio/sava:1.0.0"),
					env.checkRoutesFollowMarathon(),
					expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
				),
			},
			{
				// Step 3: merge sava:1.1.0: a second app, weight 0; 1.0.0's app is not touched.
				PreConfig: env.recordVersion(app100),
				Config:    env.provider() + seedOnMarathon(port, seedBlueprint100, seedBlueprint110),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("vamp_deployment.sava", routeWeight("sava:1.1.0"), knownvalue.Int64Exact(0)),
					plancheck.ExpectKnownValue("vamp_deployment.sava", routeWeight("sava:1.0.0"), knownvalue.Int64Exact(100)),
				}},
				Check: resource.ComposeTestCheckFunc(
					env.checkApp(app110, "magneticio/sava:1.1.0"),
					env.checkVersionUnchanged(app100),
					expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
				),
			},
			{
				// Step 4: 50/50 in HCL: only the weights change; no Marathon deployment.
				PreConfig: env.recordVersion(app100, app110),
				Config:    env.provider() + marathonHCL(port, both, fiftyFifty, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectOnlyChanged{"vamp_deployment.sava", []string{
						"clusters.sava_cluster.gateways.webport.routes.sava:1.0.0.weight",
						"clusters.sava_cluster.gateways.webport.routes.sava:1.1.0.weight",
						"clusters.sava_cluster.gateways.webport.split[0]",
					}},
					expectSplit{"vamp_deployment.sava", "sava_cluster", "webport", splitAll100, splitFifty},
				}},
				Check: resource.ComposeTestCheckFunc(
					env.checkVersionUnchanged(app100, app110),
					expectCounts(port, 100, chromeUA, map[string]int{"1.0.0": 50, "1.1.0": 50}),
				),
			},
			{
				// Step 5: Firefox users to 1.0.0, everybody else to 1.1.0.
				Config: env.provider() + marathonHCL(port, both, firefoxTo100, ""),
				Check: resource.ComposeTestCheckFunc(
					env.checkVersionUnchanged(app100, app110),
					expectCounts(port, 100, firefoxUA, map[string]int{"1.0.0": 100}),
					expectCounts(port, 100, chromeUA, map[string]int{"1.1.0": 100}),
				),
			},
			{
				ResourceName:                         "vamp_deployment.sava",
				Config:                               env.provider() + marathonHCL(port, both, firefoxTo100, ""),
				ImportState:                          true,
				ImportStateId:                        "sava",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
			{
				// Marathon moves 1.0.0's task to another agent; its process ends when the
				// replacement is healthy. The gateway follows without a Terraform run and not one
				// request fails.
				PreConfig: func() { env.moveTask(t, app100, port) },
				Config:    env.provider() + marathonHCL(port, both, firefoxTo100, ""),
				Check: resource.ComposeTestCheckFunc(
					expectCounts(port, 100, firefoxUA, map[string]int{"1.0.0": 100}),
					expectCounts(port, 100, chromeUA, map[string]int{"1.1.0": 100}),
				),
			},
		},
	})
}

// moveTask moves the app's only task with requests flowing, kills the old task's server when
// Marathon kills the task, and checks that no request failed.
func (env *marathonEnv) moveTask(t *testing.T, appID string, port int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := env.app(t, appID).Tasks[0]
	traffic := startLoad(port)
	if err := env.emu.MoveTask(appID, old.ID); err != nil {
		t.Fatal(err)
	}
	err := env.emu.WaitUntil(ctx, func() bool {
		app, _ := env.emu.App(appID)
		return len(app.Tasks) == 1 && app.Tasks[0].ID != old.ID
	})
	if err != nil {
		t.Fatal(err)
	}
	moved := env.app(t, appID).Tasks[0]
	replacement := fmt.Sprintf("%s:%d", moved.Host, moved.Ports[0])
	killedAt := time.Now()
	env.tasks.kill(old.Host, old.Ports[0]) // the task's process is gone
	// The gateway's source sees the move (the event stream, or the next poll at the latest).
	for {
		got, _ := env.source.Resolve(appID, "webport")
		if len(got) == 1 && fmt.Sprintf("%s:%d", got[0].Host, got[0].Port) == replacement && got[0].Healthy {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the gateway did not follow the moved task: it resolves %v, want only %s", got, replacement)
		}
		time.Sleep(time.Millisecond) // polling an observable condition
	}
	t.Logf("moved task followed %v after Marathon killed the original (bound: poll interval %v)", time.Since(killedAt), marathonPoll)
	// Keep sending for a few poll intervals after the move, then count.
	for range 200 {
		if _, err := countVersions(port, 1, chromeUA); err != nil {
			t.Errorf("request after the move: %v", err)
		}
	}
	traffic.finish(t, "task move")
}

// TestAccMarathonHealthCheckFailureRollsBack: a variant whose health checks never pass fails
// the apply within its timeout with the health failure in the message; Marathon restores the
// previous version (or removes a new variant), and requests through the gateway never fail.
func TestAccMarathonHealthCheckFailureRollsBack(t *testing.T) {
	env := startMarathonEnv(t)
	port := freePort(t)
	v100 := savaService("1.0.0", healthChecked)
	v100changed := savaServiceEnv("1.0.0", "2", healthChecked)
	only100 := `"sava:1.0.0" = { weight = 100 }`
	var traffic *load
	var started time.Time

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.provider() + marathonHCL(port, []string{v100}, only100, ""),
				Check:  expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
			},
			{
				// A changed 1.0.0 whose new tasks never pass their health check.
				PreConfig: func() {
					if err := env.emu.FailHealthChecks(app100, true); err != nil {
						t.Fatal(err)
					}
					traffic = startLoad(port)
					started = time.Now()
				},
				Config: env.provider() + marathonHCL(port, []string{v100changed}, only100, `timeouts {
    update = "3s"
  }`),
				ExpectError: words(`Service "sava/sava_cluster/sava:1.0.0" is not healthy after timeouts.update (3s)`,
					"0 of 1 instances of the new version running and healthy",
					"HTTP health check responded with status 503",
					"rolled the app back to the previous version"),
			},
			{
				// The previous version runs again, and traffic never noticed.
				PreConfig: func() {
					t.Logf("the failed apply returned after %v (timeouts.update 3s, then the rollback)", time.Since(started))
					if err := env.emu.FailHealthChecks(app100, false); err != nil {
						t.Fatal(err)
					}
					if app := env.app(t, app100); len(app.Tasks) != 1 || app.Tasks[0].Healthy == nil || !*app.Tasks[0].Healthy {
						t.Errorf("after the rollback the app has tasks %+v, want its one healthy task", app.Tasks)
					}
					if env, ok := env.app(t, app100).Definition["env"].(map[string]any); !ok {
						t.Errorf("after the rollback the app has env %v, want an object", env)
					} else if env["RELEASE"] != nil {
						t.Errorf("the failed definition stayed: env %v", env)
					}
					traffic.finish(t, "failed update of sava:1.0.0")
				},
				Config:   env.provider() + marathonHCL(port, []string{v100}, only100, ""),
				PlanOnly: true,
			},
			{
				// A new variant that never gets healthy: Marathon removes it again.
				PreConfig: func() {
					if err := env.emu.FailHealthChecks(app110, true); err != nil {
						t.Fatal(err)
					}
					traffic = startLoad(port)
				},
				Config: env.provider() + marathonHCL(port, []string{v100, savaService("1.1.0", healthChecked)}, only100, `timeouts {
    update = "3s"
  }`),
				ExpectError: words(`Service "sava/sava_cluster/sava:1.1.0" is not healthy after timeouts.update (3s)`,
					"HTTP health check responded with status 503", "Marathon removed the new app", `timeouts { update = "1m" }`),
			},
			{
				PreConfig: func() {
					if _, ok := env.emu.App(app110); ok {
						t.Error("the never-healthy new app was not removed")
					}
					traffic.finish(t, "failed new variant sava:1.1.0")
				},
				Config: env.provider() + marathonHCL(port, []string{v100}, only100, ""),
				Check:  expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
			},
		},
	})
}

// TestAccMarathonLockedApp: 409 (a running deployment holds the app) is waited out; at the
// timeout the error says what to do; force_on_lock forces.
func TestAccMarathonLockedApp(t *testing.T) {
	env := startMarathonEnv(t)
	port := freePort(t)
	only100 := `"sava:1.0.0" = { weight = 100 }`
	const bounded = "timeouts {\n    update = \"30s\"\n  }" // a hang fails the step instead of the test run
	withEnv := func(release string) []string { return []string{savaServiceEnv("1.0.0", release, "")} }
	release := func(want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			app, _ := env.emu.App(app100)
			appEnv, ok := app.Definition["env"].(map[string]any)
			if !ok {
				return fmt.Errorf("app %s has env %v in Marathon, want an object", app100, app.Definition["env"])
			}
			if got := appEnv["RELEASE"]; got != want {
				return fmt.Errorf("RELEASE is %v in Marathon, want %s", got, want)
			}
			return nil
		}
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: env.provider() + marathonHCL(port, withEnv("1"), only100, "")},
			{
				// Locked: the apply waits; once the deployment holding the app ends, it goes through.
				PreConfig: func() {
					if _, err := env.emu.LockApp(app100); err != nil {
						t.Fatal(err)
					}
					go func() {
						<-env.locked // the driver met 409 and waits
						_ = env.emu.UnlockApp(app100)
					}()
				},
				Config: env.provider() + marathonHCL(port, withEnv("2"), only100, bounded),
				Check:  release("2"),
			},
			{
				// Locked for longer than the update timeout: a clear error, nothing changed.
				PreConfig: func() {
					if _, err := env.emu.LockApp(app100); err != nil {
						t.Fatal(err)
					}
				},
				Config: env.provider() + marathonHCL(port, withEnv("3"), only100, `timeouts {
    update = "1s"
  }`),
				ExpectError: words("app /vamp/sava/sava-cluster/sava-1.0.0 stays locked by a running deployment",
					"cancel it in Marathon, or set force on lock"),
			},
			{
				// force_on_lock: the change supersedes the deployment that holds the app (the
				// emulator keeps holding the app's deployments until UnlockApp, so release it
				// once the forced change went through).
				PreConfig: func() {
					if len(env.app(t, app100).Deployments) == 0 {
						t.Fatal("the app is not locked any more; the step would prove nothing")
					}
					for len(env.locked) > 0 {
						<-env.locked
					}
					go func() {
						<-env.forced
						_ = env.emu.UnlockApp(app100)
					}()
				},
				Config: env.provider("force_on_lock = true") + marathonHCL(port, withEnv("3"), only100, bounded),
				Check:  resource.ComposeTestCheckFunc(release("3"), expectCounts(port, 5, chromeUA, map[string]int{"1.0.0": 5})),
			},
		},
	})
}

// TestAccMarathonInvalidDefinition: what Marathon rejects (422) fails the apply naming the
// field; names that cannot be app ids fail the plan at their attribute.
func TestAccMarathonInvalidDefinition(t *testing.T) {
	env := startMarathonEnv(t)
	port := freePort(t)
	only100 := `"sava:1.0.0" = { weight = 100 }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: env.provider() + marathonHCL(port,
					[]string{savaService("1.0.0", `, marathon = jsonencode({ upgradeStrategy = { minimumHealthCapacity = 2 } })`)}, only100, ""),
				ExpectError: words(`Service "sava/sava_cluster/sava:1.0.0" did not deploy`, "Marathon rejected the app definition",
					"/upgradeStrategy/minimumHealthCapacity"),
			},
			{
				Config: env.provider() + `
resource "vamp_deployment" "bad" {
  name     = "shop"
  clusters = {
    web = { services = [{ breed = { name = "web:1.0-", deployable = "shop/web:1.0", ports = { http = "80/http" } } }] }
  }
}`,
				PlanOnly:    true,
				ExpectError: words(`clusters["web"].services[0].breed.name`, `breed name "web:1.0-"`, "Marathon rejects", `rename it (e.g. "web-1.0")`),
			},
			{
				Config: env.provider() + `
resource "vamp_deployment" "bad" {
  name     = "shop"
  clusters = {
    web = { services = [
      { breed = { name = "a_b", deployable = "shop/web:1", ports = { http = "80/http" } } },
      { breed = { name = "a-b", deployable = "shop/web:2", ports = { http = "80/http" } } },
    ] }
  }
}`,
				PlanOnly:    true,
				ExpectError: words("Two services map to one Marathon app", `clusters["web"].services[1].breed.name`, "/vamp/shop/web/a-b"),
			},
			{
				Config: env.provider() + marathonHCL(port,
					[]string{savaService("1.0.0", `, marathon = jsonencode({ secrets = { pw = { source = "db/pw" } } })`)}, only100, ""),
				PlanOnly:    true,
				ExpectError: words("Invalid Marathon app definition", `clusters["sava_cluster"].services[0]`, `unknown field "secrets"`),
			},
			{
				Config:      env.provider(`group = "Vamp_"`) + marathonHCL(port, []string{savaService("1.0.0", "")}, only100, ""),
				PlanOnly:    true,
				ExpectError: words("Invalid Marathon group", `marathon group "Vamp_"`),
			},
		},
	})
}

// checkApp: the app runs wantImage as one task, labelled with the deployment and cluster.
func (env *marathonEnv) checkApp(appID, wantImage string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		app, ok := env.emu.App(appID)
		if !ok {
			return fmt.Errorf("Marathon has no app %s", appID)
		}
		if got := image(app); got != wantImage {
			return fmt.Errorf("app %s runs %q, want %q", appID, got, wantImage)
		}
		if len(app.Tasks) != 1 {
			return fmt.Errorf("app %s has %d tasks, want 1", appID, len(app.Tasks))
		}
		labels, ok := app.Definition["labels"].(map[string]any)
		if !ok || labels[marathon.LabelDeployment] != "sava" || labels[marathon.LabelCluster] != "sava_cluster" {
			return fmt.Errorf("app %s labels %v", appID, labels)
		}
		return nil
	}
}

// checkRoutesFollowMarathon: the cluster gateway's routes name the Marathon runtime, and the
// gateway resolves them to the app's tasks.
func (env *marathonEnv) checkRoutesFollowMarathon() resource.TestCheckFunc {
	return func(*terraform.State) error {
		gw, err := (&env.gatewayClient).Get(context.Background(), "sava/sava_cluster/webport")
		if err != nil {
			return err
		}
		for _, r := range gw.Routes {
			if r.Service == nil || r.Service.Runtime != marathon.Runtime {
				return fmt.Errorf("route %s does not route to the Marathon runtime: %+v", r.Name, r.Service)
			}
			got, err := env.source.Resolve(r.Service.ID, r.Service.Port)
			if err != nil || len(got) == 0 || slices.ContainsFunc(got, func(i discovery.Instance) bool { return !i.Healthy }) {
				return fmt.Errorf("route %s resolves to %v, %v", r.Name, got, err)
			}
		}
		return nil
	}
}

// TestAccMarathonProviderSettings: MARATHON_URL alone selects the Marathon runtime; bad
// settings fail with the attribute named.
func TestAccMarathonProviderSettings(t *testing.T) {
	env := startMarathonEnv(t)
	port := freePort(t)
	t.Setenv(EnvMarathonURL, env.marathonURL)
	gatewayOnly := fmt.Sprintf(`
provider "vamp" {
  gateway {
    url   = %q
    token = %q
  }
}
`, env.gatewayURL, env.token)
	deployment := marathonHCL(port, []string{savaService("1.0.0", "")}, `"sava:1.0.0" = { weight = 100 }`, "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: gatewayOnly + deployment,
				Check: resource.ComposeTestCheckFunc(
					env.checkApp(app100, "magneticio/sava:1.0.0"),
					expectCounts(port, 5, chromeUA, map[string]int{"1.0.0": 5}),
				),
			},
			{
				Config:      env.provider(`username = "ops"`) + deployment,
				ExpectError: words("Incomplete Marathon basic auth", "needs both username and password"),
			},
			{
				Config:      env.provider(`request_timeout = "soon"`) + deployment,
				ExpectError: words("Invalid request_timeout", `"soon" is not a positive duration`),
			},
			{
				Config:      strings.Replace(env.provider(), env.marathonURL, "ftp://marathon", 1) + deployment,
				ExpectError: words("Invalid Marathon URL", `"ftp://marathon" is not an http(s) URL`),
			},
			{
				// Nothing changed on the way: the plan is empty (and destroy uses this config).
				Config:   gatewayOnly + deployment,
				PlanOnly: true,
			},
		},
	})
}
