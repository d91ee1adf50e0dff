package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// waitForStoredPromotion is waitForPromotion with the gateways in etcd: the replica that holds
// the election runs the roll-out and writes each decision under <prefix>/rollouts/<gateway>
// (internal/gatewaystore), so the wait watches that key and the gateway's (no polling) and
// ends like the admin API's wait: promoted, rolled back or refused (an error with the reason),
// or the limit (an error naming it). Until the leader has written a state for the roll-out the
// apply wrote (same gateway key, same policy), the roll-out has not started.
func waitForStoredPromotion(ctx context.Context, s *storeGateways, cr clusterRollout, limit string, diags *diag.Diagnostics) {
	var last *gatewayapi.RolloutStatus
	var outcome diag.Diagnostics
	err := s.store.FollowRollout(ctx, cr.gateway, func(v gatewaystore.RolloutView) bool {
		switch {
		case v.Gateway == nil || v.Gateway.Rollout == nil:
			addNoRollout(&outcome, cr)
			return true
		case v.Record == nil:
			return false // not started yet: the leader's next tick starts it
		}
		if v.GatewayRevision <= v.RecordRevision {
			// The document is the roll-out's (its weights are its last decision's): the
			// roll-out owns the weights, so this is no other writer's change, and the next
			// write of this resource compares this revision (private state), refreshed or not.
			if revs := revisionsFrom(ctx); revs.get(cr.gateway) < v.GatewayRevision {
				revs.set(cr.gateway, v.GatewayRevision)
			}
		}
		st := v.Record.Status()
		last = &st
		return rolloutSettled(ctx, &outcome, cr, last)
	})
	diags.Append(outcome...)
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		addNotPromoted(diags, cr, limit, last,
			"no replica has started it (etcd holds no roll-out state for this policy under "+s.store.Layout.Rollout(cr.gateway)+
				"): check that the gateway replicas run and reach etcd; the one elected among them runs the roll-out")
	default:
		addAttrError(diags, cr.attrPath(), "Cannot follow the roll-out in etcd",
			fmt.Sprintf("Gateway %q: etcd (%s): %v.\n\nThe roll-out goes on in the gateway replicas. Check that etcd runs and that the provider's "+
				"etcd.endpoints (or %s) reach it, then apply again to wait for the promotion.", cr.gateway, strings.Join(s.endpoints, ", "), err, EnvEtcdEndpoints))
	}
}

// storedRollouts reads, at store revision rev (that of entries), the stored roll-out states of
// the gateways of entries that have a roll-out, by gateway; nil without any.
func (s *storeGateways) storedRollouts(ctx context.Context, entries map[string]gatewaystore.Entry, rev int64) (map[string][]byte, error) {
	some := false
	for _, e := range entries {
		some = some || e.Gateway.Rollout != nil
	}
	if !some {
		return nil, nil
	}
	resp, err := s.store.Client.Get(ctx, s.store.Layout.Rollouts(), clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if name, ok := s.store.Layout.RolloutName(string(kv.Key)); ok {
			out[name] = kv.Value
		}
	}
	return out, nil
}
