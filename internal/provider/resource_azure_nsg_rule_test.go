package provider

import (
	"fmt"
	"strings"
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

// A Deny, Outbound, Icmp rule with source port ranges: written as configured, read back with an
// empty plan, and imported with every new argument equal.
func TestAccAzureNSGRuleDenyOutbound(t *testing.T) {
	e := newAzureTestEnv(t)
	const addr = "vamp_azure_nsg_rule.deny"
	config := fmt.Sprintf(`
resource "vamp_azure_nsg_rule" "deny" {
  network_security_group_id = %q
  name                      = "deny-out-icmp"
  priority                  = 100
  direction                 = "Outbound"
  access                    = "Deny"
  protocol                  = "Icmp"
  source_port_ranges        = ["1024-2047", "4000"]
  destination_port_ranges   = ["*"]
  source_address_prefixes   = ["10.0.0.0/8"]
}
`, e.cluster.NSGID)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{
			{
				// Checked at plan time, before anything exists (the last step's config is used to destroy).
				Config: strings.Replace(config, `protocol                  = "Icmp"`, `protocol                  = "Gre"`, 1), PlanOnly: true,
				ExpectError: errorLike("protocol", `"Icmp"`, `"Esp"`, `"Ah"`),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("direction"), knownvalue.StringExact("Outbound")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("access"), knownvalue.StringExact("Deny")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("protocol"), knownvalue.StringExact("Icmp")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("source_port_ranges"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("1024-2047"), knownvalue.StringExact("4000")})),
				},
				Check: resource.ComposeTestCheckFunc(e.checkForeignUntouched(), func(*terraform.State) error {
					r, ok := e.nsgRules()["deny-out-icmp"]
					if !ok {
						return fmt.Errorf("rule not in the NSG")
					}
					p := r.Properties
					if *p.Direction != "Outbound" || *p.Access != "Deny" || *p.Protocol != "Icmp" || *p.Priority != 100 || len(p.SourcePortRanges) != 2 {
						return fmt.Errorf("stored %s %s %s priority %d source ports %d", *p.Direction, *p.Access, *p.Protocol, *p.Priority, len(p.SourcePortRanges))
					}
					return nil
				}),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
		},
	})
}
