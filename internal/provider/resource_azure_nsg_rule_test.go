package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func (e *azureTestEnv) nsgRuleConfig(priority int, ports, sources string) string {
	src := ""
	if sources != "" {
		src = "source_address_prefixes = " + sources
	}
	return fmt.Sprintf(`
resource "vamp_azure_nsg_rule" "sava" {
  network_security_group_id = %q
  name                      = "allow-sava-9050"
  priority                  = %d
  destination_port_ranges   = %s
  %s
  description               = "sava/9050"
}
`, e.cluster.NSGID, priority, ports, src)
}

func (e *azureTestEnv) checkNSGRule(port string, priority int32) resource.TestCheckFunc {
	return func(*terraform.State) error {
		r, ok := e.nsgRules()["allow-sava-9050"]
		if !ok {
			return fmt.Errorf("rule not in the NSG (rules %v)", keys(e.nsgRules()))
		}
		if *r.Properties.DestinationPortRange != port || *r.Properties.Priority != priority || *r.Properties.SourceAddressPrefix != "Internet" {
			return fmt.Errorf("rule: port %v priority %d source %v", *r.Properties.DestinationPortRange, *r.Properties.Priority, *r.Properties.SourceAddressPrefix)
		}
		return nil
	}
}

func TestAccAzureNSGRule(t *testing.T) {
	e := newAzureTestEnv(t)
	const addr = "vamp_azure_nsg_rule.sava"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		CheckDestroy: func(*terraform.State) error {
			if _, ok := e.nsgRules()["allow-sava-9050"]; ok {
				return fmt.Errorf("rule still there after destroy")
			}
			return e.checkForeignUntouched()(nil)
		},
		Steps: []resource.TestStep{
			{
				Config: e.nsgRuleConfig(200, `["9050"]`, `["Internet"]`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("direction"), knownvalue.StringExact("Inbound")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("destination_address_prefix"), knownvalue.StringExact("*")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(e.cluster.NSGID+"/securityRules/allow-sava-9050")),
				},
				Check: resource.ComposeTestCheckFunc(e.checkNSGRule("9050", 200), e.checkForeignUntouched()),
			},
			{
				Config: e.nsgRuleConfig(210, `["9060"]`, `["Internet"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkNSGRule("9060", 210), e.checkForeignUntouched()),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				PreConfig: func() { e.fake.RemoveNSGRule(e.cluster.NSGID, "allow-sava-9050") },
				Config:    e.nsgRuleConfig(210, `["9060"]`, `["Internet"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				}},
				Check: e.checkNSGRule("9060", 210),
			},
		},
	})
}

func TestAccAzureNSGRuleErrors(t *testing.T) {
	e := newAzureTestEnv(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{
			{
				Config: e.nsgRuleConfig(200, `["9050"]`, ""), PlanOnly: true,
				ExpectError: errorLike("Attribute source_address_prefixes", "is required", `["*"]`, `["Internet"]`),
			},
			{
				Config: e.nsgRuleConfig(200, `["9050"]`, `[]`), PlanOnly: true,
				ExpectError: errorLike("Attribute source_address_prefixes", "is required"),
			},
			{
				Config: e.nsgRuleConfig(200, `["9050"]`, `["10.0.0.0/8", "Internet"]`), PlanOnly: true,
				ExpectError: errorLike(`"Internet" is "*" or a service tag`, "only prefix"),
			},
			{
				Config: e.nsgRuleConfig(50, `["9050"]`, `["Internet"]`), PlanOnly: true,
				ExpectError: errorLike("Attribute priority value must be between 100 and 4096, got: 50"),
			},
			{
				Config: e.nsgRuleConfig(200, `["70000"]`, `["Internet"]`), PlanOnly: true,
				ExpectError: errorLike("destination_port_ranges[0]", `"70000" is out of range`),
			},
			{
				// Priority 100 belongs to the cluster's own "allow-ssh": a clear error, nothing written.
				Config:      e.nsgRuleConfig(100, `["9050"]`, `["Internet"]`),
				ExpectError: errorLike(`Already used by "allow-ssh"`, `priority 100 is already used by inbound rule "allow-ssh"`),
			},
		},
	})
	if got := keys(e.nsgRules()); len(got) != 1 {
		t.Errorf("refused rules changed the NSG: %v", got)
	}
}
