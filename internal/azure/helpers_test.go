package azure_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
	"github.com/vamp-canary/terraform-provider-vamp/internal/azure/azurefake"
)

const (
	sub      = "00000000-0000-0000-0000-00000000a2e1"
	lbID     = "/subscriptions/" + sub + "/resourceGroups/dcos-rg/providers/Microsoft.Network/loadBalancers/dcos-agent-lb-1234"
	poolID   = lbID + "/backendAddressPools/dcos-agent-pool"
	frontend = "dcos-agent-lb-frontend"
	nsgID    = "/subscriptions/" + sub + "/resourceGroups/dcos-rg/providers/Microsoft.Network/networkSecurityGroups/dcos-agent-public-nsg-1234"
)

// testRetry retries like production but without the waiting.
func testRetry() policy.RetryOptions {
	r := azure.DefaultRetry()
	r.RetryDelay, r.MaxRetryDelay = time.Millisecond, 5*time.Millisecond
	return r
}

func newClient(t *testing.T, f *azurefake.Fake, tweak ...func(*azure.Options)) *azure.Client {
	t.Helper()
	opts := azure.Options{Transport: f.Transport(), Retry: testRetry(), PollFrequency: time.Millisecond}
	for _, fn := range tweak {
		fn(&opts)
	}
	c, err := azure.NewClient(sub, &azfake.TokenCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// seededFake has the agents' load balancer with an SSH rule and probe that belong to someone
// else, and the public agents' NSG with a foreign rule at priority 100.
func seededFake() *azurefake.Fake {
	f := azurefake.New()
	if c := f.SeedCluster(sub); c.LoadBalancerID != lbID || c.PoolID != poolID || c.NSGID != nsgID || c.Frontend != frontend {
		panic(fmt.Sprintf("test ids out of step with azurefake.SeedCluster: %+v", c))
	}
	return f
}

func gatewayRule(name string, port int32) azure.LBRuleSpec {
	return azure.LBRuleSpec{
		LoadBalancerID: lbID, Name: name, FrontendIPConfigurationName: frontend,
		BackendPoolIDs: []string{poolID}, Protocol: "Tcp", FrontendPort: port,
		Probe: &azure.ProbeSpec{Name: name + "-probe", Protocol: "Tcp", Port: port},
	}
}

func ruleNames(lb *armnetwork.LoadBalancer) []string {
	var names []string
	for _, r := range lb.Properties.LoadBalancingRules {
		names = append(names, *r.Name)
	}
	return names
}

func probeNames(lb *armnetwork.LoadBalancer) []string {
	var names []string
	for _, p := range lb.Properties.Probes {
		names = append(names, *p.Name)
	}
	return names
}

// foreignJSON renders the foreign rule and probe without the fields Azure rewrites on every
// write (etag, provisioning state), to show they were carried over untouched.
func foreignJSON(t *testing.T, lb *armnetwork.LoadBalancer) string {
	t.Helper()
	var parts []string
	for _, r := range lb.Properties.LoadBalancingRules {
		if *r.Name == "ssh" {
			p := *r.Properties
			p.ProvisioningState = nil
			b, _ := json.Marshal(p)
			parts = append(parts, string(b))
		}
	}
	for _, pr := range lb.Properties.Probes {
		if *pr.Name == "ssh-probe" {
			p := *pr.Properties
			p.ProvisioningState = nil
			b, _ := json.Marshal(p)
			parts = append(parts, string(b))
		}
	}
	if len(parts) != 2 {
		t.Fatalf("foreign rule or probe missing: rules %v probes %v", ruleNames(lb), probeNames(lb))
	}
	return strings.Join(parts, "\n")
}

func wantFieldError(t *testing.T, err error, field string, msgParts ...string) {
	t.Helper()
	var fe *azure.FieldError
	var ce *azure.ConflictError
	got := ""
	switch {
	case errors.As(err, &ce):
		got = ce.Field
	case errors.As(err, &fe):
		got = fe.Field
	default:
		t.Fatalf("want an error for field %q, got %v", field, err)
	}
	if got != field {
		// errors.Join may hold several: look for the field among them
		found := false
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				if errors.As(e, &fe) && fe.Field == field {
					found, err = true, e
				}
			}
		}
		if !found {
			t.Fatalf("want an error for field %q, got %v", field, err)
		}
	}
	for _, p := range msgParts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err.Error(), p)
		}
	}
}
