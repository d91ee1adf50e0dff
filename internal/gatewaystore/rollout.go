package gatewaystore

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// RolloutKey is the identity of doc's roll-out (doc is the document of gateway name): the
// policy's fingerprint, as the replicas read the policy, combined with the metric source. It is
// the Key of the RolloutRecords written for that roll-out; a document whose roll-out has another
// key starts a new one. It fails when doc has no roll-out or one that no replica would run.
//
// It reads the policy as the replicas do (spec.RolloutPolicy and spec.RolloutKey, which the
// gateway uses too; its TestEtcdElectionRolloutLeaderTicksOthersFollowAndTakeOver compares the
// two), so that a controller (the provider) can tell the record of the roll-out it wrote from an
// older one.
func RolloutKey(name string, doc gatewayapi.Gateway) (string, error) {
	if doc.Rollout == nil {
		return "", fmt.Errorf("gateway %q has no roll-out", name)
	}
	p, err := spec.RolloutPolicy(name, doc)
	if err != nil {
		return "", fmt.Errorf("gateway %q: %w", name, err)
	}
	return spec.RolloutKey(p, doc.Rollout.Metrics)
}

// Status is the record's progress as a replica's admin API shows it (GET /v1/gateways/{name}).
func (r RolloutRecord) Status() gatewayapi.RolloutStatus {
	st := r.State.Status()
	return gatewayapi.RolloutStatus{
		Phase: string(st.Phase), Step: st.Step, Steps: st.Steps,
		Canary: r.State.Policy.Canary, Weight: st.Weight, Weights: st.Weights,
		Reason: st.Reason, Checksum: r.Key,
		StartedAt: st.StartedAt, LastStepAt: st.LastStepAt, NextStepAt: st.NextStepAt, FinishedAt: st.FinishedAt,
		Requests: st.Requests, ErrorRate: st.ErrorRate, P99: st.P99,
	}
}

// RolloutView is one gateway's document and its roll-out's stored state, as of one revision.
type RolloutView struct {
	// Gateway is the document; nil when the gateway is not in the store.
	Gateway *gatewayapi.Gateway
	// Record is the stored state of the document's roll-out: written for this gateway key
	// (its CreateRevision) and this roll-out (RolloutKey). nil while there is none: the leader
	// has not started the roll-out yet, or the record is an older roll-out's.
	Record *RolloutRecord
	// Revision is the store revision the view is at.
	Revision int64
	// GatewayRevision and RecordRevision are the ModRevisions of the gateway key and of the
	// roll-out state key (0: no key). The leader writes a decision that moves weights to both
	// in one transaction: equal revisions, or a record written after (a decision that moved
	// none), say that nobody but the roll-out changed the document since its last decision.
	GatewayRevision, RecordRevision int64
}

// rolloutKeys is the state of the two keys a view is made of.
type rolloutKeys struct {
	gw, rec       []byte // nil: no key
	created       int64  // the gateway key's CreateRevision
	gwRev, recRev int64  // their ModRevisions
}

func (s Store) view(name string, k rolloutKeys, rev int64) (RolloutView, error) {
	v := RolloutView{Revision: rev, GatewayRevision: k.gwRev, RecordRevision: k.recRev}
	if k.gw == nil {
		return v, nil
	}
	var gw gatewayapi.Gateway
	if err := json.Unmarshal(k.gw, &gw); err != nil {
		return v, fmt.Errorf("etcd: key %s holds no gateway document: %w", s.Layout.Gateway(name), err)
	}
	gw.Name = name
	v.Gateway = &gw
	rec, err := recordOf(s.Layout, name, gw, k.created, k.rec)
	v.Record = rec
	return v, err
}

// recordOf is the record raw (the value of gateway name's Rollout key; nil: none) when it is
// the state of doc's roll-out: written for the gateway key created at created and for doc's
// roll-out (RolloutKey); nil otherwise.
func recordOf(l Layout, name string, doc gatewayapi.Gateway, created int64, raw []byte) (*RolloutRecord, error) {
	if raw == nil || doc.Rollout == nil {
		return nil, nil
	}
	var rec RolloutRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("etcd: key %s holds no roll-out state: %w", l.Rollout(name), err)
	}
	// A record of another roll-out, of an earlier key of the gateway, or of a document whose
	// roll-out no replica runs (no key) is not this document's.
	if key, err := RolloutKey(name, doc); err != nil || key != rec.Key || rec.GatewayCreateRevision != created {
		return nil, nil //nolint:nilerr // a roll-out no replica runs has no state: not an error of the read
	}
	return &rec, nil
}

// StatusOf is the progress of doc's roll-out (doc is gateway name's document, whose key was
// created at created) as stored in raw, the value of its Rollout key (nil: none): nil until
// the elected replica has written a state of this roll-out.
func (l Layout) StatusOf(name string, doc gatewayapi.Gateway, created int64, raw []byte) (*gatewayapi.RolloutStatus, error) {
	rec, err := recordOf(l, name, doc, created, raw)
	if rec == nil || err != nil {
		return nil, err
	}
	st := rec.Status()
	return &st, nil
}

// FollowRollout calls see with gateway name's RolloutView now and after every change of its
// document or its roll-out state, until see returns true (FollowRollout returns nil), ctx
// ends (ctx's error) or etcd fails. It opens one watch on each key at etcd's current revision,
// then reads both at one revision, and applies the events after that read; it watches and
// reads again only when etcd ends a watch (compaction, cancel).
func (s Store) FollowRollout(ctx context.Context, name string, see func(RolloutView) bool) error {
	for {
		restart, err := s.follow(ctx, name, see)
		if err != nil || !restart {
			return err
		}
	}
}

// follow is one watch of each key and one read; restart says that etcd ended a watch.
func (s Store) follow(ctx context.Context, name string, see func(RolloutView) bool) (restart bool, err error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gwKey, recKey := s.Layout.Gateway(name), s.Layout.Rollout(name)
	gwCh := s.Client.Watch(wctx, gwKey, clientv3.WithCreatedNotify())
	recCh := s.Client.Watch(wctx, recKey, clientv3.WithCreatedNotify())
	if err := awaitCreated(ctx, gwCh, gwKey); err != nil {
		return false, err
	}
	if err := awaitCreated(ctx, recCh, recKey); err != nil {
		return false, err
	}
	resp, err := s.Client.Txn(ctx).Then(clientv3.OpGet(gwKey), clientv3.OpGet(recKey)).Commit()
	if err != nil {
		return false, fmt.Errorf("etcd: reading %s and %s: %w", gwKey, recKey, err)
	}
	var k rolloutKeys
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		k.gw, k.created, k.gwRev = kvs[0].Value, kvs[0].CreateRevision, kvs[0].ModRevision
	}
	if kvs := resp.Responses[1].GetResponseRange().GetKvs(); len(kvs) > 0 {
		k.rec, k.recRev = kvs[0].Value, kvs[0].ModRevision
	}
	read := resp.Header.Revision
	v, err := s.view(name, k, read)
	if err != nil {
		return false, err
	}
	if see(v) {
		return false, nil
	}
	for {
		var wresp clientv3.WatchResponse
		var ok bool
		select {
		case wresp, ok = <-gwCh:
		case wresp, ok = <-recCh:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if !ok || wresp.Canceled || wresp.Err() != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return true, nil
		}
		changed := false
		for _, ev := range wresp.Events {
			if ev.Kv.ModRevision <= read {
				continue // in the read already
			}
			changed = true
			put := ev.Type == clientv3.EventTypePut
			switch string(ev.Kv.Key) {
			case gwKey:
				k.gw, k.created, k.gwRev = nil, 0, 0
				if put {
					k.gw, k.created, k.gwRev = ev.Kv.Value, ev.Kv.CreateRevision, ev.Kv.ModRevision
				}
			case recKey:
				k.rec, k.recRev = nil, 0
				if put {
					k.rec, k.recRev = ev.Kv.Value, ev.Kv.ModRevision
				}
			}
		}
		if !changed {
			continue // progress notification, or events the read had
		}
		v, err := s.view(name, k, wresp.Header.Revision)
		if err != nil {
			return false, err
		}
		if see(v) {
			return false, nil
		}
	}
}
