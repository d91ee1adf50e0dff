package gatewaystore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener on 127.0.0.1 has address %T, want *net.TCPAddr", ln.Addr())
	}
	return addr.Port
}

// startEtcd runs a real etcd in the test process on loopback ports and returns a client.
func startEtcd(t testing.TB) *clientv3.Client {
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "store-test"
	cu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(freePort(t)))
	pu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(freePort(t)))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "fatal"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready within 30s")
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{cu.String()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func gw(port, w1, w2 int) *gatewayapi.Gateway {
	return &gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "a", Weight: w1, Instances: []gatewayapi.Instance{{Host: "127.0.0.1", Port: 8080}}},
		{Name: "b", Weight: w2, Instances: []gatewayapi.Instance{{Host: "127.0.0.1", Port: 8081}}},
	}}
}

func TestWriteComparesEveryKeysRevision(t *testing.T) {
	ctx := context.Background()
	st := gatewaystore.Store{Client: startEtcd(t), Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	rev, err := st.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 100, 0)}, {Name: "shop/9060", Gateway: gw(9060, 50, 50)}})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := st.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["sava/9050"].ModRevision != rev || got["shop/9060"].ModRevision != rev || got["shop/9060"].Gateway.Routes[1].Weight != 50 {
		t.Fatalf("read back %+v, want both at revision %d", got, rev)
	}
	// The value is the admin PUT's body: no name, no version.
	raw, err := st.Client.Get(ctx, "/vamp/gateways/sava/9050")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Kvs) != 1 {
		t.Fatalf("etcd has %d values at /vamp/gateways/sava/9050, want 1", len(raw.Kvs))
	}
	var doc map[string]any
	if err := json.Unmarshal(raw.Kvs[0].Value, &doc); err != nil {
		t.Fatalf("stored document %s: %v", raw.Kvs[0].Value, err)
	}
	if _, has := doc["name"]; has {
		t.Errorf("stored document carries a name: %s", raw.Kvs[0].Value)
	}

	// Another writer changes shop; a write that read shop before is refused whole.
	other, err := st.Write(ctx, []gatewaystore.Change{{Name: "shop/9060", Gateway: gw(9060, 0, 100), Expect: rev}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Write(ctx, []gatewaystore.Change{
		{Name: "sava/9050", Gateway: gw(9050, 0, 100), Expect: rev},
		{Name: "shop/9060", Gateway: gw(9060, 10, 90), Expect: rev},
	})
	var conflict *gatewaystore.ConflictError
	if !errors.As(err, &conflict) || len(conflict.Found) != 1 || conflict.Found["shop/9060"] != other {
		t.Fatalf("want a conflict naming shop/9060 at revision %d, got %v", other, err)
	}
	got, _, _ = st.Read(ctx)
	if got["sava/9050"].Gateway.Routes[0].Weight != 100 || got["shop/9060"].Gateway.Routes[1].Weight != 100 {
		t.Errorf("a refused transaction changed something: %+v", got)
	}
	// Creating a key that exists and deleting with a stale revision conflict too.
	_, err = st.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 0, 100)}})
	if !errors.As(err, &conflict) || conflict.Found["sava/9050"] != rev {
		t.Errorf("create over an existing key: want a conflict, got %v", err)
	}
	if _, err := st.Write(ctx, []gatewaystore.Change{{Name: "shop/9060", Expect: other}}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	got, _, _ = st.Read(ctx)
	if _, still := got["shop/9060"]; still || len(got) != 1 {
		t.Errorf("after the delete: %+v", got)
	}
}

func putAck(t *testing.T, st gatewaystore.Store, a gatewaystore.Ack) {
	data, _ := json.Marshal(a)
	if _, err := st.Client.Put(context.Background(), st.Layout.Replica(a.Replica), string(data)); err != nil {
		t.Fatal(err)
	}
}

func TestWaitAckedNamesTheReplicaThatRejectedOrLags(t *testing.T) {
	st := gatewaystore.Store{Client: startEtcd(t), Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	rev, err := st.Write(context.Background(), []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	putAck(t, st, gatewaystore.Ack{Replica: "r1", Revision: rev, Serving: rev})
	putAck(t, st, gatewaystore.Ack{Replica: "r2", Revision: rev - 1, Serving: rev - 1})

	// r2 is behind and r3 has no key: both named when the wait ends.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = st.WaitAcked(ctx, rev, []string{"r3"})
	cancel()
	var lag *gatewaystore.LaggingError
	if !errors.As(err, &lag) || len(lag.Replicas) != 2 || lag.Replicas["r2"] != rev-1 || lag.Replicas["r3"] != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want r2 (at %d) and r3 (no key) lagging, got %v", rev-1, err)
	}

	// r2 acknowledges while the wait runs: the wait ends on that watch event.
	done := make(chan error, 1)
	var conv gatewaystore.Convergence
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var err error
		conv, err = st.WaitAcked(ctx, rev, nil)
		done <- err
	}()
	putAck(t, st, gatewaystore.Ack{Replica: "r2", Revision: rev, Serving: rev})
	if err := <-done; err != nil || len(conv.Acks) != 2 {
		t.Fatalf("want 2 of 2 converged, got %v (%+v)", err, conv)
	}

	// r2 rejects the next revision: the wait names it, its gateway and the reason.
	next, err := st.Write(context.Background(), []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 50, 60), Expect: rev}})
	if err != nil {
		t.Fatal(err)
	}
	putAck(t, st, gatewaystore.Ack{Replica: "r1", Revision: next, Serving: rev, Error: "routes: weights sum to 110", Gateway: "sava/9050"})
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = st.WaitAcked(ctx, next, nil)
	var rej *gatewaystore.RejectedError
	if !errors.As(err, &rej) || rej.Replica != "r1" || rej.Gateway != "sava/9050" || rej.Serving != rev {
		t.Fatalf("want r1's rejection of sava/9050, got %v", err)
	}
}

// hookedWatcher is the client's Watcher that counts the watches opened and, when taken is
// set, sends each response the caller took from a watch to taken; inject, when set, is sent
// to the caller after a watch's creation notice, in place of what etcd sends next (n: 1 for
// the first watch).
type hookedWatcher struct {
	clientv3.Watcher
	mu     sync.Mutex
	calls  int
	taken  chan clientv3.WatchResponse
	inject func(n int) (clientv3.WatchResponse, bool)
}

func (h *hookedWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	h.mu.Lock()
	h.calls++
	n := h.calls
	h.mu.Unlock()
	in := h.Watcher.Watch(ctx, key, opts...)
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer close(out)
		send := func(r clientv3.WatchResponse) bool {
			select {
			case out <- r:
			case <-ctx.Done():
				return false
			}
			if h.taken != nil {
				h.taken <- r
			}
			return true
		}
		for r := range in {
			if !send(r) {
				return
			}
			if r.Created && h.inject != nil {
				if fake, ok := h.inject(n); ok {
					send(fake)
					return
				}
			}
		}
	}()
	return out
}

func (h *hookedWatcher) watches() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// hookedKV is the client's KV with a hook after each Get (n: 1 for the first): WaitAcked's
// read of the acknowledgements.
type hookedKV struct {
	clientv3.KV
	mu       sync.Mutex
	gets     int
	afterGet func(n int)
}

func (h *hookedKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	resp, err := h.KV.Get(ctx, key, opts...)
	h.mu.Lock()
	h.gets++
	n := h.gets
	h.mu.Unlock()
	if h.afterGet != nil {
		h.afterGet(n)
	}
	return resp, err
}

// hookedStore is a Store on a client of its own (on the same etcd as st) whose watches go
// through w and whose reads through kv (nil: the client's own).
func hookedStore(t *testing.T, st gatewaystore.Store, w *hookedWatcher, kv *hookedKV) gatewaystore.Store {
	c, err := clientv3.New(clientv3.Config{Endpoints: st.Client.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w.Watcher = c.Watcher
	c.Watcher = w
	if kv != nil {
		kv.KV = c.KV
		c.KV = kv
	}
	return gatewaystore.Store{Client: c, Layout: st.Layout}
}

// waitAsync runs WaitAcked in a goroutine.
func waitAsync(ctx context.Context, st gatewaystore.Store, rev int64, want []string) <-chan waitResult {
	done := make(chan waitResult, 1)
	go func() {
		conv, err := st.WaitAcked(ctx, rev, want)
		done <- waitResult{conv, err}
	}()
	return done
}

type waitResult struct {
	conv gatewaystore.Convergence
	err  error
}

// takenEvents waits for the next response with events that the wait took from its watch.
func takenEvents(t *testing.T, h *hookedWatcher) []*clientv3.Event {
	t.Helper()
	for {
		select {
		case r := <-h.taken:
			if len(r.Events) > 0 {
				return r.Events
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the wait took no watch event within 20s")
			return nil
		}
	}
}

// TestWaitAckedKeepsOneWatch: acknowledgements that arrive after the wait read them reach it
// through the one watch it opened; it does not open another per event.
func TestWaitAckedKeepsOneWatch(t *testing.T) {
	base := gatewaystore.Store{Client: startEtcd(t), Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	rev, err := base.Write(context.Background(), []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	putAck(t, base, gatewaystore.Ack{Replica: "r1", Revision: rev, Serving: rev})
	putAck(t, base, gatewaystore.Ack{Replica: "r2", Revision: rev - 1, Serving: rev - 1})
	h := &hookedWatcher{taken: make(chan clientv3.WatchResponse, 16)}
	kv := &hookedKV{afterGet: func(n int) {
		if n == 1 { // the wait has read r2 behind: r2 moves, still behind, then r3 appears behind
			putAck(t, base, gatewaystore.Ack{Replica: "r2", Revision: rev - 1, Serving: rev - 1, Reads: 2})
			putAck(t, base, gatewaystore.Ack{Replica: "r3", Revision: rev - 1, Serving: rev - 1})
		}
	}}
	st := hookedStore(t, base, h, kv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := waitAsync(ctx, st, rev, nil)
	for seen := 0; seen < 2; {
		seen += len(takenEvents(t, h))
	}
	select {
	case r := <-done:
		t.Fatalf("the wait ended with r2 and r3 behind: %v (%+v)", r.err, r.conv)
	default:
	}
	putAck(t, base, gatewaystore.Ack{Replica: "r2", Revision: rev, Serving: rev})
	putAck(t, base, gatewaystore.Ack{Replica: "r3", Revision: rev, Serving: rev})
	r := <-done
	if r.err != nil || len(r.conv.Acks) != 3 || r.conv.Acks["r3"].Revision != rev {
		t.Fatalf("want r1, r2 and r3 at revision %d, got %v (%+v)", rev, r.err, r.conv)
	}
	if n := h.watches(); n != 1 {
		t.Errorf("the wait opened %d watches, want 1 for the whole wait", n)
	}
}

// TestWaitAckedDropsAReplicaWhoseKeyLeaves: a replica whose key is deleted during the wait (its
// lease ended) is no longer waited for, unless it is wanted: then the wait names it without an
// acknowledgement.
func TestWaitAckedDropsAReplicaWhoseKeyLeaves(t *testing.T) {
	base := gatewaystore.Store{Client: startEtcd(t), Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	ctx := context.Background()
	rev, err := base.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	putAck(t, base, gatewaystore.Ack{Replica: "r1", Revision: rev, Serving: rev})
	leased := func(id string) clientv3.LeaseID {
		lease, err := base.Client.Grant(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(gatewaystore.Ack{Replica: id, Revision: rev - 1, Serving: rev - 1})
		if _, err := base.Client.Put(ctx, base.Layout.Replica(id), string(data), clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
		return lease.ID
	}
	revokeAfterRead := func(lease clientv3.LeaseID) *hookedKV {
		return &hookedKV{afterGet: func(n int) {
			if n == 1 {
				if _, err := base.Client.Revoke(ctx, lease); err != nil {
					t.Error(err)
				}
			}
		}}
	}

	// r2 is live and behind; its lease ends during the wait: the wait ends with r1 alone.
	h := &hookedWatcher{}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conv, err := hookedStore(t, base, h, revokeAfterRead(leased("r2"))).WaitAcked(wctx, rev, nil)
	if _, still := conv.Acks["r2"]; err != nil || len(conv.Acks) != 1 || still {
		t.Fatalf("want r1 alone once r2's key left, got %v (%+v)", err, conv)
	}

	// Wanted, r2's key leaving makes it "no acknowledgement" (0), not its last revision.
	h = &hookedWatcher{taken: make(chan clientv3.WatchResponse, 16)}
	wctx, cancel = context.WithCancel(ctx)
	defer cancel()
	done := waitAsync(wctx, hookedStore(t, base, h, revokeAfterRead(leased("r2"))), rev, []string{"r2"})
	for {
		if ev := takenEvents(t, h); len(ev) == 1 && ev[0].Type == clientv3.EventTypeDelete {
			break
		}
	}
	cancel()
	r := <-done
	var lag *gatewaystore.LaggingError
	if !errors.As(r.err, &lag) || len(lag.Replicas) != 1 || lag.Replicas["r2"] != 0 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("want r2 named without an acknowledgement, got %v", r.err)
	}
	if !strings.Contains(r.err.Error(), "r2 (no acknowledgement") {
		t.Errorf("the message does not say r2 has no acknowledgement: %v", r.err)
	}
}

// TestWaitAckedConvergesAcrossCompaction: etcd compacts its history during the wait, above the
// revision the wait read and its watch started at; r2's acknowledgement, committed before the
// compaction, still ends the wait. And a watch that etcd ends with its compaction notice (as
// it does a watch that fell behind the compacted revision) makes the wait watch and read
// again, and converge.
func TestWaitAckedConvergesAcrossCompaction(t *testing.T) {
	base := gatewaystore.Store{Client: startEtcd(t), Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	ctx := context.Background()
	rev, err := base.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	putAck(t, base, gatewaystore.Ack{Replica: "r1", Revision: rev, Serving: rev})
	putAck(t, base, gatewaystore.Ack{Replica: "r2", Revision: rev - 1, Serving: rev - 1})
	compactAfter := func(ack gatewaystore.Ack) func(int) {
		return func(n int) {
			if n != 1 {
				return
			}
			putAck(t, base, ack)
			resp, err := base.Client.Put(ctx, "/vamp/unrelated", "x")
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := base.Client.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
				t.Error(err)
			}
		}
	}
	h := &hookedWatcher{}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r := <-waitAsync(wctx, hookedStore(t, base, h, &hookedKV{afterGet: compactAfter(gatewaystore.Ack{Replica: "r2", Revision: rev, Serving: rev})}), rev, nil)
	if r.err != nil || len(r.conv.Acks) != 2 || r.conv.Acks["r2"].Revision != rev {
		t.Fatalf("want r1 and r2 at revision %d across the compaction, got %v (%+v)", rev, r.err, r.conv)
	}

	// The next change; etcd ends the first watch with a compaction notice, after r3 (a new
	// replica) acknowledged and the history was compacted: only a second read sees r3's ack.
	next, err := base.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 50, 50), Expect: rev}})
	if err != nil {
		t.Fatal(err)
	}
	putAck(t, base, gatewaystore.Ack{Replica: "r1", Revision: next, Serving: next})
	putAck(t, base, gatewaystore.Ack{Replica: "r2", Revision: next, Serving: next})
	putAck(t, base, gatewaystore.Ack{Replica: "r3", Revision: rev, Serving: rev})
	compacted := make(chan int64, 1) // the compacted revision, once the wait's first read is done
	kv := &hookedKV{afterGet: func(n int) {
		if n != 1 {
			return
		}
		data, _ := json.Marshal(gatewaystore.Ack{Replica: "r3", Revision: next, Serving: next})
		resp, err := base.Client.Put(ctx, base.Layout.Replica("r3"), string(data))
		if err != nil {
			t.Error(err)
			compacted <- 0
			return
		}
		if _, err := base.Client.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
			t.Error(err)
		}
		compacted <- resp.Header.Revision
	}}
	h = &hookedWatcher{inject: func(n int) (clientv3.WatchResponse, bool) {
		if n != 1 {
			return clientv3.WatchResponse{}, false
		}
		// What etcd sends a watch whose next revision was compacted: the compacted revision,
		// then the watch is over. It comes once the wait has read and the history is compacted.
		return clientv3.WatchResponse{CompactRevision: <-compacted, Canceled: true}, true
	}}
	wctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r = <-waitAsync(wctx, hookedStore(t, base, h, kv), next, nil)
	if r.err != nil || len(r.conv.Acks) != 3 || r.conv.Acks["r3"].Revision != next {
		t.Fatalf("want r1, r2 and r3 at revision %d after the compaction notice, got %v (%+v)", next, r.err, r.conv)
	}
	kv.mu.Lock()
	gets := kv.gets
	kv.mu.Unlock()
	if n := h.watches(); n != 2 || gets != 2 {
		t.Errorf("the wait opened %d watches and read %d times; want 2 and 2: the ended watch, then a new watch and read", n, gets)
	}
}

// TestWaitAckedNamesTheReplicasBehindWhenCtxEnds: when ctx ends, the error names every replica
// behind at the revision the watch last brought.
func TestWaitAckedNamesTheReplicasBehindWhenCtxEnds(t *testing.T) {
	base := gatewaystore.Store{Client: startEtcd(t), Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	ctx := context.Background()
	first, err := base.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 100, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := base.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, 50, 50), Expect: first}})
	if err != nil {
		t.Fatal(err)
	}
	putAck(t, base, gatewaystore.Ack{Replica: "r1", Revision: rev, Serving: rev})
	putAck(t, base, gatewaystore.Ack{Replica: "r2", Revision: first - 1, Serving: first - 1})
	h := &hookedWatcher{taken: make(chan clientv3.WatchResponse, 16)}
	kv := &hookedKV{afterGet: func(n int) {
		if n == 1 { // r2 gets to the first change, not the second
			putAck(t, base, gatewaystore.Ack{Replica: "r2", Revision: first, Serving: first})
		}
	}}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := waitAsync(wctx, hookedStore(t, base, h, kv), rev, []string{"r1", "r3"})
	takenEvents(t, h)
	cancel()
	r := <-done
	var lag *gatewaystore.LaggingError
	if !errors.As(r.err, &lag) || !errors.Is(r.err, context.Canceled) || lag.Revision != rev ||
		fmt.Sprint(lag.Replicas) != fmt.Sprint(map[string]int64{"r2": first, "r3": 0}) {
		t.Fatalf("want r2 (at %d) and r3 (no key) behind revision %d, got %v", first, rev, r.err)
	}
	want := fmt.Sprintf("replicas did not apply revision %d in time: r2 (at revision %d), r3 (no acknowledgement: not running?)", rev, first)
	if r.err.Error() != want {
		t.Errorf("message %q, want %q", r.err.Error(), want)
	}
}

// TestFollowRolloutSeesOnlyTheRecordOfTheDocumentsRollout: a record of another roll-out (its
// key) or of an earlier gateway key (deleted and created again) is not the document's; the
// leader's records of the document's roll-out arrive through the watch until one ends it.
func TestFollowRolloutSeesOnlyTheRecordOfTheDocumentsRollout(t *testing.T) {
	st := gatewaystore.Store{Client: startEtcd(t), Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const name = "sava/9050"
	doc := gw(9050, 100, 0)
	doc.Rollout = &gatewayapi.RolloutPolicy{Canary: "b", Steps: []int{50, 100}, Interval: "1m",
		Checks: gatewayapi.RolloutChecks{Max5xxRate: 0.01, MinRequests: 5}}
	created, err := st.Write(ctx, []gatewaystore.Change{{Name: name, Gateway: doc}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := gatewaystore.RolloutKey(name, *doc)
	if err != nil {
		t.Fatal(err)
	}
	policy := rollout.Policy{Gateway: name, Canary: "b", Stable: []string{"a"}, Steps: []int{50, 100}, Interval: time.Minute,
		Checks: rollout.Checks{Max5xxRate: 0.01, MinRequests: 5}}
	put := func(rec gatewaystore.RolloutRecord) {
		t.Helper()
		data, _ := json.Marshal(rec)
		if _, err := st.Client.Put(ctx, st.Layout.Rollout(name), string(data)); err != nil {
			t.Fatal(err)
		}
	}
	state := func(phase rollout.Phase, step, canary int, reason string) rollout.State {
		return rollout.State{Policy: policy, Phase: phase, Step: step, Weights: map[string]int{"a": 100 - canary, "b": canary}, Reason: reason}
	}
	put(gatewaystore.RolloutRecord{GatewayCreateRevision: created, Key: "0123456789abcdef", State: state(rollout.PhaseRolledBack, 1, 0, "an older roll-out")})

	views := make(chan gatewaystore.RolloutView, 16)
	done := make(chan error, 1)
	go func() {
		done <- st.FollowRollout(ctx, name, func(v gatewaystore.RolloutView) bool {
			views <- v
			return v.Record != nil && v.Record.State.Phase.Terminal()
		})
	}()
	next := func(what string) gatewaystore.RolloutView {
		t.Helper()
		select {
		case v := <-views: // sent before see returns: never lost to done
			return v
		case <-ctx.Done():
			t.Fatalf("%s: no view within 20s", what)
		}
		return gatewaystore.RolloutView{}
	}
	if v := next("start"); v.Gateway == nil || v.Gateway.Rollout == nil || v.Record != nil {
		t.Fatalf("start: want the document and no record of its roll-out (the stored one is another's), got %+v", v)
	}
	put(gatewaystore.RolloutRecord{GatewayCreateRevision: created - 1, Key: key, State: state(rollout.PhaseRolledBack, 1, 0, "an earlier gateway key")})
	if v := next("a record of an earlier gateway key"); v.Record != nil {
		t.Fatalf("a record of an earlier gateway key was taken for the document's: %+v", v.Record)
	}
	put(gatewaystore.RolloutRecord{GatewayCreateRevision: created, Key: key, Writer: "r2", State: state(rollout.PhaseProgressing, 1, 50, "step 1")})
	v := next("step 1")
	if v.Record == nil || v.Record.Writer != "r2" {
		t.Fatalf("step 1: want r2's record, got %+v", v)
	}
	if s := v.Record.Status(); s.Phase != "progressing" || s.Step != 1 || s.Steps != 2 || s.Weight != 50 || s.Canary != "b" || s.Checksum != key {
		t.Errorf("step 1: status %+v", s)
	}
	put(gatewaystore.RolloutRecord{GatewayCreateRevision: created, Key: key, Writer: "r2", State: state(rollout.PhaseRolledBack, 1, 0, "rolled back: 5xx rate 0.5")})
	v = next("roll-back")
	if v.Record == nil || v.Record.Status().Reason != "rolled back: 5xx rate 0.5" || v.Record.Status().Weights["a"] != 100 {
		t.Fatalf("roll-back: got %+v", v.Record)
	}
	if err := <-done; err != nil {
		t.Fatalf("FollowRollout after the terminal record: %v", err)
	}

	// The document deleted: a view without it. ctx ending ends the follow with ctx's error.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := st.Write(ctx, []gatewaystore.Change{{Name: name, Expect: created}}); err != nil {
		t.Fatal(err)
	}
	var sawGone bool
	err = st.FollowRollout(short, name, func(v gatewaystore.RolloutView) bool {
		sawGone = v.Gateway == nil
		return false
	})
	if !sawGone || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after the delete: saw the gateway gone %v, ended with %v (want the deadline)", sawGone, err)
	}
}
