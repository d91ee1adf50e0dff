package gatewaystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// Store reads and writes gateways under one layout, for a controller (the provider).
type Store struct {
	Client *clientv3.Client
	Layout Layout
}

// Entry is one gateway as stored.
type Entry struct {
	Gateway gatewayapi.Gateway
	// ModRevision is the key's last change: compare it when writing the key back.
	ModRevision int64
	// CreateRevision is the key's creation (a gateway deleted and created again has another).
	CreateRevision int64
}

// Read returns every gateway and the store revision it was read at.
func (s Store) Read(ctx context.Context) (map[string]Entry, int64, error) {
	resp, err := s.Client.Get(ctx, s.Layout.Gateways(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: reading %s: %w", s.Layout.Gateways(), err)
	}
	out := make(map[string]Entry, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		name, ok := s.Layout.GatewayName(string(kv.Key))
		if !ok {
			continue
		}
		var gw gatewayapi.Gateway
		if err := json.Unmarshal(kv.Value, &gw); err != nil {
			return nil, 0, fmt.Errorf("etcd: key %s holds no gateway document: %w", kv.Key, err)
		}
		out[name] = Entry{Gateway: gw, ModRevision: kv.ModRevision, CreateRevision: kv.CreateRevision}
	}
	return out, resp.Header.Revision, nil
}

// Change is one gateway to write (Gateway set) or delete (Gateway nil), if its key's
// ModRevision is still Expect (0: the key must not exist).
type Change struct {
	Name    string
	Gateway *gatewayapi.Gateway
	Expect  int64
}

// ConflictError is a transaction whose compares failed: another writer changed these keys.
type ConflictError struct {
	// Found maps each gateway whose key differs from what was expected to its ModRevision now
	// (0: the key is gone).
	Found map[string]int64
}

func (e *ConflictError) Error() string {
	names := make([]string, 0, len(e.Found))
	for n, rev := range e.Found {
		names = append(names, fmt.Sprintf("%s (now at revision %d)", n, rev))
	}
	sort.Strings(names)
	return "another writer changed these gateways in etcd since they were read: " + strings.Join(names, ", ") + "; read them again and re-plan"
}

// Write commits changes in one transaction that compares every key's ModRevision with Expect;
// nothing is written unless all match. It returns the transaction's revision, or a
// *ConflictError naming the keys that differ.
func (s Store) Write(ctx context.Context, changes []Change) (int64, error) {
	if len(changes) == 0 {
		return 0, errors.New("no change to write")
	}
	cmps := make([]clientv3.Cmp, 0, len(changes))
	ops := make([]clientv3.Op, 0, len(changes))
	gets := make([]clientv3.Op, 0, len(changes))
	for _, c := range changes {
		key := s.Layout.Gateway(c.Name)
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", c.Expect))
		gets = append(gets, clientv3.OpGet(key, clientv3.WithKeysOnly()))
		if c.Gateway == nil {
			ops = append(ops, clientv3.OpDelete(key))
			continue
		}
		doc := *c.Gateway
		doc.Name, doc.Version, doc.RolloutStatus = "", 0, nil // the key names it; the server versions it
		data, err := json.Marshal(doc)
		if err != nil {
			return 0, fmt.Errorf("gateway %q: %w", c.Name, err)
		}
		ops = append(ops, clientv3.OpPut(key, string(data)))
	}
	resp, err := s.Client.Txn(ctx).If(cmps...).Then(ops...).Else(gets...).Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd: writing %d gateways: %w", len(changes), err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	found := map[string]int64{}
	for i, r := range resp.Responses {
		var now int64
		if kvs := r.GetResponseRange().GetKvs(); len(kvs) > 0 {
			now = kvs[0].ModRevision
		}
		if now != changes[i].Expect {
			found[changes[i].Name] = now
		}
	}
	return 0, &ConflictError{Found: found}
}

// Acks returns every live replica's acknowledgement and the store revision read at.
func (s Store) Acks(ctx context.Context) (map[string]Ack, int64, error) {
	resp, err := s.Client.Get(ctx, s.Layout.Replicas(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: reading %s: %w", s.Layout.Replicas(), err)
	}
	acks := make(map[string]Ack, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var a Ack
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, 0, fmt.Errorf("etcd: replica key %s holds no acknowledgement: %w", kv.Key, err)
		}
		acks[strings.TrimPrefix(string(kv.Key), s.Layout.Replicas())] = a
	}
	return acks, resp.Header.Revision, nil
}

// RejectedError is a replica that rejected the revision waited for.
type RejectedError struct {
	Replica, Gateway, Reason string
	Revision                 int64 // the revision it rejected
	Serving                  int64 // the revision it keeps serving
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("replica %s rejected revision %d (gateway %q): %s; it keeps serving revision %d", e.Replica, e.Revision, e.Gateway, e.Reason, e.Serving)
}

// LaggingError is the replicas that had not acknowledged the revision when the wait ended.
type LaggingError struct {
	Revision int64
	// Replicas maps each lagging replica to the revision it had acknowledged (0: no key: it is
	// not running, or its lease expired).
	Replicas map[string]int64
	Cause    error
}

func (e *LaggingError) Error() string {
	parts := make([]string, 0, len(e.Replicas))
	for id, rev := range e.Replicas {
		if rev == 0 {
			parts = append(parts, id+" (no acknowledgement: not running?)")
		} else {
			parts = append(parts, fmt.Sprintf("%s (at revision %d)", id, rev))
		}
	}
	sort.Strings(parts)
	return fmt.Sprintf("replicas did not apply revision %d in time: %s", e.Revision, strings.Join(parts, ", "))
}

func (e *LaggingError) Unwrap() error { return e.Cause }

// Convergence is every replica's acknowledgement of a revision and how long the wait took.
type Convergence struct {
	Acks map[string]Ack
	Took time.Duration
}

// WaitAcked waits until every live replica, and every replica in want (live or not), has
// acknowledged rev: applied, or rejected (a *RejectedError naming the first, by id). When ctx
// ends first it returns a *LaggingError naming the replicas behind. With no live replica and no
// want it returns at once with no acknowledgements. rev must be the revision of a change of a
// gateway key (Write's result): replicas acknowledge only revisions that touched gateways, so a
// revision of any other write (their own acknowledgements included) may never be reached.
//
// It keeps one watch on the acknowledgements for the whole wait, opened before it reads them
// once: each put of a replica key after that read replaces that replica's acknowledgement,
// each delete (its lease expired) drops it. Only a watch that etcd ends (compaction, a
// cancelled watch) makes it watch and read again. (The watch starts at etcd's current
// revision, so etcd streams it events as they commit; a watch from a past revision would be
// served by etcd's catch-up loop, every 100 ms.)
func (s Store) WaitAcked(ctx context.Context, rev int64, want []string) (Convergence, error) {
	start := time.Now()
	var acks map[string]Ack
	var read int64
	var wch clientv3.WatchChan
	stopWatch := func() {}
	defer func() { stopWatch() }()
	for {
		if wch == nil {
			wctx, cancel := context.WithCancel(ctx)
			stopWatch = cancel
			wch = s.Client.Watch(wctx, s.Layout.Replicas(), clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			if err := awaitCreated(ctx, wch, s.Layout.Replicas()); err != nil {
				return Convergence{Acks: acks, Took: time.Since(start)}, s.lagging(rev, want, acks, err)
			}
			got, at, err := s.Acks(ctx)
			if err != nil {
				return Convergence{Acks: acks, Took: time.Since(start)}, s.lagging(rev, want, acks, err)
			}
			acks, read = got, at
		}
		behind, rejected := judgeAcks(rev, want, acks)
		if rejected != nil {
			return Convergence{Acks: acks, Took: time.Since(start)}, rejected
		}
		if len(behind) == 0 {
			return Convergence{Acks: acks, Took: time.Since(start)}, nil
		}
		select {
		case wresp, ok := <-wch:
			if ok && !wresp.Canceled && wresp.Err() == nil {
				if err := s.applyAckEvents(acks, wresp.Events, read); err != nil {
					return Convergence{Acks: acks, Took: time.Since(start)}, s.lagging(rev, want, acks, err)
				}
				continue
			}
			if ctx.Err() != nil {
				// The watch ended with ctx: the replicas behind are the ones judged last.
				return Convergence{Acks: acks, Took: time.Since(start)}, &LaggingError{Revision: rev, Replicas: behind, Cause: ctx.Err()}
			}
			// Compacted, or cancelled by etcd: watch and read again.
			stopWatch()
			wch = nil
		case <-ctx.Done():
			return Convergence{Acks: acks, Took: time.Since(start)}, &LaggingError{Revision: rev, Replicas: behind, Cause: ctx.Err()}
		}
	}
}

// awaitCreated waits for the creation notice (WithCreatedNotify) of a watch of key.
func awaitCreated(ctx context.Context, wch clientv3.WatchChan, key string) error {
	for {
		select {
		case wresp, ok := <-wch:
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case !ok:
				return fmt.Errorf("etcd: the watch of %s closed before it started", key)
			case wresp.Err() != nil:
				return fmt.Errorf("etcd: watching %s: %w", key, wresp.Err())
			case wresp.Created:
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// judgeAcks compares acks with rev: the replicas behind (live ones and those of want; 0 for
// one without a key), or the first (by id) that rejected rev.
func judgeAcks(rev int64, want []string, acks map[string]Ack) (map[string]int64, *RejectedError) {
	ids := make([]string, 0, len(acks)+len(want))
	for id := range acks {
		ids = append(ids, id)
	}
	for _, id := range want {
		if _, ok := acks[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	behind := map[string]int64{}
	for _, id := range ids {
		a, ok := acks[id]
		switch {
		case !ok:
			behind[id] = 0
		case a.Revision < rev:
			behind[id] = a.Revision
		case a.Error != "" && a.Serving < rev:
			return nil, &RejectedError{Replica: id, Gateway: a.Gateway, Reason: a.Error, Revision: a.Revision, Serving: a.Serving}
		}
	}
	return behind, nil
}

// applyAckEvents applies a watch's events on the replica keys after revision read (acks is
// the read at read) to acks: a put is the replica's acknowledgement now, a delete (its lease
// ended) takes the replica out.
func (s Store) applyAckEvents(acks map[string]Ack, events []*clientv3.Event, read int64) error {
	for _, ev := range events {
		id, ok := strings.CutPrefix(string(ev.Kv.Key), s.Layout.Replicas())
		if !ok || id == "" || ev.Kv.ModRevision <= read {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			delete(acks, id)
			continue
		}
		var a Ack
		if err := json.Unmarshal(ev.Kv.Value, &a); err != nil {
			return fmt.Errorf("etcd: replica key %s holds no acknowledgement: %w", ev.Kv.Key, err)
		}
		acks[id] = a
	}
	return nil
}

// lagging is the *LaggingError of a wait that failed for cause: the replicas of want and, as
// far as acks (nil: none read yet) tell, the live ones behind rev.
func (s Store) lagging(rev int64, want []string, acks map[string]Ack, cause error) error {
	behind := map[string]int64{}
	for _, id := range want {
		if a := acks[id]; a.Revision < rev {
			behind[id] = a.Revision
		}
	}
	for id, a := range acks {
		if a.Revision < rev {
			behind[id] = a.Revision
		}
	}
	return &LaggingError{Revision: rev, Replicas: behind, Cause: cause}
}
