package azure

import (
	"context"
	"strings"
	"sync"
)

// keyedLocks serialises writers per Azure resource id inside this process, the way azurerm's
// locks package does for load balancers. Ids are compared case-insensitively because ARM ids are.
// Waiting honours the context, so a cancelled apply does not hang behind a slow writer.
type keyedLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

// processLocks is shared by every Client in the process: Terraform may configure more than one
// provider instance, and they all write to the same load balancers.
var processLocks = &keyedLocks{locks: map[string]chan struct{}{}}

func (k *keyedLocks) lock(ctx context.Context, id string) (unlock func(), err error) {
	key := strings.ToLower(id)
	k.mu.Lock()
	ch, ok := k.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		k.locks[key] = ch
	}
	k.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
