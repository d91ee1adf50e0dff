package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func (e *azureTestEnv) lbRuleConfig(port int, extra string) string {
	return fmt.Sprintf(`
resource "vamp_azure_lb_rule" "sava" {
  load_balancer_id               = %q
  name                           = "sava-9050"
  frontend_ip_configuration_name = %q
  backend_address_pool_ids       = [%q]
  frontend_port                  = %d
  %s
  probe {
    protocol = "Tcp"
  }
}
`, e.cluster.LoadBalancerID, e.cluster.Frontend, e.cluster.PoolID, port, extra)
}

// checkLBRule: the stored load balancer has our rule on port, forwarding to backend, with its probe.
func (e *azureTestEnv) checkLBRule(name string, port, backend int32) resource.TestCheckFunc {
	return func(*terraform.State) error {
		r, ok := e.lbRules()[name]
		if !ok {
			return fmt.Errorf("rule %q not on the load balancer (rules: %v)", name, keys(e.lbRules()))
		}
		if *r.Properties.FrontendPort != port || *r.Properties.BackendPort != backend {
			return fmt.Errorf("rule %q: ports %d->%d, want %d->%d", name, *r.Properties.FrontendPort, *r.Properties.BackendPort, port, backend)
		}
		p, ok := e.lbProbes()[name]
		if !ok || *p.Properties.Port != backend || !strings.HasSuffix(*r.Properties.Probe.ID, "/probes/"+name) {
			return fmt.Errorf("rule %q: probe missing or not on port %d", name, backend)
		}
		return nil
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestAccAzureLBRule(t *testing.T) {
	e := newAzureTestEnv(t)
	const addr = "vamp_azure_lb_rule.sava"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		CheckDestroy: func(*terraform.State) error {
			if _, ok := e.lbRules()["sava-9050"]; ok {
				return fmt.Errorf("rule still there after destroy")
			}
			if _, ok := e.lbProbes()["sava-9050"]; ok {
				return fmt.Errorf("probe still there after destroy")
			}
			return e.checkForeignUntouched()(nil)
		},
		Steps: []resource.TestStep{
			{
				Config: e.lbRuleConfig(9050, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("backend_port"), knownvalue.Int64Exact(9050)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("probe").AtMapKey("name"), knownvalue.StringExact("sava-9050")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("probe").AtMapKey("port"), knownvalue.Int64Exact(9050)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(e.cluster.LoadBalancerID+"/loadBalancingRules/sava-9050")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("probe_id"), knownvalue.StringExact(e.cluster.LoadBalancerID+"/probes/sava-9050")),
				},
				Check: resource.ComposeTestCheckFunc(e.checkLBRule("sava-9050", 9050, 9050), e.checkForeignUntouched()),
			},
			{
				// A change of port is an in-place update of our rule and its probe.
				Config: e.lbRuleConfig(9060, `load_distribution = "SourceIP"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkLBRule("sava-9050", 9060, 9060), e.checkForeignUntouched(),
					func(*terraform.State) error {
						if d := *e.lbRules()["sava-9050"].Properties.LoadDistribution; d != armnetwork.LoadDistributionSourceIP {
							return fmt.Errorf("load distribution %s", d)
						}
						return nil
					}),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				// Drift: someone deletes the rule in the portal; the plan recreates it.
				PreConfig: func() { e.fake.RemoveLBRule(e.cluster.LoadBalancerID, "sava-9050") },
				Config:    e.lbRuleConfig(9060, `load_distribution = "SourceIP"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkLBRule("sava-9050", 9060, 9060), e.checkForeignUntouched()),
			},
		},
	})
}

// Ten rules on one load balancer in one apply (Terraform's default parallelism is 10), while Azure
// throttles and someone else writes the load balancer between one of our reads and its write:
// all ten rules land, the out-of-band rule survives, and the 412 and 429s were really exercised.
func TestAccAzureLBRuleTenInOneApply(t *testing.T) {
	e := newAzureTestEnv(t)
	config := fmt.Sprintf(`
resource "vamp_azure_lb_rule" "gw" {
  count                          = 10
  load_balancer_id               = %q
  name                           = "gw-${9050 + count.index}"
  frontend_ip_configuration_name = %q
  backend_address_pool_ids       = [%q]
  frontend_port                  = 9050 + count.index
  probe {
    protocol     = "Http"
    request_path = "/healthz"
  }
}
`, e.cluster.LoadBalancerID, e.cluster.Frontend, e.cluster.PoolID)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{{
			PreConfig: func() {
				e.fake.InjectThrottles("LoadBalancersClient.Get", 3)
				e.fake.InjectThrottles("LoadBalancersClient.BeginCreateOrUpdate", 2)
				e.fake.AfterNextGet(e.cluster.LoadBalancerID, func(lb *armnetwork.LoadBalancer) {
					lb.Properties.LoadBalancingRules = append(lb.Properties.LoadBalancingRules, &armnetwork.LoadBalancingRule{
						Name: to.Ptr("out-of-band"), Properties: &armnetwork.LoadBalancingRulePropertiesFormat{
							FrontendIPConfiguration: &armnetwork.SubResource{ID: to.Ptr(e.cluster.LoadBalancerID + "/frontendIPConfigurations/" + e.cluster.Frontend)},
							Protocol:                to.Ptr(armnetwork.TransportProtocolUDP), FrontendPort: to.Ptr[int32](53), BackendPort: to.Ptr[int32](53),
						}})
				})
			},
			Config: config,
			Check: resource.ComposeTestCheckFunc(e.checkForeignUntouched(), func(*terraform.State) error {
				rules := e.lbRules()
				for i := range 10 {
					name := fmt.Sprintf("gw-%d", 9050+i)
					if err := e.checkLBRule(name, int32(9050+i), int32(9050+i))(nil); err != nil {
						return err
					}
				}
				if len(rules) != 12 {
					return fmt.Errorf("want ssh, out-of-band and our 10 rules, got %v", keys(rules))
				}
				s := e.fake.Stats()
				if s.PreconditionFailed < 1 || s.Throttled != 5 {
					return fmt.Errorf("the 412 and 429s were not exercised: %+v", s)
				}
				t.Logf("ten rules in one apply: %d load balancer writes, %d etag conflicts retried, %d throttles retried, %d polls",
					s.LBWrites, s.PreconditionFailed, s.Throttled, s.Polls)
				return nil
			}),
		}},
	})
}

func TestAccAzureLBRulePlanTimeErrors(t *testing.T) {
	e := newAzureTestEnv(t)
	for _, tc := range []struct {
		name, extra string
		port        int
		want        []string
	}{
		{"backend port out of range", `backend_port = 70000`, 9050, []string{"Attribute backend_port value must be between 0 and 65535, got: 70000"}},
		{"frontend port out of range", ``, 65535, []string{"Attribute frontend_port value must be between 0 and 65534"}},
		{"idle timeout out of range", `idle_timeout_in_minutes = 2`, 9050, []string{"Attribute idle_timeout_in_minutes value must be between 4 and 100"}},
		{"bad protocol", `protocol = "tcp"`, 9050, []string{"Attribute protocol value must be one of"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: e.factories,
				Steps:                    []resource.TestStep{{Config: e.lbRuleConfig(tc.port, tc.extra), PlanOnly: true, ExpectError: errorLike(tc.want...)}},
			})
		})
	}
	httpNoPath := strings.Replace(e.lbRuleConfig(9050, ""), `protocol = "Tcp"`, `protocol = "Http"`, 1)
	wrongLB := strings.Replace(e.lbRuleConfig(9050, ""), e.cluster.PoolID, strings.Replace(e.cluster.PoolID, "dcos-agent-lb-1234", "masters-lb", 1), 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{
			{Config: httpNoPath, PlanOnly: true, ExpectError: errorLike("request_path is required for an Http probe", "/health")},
			{Config: wrongLB, PlanOnly: true, ExpectError: errorLike("Backend pool of another load balancer")},
			{Config: strings.Replace(e.lbRuleConfig(9050, ""), e.cluster.LoadBalancerID+`"`, "dcos-agent-lb\"", 1), PlanOnly: true,
				ExpectError: errorLike("Invalid Azure load balancer", "not an Azure resource id")},
		},
	})
	if n := e.fake.Stats().LBWrites; n != 0 {
		t.Errorf("plan-time errors still wrote the load balancer %d times", n)
	}
}

func TestAccAzureLBRuleConflictNamesTheOtherRule(t *testing.T) {
	e := newAzureTestEnv(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{{
			Config:      e.lbRuleConfig(22, ""),
			ExpectError: errorLike(`Already used by "ssh"`, "port 22/Tcp", "choose another frontend port"),
		}},
	})
}

// An HA-ports rule (frontend and backend port 0, protocol All) with tcp_reset_enabled and
// number_of_probes: written in Azure's shape, an empty plan after apply, and imported with every
// new argument equal. The HA-ports checks fail at plan time with the attribute named.
func TestAccAzureLBRuleHAPorts(t *testing.T) {
	e := newAzureTestEnv(t)
	const addr = "vamp_azure_lb_rule.ha"
	config := func(body string) string {
		return fmt.Sprintf(`
resource "vamp_azure_lb_rule" "ha" {
  load_balancer_id               = %q
  name                           = "ha-ports"
  frontend_ip_configuration_name = %q
  backend_address_pool_ids       = [%q]
  %s
}
`, e.cluster.LoadBalancerID, e.cluster.Frontend, e.cluster.PoolID, body)
	}
	good := config(`
  protocol          = "All"
  frontend_port     = 0
  backend_port      = 0
  tcp_reset_enabled = true
  probe {
    protocol         = "Tcp"
    port             = 9050
    number_of_probes = 3
  }`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{
			{
				Config: config(`
  frontend_port = 0
  backend_port  = 80
  probe {
    protocol = "Tcp"
  }`),
				PlanOnly:    true,
				ExpectError: errorLike("HA ports need protocol All"),
			},
			{
				Config: config(`
  protocol      = "All"
  frontend_port = 0
  backend_port  = 80
  probe {
    protocol = "Tcp"
  }`),
				PlanOnly:    true,
				ExpectError: errorLike("backend_port = 0"),
			},
			{
				Config: config(`
  protocol      = "All"
  frontend_port = 0
  probe {
    protocol = "Tcp"
  }`),
				PlanOnly:    true,
				ExpectError: errorLike("probe.port is required for HA ports"),
			},
			{
				Config: good,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("frontend_port"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("backend_port"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("tcp_reset_enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("probe").AtMapKey("number_of_probes"), knownvalue.Int64Exact(3)),
				},
				Check: resource.ComposeTestCheckFunc(e.checkForeignUntouched(), func(*terraform.State) error {
					r, ok := e.lbRules()["ha-ports"]
					if !ok {
						return fmt.Errorf("rule not on the load balancer")
					}
					p := r.Properties
					if *p.Protocol != armnetwork.TransportProtocolAll || *p.FrontendPort != 0 || *p.BackendPort != 0 || !*p.EnableTCPReset {
						return fmt.Errorf("stored %s %d->%d tcp reset %v", *p.Protocol, *p.FrontendPort, *p.BackendPort, *p.EnableTCPReset)
					}
					pr, ok := e.lbProbes()["ha-ports"]
					if !ok || *pr.Properties.Port != 9050 || *pr.Properties.NumberOfProbes != 3 {
						return fmt.Errorf("probe missing or wrong: %+v", pr)
					}
					return nil
				}),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
		},
	})
}

// A rule that uses an existing probe (the cluster's own ssh-probe) through probe_id: written with
// that probe, the probe never changed, imported equal, and still there after destroy. Setting
// probe_id and a probe block fails plan; a probe the load balancer does not have fails apply
// naming the probes it has.
func TestAccAzureLBRuleExistingProbe(t *testing.T) {
	e := newAzureTestEnv(t)
	const addr = "vamp_azure_lb_rule.ref"
	config := func(probeID, block string) string {
		return fmt.Sprintf(`
resource "vamp_azure_lb_rule" "ref" {
  load_balancer_id               = %q
  name                           = "sava-ref"
  frontend_ip_configuration_name = %q
  backend_address_pool_ids       = [%q]
  frontend_port                  = 9070
  probe_id                       = %q
  %s
}
`, e.cluster.LoadBalancerID, e.cluster.Frontend, e.cluster.PoolID, probeID, block)
	}
	sshProbe := e.cluster.LoadBalancerID + "/probes/ssh-probe"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		CheckDestroy: func(*terraform.State) error {
			if _, ok := e.lbRules()["sava-ref"]; ok {
				return fmt.Errorf("rule still there after destroy")
			}
			return e.checkForeignUntouched()(nil) // ssh-probe kept
		},
		Steps: []resource.TestStep{
			{
				Config:      config(sshProbe, "probe {\n    protocol = \"Tcp\"\n  }"),
				PlanOnly:    true,
				ExpectError: errorLike("probe_id and a probe block are exclusive"),
			},
			{
				Config:      strings.Replace(config(sshProbe, ""), `probe_id`, `# probe_id`, 1),
				PlanOnly:    true,
				ExpectError: errorLike("A probe is required", "probe_id"),
			},
			{
				Config:      strings.Replace(config(sshProbe, "probe {\n    port = 9070\n  }"), `probe_id`, `# probe_id`, 1),
				PlanOnly:    true,
				ExpectError: errorLike("probe.protocol is required"),
			},
			{
				Config:      config(e.cluster.LoadBalancerID+"/probes/nope", ""),
				ExpectError: errorLike(`has no probe "nope"`, "ssh-probe"),
			},
			{
				Config: config(sshProbe, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("probe_id"), knownvalue.StringExact(sshProbe)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("probe"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(e.checkForeignUntouched(), func(*terraform.State) error {
					r, ok := e.lbRules()["sava-ref"]
					if !ok || r.Properties.Probe == nil || !strings.EqualFold(*r.Properties.Probe.ID, sshProbe) {
						return fmt.Errorf("rule missing or not using ssh-probe: %+v", r)
					}
					if len(e.lbProbes()) != 1 {
						return fmt.Errorf("a probe was added: %v", keys(e.lbProbes()))
					}
					return nil
				}),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{
				// From the used probe to one of its own: an update, and ssh-probe stays.
				Config: strings.Replace(config(sshProbe, "probe {\n    protocol = \"Tcp\"\n  }"), "probe_id", "# probe_id", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkLBRule("sava-ref", 9070, 9070), e.checkForeignUntouched()),
			},
		},
	})
}
