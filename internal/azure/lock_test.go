package azure

import (
	"context"
	"errors"
	"testing"
)

func TestLockIsPerLoadBalancerAndHonoursCancellation(t *testing.T) {
	k := &keyedLocks{locks: map[string]chan struct{}{}}
	unlock, err := k.lock(context.Background(), "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/LB")
	if err != nil {
		t.Fatal(err)
	}
	// Another load balancer is not blocked.
	other, err := k.lock(context.Background(), "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/other")
	if err != nil {
		t.Fatal(err)
	}
	other()
	// The same one, spelt differently, is: a cancelled waiter gives up instead of hanging.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.lock(ctx, "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb"); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting on a held lock with a cancelled context: %v", err)
	}
	unlock()
	again, err := k.lock(context.Background(), "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb")
	if err != nil {
		t.Fatalf("lock not free after unlock: %v", err)
	}
	again()
}
