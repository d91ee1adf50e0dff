package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// endpointStep is the scenario's stable endpoint with routing of its own, in the deployment:
// Firefox users (a condition of strength 100) go to the canary cluster, everybody else to
// sava_cluster, with sticky sessions; no vamp_gateway is involved.
func endpointStep(port int, bin, canaryRoute string) string {
	return fmt.Sprintf(`
resource "vamp_deployment" "ep" {
  name = "ep"
  endpoints = {
    "%d" = {
      sticky = "route"
      routes = {
        "sava_cluster/webport"   = { weight = 100 }
        "canary_cluster/webport" = %s
      }
    }
  }
  clusters = {
    sava_cluster = {
      services = [{ breed = { name = "sava:1.0.0", deployable = "cmd:%[3]s --version 1.0.0", ports = { webport = "8080/http" } } }]
    }
    canary_cluster = {
      services = [{ breed = { name = "sava:1.1.0", deployable = "cmd:%[3]s --version 1.1.0", ports = { webport = "8080/http" } } }]
    }
  }
}

output "canary_gateway" {
  value = vamp_deployment.ep.gateway_name["canary_cluster/webport"]
}
`, port, canaryRoute, bin)
}

func endpointPath(port int, rest ...string) tfjsonpath.Path {
	p := tfjsonpath.New("endpoints").AtMapKey(fmt.Sprint(port))
	for _, r := range rest {
		p = p.AtMapKey(r)
	}
	return p
}

// The stable endpoint carries a condition and sticky sessions in the one vamp_deployment; the
// plan states its split; gateways are referenced by name (gateway_name), not list position.
func TestAccDeploymentEndpointRouting(t *testing.T) {
	bin := sava(t)
	port := freePort(t)
	firefox := `{ weight = 0, condition = "user-agent == Firefox" }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkNothingLeft("ep"),
		Steps: []resource.TestStep{
			{
				Config: endpointStep(port, bin, firefox),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("vamp_deployment.ep", endpointPath(port, "split"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("user-agent == Firefox -> canary_cluster/webport 100%"),
						knownvalue.StringExact("other -> sava_cluster/webport 100%"),
					})),
					// A gateway the apply makes is referenced once it exists.
					plancheck.ExpectUnknownValue("vamp_deployment.ep", tfjsonpath.New("gateway_name").AtMapKey(fmt.Sprint(port))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.ep", tfjsonpath.New("gateway_name").AtMapKey(fmt.Sprint(port)), knownvalue.StringExact(fmt.Sprintf("ep/%d", port))),
					statecheck.ExpectKnownOutputValue("canary_gateway", knownvalue.StringExact("ep/canary_cluster/webport")),
					statecheck.ExpectKnownValue("vamp_deployment.ep", endpointPath(port, "sticky"), knownvalue.StringExact("route")),
					statecheck.ExpectKnownValue("vamp_deployment.ep", endpointPath(port, "routes", "canary_cluster/webport", "condition_strength"), knownvalue.Int64Exact(100)),
					statecheck.ExpectKnownValue("vamp_deployment.ep", tfjsonpath.New("gateway_names"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(fmt.Sprintf("ep/%d", port)),
						knownvalue.StringExact("ep/canary_cluster/webport"),
						knownvalue.StringExact("ep/sava_cluster/webport"),
					})),
				},
				Check: resource.ComposeTestCheckFunc(
					expectCounts(port, 20, firefoxUA, map[string]int{"1.1.0": 20}),
					expectCounts(port, 20, chromeUA, map[string]int{"1.0.0": 20}),
					func(*terraform.State) error {
						gw, err := testGateway.Get(context.Background(), fmt.Sprintf("ep/%d", port))
						if err != nil {
							return err
						}
						if gw.Sticky != "route" || len(gw.Routes) != 2 || gw.Routes[0].Condition != "user-agent == Firefox" || gw.Routes[0].Gateway != "ep/canary_cluster/webport" {
							return fmt.Errorf("the endpoint's gateway is %+v, want sticky route and the Firefox route first", gw)
						}
						return nil
					},
				),
			},
			{
				// Unchanged: gateway_name is known in the plan of a deployment that exists.
				Config: endpointStep(port, bin, firefox),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					plancheck.ExpectKnownOutputValue("canary_gateway", knownvalue.StringExact("ep/canary_cluster/webport")),
				}},
			},
			{
				// Drift: the endpoint changed behind Terraform's back (no sticky, the condition
				// gone) shows in the plan, with its split, and is put back.
				PreConfig: func() {
					ctx := context.Background()
					name := fmt.Sprintf("ep/%d", port)
					gw, err := testGateway.Get(ctx, name)
					if err != nil {
						t.Fatal(err)
					}
					gw.Sticky = ""
					gw.Routes[0].Condition, gw.Routes[0].ConditionStrength = "", nil
					if _, err := testGateway.Put(ctx, name, gw); err != nil {
						t.Fatal(err)
					}
				},
				Config: endpointStep(port, bin, firefox),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.ep", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_deployment.ep", endpointPath(port, "sticky"), knownvalue.StringExact("route")),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectCounts(port, 10, firefoxUA, map[string]int{"1.1.0": 10}),
					expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
				),
			},
			{
				ResourceName:                         "vamp_deployment.ep",
				ImportState:                          true,
				ImportStateId:                        "ep",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
		},
	})
}

func TestAccDeploymentEndpointErrors(t *testing.T) {
	cases := []struct{ name, routes, want string }{
		{"unknown cluster", `"nope/webport" = { weight = 100 }`, `Route to an unknown cluster`},
		{"unknown port", `"c/admin" = { weight = 100 }`, `Route to an unknown cluster port`},
		{"serves nothing", `"c/webport" = { weight = 0 }`, `Endpoint 9050 serves no request`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{{
					Config: fmt.Sprintf(`
resource "vamp_deployment" "bad" {
  name      = "bad"
  endpoints = { "9050" = { routes = { %s } } }
  clusters  = { c = { services = [%s] } }
}
`, c.routes, twoVariants),
					PlanOnly:    true,
					ExpectError: words(c.want, `endpoints["9050"].routes`),
				}},
			})
		})
	}
}
