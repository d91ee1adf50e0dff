package gatewaystore_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

func freePort(t *testing.T) int {
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
func startEtcd(t *testing.T) *clientv3.Client {
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
