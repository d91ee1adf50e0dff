package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// azurermLikeWriter writes the whole load balancer back without If-Match, as azurerm's
// azurerm_lb_rule and azurerm_lb_probe do (read the load balancer, change their own part, PUT it
// all under a lock local to their process). It uses armnetwork through the real azcore pipeline.
type azurermLikeWriter struct {
	t      *testing.T
	client *armnetwork.LoadBalancersClient
	e      *azureTestEnv
	stale  *armnetwork.LoadBalancer
}

func newAzurermLikeWriter(t *testing.T, e *azureTestEnv) *azurermLikeWriter {
	c, err := armnetwork.NewLoadBalancersClient(azureTestSubscription, &azfake.TokenCredential{},
		&arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: e.fake.Transport()}})
	if err != nil {
		t.Fatal(err)
	}
	return &azurermLikeWriter{t: t, client: c, e: e}
}

// read is azurerm's GET of the whole load balancer.
func (w *azurermLikeWriter) read() {
	got, err := w.client.Get(context.Background(), "dcos-rg", "dcos-agent-lb-1234", nil)
	if err != nil {
		w.t.Fatalf("azurerm-like read: %v", err)
	}
	w.stale = &got.LoadBalancer
}

// writeBack adds azurerm's own rule "http-80" to what it read and PUTs it all without If-Match.
func (w *azurermLikeWriter) writeBack() {
	lb := w.stale
	lb.Properties.LoadBalancingRules = append(lb.Properties.LoadBalancingRules, &armnetwork.LoadBalancingRule{
		Name: to.Ptr("http-80"), Properties: &armnetwork.LoadBalancingRulePropertiesFormat{
			FrontendIPConfiguration: &armnetwork.SubResource{ID: to.Ptr(w.e.cluster.LoadBalancerID + "/frontendIPConfigurations/" + w.e.cluster.Frontend)},
			BackendAddressPool:      &armnetwork.SubResource{ID: to.Ptr(w.e.cluster.PoolID)},
			Protocol:                to.Ptr(armnetwork.TransportProtocolTCP), FrontendPort: to.Ptr[int32](80), BackendPort: to.Ptr[int32](80),
		}})
	poller, err := w.client.BeginCreateOrUpdate(context.Background(), "dcos-rg", "dcos-agent-lb-1234", *lb, nil)
	if err == nil {
		_, err = poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: time.Millisecond})
	}
	if err != nil {
		w.t.Fatalf("azurerm-like write: %v", err)
	}
}

// An azurerm-style full load-balancer write without If-Match, made from a copy read before our
// rule was written, silently removes our rule. That is the lost update this provider cannot
// prevent from its side: the next plan shows the rule as to be created, and the next apply
// restores it and leaves the other writer's rule ("http-80") and the seeded ones intact.
func TestAccAzureLBRuleOutOfBandFullWrite(t *testing.T) {
	e := newAzureTestEnv(t)
	w := newAzurermLikeWriter(t, e)
	const addr = "vamp_azure_lb_rule.sava"
	config := e.lbRuleConfig(9050, "")
	otherWritersRule := func(*terraform.State) error {
		r, ok := e.lbRules()["http-80"]
		if !ok || *r.Properties.FrontendPort != 80 {
			return fmt.Errorf("the other writer's rule http-80 is gone or changed (rules: %v)", keys(e.lbRules()))
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{
			{
				// azurerm reads the load balancer, then we write our rule.
				PreConfig: w.read,
				Config:    config,
				Check:     e.checkLBRule("sava-9050", 9050, 9050),
			},
			{
				// azurerm writes back its stale copy plus its own rule, without If-Match: Azure
				// accepts it and our rule and probe are gone. The plan shows it (drift).
				PreConfig: func() {
					w.writeBack()
					if _, ok := e.lbRules()["sava-9050"]; ok {
						t.Fatal("the unconditional full write did not remove our rule; the test shows nothing")
					}
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// The next apply restores our rule and keeps the other writer's.
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkLBRule("sava-9050", 9050, 9050), otherWritersRule, e.checkForeignUntouched()),
			},
			{
				// And then the plan is empty again.
				Config:   config,
				PlanOnly: true,
			},
		},
	})
}
