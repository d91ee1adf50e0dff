package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

// In store mode one replica, the holder of an etcd election on the layout's election prefix,
// ticks roll-outs and SLA scaling. It writes every roll-out decision to the store (the gateway's
// document with the new weights and the roll-out's state, in one transaction compared on both
// keys' revisions and on its leader key), and applies it, like every other replica, from the
// watch. When it dies its session's lease ends within EtcdConfig.LeaseTTL, another replica wins
// the election and goes on from the stored state, which every replica already runs.

// errNotLeader refuses a roll-out decision of a replica that does not hold the election.
var errNotLeader = errors.New("this replica does not lead the election; the leader ticks roll-outs")

// LeadershipLostError is a roll-out write refused by etcd because the writer's leader key is
// gone or belongs to another campaign: a deposed leader's decision, not written.
type LeadershipLostError struct {
	Replica   string
	LeaderKey string
}

func (e *LeadershipLostError) Error() string {
	return fmt.Sprintf("replica %s no longer leads (its leader key %s is gone); its roll-out decision was not written", e.Replica, e.LeaderKey)
}

// RolloutConflictError is a roll-out write refused because the gateway or its roll-out state
// changed in the store since this replica saw them; the decision is retried at the next tick on
// what the watch brings.
type RolloutConflictError struct {
	Gateway string
}

func (e *RolloutConflictError) Error() string {
	return fmt.Sprintf("gateway %q or its roll-out state changed in etcd since this replica saw it; the roll-out decision is retried at the next tick", e.Gateway)
}

// campaign keeps this replica in the election until ctx ends: a session on a lease of LeaseTTL,
// a campaign that returns once this replica leads, and leadership until the session ends.
func (st *etcdStore) campaign(ctx context.Context, s *Server) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		led, err := st.lead(ctx, s)
		if ctx.Err() != nil {
			return
		}
		if led {
			backoff = 100 * time.Millisecond
		}
		s.log.Warn("etcd: out of the roll-out election; campaigning again", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// lead runs one session: it campaigns, leads until the session or ctx ends, then resigns.
// led says whether it got to lead.
func (st *etcdStore) lead(ctx context.Context, s *Server) (led bool, err error) {
	sess, err := concurrency.NewSession(st.client, concurrency.WithTTL(int(st.cfg.LeaseTTL/time.Second)), concurrency.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("opening the election session: %w", err)
	}
	defer func() {
		// Revoke the session's lease with a context of its own: ctx may be over already.
		sess.Orphan()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.cfg.RequestTimeout)
		defer cancel()
		if _, err := st.client.Revoke(rctx, sess.Lease()); err != nil {
			s.log.Debug("etcd: election lease not revoked; it expires by itself", "error", err)
		}
	}()
	el := concurrency.NewElection(sess, st.layout.Election())
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	if err := el.Campaign(cctx, st.cfg.ReplicaID); err != nil {
		return false, fmt.Errorf("campaigning: %w", err)
	}
	select {
	case <-sess.Done():
		return false, errors.New("the election session ended while campaigning")
	default:
	}
	st.leader.Store(&leadership{key: el.Key(), rev: el.Rev()})
	s.log.Info("etcd: this replica leads: it ticks roll-outs and SLA scaling", "replica", st.cfg.ReplicaID, "leader_key", el.Key())
	select {
	case <-sess.Done():
		st.leader.Store(nil)
		s.log.Warn("etcd: the election session's lease ended; this replica no longer ticks roll-outs", "replica", st.cfg.ReplicaID)
		return true, errors.New("the election session's lease ended (etcd unreachable for longer than the lease?)")
	case <-ctx.Done():
		st.leader.Store(nil)
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), st.cfg.RequestTimeout)
		defer rcancel()
		if err := el.Resign(rctx); err != nil {
			s.log.Debug("etcd: not resigned; the lease hands the election over", "error", err)
		}
		return true, nil
	}
}

// storeRollout is the leader's Runner.Apply in store mode: the decision goes into the store, and
// from there (the watch) into every replica, this one included. weights nil writes the state
// alone.
func (s *Server) storeRollout(ctx context.Context, run *rolloutRun, weights map[string]int, state rollout.State) error {
	lead := s.store.leader.Load()
	if lead == nil {
		return errNotLeader
	}
	s.mu.Lock()
	e := s.gateways[run.gateway]
	if e == nil || e.run != run {
		s.mu.Unlock()
		return errRolloutReplaced
	}
	doc := e.doc
	s.mu.Unlock()
	if weights != nil {
		doc.Routes = slices.Clone(doc.Routes)
		for i, r := range doc.Routes {
			if w, ok := weights[r.Name]; ok {
				doc.Routes[i].Weight = w
			}
		}
	}
	rev, err := s.store.writeRollout(ctx, *lead, run.gateway, run.key, &doc, weights != nil, state)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*s.store.cfg.RequestTimeout)
	defer cancel()
	if err := s.store.waitProcessed(wctx, rev); err != nil {
		return fmt.Errorf("the roll-out decision is in the store (revision %d) but this replica did not apply it: %w", rev, err)
	}
	s.log.Info("roll-out decision written to the store", "gateway", run.gateway, "phase", state.Phase, "step", state.Step, "weights", weights, "revision", rev)
	return nil
}

// writeRollout writes a roll-out decision as lead: the roll-out's state and, withDoc, the
// gateway's document, if the gateway key, the state key and the leader key are as this replica
// saw them. It returns the transaction's revision, a *LeadershipLostError or a
// *RolloutConflictError.
func (st *etcdStore) writeRollout(ctx context.Context, lead leadership, name, key string, doc *gatewayapi.Gateway, withDoc bool, state rollout.State) (int64, error) {
	st.mu.Lock()
	gwRev, created := st.storeRev[name], st.created[name]
	roRev := st.rollouts[name].modRev
	st.mu.Unlock()
	if gwRev == 0 {
		return 0, &RolloutConflictError{Gateway: name}
	}
	rec, err := json.Marshal(gatewaystore.RolloutRecord{GatewayCreateRevision: created, Key: key, Writer: st.cfg.ReplicaID, State: state})
	if err != nil {
		return 0, err
	}
	gwKey, roKey := st.layout.Gateway(name), st.layout.Rollout(name)
	ops := []clientv3.Op{clientv3.OpPut(roKey, string(rec))}
	if withDoc {
		d := *doc
		d.Name, d.Version, d.RolloutStatus = "", 0, nil // the key names it; the server versions it
		data, err := json.Marshal(d)
		if err != nil {
			return 0, err
		}
		ops = append(ops, clientv3.OpPut(gwKey, string(data)))
	}
	rctx, cancel := context.WithTimeout(ctx, st.cfg.RequestTimeout)
	defer cancel()
	resp, err := st.client.Txn(rctx).
		If(
			clientv3.Compare(clientv3.CreateRevision(lead.key), "=", lead.rev),
			clientv3.Compare(clientv3.ModRevision(gwKey), "=", gwRev),
			clientv3.Compare(clientv3.ModRevision(roKey), "=", roRev),
		).
		Then(ops...).
		Else(clientv3.OpGet(lead.key, clientv3.WithKeysOnly())).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd: writing the roll-out decision of %q: %w", name, err)
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().GetKvs()
		if len(kvs) == 0 || kvs[0].CreateRevision != lead.rev {
			return 0, &LeadershipLostError{Replica: st.cfg.ReplicaID, LeaderKey: lead.key}
		}
		return 0, &RolloutConflictError{Gateway: name}
	}
	st.writes.Add(1)
	return resp.Header.Revision, nil
}

// StoreLeader reports whether this replica holds the store's roll-out election (false without a
// store).
func (s *Server) StoreLeader() bool { return s.store != nil && s.store.isLeader() }

// ticks reports whether this replica ticks roll-outs and SLA scaling: always without a store,
// only as the elected leader with one.
func (s *Server) ticks() bool { return s.store == nil || s.store.isLeader() }
