package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func mergeRoute(service string) tfjsonpath.Path {
	return tfjsonpath.New("clusters").AtMapKey("web").AtMapKey("gateways").AtMapKey("webport").AtMapKey("routes").AtMapKey(service).AtMapKey("weight")
}

// TestAccDeploymentHCLMerge: in HCL without stated routing, a fresh cluster splits evenly and a
// variant added to a running cluster gets weight 0 (Vamp's merge rule), shown in the plan. A
// stand-alone gateway routes to the deployment's cluster gateway.
func TestAccDeploymentHCLMerge(t *testing.T) {
	bin := sava(t)
	port := freePort(t)
	service := func(version string) string {
		return fmt.Sprintf(`{ breed = { name = "sava:%s", deployable = "cmd:%s --version %s", ports = { webport = "8080/http" } } },`, version, bin, version)
	}
	config := func(services string) string {
		return fmt.Sprintf(`
resource "vamp_deployment" "merge" {
  name     = "merge"
  clusters = { web = { services = [%s] } }
}

resource "vamp_gateway" "entry" {
  name   = "merge-entry"
  port   = %d
  routes = [{ name = "web", gateway = vamp_deployment.merge.gateway_names[0] }]
}
`, services, port)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkNothingLeft("merge"), checkGatewayGone("merge-entry")),
		Steps: []resource.TestStep{
			{
				Config: config(service("1.0.0") + service("1.1.0")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("vamp_deployment.merge", mergeRoute("sava:1.0.0"), knownvalue.Int64Exact(50)),
					plancheck.ExpectKnownValue("vamp_deployment.merge", mergeRoute("sava:1.1.0"), knownvalue.Int64Exact(50)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_gateway.entry", tfjsonpath.New("routes").AtSliceIndex(0).AtMapKey("weight"), knownvalue.Int64Exact(100)),
				},
				Check: expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 5, "1.1.0": 5}),
			},
			{
				Config: config(service("1.0.0") + service("1.1.0") + service("1.2.0")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.merge", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_deployment.merge", mergeRoute("sava:1.0.0"), knownvalue.Int64Exact(50)),
					plancheck.ExpectKnownValue("vamp_deployment.merge", mergeRoute("sava:1.1.0"), knownvalue.Int64Exact(50)),
					plancheck.ExpectKnownValue("vamp_deployment.merge", mergeRoute("sava:1.2.0"), knownvalue.Int64Exact(0)),
				}},
				Check: expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 5, "1.1.0": 5}),
			},
			{
				// Everything removed behind Terraform's back (the entry gateway first: the gateway
				// refuses to delete a gateway that another routes to): both are created again.
				PreConfig: func() {
					ctx := context.Background()
					for _, g := range []string{"merge-entry", "merge/web/webport"} {
						if err := testGateway.Delete(ctx, g); err != nil {
							t.Fatal(err)
						}
					}
					all, err := testRuntime.List(ctx, "merge/")
					if err != nil {
						t.Fatal(err)
					}
					for _, st := range all {
						if err := testRuntime.Delete(ctx, st.Service.ID); err != nil {
							t.Fatal(err)
						}
					}
				},
				Config: config(service("1.0.0") + service("1.1.0") + service("1.2.0")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.merge", plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("vamp_gateway.entry", plancheck.ResourceActionCreate),
				}},
				// A fresh deployment of three splits evenly again: 34/33/33 (the remainder to the
				// first). Shares are exact per cycle of the weights (100 requests here), each in a
				// random position within it, so a whole cycle is counted.
				Check: expectCounts(port, 100, chromeUA, map[string]int{"1.0.0": 34, "1.1.0": 33, "1.2.0": 33}),
			},
		},
	})
}

// TestAccDeploymentUnhealthy: a variant that never becomes healthy fails the apply within its
// timeout with the process's output, and leaves nothing running.
func TestAccDeploymentUnhealthy(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkNothingLeft("broken"),
		Steps: []resource.TestStep{
			{
				Config: `
resource "vamp_deployment" "broken" {
  name     = "broken"
  gateways = { "9999" = "c/webport" }
  clusters = {
    c = {
      services = [
        { breed = { name = "x:1", deployable = "cmd:echo no config file >&2; sleep 60", ports = { webport = "8080/http" } } },
      ]
    }
  }
  timeouts {
    create = "3s"
  }
}
`,
				ExpectError: words(`Service "broken/c/x:1" is not healthy after timeouts.create (3s)`, `no config file`, `the new service was removed`, `timeouts { create = "1m" }`),
			},
		},
	})
}

func TestAccProviderSettings(t *testing.T) {
	const data = `
data "vamp_blueprint" "x" {
  yaml = ["name: x\nclusters:\n  c:\n    services:\n      - breed: { name: a, deployable: cmd:a }\n"]
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      `provider "vamp" {` + "\n" + `  gateway { url = "127.0.0.1:9900" }` + "\n}\n" + data,
				ExpectError: words(`Invalid gateway URL`, `"127.0.0.1:9900" is not an http(s) URL`),
			},
			{
				Config: `provider "vamp" {` + "\n" + `  gateway { token = "wrong" }` + "\n}\n" + `
resource "vamp_gateway" "x" {
  name   = "x"
  port   = 9999
  routes = [{ name = "a", addresses = ["127.0.0.1:1"] }]
}
`,
				ExpectError: words(`The gateway admin API refused the token`, `gateway.token or VAMP_GATEWAY_TOKEN`),
			},
		},
	})
}
