package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/etcdtest"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

func storeClient(t *testing.T, want ...string) *storeGateways {
	t.Helper()
	e := etcdtest.Embedded(t)
	return &storeGateways{store: gatewaystore.Store{Client: e.Client(t), Layout: gatewaystore.Layout{Prefix: "/unit"}}, endpoints: []string{e.Endpoint}, want: want}
}

func split(port, x, y int) *gatewayapi.Gateway {
	return &gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "x", Weight: x, Instances: []gatewayapi.Instance{{Host: "127.0.0.1", Port: 1}}},
		{Name: "y", Weight: y, Instances: []gatewayapi.Instance{{Host: "127.0.0.1", Port: 2}}},
	}}
}

func modRevision(t *testing.T, s *storeGateways, name string) int64 {
	t.Helper()
	resp, err := s.store.Client.Get(context.Background(), s.store.Layout.Gateway(name))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return 0
	}
	return resp.Kvs[0].ModRevision
}

// TestEtcdStoreWriteIsOneTransactionComparedWithTheRevisionsRead: two gateways change at one
// revision; a write whose read revision of one gateway is stale changes neither and names it.
func TestEtcdStoreWriteIsOneTransactionComparedWithTheRevisionsRead(t *testing.T) {
	s := storeClient(t)
	ctx, revs := withRevisions(context.Background(), nil)
	if err := s.Write(ctx, []gatewayChange{{Name: "a/1", Gateway: split(9001, 100, 0)}, {Name: "b/1", Gateway: split(9002, 100, 0)}}); err != nil {
		t.Fatal(err)
	}
	ra, rb := modRevision(t, s, "a/1"), modRevision(t, s, "b/1")
	if ra == 0 || ra != rb || revs.get("a/1") != ra || revs.get("b/1") != rb {
		t.Fatalf("two gateways at revisions %d and %d (recorded %v), want one transaction's revision recorded", ra, rb, revs.m)
	}
	gw, err := s.Get(context.Background(), "a/1")
	if err != nil || gw.Version != ra || gw.Name != "a/1" || gw.Routes[0].Weight != 100 {
		t.Fatalf("Get a/1: %+v, %v; want version %d", gw, err, ra)
	}
	if _, err := s.Get(context.Background(), "c/1"); !gatewayapi.IsNotFound(err) {
		t.Fatalf("Get of a missing gateway: %v, want IsNotFound", err)
	}

	// Another writer changes b after this run read it.
	other, err := s.store.Write(context.Background(), []gatewaystore.Change{{Name: "b/1", Gateway: split(9002, 0, 100), Expect: rb}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, []gatewayChange{{Name: "a/1", Gateway: split(9001, 50, 50)}, {Name: "b/1", Gateway: split(9002, 50, 50)}})
	var conflict *storeConflictError
	if !errors.As(err, &conflict) || len(conflict.Conflict.Found) != 1 || conflict.Conflict.Found["b/1"] != other {
		t.Fatalf("want a conflict naming b/1 at revision %d, got %v", other, err)
	}
	if got := modRevision(t, s, "a/1"); got != ra {
		t.Errorf("a/1 changed (revision %d, was %d) although the transaction's compare failed", got, ra)
	}
	var diags diag.Diagnostics
	addWriteError(&diags, err)
	if len(diags) != 1 || diags[0].Summary() != "Another writer changed a gateway in etcd" ||
		!strings.Contains(diags[0].Detail(), `gateway "b/1"`) || !strings.Contains(diags[0].Detail(), "Run terraform plan again") {
		t.Errorf("diagnostic %v", diags)
	}

	// Deleting what another writer deleted already is no change; List reports revisions.
	if err := s.Write(ctx, []gatewayChange{{Name: "c/1"}}); err != nil {
		t.Errorf("deleting a missing gateway: %v", err)
	}
	all, err := s.List(context.Background())
	if err != nil || len(all) != 2 || all[0].Name != "a/1" || all[0].Version != ra || all[1].Version != other {
		t.Errorf("List: %+v, %v", all, err)
	}
}

// fakeReplica acknowledges every change of the gateways' keys: a document with a route of
// weight 66 is rejected, anything else applied.
func fakeReplica(t *testing.T, s *storeGateways, id string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start, err := s.store.Client.Get(ctx, "/none")
	if err != nil {
		t.Fatal(err)
	}
	ack := func(a gatewaystore.Ack) {
		data, err := json.Marshal(a)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := s.store.Client.Put(ctx, s.store.Layout.Replica(id), string(data)); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
	}
	serving := start.Header.Revision
	ack(gatewaystore.Ack{Replica: id, Revision: serving, Serving: serving})
	wch := s.store.Client.Watch(ctx, s.store.Layout.Gateways(), clientv3.WithPrefix(), clientv3.WithRev(start.Header.Revision+1))
	go func() {
		for wresp := range wch {
			rev := wresp.Header.Revision
			a := gatewaystore.Ack{Replica: id, Revision: rev}
			for _, ev := range wresp.Events {
				if strings.Contains(string(ev.Kv.Value), `"weight":66`) {
					a.Error, a.Gateway = "weights must sum to 100", strings.TrimPrefix(string(ev.Kv.Key), s.store.Layout.Gateways())
				}
			}
			if a.Error == "" {
				serving = rev
			}
			a.Serving = serving
			ack(a)
		}
	}()
}

// TestEtcdStoreWriteRejectedIsTakenBack: a replica's rejection fails the write, naming the
// replica and its reason, and the keys go back to what they held.
func TestEtcdStoreWriteRejectedIsTakenBack(t *testing.T) {
	s := storeClient(t, "r1")
	fakeReplica(t, s, "r1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx, _ = withRevisions(ctx, nil)
	if err := s.Write(ctx, []gatewayChange{{Name: "a/1", Gateway: split(9001, 100, 0)}}); err != nil {
		t.Fatal(err)
	}
	err := s.Write(ctx, []gatewayChange{{Name: "a/1", Gateway: split(9001, 66, 34)}, {Name: "b/1", Gateway: split(9002, 100, 0)}})
	var rejected *gatewaystore.RejectedError
	if !errors.As(err, &rejected) || rejected.Replica != "r1" || rejected.Gateway != "a/1" {
		t.Fatalf("want r1's rejection of a/1, got %v", err)
	}
	var diags diag.Diagnostics
	addWriteError(&diags, err)
	if len(diags) != 1 || diags[0].Summary() != `Gateway replica "r1" rejected the change` || !strings.Contains(diags[0].Detail(), "weights must sum to 100") {
		t.Errorf("diagnostic %v", diags)
	}
	gw, err := s.Get(context.Background(), "a/1")
	if err != nil || gw.Routes[0].Weight != 100 {
		t.Errorf("a/1 after the rejection: %+v, %v; want the 100/0 put back", gw, err)
	}
	if _, err := s.Get(context.Background(), "b/1"); !gatewayapi.IsNotFound(err) {
		t.Errorf("b/1 after the rejection: %v; want it taken out again", err)
	}
	// With this run's revisions updated by the take-back, the next write goes through.
	if err := s.Write(ctx, []gatewayChange{{Name: "a/1", Gateway: split(9001, 40, 60)}}); err != nil {
		t.Errorf("write after the rejection: %v", err)
	}
}

// TestEtcdStoreWriteReportsConvergence: the write returns once the replica acknowledged it and
// logs on how many replicas and how fast it converged.
func TestEtcdStoreWriteReportsConvergence(t *testing.T) {
	s := storeClient(t)
	fakeReplica(t, s, "r1")
	fakeReplica(t, s, "r2")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(tflogtest.RootLogger(context.Background(), &out), 20*time.Second)
	defer cancel()
	ctx, revs := withRevisions(ctx, nil)
	if err := s.Write(ctx, []gatewayChange{{Name: "a/1", Gateway: split(9001, 100, 0)}}); err != nil {
		t.Fatal(err)
	}
	acks, _, err := s.store.Acks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r1", "r2"} {
		if acks[id].Revision < revs.get("a/1") {
			t.Errorf("write returned before %s acknowledged revision %d: %+v", id, revs.get("a/1"), acks[id])
		}
	}
	entries, err := tflogtest.MultilineJSONDecode(&out)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e["@message"] == "etcd: every gateway replica serves the change" {
			found = true
			if e["converged"] != "2 of 2" || e["replicas"] != "r1,r2" || e["took"] == nil || e["revision"] != float64(revs.get("a/1")) {
				t.Errorf("convergence log %v", e)
			}
		}
	}
	if !found {
		t.Errorf("no convergence log line in %v", entries)
	}
}
