package provider

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

var azurermRef = regexp.MustCompile(`\bazurerm_\w+\.\w+`)

// The vamp part of examples/azure/main.tf plans cleanly: its attribute names and values pass the
// provider's plan-time validation. azurerm cannot run here, so its resources are dropped and the
// references to them replaced by the ids of the fake's cluster.
func TestAccAzureExamplePlans(t *testing.T) {
	e := newAzureTestEnv(t)
	src, err := os.ReadFile("../../examples/azure/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclwrite.ParseConfig(src, "main.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body()
	for _, b := range body.Blocks() {
		labels := b.Labels()
		keep := b.Type() == "resource" && len(labels) > 0 && strings.HasPrefix(labels[0], "vamp_")
		if !keep {
			body.RemoveBlock(b)
		}
	}
	config := strings.NewReplacer(
		"azurerm_lb.agents.frontend_ip_configuration[0].name", `"`+e.cluster.Frontend+`"`,
		"azurerm_lb.agents.id", `"`+e.cluster.LoadBalancerID+`"`,
		"azurerm_lb_backend_address_pool.agents.id", `"`+e.cluster.PoolID+`"`,
		"azurerm_network_security_group.public_agents.id", `"`+e.cluster.NSGID+`"`,
	).Replace(string(f.Bytes()))
	if azurermRef.MatchString(config) {
		t.Fatalf("example refers to azurerm in a way this test does not replace:\n%s", config)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{{
			Config:             config,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("vamp_azure_lb_rule.sava", plancheck.ResourceActionCreate),
				plancheck.ExpectResourceAction("vamp_azure_nsg_rule.sava", plancheck.ResourceActionCreate),
			}},
		}},
	})
}

// examples/azure-endpoints/main.tf plans one load-balancing rule and one NSG rule per stable
// endpoint, keyed by the endpoint's name, and the plan goes through the provider's validation.
func TestAccAzureEndpointsExamplePlans(t *testing.T) {
	e := newAzureTestEnv(t)
	src, err := os.ReadFile("../../examples/azure-endpoints/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclwrite.ParseConfig(src, "main.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body()
	for _, b := range body.Blocks() {
		if b.Type() == "provider" || b.Type() == "terraform" {
			body.RemoveBlock(b) // the test's provider factory stands in for the configured one
		}
	}
	cfg := string(f.Bytes())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigVariables: map[string]config.Variable{
				"subscription_id":                config.StringVariable(azureTestSubscription),
				"load_balancer_id":               config.StringVariable(e.cluster.LoadBalancerID),
				"frontend_ip_configuration_name": config.StringVariable(e.cluster.Frontend),
				"backend_address_pool_id":        config.StringVariable(e.cluster.PoolID),
				"network_security_group_id":      config.StringVariable(e.cluster.NSGID),
			},
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(`vamp_azure_lb_rule.stable["sava"]`, plancheck.ResourceActionCreate),
				plancheck.ExpectResourceAction(`vamp_azure_lb_rule.stable["sava-api"]`, plancheck.ResourceActionCreate),
				plancheck.ExpectResourceAction(`vamp_azure_nsg_rule.stable["sava"]`, plancheck.ResourceActionCreate),
				plancheck.ExpectResourceAction(`vamp_azure_nsg_rule.stable["sava-api"]`, plancheck.ResourceActionCreate),
			}},
		}},
	})
}
