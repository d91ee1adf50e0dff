package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// versionServer is a backend that answers every request with its version.
func versionServer(t *testing.T, version string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "version %s\n", version)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func gatewayConfig(name string, port int, routes string) string {
	return fmt.Sprintf(`
resource "vamp_gateway" "test" {
  name   = %q
  port   = %d
  routes = [%s]
}
`, name, port, routes)
}

func expectCounts(port, n int, userAgent string, want map[string]int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := countVersions(port, n, userAgent)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%d requests as %q went %v, want %v", n, userAgent, got, want)
		}
		return nil
	}
}

func checkGatewayGone(name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, err := testGateway.Get(context.Background(), name)
		if !gatewayapi.IsNotFound(err) {
			return fmt.Errorf("gateway %q is still there after destroy (err %v)", name, err)
		}
		return nil
	}
}

func TestAccGateway(t *testing.T) {
	a, b := versionServer(t, "1.0.0"), versionServer(t, "2.0.0")
	port := freePort(t)
	const name = "acc/standalone"
	even := gatewayConfig(name, port, fmt.Sprintf(`
    { name = "a", addresses = [%q] },
    { name = "b", addresses = [%q] },`, a, b))
	firefoxToA := gatewayConfig(name, port, fmt.Sprintf(`
    { name = "a", addresses = [%q], weight = 0, condition = "user-agent == Firefox" },
    { name = "b", addresses = [%q], weight = 100 },`, a, b))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkGatewayGone(name),
		Steps: []resource.TestStep{
			{
				Config: even,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("routes").AtSliceIndex(0).AtMapKey("weight"), knownvalue.Int64Exact(50)),
					statecheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("routes").AtSliceIndex(1).AtMapKey("weight"), knownvalue.Int64Exact(50)),
					statecheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("balance"), knownvalue.StringExact("round-robin")),
					statecheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("split"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("all -> a 50%, b 50%")})),
					// Written through the admin API, not etcd: no replicas to report on.
					statecheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("convergence"), knownvalue.Null()),
				},
				Check: expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 5, "2.0.0": 5}),
			},
			{
				Config: firefoxToA,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_gateway.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("convergence"), knownvalue.Null()),
					plancheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("routes").AtSliceIndex(0).AtMapKey("condition_strength"), knownvalue.Int64Exact(100)),
					plancheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("split"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("user-agent == Firefox -> a 100%"), knownvalue.StringExact("other -> b 100%"),
					})),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectCounts(port, 10, firefoxUA, map[string]int{"1.0.0": 10}),
					expectCounts(port, 10, chromeUA, map[string]int{"2.0.0": 10}),
				),
			},
			{
				ResourceName:                         "vamp_gateway.test",
				ImportState:                          true,
				ImportStateId:                        name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
			{
				// Drift: the weights change behind Terraform's back; the plan puts them back.
				PreConfig: func() {
					gw, err := testGateway.Get(context.Background(), name)
					if err != nil {
						t.Fatal(err)
					}
					gw.Routes[0].Weight, gw.Routes[1].Weight = 50, 50
					if _, err := testGateway.Put(context.Background(), name, gw); err != nil {
						t.Fatal(err)
					}
				},
				Config: firefoxToA,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_gateway.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("routes").AtSliceIndex(1).AtMapKey("weight"), knownvalue.Int64Exact(100)),
					plancheck.ExpectKnownValue("vamp_gateway.test", tfjsonpath.New("split").AtSliceIndex(1), knownvalue.StringExact("other -> b 100%")),
				}},
				Check: expectCounts(port, 10, chromeUA, map[string]int{"2.0.0": 10}),
			},
			{
				// The gateway removed behind Terraform's back is created again.
				PreConfig: func() {
					if err := testGateway.Delete(context.Background(), name); err != nil {
						t.Fatal(err)
					}
				},
				Config: firefoxToA,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_gateway.test", plancheck.ResourceActionCreate),
				}},
				Check: expectCounts(port, 4, chromeUA, map[string]int{"2.0.0": 4}),
			},
		},
	})
}

func TestAccGatewayPlanErrors(t *testing.T) {
	const addr = `addresses = ["127.0.0.1:1"]`
	cases := []struct {
		name, routes string
		want         *regexp.Regexp
	}{
		{"weights", `{ name = "a", ` + addr + `, weight = 60 }, { name = "b", ` + addr + `, weight = 30 }`,
			regexp.MustCompile(`(?s)Route weights do not sum to 100.*sum to 90.*routes\[0\] = 60, routes\[1\] = 30.*sum to 100`)},
		{"condition", `{ name = "a", ` + addr + `, condition = "user-agent ==" }`,
			regexp.MustCompile(`(?s)Invalid condition.*routes\[0\]\.condition.*expected a value`)},
		{"strength", `{ name = "a", ` + addr + `, condition = "has cookie x", condition_strength = 101 }`,
			regexp.MustCompile(`(?s)routes\[0\]\.condition_strength.*between 0 and 100`)},
		{"targets", `{ name = "a", ` + addr + `, gateway = "sava/sava_cluster/webport" }`,
			regexp.MustCompile(`(?s)Route with both gateway and addresses.*Attribute routes\[0\]: a route goes to another gateway`)},
		{"no target", `{ name = "a" }`,
			regexp.MustCompile(`(?s)Route without a target.*Attribute routes\[0\]: set gateway`)},
		{"duplicate", `{ name = "a", ` + addr + ` }, { name = "a", ` + addr + ` }`,
			regexp.MustCompile(`(?s)Duplicate route name.*routes\[1\]\.name`)},
		{"address", `{ name = "a", addresses = ["localhost"] }`,
			regexp.MustCompile(`(?s)Invalid address.*host:port`)},
	}
	steps := make([]resource.TestStep, len(cases))
	for i, c := range cases {
		steps[i] = resource.TestStep{Config: gatewayConfig("acc/bad-"+c.name, 9999, c.routes), PlanOnly: true, ExpectError: c.want}
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviderFactories, Steps: steps})
}

// TestAccGatewayRefused: what only the gateway can check (here: a route to a gateway that does
// not exist) comes back as a diagnostic with the gateway's reason and where it is.
func TestAccGatewayRefused(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkGatewayGone("acc/refused"),
		Steps: []resource.TestStep{{
			Config:      gatewayConfig("acc/refused", freePort(t), `{ name = "a", gateway = "no/such/gateway" }`),
			ExpectError: words(`The gateway refused gateway "acc/refused"`, `no/such/gateway`, `at routes[0].gateway`, `Nothing was changed`),
		}},
	})
}

// A stand-alone gateway whose routes serve no request is refused at plan.
func TestAccGatewayRefusesServingNothing(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
resource "vamp_gateway" "none" {
  name = "none/9999"
  port = 9999
  routes = [
    { name = "a", addresses = ["127.0.0.1:1"], weight = 0 },
    { name = "b", addresses = ["127.0.0.1:2"], weight = 0, condition = "has cookie x", condition_strength = 0 },
  ]
}
`,
			PlanOnly:    true,
			ExpectError: words(`Gateway "none/9999" serves no request`, `Gateway "none/9999" would answer every request with 503`, `condition_strength above 0`),
		}},
	})
}
