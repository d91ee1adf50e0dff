package azurefake_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure/azurefake"
)

const lbID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"

func client(t *testing.T, f *azurefake.Fake) *armnetwork.LoadBalancersClient {
	t.Helper()
	c, err := armnetwork.NewLoadBalancersClient("s1", &azfake.TokenCredential{}, &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Transport: f.Transport(), Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func TestFakeEtagsChangeAndStaleIfMatchIsRefused(t *testing.T) {
	f := azurefake.New()
	f.SeedLoadBalancer(azurefake.LoadBalancer(lbID, []string{"fe"}, []string{"pool"}))
	c := client(t, f)
	ctx := context.Background()
	got, err := c.Get(ctx, "rg", "lb", nil)
	if err != nil || got.Etag == nil {
		t.Fatalf("get: %v", err)
	}
	first := *got.Etag
	put := func(etag string) error {
		p, err := c.BeginCreateOrUpdate(policy.WithHTTPHeader(ctx, http.Header{"If-Match": {etag}}), "rg", "lb", got.LoadBalancer, nil)
		if err != nil {
			return err
		}
		_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Millisecond})
		return err
	}
	if err := put(first); err != nil {
		t.Fatalf("write with the current etag: %v", err)
	}
	if now := *f.GetLoadBalancer(lbID).Etag; now == first {
		t.Errorf("etag did not change on write")
	}
	if err := put(first); status(err) != http.StatusPreconditionFailed {
		t.Errorf("write with a stale etag: %v, want 412", err)
	}
	if s := f.Stats(); s.PreconditionFailed != 1 || s.LBWrites != 1 || s.Polls < 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestFakeRefusesDanglingReferences(t *testing.T) {
	f := azurefake.New()
	f.SeedLoadBalancer(azurefake.LoadBalancer(lbID, []string{"fe"}, []string{"pool"}))
	c := client(t, f)
	lb := f.GetLoadBalancer(lbID)
	lb.Properties.LoadBalancingRules = []*armnetwork.LoadBalancingRule{{Name: to.Ptr("r"), Properties: &armnetwork.LoadBalancingRulePropertiesFormat{
		FrontendIPConfiguration: &armnetwork.SubResource{ID: to.Ptr(lbID + "/frontendIPConfigurations/fe")},
		Probe:                   &armnetwork.SubResource{ID: to.Ptr(lbID + "/probes/missing")},
		Protocol:                to.Ptr(armnetwork.TransportProtocolTCP), FrontendPort: to.Ptr[int32](80), BackendPort: to.Ptr[int32](80),
	}}}
	_, err := c.BeginCreateOrUpdate(context.Background(), "rg", "lb", *lb, nil)
	if status(err) != http.StatusBadRequest {
		t.Fatalf("rule referencing a missing probe: %v, want 400", err)
	}
}

func TestFakeThrottlesAndRefusesOverlappingOperations(t *testing.T) {
	f := azurefake.New()
	f.SeedLoadBalancer(azurefake.LoadBalancer(lbID, []string{"fe"}, nil))
	c := client(t, f)
	ctx := context.Background()
	f.InjectThrottles("LoadBalancersClient.Get", 1)
	if _, err := c.Get(ctx, "rg", "lb", nil); status(err) != http.StatusTooManyRequests {
		t.Fatalf("injected throttle: %v", err)
	}
	lb := f.GetLoadBalancer(lbID)
	p, err := c.BeginCreateOrUpdate(ctx, "rg", "lb", *lb, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first operation has not been polled to completion: a second write must wait.
	if _, err := c.BeginCreateOrUpdate(ctx, "rg", "lb", *lb, nil); status(err) != http.StatusTooManyRequests {
		t.Fatalf("overlapping write: %v, want 429 AnotherOperationInProgress", err)
	}
	if _, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	p, err = c.BeginCreateOrUpdate(ctx, "rg", "lb", *lb, nil)
	if err != nil {
		t.Fatalf("write after the first completed: %v", err)
	}
	if _, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.Throttled != 1 || s.Busy != 1 || s.LBWrites != 2 {
		t.Errorf("stats %+v", s)
	}
}
