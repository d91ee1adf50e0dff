package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// serviceScale is the path of a scale field of the first service of sava_cluster.
func serviceScale(field string) tfjsonpath.Path {
	return tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("services").AtSliceIndex(0).AtMapKey("scale").AtMapKey(field)
}

// TestAccMarathonDrift: scale and image changed in Marathon behind Terraform's back show in the
// next plan as an in-place update, and the apply puts the configuration back. The health
// check's "1m" and "1500ms", which Marathon reads back as "60s" and "2s", are not drift (the
// framework's empty-plan check after step 1 fails otherwise).
func TestAccMarathonDrift(t *testing.T) {
	env := startMarathonEnv(t)
	port := freePort(t)
	svc := savaService("1.0.0", `, scale = { cpu = 0.5, memory = 128, instances = 1 }, health_checks = [{ port = "webport", interval = "1m", timeout = "1500ms" }]`)
	config := env.provider() + marathonHCL(port, []string{svc}, `"sava:1.0.0" = { weight = 100 }`, "")
	settle := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := env.emu.WaitDeploymentsDone(ctx); err != nil {
			t.Fatal(err)
		}
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  env.checkApp(app100, "magneticio/sava:1.0.0"),
			},
			{
				// An operator scales the app to 3 in the Marathon UI.
				PreConfig: func() {
					if err := env.emu.ScaleApp(app100, 3); err != nil {
						t.Fatal(err)
					}
					settle()
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_deployment.sava", serviceScale("instances"), knownvalue.Int64Exact(1)),
				}},
				Check: env.checkApp(app100, "magneticio/sava:1.0.0"),
			},
			{
				// An operator changes the image and the CPU with a partial PUT of the app.
				PreConfig: func() {
					def := env.app(t, app100).Definition
					def["cpus"] = 1
					container, ok := def["container"].(map[string]any)
					if !ok {
						t.Fatalf("app %s has container %v, want an object", app100, def["container"])
					}
					docker, ok := container["docker"].(map[string]any)
					if !ok {
						t.Fatalf("app %s has container.docker %v, want an object", app100, container["docker"])
					}
					docker["image"] = "magneticio/sava:9.9.9"
					env.putApp(t, app100, def)
					settle()
					if got := image(env.app(t, app100)); got != "magneticio/sava:9.9.9" {
						t.Fatalf("the app runs %q after the operator's change", got)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_deployment.sava", serviceScale("cpu"), knownvalue.Float64Exact(0.5)),
				}},
				Check: resource.ComposeTestCheckFunc(
					env.checkApp(app100, "magneticio/sava:1.0.0"),
					func(*terraform.State) error {
						if cpus := env.app(t, app100).Definition["cpus"]; fmt.Sprint(cpus) != "0.5" {
							return fmt.Errorf("the app has cpus %v after the apply, want 0.5", cpus)
						}
						return nil
					},
				),
			},
		},
	})
}

// putApp changes an app through Marathon's API as an operator would.
func (env *marathonEnv) putApp(t *testing.T, appID string, def map[string]any) {
	t.Helper()
	delete(def, "version")
	body, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, env.emu.URL()+"/v2/apps"+appID, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT /v2/apps%s: %s: %s", appID, resp.Status, msg)
	}
}

// TestAccLocalDrift: an instance count changed in the local runtime behind Terraform's back
// shows in the next plan as an in-place update, and the apply puts it back.
func TestAccLocalDrift(t *testing.T) {
	bin := sava(t)
	port := freePort(t)
	config := fmt.Sprintf(`
resource "vamp_deployment" "drift" {
  name     = "drift"
  gateways = { "%d" = "c/webport" }
  clusters = {
    c = {
      services = [
        { breed = { name = "sava:1.0.0", deployable = "cmd:%s --version 1.0.0", ports = { webport = "8080/http" } },
          health_checks = [{ port = "webport", interval = "1m" }] },
      ]
    }
  }
}
`, port, bin)
	const id = "drift/c/sava:1.0.0"
	instancesAre := func(want int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			st, _, err := testRuntime.Get(context.Background(), id)
			if err != nil {
				return err
			}
			if len(st.Instances) != want || st.Service.Instances != int64(want) {
				return fmt.Errorf("%s runs %d instances (definition %d), want %d", id, len(st.Instances), st.Service.Instances, want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkNothingLeft("drift"),
		Steps: []resource.TestStep{
			{Config: config, Check: instancesAre(1)},
			{
				PreConfig: func() {
					ctx := context.Background()
					st, _, err := testRuntime.Get(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					st.Service.Instances = 2
					if _, err := testRuntime.Apply(ctx, st.Service); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.drift", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_deployment.drift", tfjsonpath.New("clusters").AtMapKey("c").AtMapKey("services").AtSliceIndex(0).AtMapKey("scale").AtMapKey("instances"), knownvalue.Int64Exact(1)),
				}},
				Check: instancesAre(1),
			},
		},
	})
}
