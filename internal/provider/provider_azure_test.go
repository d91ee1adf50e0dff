package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
	"github.com/vamp-canary/terraform-provider-vamp/internal/azure/azurefake"
)

const azureTestSubscription = "00000000-0000-0000-0000-00000000a2e1"

// azureTestEnv is a provider whose Azure client talks to a stateful fake of the network
// resource provider through the real azcore pipeline (retries, If-Match, LRO polling).
type azureTestEnv struct {
	fake      *azurefake.Fake
	cluster   azurefake.Cluster
	factories map[string]func() (tfprotov6.ProviderServer, error)
}

func newAzureTestEnv(t *testing.T) *azureTestEnv {
	t.Helper()
	f := azurefake.New()
	retry := azure.DefaultRetry()
	retry.RetryDelay, retry.MaxRetryDelay = time.Millisecond, 10*time.Millisecond
	client, err := azure.NewClient(azureTestSubscription, &azfake.TokenCredential{}, azure.Options{
		Transport: f.Transport(), Retry: retry, PollFrequency: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &azureTestEnv{
		fake:    f,
		cluster: f.SeedCluster(azureTestSubscription),
		factories: map[string]func() (tfprotov6.ProviderServer, error){
			"vamp": providerserver.NewProtocol6WithError(NewWithOptions("test", Options{Azure: client})()),
		},
	}
}

// lbRules returns the stored load balancer's rules by name.
func (e *azureTestEnv) lbRules() map[string]*armnetwork.LoadBalancingRule {
	out := map[string]*armnetwork.LoadBalancingRule{}
	for _, r := range e.fake.GetLoadBalancer(e.cluster.LoadBalancerID).Properties.LoadBalancingRules {
		out[*r.Name] = r
	}
	return out
}

func (e *azureTestEnv) lbProbes() map[string]*armnetwork.Probe {
	out := map[string]*armnetwork.Probe{}
	for _, p := range e.fake.GetLoadBalancer(e.cluster.LoadBalancerID).Properties.Probes {
		out[*p.Name] = p
	}
	return out
}

func (e *azureTestEnv) nsgRules() map[string]*armnetwork.SecurityRule {
	out := map[string]*armnetwork.SecurityRule{}
	for _, r := range e.fake.SecurityRules(e.cluster.NSGID) {
		out[*r.Name] = r
	}
	return out
}

// checkForeignUntouched: the rules the provider does not own are still there as seeded.
func (e *azureTestEnv) checkForeignUntouched() resource.TestCheckFunc {
	return func(*terraform.State) error {
		ssh, ok := e.lbRules()["ssh"]
		if !ok || *ssh.Properties.FrontendPort != 22 || !strings.HasSuffix(*ssh.Properties.Probe.ID, "/ssh-probe") {
			return fmt.Errorf("foreign load-balancing rule changed or gone: %+v", ssh)
		}
		if p, ok := e.lbProbes()["ssh-probe"]; !ok || *p.Properties.Port != 22 {
			return fmt.Errorf("foreign probe changed or gone")
		}
		if r, ok := e.nsgRules()["allow-ssh"]; !ok || *r.Properties.Priority != 100 {
			return fmt.Errorf("foreign security rule changed or gone")
		}
		return nil
	}
}

// errorLike matches an error that contains parts in order, whatever Terraform's line wrapping.
func errorLike(parts ...string) *regexp.Regexp {
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(regexp.QuoteMeta(p), " ", `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

func TestAzureFieldPath(t *testing.T) {
	for field, want := range map[string]path.Path{
		"frontend_port":               path.Root("frontend_port"),
		"probe.port":                  path.Root("probe").AtName("port"),
		"backend_address_pool_ids[1]": path.Root("backend_address_pool_ids"),
	} {
		if got := fieldPath(path.Empty(), field); !got.Equal(want) {
			t.Errorf("fieldPath(%q) = %s, want %s", field, got, want)
		}
	}
}

// The azure block's attributes reach the provider; a bad environment fails at plan with its path.
func TestAccAzureProviderBlock(t *testing.T) {
	e := newAzureTestEnv(t)
	nsg := func(env string) string {
		return fmt.Sprintf(`
provider "vamp" {
  azure {
    subscription_id = %q
    environment     = %q
    tenant_id       = "00000000-0000-0000-0000-0000000000t1"
    client_id       = "00000000-0000-0000-0000-0000000000c1"
    client_secret   = "not-a-real-secret"
  }
}
resource "vamp_azure_nsg_rule" "sava" {
  network_security_group_id = %q
  name                      = "allow-sava-9050"
  priority                  = 200
  destination_port_ranges   = ["9050"]
  source_address_prefixes   = ["Internet"]
}
`, azureTestSubscription, env, e.cluster.NSGID)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: e.factories,
		Steps: []resource.TestStep{
			{Config: nsg("german"), PlanOnly: true, ExpectError: errorLike("azure.environment", "value must be one of")},
			{Config: nsg("china"), Check: resource.TestCheckResourceAttr("vamp_azure_nsg_rule.sava", "priority", "200")},
		},
	})
}
