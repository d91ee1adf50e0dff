package azure_test

import (
	"context"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

// BenchmarkLBRuleCreateDelete is one read-splice-write-poll cycle each way through the real azcore
// pipeline and the fake: the provider's own overhead per rule, without Azure's latency.
func BenchmarkLBRuleCreateDelete(b *testing.B) {
	f := seededFake()
	c, err := azure.NewClient(sub, &azfake.TokenCredential{}, azure.Options{Transport: f.Transport(), Retry: testRetry(), PollFrequency: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spec := gatewayRule("sava", 9050)
	for b.Loop() {
		if _, err := c.CreateLBRule(ctx, spec); err != nil {
			b.Fatal(err)
		}
		if err := c.DeleteLBRule(ctx, lbID, "sava", "sava-probe"); err != nil {
			b.Fatal(err)
		}
	}
}
