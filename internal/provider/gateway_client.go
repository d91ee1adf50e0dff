package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// gatewayClient is where the resources read and write gateways: one gateway's admin API
// (adminGateways) or etcd, which every replica follows (storeGateways). The resources do not
// know which: a missing gateway is gatewayapi.IsNotFound in both.
type gatewayClient interface {
	// Get returns a gateway; gatewayapi.IsNotFound(err) when there is none.
	Get(ctx context.Context, name string) (gatewayapi.Gateway, error)
	// List returns every gateway.
	List(ctx context.Context) ([]gatewayapi.Gateway, error)
	// Put stores one gateway whole.
	Put(ctx context.Context, name string, gw gatewayapi.Gateway) (gatewayapi.Gateway, error)
	// Delete removes one gateway; a missing one is not an error.
	Delete(ctx context.Context, name string) error
	// Write makes several changes as one: the admin API takes them one request at a time, in
	// order; etcd takes them in one transaction that every replica applies at once. A failed
	// change is a *gatewayWriteError naming it.
	Write(ctx context.Context, changes []gatewayChange) error
	// tracksRevisions reports whether the resources record the revisions they read (in their
	// private state) for the next write to compare: true for etcd.
	tracksRevisions() bool
}

// gatewayChange is one gateway to put (Gateway set) or delete (Gateway nil).
type gatewayChange struct {
	Name    string
	Gateway *gatewayapi.Gateway
}

// gatewayWriteError is a change of Write that failed: which request and which gateway.
type gatewayWriteError struct {
	Method, Name string
	Err          error
}

func (e *gatewayWriteError) Error() string {
	return e.Method + " gateway " + quote(e.Name) + ": " + e.Err.Error()
}
func (e *gatewayWriteError) Unwrap() error { return e.Err }

// addWriteError reports a failed Write with addAPIError's advice.
func addWriteError(diags *diag.Diagnostics, err error) {
	var we *gatewayWriteError
	if errors.As(err, &we) {
		addAPIError(diags, we.Method, "gateway "+quote(we.Name), we.Err)
		return
	}
	addAPIError(diags, "WRITE", "gateways", err)
}

// adminGateways is the gateway admin API of one gateway.
type adminGateways struct{ *gatewayapi.Client }

func (a adminGateways) tracksRevisions() bool { return false }

func (a adminGateways) Write(ctx context.Context, changes []gatewayChange) error {
	for _, c := range changes {
		if c.Gateway == nil {
			if err := a.Delete(ctx, c.Name); err != nil {
				return &gatewayWriteError{Method: http.MethodDelete, Name: c.Name, Err: err}
			}
			continue
		}
		if _, err := a.Put(ctx, c.Name, *c.Gateway); err != nil {
			return &gatewayWriteError{Method: http.MethodPut, Name: c.Name, Err: err}
		}
	}
	return nil
}

// storeGateways keeps the gateways in etcd (internal/gatewaystore's layout); every replica of the
// gateway follows the store and acknowledges each revision. A write is one transaction that
// compares each key's revision with the one this Terraform run read (gatewayRevisions in the
// context, from the resource's private state), then waits until every live replica, and every
// one of want, has applied it.
type storeGateways struct {
	store     gatewaystore.Store
	endpoints []string
	// want are replicas that must acknowledge every change, live or not (the etcd block's
	// replicas).
	want []string
}

func (s *storeGateways) tracksRevisions() bool { return true }

// etcdRequestTimeout bounds each request to etcd (a read, a transaction), as etcdctl's
// --command-timeout does: the etcd client waits for a connection rather than failing while etcd
// is down, so without a bound a refresh would wait forever and an apply until its timeouts.
// Waiting for the replicas' acknowledgements is bounded by the operation's timeouts instead.
const etcdRequestTimeout = 5 * time.Second

// request is ctx bounded for one request to etcd.
func (s *storeGateways) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, etcdRequestTimeout)
}

// etcdFailed is the error of a request made with request's context: an *etcdError naming the
// endpoints, and the request's bound when that ended it.
func (s *storeGateways) etcdFailed(parent, req context.Context, err error) error {
	if errors.Is(req.Err(), context.DeadlineExceeded) && parent.Err() == nil {
		err = fmt.Errorf("no answer within %s (is etcd running and reachable?): %w", etcdRequestTimeout, err)
	}
	return &etcdError{Endpoints: s.endpoints, Err: err}
}

// etcdError is etcd that did not answer (or answered with an error) a read or a write.
type etcdError struct {
	Endpoints []string
	Err       error
}

func (e *etcdError) Error() string {
	return "etcd (" + strings.Join(e.Endpoints, ", ") + "): " + e.Err.Error()
}
func (e *etcdError) Unwrap() error { return e.Err }

func (s *storeGateways) notFound(name string) error {
	return &gatewayapi.APIError{Status: http.StatusNotFound, Body: gatewayapi.Error{Error: fmt.Sprintf("gateway %q is not in etcd under %s", name, s.store.Layout.Gateways())}}
}

func decodeStored(name string, raw []byte, modRev int64) (gatewayapi.Gateway, error) {
	var gw gatewayapi.Gateway
	if err := json.Unmarshal(raw, &gw); err != nil {
		return gw, fmt.Errorf("etcd key of gateway %q holds no gateway document: %w", name, err)
	}
	gw.Name, gw.Version = name, modRev
	return gw, nil
}

func (s *storeGateways) Get(ctx context.Context, name string) (gatewayapi.Gateway, error) {
	rctx, cancel := s.request(ctx)
	defer cancel()
	// The document and its roll-out's stored state, at one revision.
	resp, err := s.store.Client.Txn(rctx).Then(clientv3.OpGet(s.store.Layout.Gateway(name)), clientv3.OpGet(s.store.Layout.Rollout(name))).Commit()
	if err != nil {
		return gatewayapi.Gateway{}, s.etcdFailed(ctx, rctx, err)
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return gatewayapi.Gateway{}, s.notFound(name)
	}
	kv := kvs[0]
	gw, err := decodeStored(name, kv.Value, kv.ModRevision)
	if err != nil {
		return gw, err
	}
	var rec []byte
	if rkvs := resp.Responses[1].GetResponseRange().GetKvs(); len(rkvs) > 0 {
		rec = rkvs[0].Value
	}
	if gw.RolloutStatus, err = s.store.Layout.StatusOf(name, gw, kv.CreateRevision, rec); err != nil {
		return gw, err
	}
	revisionsFrom(ctx).saw(name, kv.ModRevision)
	return gw, nil
}

func (s *storeGateways) List(ctx context.Context) ([]gatewayapi.Gateway, error) {
	rctx, cancel := s.request(ctx)
	defer cancel()
	entries, rev, err := s.store.Read(rctx)
	if err != nil {
		return nil, s.etcdFailed(ctx, rctx, err)
	}
	records, err := s.storedRollouts(rctx, entries, rev) // deployment_rollout_etcd.go
	if err != nil {
		return nil, s.etcdFailed(ctx, rctx, err)
	}
	revs := revisionsFrom(ctx)
	out := make([]gatewayapi.Gateway, 0, len(entries))
	for name, e := range entries {
		gw := e.Gateway
		gw.Name, gw.Version = name, e.ModRevision
		if gw.RolloutStatus, err = s.store.Layout.StatusOf(name, gw, e.CreateRevision, records[name]); err != nil {
			return nil, err
		}
		revs.saw(name, e.ModRevision)
		out = append(out, gw)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *storeGateways) Put(ctx context.Context, name string, gw gatewayapi.Gateway) (gatewayapi.Gateway, error) {
	if err := s.Write(ctx, []gatewayChange{{Name: name, Gateway: &gw}}); err != nil {
		var we *gatewayWriteError
		if errors.As(err, &we) {
			err = we.Err
		}
		return gatewayapi.Gateway{}, err
	}
	gw.Name, gw.Version = name, revisionsFrom(ctx).get(name)
	return gw, nil
}

func (s *storeGateways) Delete(ctx context.Context, name string) error {
	err := s.Write(ctx, []gatewayChange{{Name: name}})
	var we *gatewayWriteError
	if errors.As(err, &we) {
		err = we.Err
	}
	return err
}

// Write commits changes in one transaction and waits for the replicas. Each key is compared
// with the revision this run read it at (its resource's private state); a key the run has not
// read is compared with its revision now.
func (s *storeGateways) Write(ctx context.Context, changes []gatewayChange) error {
	if len(changes) == 0 {
		return nil
	}
	revs := revisionsFrom(ctx)
	// The current value of every key: the revision to compare for a key this run has not read,
	// and what to put back if a replica rejects the change.
	ops := make([]clientv3.Op, len(changes))
	for i, c := range changes {
		ops[i] = clientv3.OpGet(s.store.Layout.Gateway(c.Name))
	}
	rctx, cancel := s.request(ctx)
	cur, err := s.store.Client.Txn(rctx).Then(ops...).Commit()
	cancel()
	if err != nil {
		return &gatewayWriteError{Method: "WRITE", Name: changes[0].Name, Err: s.etcdFailed(ctx, rctx, err)}
	}
	before := make([]priorValue, len(changes))
	var txn []gatewaystore.Change
	for i, c := range changes {
		if kvs := cur.Responses[i].GetResponseRange().GetKvs(); len(kvs) > 0 {
			before[i] = priorValue{raw: kvs[0].Value, modRev: kvs[0].ModRevision}
		}
		expect, read := revs.lookup(c.Name)
		if !read {
			expect = before[i].modRev
		}
		if c.Gateway == nil && before[i].modRev == 0 {
			continue // deleting what is not there (also when another writer deleted it)
		}
		txn = append(txn, gatewaystore.Change{Name: c.Name, Gateway: c.Gateway, Expect: expect})
	}
	if len(txn) == 0 {
		return nil
	}
	rctx, cancel = s.request(ctx)
	rev, err := s.store.Write(rctx, txn)
	cancel()
	var conflict *gatewaystore.ConflictError
	if errors.As(err, &conflict) {
		names := make([]string, 0, len(conflict.Found))
		for n := range conflict.Found {
			names = append(names, n)
		}
		sort.Strings(names)
		read, _ := revs.lookup(names[0])
		return &gatewayWriteError{Method: "WRITE", Name: names[0], Err: &storeConflictError{Conflict: conflict, Read: read}}
	}
	if err != nil {
		return &gatewayWriteError{Method: "WRITE", Name: txn[0].Name, Err: s.etcdFailed(ctx, rctx, err)}
	}
	for _, c := range txn {
		if c.Gateway == nil {
			revs.forget(c.Name)
		} else {
			revs.set(c.Name, rev)
		}
	}
	conv, err := s.store.WaitAcked(ctx, rev, s.want)
	var rejected *gatewaystore.RejectedError
	if errors.As(err, &rejected) {
		// The replicas that applied it go back to what was there, so that they agree again
		// with the one that rejected it; the error names the replica and its reason.
		s.revert(context.WithoutCancel(ctx), rev, txn, changes, before)
		return &gatewayWriteError{Method: "WRITE", Name: firstNonEmpty(rejected.Gateway, txn[0].Name), Err: &storeReplicaError{Err: err, Revision: rev}}
	}
	if err != nil {
		return &gatewayWriteError{Method: "WRITE", Name: txn[0].Name, Err: &storeReplicaError{Err: err, Revision: rev}}
	}
	convergenceFrom(ctx).record(rev, conv)
	ids := make([]string, 0, len(conv.Acks))
	for id := range conv.Acks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fields := map[string]any{
		"revision": rev, "gateways": len(txn), "replicas": strings.Join(ids, ","),
		"converged": fmt.Sprintf("%d of %d", len(ids), len(ids)), "took": conv.Took.String(),
	}
	if len(ids) == 0 {
		tflog.Warn(ctx, "etcd: the change is stored, but no gateway replica is running to acknowledge it", fields)
		return nil
	}
	tflog.Info(ctx, "etcd: every gateway replica serves the change", fields)
	return nil
}

type priorValue struct {
	raw    []byte // nil: the key did not exist
	modRev int64
}

// revert puts back what the keys held before the transaction at rev, if nobody changed them
// since, and waits briefly for the replicas to apply that.
func (s *storeGateways) revert(ctx context.Context, rev int64, txn []gatewaystore.Change, changes []gatewayChange, before []priorValue) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	prior := map[string]priorValue{}
	for i, c := range changes {
		prior[c.Name] = before[i]
	}
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, c := range txn {
		key := s.store.Layout.Gateway(c.Name)
		if c.Gateway == nil {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", 0))
		} else {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
		}
		if p := prior[c.Name]; p.raw != nil {
			ops = append(ops, clientv3.OpPut(key, string(p.raw)))
		} else {
			ops = append(ops, clientv3.OpDelete(key))
		}
	}
	resp, err := s.store.Client.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil || !resp.Succeeded {
		tflog.Warn(ctx, "etcd: the rejected change was not taken out of the store (another writer changed it since, or etcd failed)", map[string]any{"revision": rev, "error": fmt.Sprint(err)})
		return
	}
	revs := revisionsFrom(ctx)
	for _, c := range txn {
		if prior[c.Name].raw != nil {
			revs.set(c.Name, resp.Header.Revision)
		} else {
			revs.forget(c.Name)
		}
	}
	if _, err := s.store.WaitAcked(ctx, resp.Header.Revision, nil); err != nil {
		tflog.Warn(ctx, "etcd: replicas did not confirm the rejected change's removal", map[string]any{"revision": resp.Header.Revision, "error": err.Error()})
	}
}

// storeConflictError is a write refused because another writer changed a gateway since this
// run read it.
type storeConflictError struct {
	Conflict *gatewaystore.ConflictError
	Read     int64 // the revision this run read of the first gateway named (0: not read)
}

func (e *storeConflictError) Error() string {
	names := make([]string, 0, len(e.Conflict.Found))
	for n, rev := range e.Conflict.Found {
		names = append(names, fmt.Sprintf("%s (now at revision %d)", quote(n), rev))
	}
	sort.Strings(names)
	return "another writer changed gateway " + strings.Join(names, ", ") + " in etcd since this plan read it"
}
func (e *storeConflictError) Unwrap() error { return e.Conflict }

// storeReplicaError is a stored change that a replica rejected or did not apply in time.
type storeReplicaError struct {
	Err      error // *gatewaystore.RejectedError or *gatewaystore.LaggingError
	Revision int64
}

func (e *storeReplicaError) Error() string { return e.Err.Error() }
func (e *storeReplicaError) Unwrap() error { return e.Err }

// gatewayRevisions are the revisions of the gateway keys this operation read or wrote, by
// gateway: what its next write compares. It travels in the operation's context.
type gatewayRevisions struct {
	mu sync.Mutex
	m  map[string]int64
}

type revisionsKey struct{}

// withRevisions returns ctx carrying revs (recorded by an earlier run in private state).
func withRevisions(ctx context.Context, revs map[string]int64) (context.Context, *gatewayRevisions) {
	if revs == nil {
		revs = map[string]int64{}
	}
	r := &gatewayRevisions{m: revs}
	return context.WithValue(ctx, revisionsKey{}, r), r
}

// revisionsFrom is ctx's revisions; nil (which records nothing) when it carries none.
func revisionsFrom(ctx context.Context) *gatewayRevisions {
	r, _ := ctx.Value(revisionsKey{}).(*gatewayRevisions)
	return r
}

// saw records a read revision unless one is recorded: the write compares the first read.
func (r *gatewayRevisions) saw(name string, rev int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; !ok {
		r.m[name] = rev
	}
}

func (r *gatewayRevisions) set(name string, rev int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[name] = rev
}

func (r *gatewayRevisions) forget(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, name)
}

func (r *gatewayRevisions) lookup(name string) (int64, bool) {
	if r == nil {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rev, ok := r.m[name]
	return rev, ok
}

func (r *gatewayRevisions) get(name string) int64 {
	rev, _ := r.lookup(name)
	return rev
}

// privateRevisionsKey is the private-state key of the revisions a resource read from etcd.
const privateRevisionsKey = "etcd_revisions"

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// revisionsContext returns ctx carrying the revisions that private records (for a client that
// tracks them) and a function that records them back after the operation.
func revisionsContext(ctx context.Context, gc gatewayClient, private privateGetter, diags *diag.Diagnostics) (context.Context, func(privateSetter)) {
	if gc == nil || !gc.tracksRevisions() {
		return ctx, func(privateSetter) {}
	}
	var recorded map[string]int64
	if private != nil {
		raw, d := private.GetKey(ctx, privateRevisionsKey)
		diags.Append(d...)
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &recorded); err != nil {
				tflog.Warn(ctx, "private state: etcd revisions unreadable; comparing with the revisions read now", map[string]any{"error": err.Error()})
				recorded = nil
			}
		}
	}
	ctx, revs := withRevisions(ctx, recorded)
	return ctx, func(out privateSetter) {
		if out == nil {
			return
		}
		revs.mu.Lock()
		data, err := json.Marshal(revs.m)
		revs.mu.Unlock()
		if err != nil {
			diags.AddError("Cannot record etcd revisions", err.Error())
			return
		}
		diags.Append(out.SetKey(ctx, privateRevisionsKey, data)...)
	}
}

// addStoreError reports an etcd error; false when err is not one.
func addStoreError(diags *diag.Diagnostics, action, what string, err error) bool {
	var conflict *storeConflictError
	var replica *storeReplicaError
	var unreachable *etcdError
	var rejected *gatewaystore.RejectedError
	var lagging *gatewaystore.LaggingError
	switch {
	case errors.As(err, &conflict):
		diags.AddError("Another writer changed a gateway in etcd",
			fmt.Sprintf("%s %s: %v.\n\nNothing of this apply's change was written (the transaction compares every gateway's revision). "+
				"Run terraform plan again to see the other writer's change, then apply.", action, what, err))
	case errors.As(err, &replica) && errors.As(err, &rejected):
		diags.AddError("Gateway replica "+quote(rejected.Replica)+" rejected the change",
			fmt.Sprintf("%s %s: %v.\n\nThe change was taken out of etcd again, so every replica serves what it served before. "+
				"Correct the configuration (the replica's error says what it refused) and apply again.", action, what, err))
	case errors.As(err, &replica) && errors.As(err, &lagging):
		names := make([]string, 0, len(lagging.Replicas))
		for id := range lagging.Replicas {
			names = append(names, quote(id))
		}
		sort.Strings(names)
		diags.AddError("Gateway replica "+strings.Join(names, ", ")+" did not apply the change in time",
			fmt.Sprintf("%s %s: %v.\n\nThe change is in etcd (revision %d) and the other replicas serve it; the replicas named have not acknowledged it "+
				"within the resource's timeouts. Check that they run and reach etcd (a replica catches up when it does), or raise the resource's timeouts.",
				action, what, err, replica.Revision))
	case errors.As(err, &unreachable):
		diags.AddError("Cannot reach etcd",
			fmt.Sprintf("%s %s: %v\n\nCheck the provider's etcd.endpoints (or %s) and its TLS files, and that etcd runs.", action, what, err, EnvEtcdEndpoints))
	default:
		return false
	}
	return true
}
