package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// testEtcd is a real etcd server inside the test process, restartable on the same data
// directory and ports.
type testEtcd struct {
	t                    testing.TB
	dir                  string
	clientPort, peerPort int
	srv                  *embed.Etcd
}

func startTestEtcd(t testing.TB) *testEtcd {
	e := &testEtcd{t: t, dir: t.TempDir(), clientPort: freePort(t), peerPort: freePort(t)}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *testEtcd) endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(e.clientPort) }

func (e *testEtcd) start() {
	e.t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = e.dir
	cfg.Name = "vamp-test"
	cu, _ := url.Parse(e.endpoint())
	pu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(e.peerPort))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "fatal" // Close logs its closed listeners as errors
	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		e.t.Fatalf("starting etcd: %v", err)
	}
	select {
	case <-srv.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		srv.Close()
		e.t.Fatal("etcd was not ready within 30s")
	}
	e.srv = srv
}

func (e *testEtcd) stop() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
}

func (e *testEtcd) client() *clientv3.Client {
	e.t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// cutProxy forwards TCP to etcd; cut closes every connection and refuses new ones until mend.
type cutProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	p.mend()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) mend() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			// Each copy ends when a side closes or the test cuts the connections: its error
			// says only that.
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func gatewayJSON(t testing.TB, gw gatewayapi.Gateway) string {
	data, err := json.Marshal(gw)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// putTxn writes several gateways in one etcd transaction and returns its revision.
func putTxn(t testing.TB, c *clientv3.Client, l gatewaystore.Layout, gws map[string]gatewayapi.Gateway) int64 {
	t.Helper()
	var ops []clientv3.Op
	for name, gw := range gws {
		ops = append(ops, clientv3.OpPut(l.Gateway(name), gatewayJSON(t, gw)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		t.Fatalf("etcd txn: %v", err)
	}
	return resp.Header.Revision
}

// waitAcks waits, on etcd watch events, until every replica's Ack satisfies ok; it fails after
// 20s (the bound, not the synchronisation) and returns the Acks.
func waitAcks(t *testing.T, c *clientv3.Client, l gatewaystore.Layout, ids []string, what string, ok func(gatewaystore.Ack) bool) map[string]gatewaystore.Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acks := map[string]gatewaystore.Ack{}
	for {
		resp, err := c.Get(ctx, l.Replicas(), clientv3.WithPrefix())
		if err != nil {
			t.Fatalf("waiting until %s: %v (acks so far %+v)", what, err, acks)
		}
		acks = map[string]gatewaystore.Ack{}
		for _, kv := range resp.Kvs {
			var a gatewaystore.Ack
			if err := json.Unmarshal(kv.Value, &a); err != nil {
				t.Fatalf("replica key %s holds no Ack: %v", kv.Key, err)
			}
			acks[a.Replica] = a
		}
		all := true
		for _, id := range ids {
			if a, found := acks[id]; !found || !ok(a) {
				all = false
			}
		}
		if all {
			return acks
		}
		wch := c.Watch(ctx, l.Replicas(), clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		select {
		case <-wch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s; acks %+v", what, acks)
		}
	}
}

type replica struct {
	id, host string
	h        *harness
	state    string
}

func startReplica(t testing.TB, id, host, endpoint, state string, edits ...func(*gateway.Config)) *replica {
	t.Helper()
	cfg := gateway.Config{
		AdminListen:  "127.0.0.1:0",
		AdminToken:   testToken,
		StateFile:    state,
		BindHost:     host,
		DrainTimeout: 10 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Etcd:         gateway.EtcdConfig{Endpoints: []string{endpoint}, ReplicaID: id, RequestTimeout: 2 * time.Second},
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	srv, err := gateway.New(cfg)
	if err != nil {
		t.Fatalf("gateway.New %s: %v", id, err)
	}
	return &replica{id: id, host: host, h: runGateway(t, srv, state), state: state}
}

func (r *replica) url(port int) string { return "http://" + r.host + ":" + strconv.Itoa(port) + "/" }

func twoRoutes(port int, a, b *backend, wa, wb int) gatewayapi.Gateway {
	return gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: a.name, Weight: wa, Instances: []gatewayapi.Instance{a.instance()}},
		{Name: b.name, Weight: wb, Instances: []gatewayapi.Instance{b.instance()}},
	}}
}

// TestEtcdReplicasStayInStep runs a real etcd and three replicas on 127.0.0.1, .2 and .3 and
// goes through a multi-gateway change, a rejected change, a write through one replica's admin
// API, etcd stopped under load and back, and a compaction while one replica is cut off.
func TestEtcdReplicasStayInStep(t *testing.T) {
	etcd := startTestEtcd(t)
	cli := etcd.client()
	layout, _ := gatewaystore.NewLayout("")
	v1, v2 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	s1, s2 := newBackend(t, "shop:1"), newBackend(t, "shop:2")
	savaPort, shopPort := freePort(t), freePort(t)
	const sava, shop = "sava/9050", "shop/9060"

	first := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{
		sava: twoRoutes(savaPort, v1, v2, 100, 0),
		shop: twoRoutes(shopPort, s1, s2, 100, 0),
	})
	proxy := newCutProxy(t, "127.0.0.1:"+strconv.Itoa(etcd.clientPort))
	dir := t.TempDir()
	reps := []*replica{
		startReplica(t, "r1", "127.0.0.1", etcd.endpoint(), filepath.Join(dir, "r1.json")),
		startReplica(t, "r2", "127.0.0.2", etcd.endpoint(), filepath.Join(dir, "r2.json")),
		startReplica(t, "r3", "127.0.0.3", "http://"+proxy.addr, filepath.Join(dir, "r3.json")),
	}
	ids := []string{"r1", "r2", "r3"}
	applied := func(rev int64) func(gatewaystore.Ack) bool {
		return func(a gatewaystore.Ack) bool { return a.Revision >= rev && a.Error == "" && a.Serving >= rev }
	}
	waitAcks(t, cli, layout, ids, "every replica applied the first read", applied(first))

	// expectAbout counts 300 requests per replica; each route's count may be off by slack. A
	// table that has already served an unknown number of requests needs a slack: shares are exact
	// per cycle of the weights (2 of every 5 at 40/60) with a random position in each cycle, so 300
	// requests that start and end mid-cycle may be off by up to a cycle's share at each end; any
	// other split (a weight not applied) is off by far more.
	expectAbout := func(step string, port int, want map[string]int, slack int) {
		t.Helper()
		for _, r := range reps {
			got := newBrowser(chromeUA).count(t, r.url(port), 300)
			for name, n := range want {
				if d := got[name] - n; d > slack || d < -slack {
					t.Errorf("%s: replica %s port %d: want %v (±%d) over 300 requests, got %v", step, r.id, port, want, slack, got)
					break
				}
			}
		}
	}
	// expect is expectAbout for a table counted from a cycle's start: exact.
	expect := func(step string, port int, want map[string]int) {
		t.Helper()
		expectAbout(step, port, want, 0)
	}
	expect("first read", savaPort, map[string]int{"sava:1.0.0": 300})

	// 1. Two gateways in one transaction.
	began := time.Now()
	rev := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{
		sava: twoRoutes(savaPort, v1, v2, 20, 80),
		shop: twoRoutes(shopPort, s1, s2, 30, 70),
	})
	// The controller's wait (gatewaystore.WaitAcked), as the provider will use it.
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	conv, err := gatewaystore.Store{Client: cli, Layout: layout}.WaitAcked(wctx, rev, ids)
	wcancel()
	if err != nil || len(conv.Acks) != 3 {
		t.Fatalf("WaitAcked(%d): %v, %d acks", rev, err, len(conv.Acks))
	}
	waitAcks(t, cli, layout, ids, "every replica applied the two-gateway transaction", applied(rev))
	t.Logf("two-gateway transaction: committed to acknowledged by 3 of 3 replicas in %v", time.Since(began))
	expect("two-gateway txn", savaPort, map[string]int{"sava:1.0.0": 60, "sava:1.1.0": 240})
	expect("two-gateway txn", shopPort, map[string]int{"shop:1": 90, "shop:2": 210})
	good := rev

	// 2. An invalid configuration (weights sum to 110, with a valid change of shop in the same
	// transaction): rejected whole by every replica, with the error, and the old split serves.
	bad := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{
		sava: twoRoutes(savaPort, v1, v2, 50, 60),
		shop: twoRoutes(shopPort, s1, s2, 50, 50),
	})
	acks := waitAcks(t, cli, layout, ids, "every replica rejected the invalid change", func(a gatewaystore.Ack) bool {
		return a.Revision >= bad && a.Error != ""
	})
	wctx, wcancel = context.WithTimeout(context.Background(), 20*time.Second)
	_, err = gatewaystore.Store{Client: cli, Layout: layout}.WaitAcked(wctx, bad, ids)
	wcancel()
	var rejected *gatewaystore.RejectedError
	// Serving revisions are ranges, not numbers: a watch that catches up reports the store's
	// revision, which other replicas' acknowledgements (skipped) may have raised.
	if !errors.As(err, &rejected) || rejected.Gateway != sava || rejected.Serving < good || rejected.Serving >= bad {
		t.Errorf("WaitAcked(%d) of the invalid change: want a *RejectedError naming %s, got %v", bad, sava, err)
	}
	for id, a := range acks {
		if a.Gateway != sava || !strings.Contains(a.Error, "weight") || a.Serving < good || a.Serving >= bad {
			t.Errorf("replica %s: want a rejection of %s naming the weights, still serving revision %d; got %+v", id, sava, good, a)
		}
	}
	// /metrics says the same: processed the bad revision, serving the good one, rejected.
	metricsText := reps[0].h.metricsText()
	if v := metricValue(metricsText, "vamp_gateway_store_processed_revision"); v < float64(bad) {
		t.Errorf("/metrics: vamp_gateway_store_processed_revision %v, want at least %d", v, bad)
	}
	if v := metricValue(metricsText, "vamp_gateway_store_serving_revision"); v < float64(good) || v >= float64(bad) {
		t.Errorf("/metrics: vamp_gateway_store_serving_revision %v, want from %d to before %d", v, good, bad)
	}
	if v := metricValue(metricsText, "vamp_gateway_store_rejected"); v != 1 {
		t.Errorf("/metrics: vamp_gateway_store_rejected %v, want 1", v)
	}
	expect("after the rejected change", savaPort, map[string]int{"sava:1.0.0": 60, "sava:1.1.0": 240})
	expect("after the rejected change (shop not half-applied)", shopPort, map[string]int{"shop:1": 90, "shop:2": 210})
	fixed := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{
		sava: twoRoutes(savaPort, v1, v2, 20, 80),
		shop: twoRoutes(shopPort, s1, s2, 30, 70),
	})
	waitAcks(t, cli, layout, ids, "every replica applied the repaired store", applied(fixed))

	// 2b. A batch that compiles but cannot be applied (gateway x/1 asks for sava's port): the
	// change of shop applied before it is rolled back on every replica.
	clash := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{
		shop:  twoRoutes(shopPort, s1, s2, 50, 50),
		"x/1": twoRoutes(savaPort, s1, s2, 50, 50),
	})
	acks = waitAcks(t, cli, layout, ids, "every replica rejected the port clash", func(a gatewaystore.Ack) bool {
		return a.Revision >= clash && a.Error != ""
	})
	for id, a := range acks {
		if a.Gateway != "x/1" || !strings.Contains(a.Error, "port") || a.Serving < fixed || a.Serving >= clash {
			t.Errorf("replica %s: want x/1 rejected for its port, serving %d; got %+v", id, fixed, a)
		}
	}
	expect("after the port clash (shop rolled back)", shopPort, map[string]int{"shop:1": 90, "shop:2": 210})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	resp, err := cli.Txn(ctx).Then(clientv3.OpDelete(layout.Gateway("x/1")), clientv3.OpPut(layout.Gateway(shop), gatewayJSON(t, twoRoutes(shopPort, s1, s2, 30, 70)))).Commit()
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	waitAcks(t, cli, layout, ids, "every replica applied the store without x/1", applied(resp.Header.Revision))

	// 3. A write through replica r2's admin API goes into etcd and reaches all three; a bad
	// one is refused with 400 and leaves the store as it was.
	var kv *clientv3.GetResponse
	out := reps[1].h.put(sava, twoRoutes(savaPort, v1, v2, 40, 60))
	if out.Routes[0].Weight != 40 {
		t.Fatalf("admin PUT in store mode answered %+v", out)
	}
	kv, err = cli.Get(context.Background(), layout.Gateway(sava))
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("reading %s: %v", layout.Gateway(sava), err)
	}
	viaAdmin := kv.Kvs[0].ModRevision
	waitAcks(t, cli, layout, ids, "every replica applied the admin API's write", applied(viaAdmin))
	expect("write through r2's admin API", savaPort, map[string]int{"sava:1.0.0": 120, "sava:1.1.0": 180})
	apiErr := reps[0].h.putErr(sava, twoRoutes(savaPort, v1, v2, 40, 70), 400)
	if !strings.Contains(apiErr.Body.Path, "weight") && !strings.Contains(apiErr.Body.Error, "weight") {
		t.Errorf("bad admin PUT: want an error about the weights, got %+v", apiErr.Body)
	}
	var reverted int64
	eventually(t, "the store holds the good document again", func() bool {
		kv, err := cli.Get(context.Background(), layout.Gateway(sava))
		if err != nil || len(kv.Kvs) != 1 {
			return false
		}
		var doc gatewayapi.Gateway
		reverted = kv.Kvs[0].ModRevision
		return json.Unmarshal(kv.Kvs[0].Value, &doc) == nil && doc.Routes[0].Weight == 40 && doc.Routes[1].Weight == 60
	})
	waitAcks(t, cli, layout, ids, "every replica processed the revert", applied(reverted))
	expect("after the refused admin PUT", savaPort, map[string]int{"sava:1.0.0": 120, "sava:1.1.0": 180})

	// 3b. A gateway created through r1's admin API and deleted through r2's: gone everywhere.
	tmpPort := freePort(t)
	reps[0].h.put("tmp/1", twoRoutes(tmpPort, s1, s2, 100, 0))
	kv, err = cli.Get(context.Background(), layout.Gateway("tmp/1"))
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("tmp/1 not in the store after an admin PUT: %v", err)
	}
	created := kv.Kvs[0].ModRevision
	waitAcks(t, cli, layout, ids, "every replica created tmp/1", applied(created))
	expect("tmp/1 created through r1", tmpPort, map[string]int{"shop:1": 300})
	if err := reps[1].h.admin.Delete(context.Background(), "tmp/1"); err != nil {
		t.Fatalf("admin DELETE through r2: %v", err)
	}
	kv, err = cli.Get(context.Background(), layout.Gateway("tmp/1"))
	if err != nil || len(kv.Kvs) != 0 {
		t.Fatalf("tmp/1 still in the store after an admin DELETE: %v %v", err, kv)
	}
	// The deletion is the only gateway change after the creation.
	waitAcks(t, cli, layout, ids, "every replica deleted tmp/1", applied(created+1))
	for _, r := range reps {
		if _, err := r.h.admin.Get(context.Background(), "tmp/1"); !gatewayapi.IsNotFound(err) {
			t.Errorf("replica %s still has tmp/1: %v", r.id, err)
		}
	}

	// 4. etcd stopped under a bounded load: no request fails, the split stays.
	var failed, done atomic.Int64
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	afterStop := make(chan struct{})
	var etcdDown atomic.Bool
	var downDone atomic.Int64
	for _, r := range reps {
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := newBrowser(chromeUA)
				for {
					select {
					case <-stopLoad:
						return
					default:
					}
					status, _, err := b.get(r.url(savaPort))
					if err != nil || status != 200 {
						failed.Add(1)
					}
					done.Add(1)
					if etcdDown.Load() && downDone.Add(1) == 600 {
						close(afterStop)
					}
				}
			}()
		}
	}
	etcd.stop()
	etcdDown.Store(true)
	select {
	case <-afterStop:
	case <-time.After(30 * time.Second):
		t.Fatal("600 requests were not served within 30s of etcd stopping")
	}
	// The admin API refuses writes it cannot put into the store, and says why.
	_, err = reps[0].h.admin.Put(context.Background(), sava, twoRoutes(savaPort, v1, v2, 10, 90))
	var putErr *gatewayapi.APIError
	if !errors.As(err, &putErr) || putErr.Status != 503 {
		t.Errorf("admin PUT with etcd down: want 503, got %v", err)
	}
	close(stopLoad)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("etcd down: %d of %d requests failed", failed.Load(), done.Load())
	}
	t.Logf("etcd down: %d requests over 3 replicas, 0 failed", done.Load())
	expectAbout("etcd down", savaPort, map[string]int{"sava:1.0.0": 120, "sava:1.1.0": 180}, 2)

	// 5. etcd back on the same data and ports: the replicas catch up with a change made after.
	etcd.start()
	cli = etcd.client()
	back := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{sava: twoRoutes(savaPort, v1, v2, 50, 50)})
	waitAcks(t, cli, layout, ids, "every replica applied the first change after etcd came back", applied(back))
	expect("etcd back", savaPort, map[string]int{"sava:1.0.0": 150, "sava:1.1.0": 150})

	// 6. Compaction while r3 is cut off: its watch cannot resume, so it reads the prefix again.
	readsBefore := waitAcks(t, cli, layout, ids, "acks readable", applied(back))["r3"].Reads
	proxy.cut()
	putTxn(t, cli, layout, map[string]gatewayapi.Gateway{shop: twoRoutes(shopPort, s1, s2, 10, 90)})
	last := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{shop: twoRoutes(shopPort, s1, s2, 0, 100)})
	if _, err := cli.Compact(context.Background(), last, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("compact: %v", err)
	}
	waitAcks(t, cli, layout, ids[:2], "r1 and r2 applied the changes made while r3 was cut off", applied(last))
	proxy.mend()
	acks = waitAcks(t, cli, layout, ids, "r3 caught up after the compaction", applied(last))
	if acks["r3"].Reads != readsBefore+1 {
		t.Errorf("r3 should have caught up by reading the prefix again once (compacted watch): reads %d before the cut, %d after", readsBefore, acks["r3"].Reads)
	}
	expect("after compaction", shopPort, map[string]int{"shop:2": 300})
}

// A replica restarted while etcd is down serves its state file, and catches up once etcd is back.
func TestEtcdReplicaRestartsWithoutEtcdFromItsStateFile(t *testing.T) {
	etcd := startTestEtcd(t)
	cli := etcd.client()
	layout, _ := gatewaystore.NewLayout("")
	v1, v2 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	const sava = "sava/9050"
	state := filepath.Join(t.TempDir(), "r1.json")
	rev := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{sava: twoRoutes(port, v1, v2, 100, 0)})
	r := startReplica(t, "r1", "127.0.0.1", etcd.endpoint(), state)
	waitAcks(t, cli, layout, []string{"r1"}, "r1 applied the store", func(a gatewaystore.Ack) bool { return a.Revision >= rev && a.Error == "" })
	if err := r.h.stop(); err != nil {
		t.Fatalf("stopping r1: %v", err)
	}
	etcd.stop()

	r = startReplica(t, "r1", "127.0.0.1", etcd.endpoint(), state)
	if got := newBrowser(chromeUA).count(t, r.url(port), 300); got["sava:1.0.0"] != 300 {
		t.Errorf("restarted without etcd: want the state file's 300/0, got %v", got)
	}

	etcd.start()
	cli = etcd.client()
	rev = putTxn(t, cli, layout, map[string]gatewayapi.Gateway{sava: twoRoutes(port, v1, v2, 0, 100)})
	waitAcks(t, cli, layout, []string{"r1"}, "r1 caught up once etcd was back", func(a gatewaystore.Ack) bool {
		return a.Revision >= rev && a.Error == "" && a.Serving >= rev
	})
	if got := newBrowser(chromeUA).count(t, r.url(port), 300); got["sava:1.1.0"] != 300 {
		t.Errorf("after etcd came back: want 0/300, got %v", got)
	}
}

// TestEtcdReplicaThatCannotListenRejectsAndServesTheRest: one replica cannot listen on a new
// gateway's port (another process holds it on its address only). That replica rejects the
// revision, naming the gateway and the port, and keeps serving the rest as it was (the
// transaction's other change not half-applied); the other replica applies it whole. Once the
// port is free, the next revision brings the rejected transaction too: a replica retries what
// it refused with every later change, and says so in its acknowledgement until it applies.
func TestEtcdReplicaThatCannotListenRejectsAndServesTheRest(t *testing.T) {
	etcd := startTestEtcd(t)
	cli := etcd.client()
	layout, _ := gatewaystore.NewLayout("")
	v1, v2 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	s1, s2 := newBackend(t, "shop:1"), newBackend(t, "shop:2")
	savaPort, newPort, otherPort := freePort(t), freePort(t), freePort(t)
	const sava, shop, other = "sava/9050", "shop/9060", "other/9070"
	first := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{sava: twoRoutes(savaPort, v1, v2, 100, 0)})
	dir := t.TempDir()
	reps := []*replica{
		startReplica(t, "r1", "127.0.0.1", etcd.endpoint(), filepath.Join(dir, "r1.json")),
		startReplica(t, "r2", "127.0.0.2", etcd.endpoint(), filepath.Join(dir, "r2.json")),
	}
	ids := []string{"r1", "r2"}
	applied := func(rev int64) func(gatewaystore.Ack) bool {
		return func(a gatewaystore.Ack) bool { return a.Revision >= rev && a.Error == "" && a.Serving >= rev }
	}
	waitAcks(t, cli, layout, ids, "every replica applied the first read", applied(first))
	serves := func(step string, r *replica, port int, want map[string]int) {
		t.Helper()
		if got := newBrowser(chromeUA).count(t, r.url(port), 100); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: replica %s port %d serves %v over 100 requests, want %v", step, r.id, port, got, want)
		}
	}

	// Another process holds newPort on r2's address only.
	held, err := net.Listen("tcp", "127.0.0.2:"+strconv.Itoa(newPort))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	clash := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{
		sava: twoRoutes(savaPort, v1, v2, 20, 80),
		shop: twoRoutes(newPort, s1, s2, 100, 0),
	})
	acks := waitAcks(t, cli, layout, ids, "every replica processed the revision with the held port", func(a gatewaystore.Ack) bool { return a.Revision >= clash })
	// Serving may be above the revision waited for: a watch that catches up reports the store's
	// revision then, which other replicas' acknowledgements (skipped) may have raised.
	if a := acks["r1"]; a.Error != "" || a.Serving < clash {
		t.Errorf("r1 can listen: want revision %d applied, got %+v", clash, a)
	}
	if a := acks["r2"]; a.Gateway != shop || !strings.Contains(a.Error, "cannot listen on port "+strconv.Itoa(newPort)) || a.Serving < first || a.Serving >= clash {
		t.Errorf("r2: want %s rejected for its port %d, still serving the revision before %d; got %+v", shop, newPort, clash, a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = gatewaystore.Store{Client: cli, Layout: layout}.WaitAcked(ctx, clash, ids)
	cancel()
	var rejected *gatewaystore.RejectedError
	if !errors.As(err, &rejected) || rejected.Replica != "r2" || rejected.Gateway != shop || rejected.Serving != acks["r2"].Serving {
		t.Errorf("WaitAcked(%d): want r2's rejection of %s, got %v", clash, shop, err)
	}
	serves("r1 applied the whole revision", reps[0], savaPort, map[string]int{"sava:1.0.0": 20, "sava:1.1.0": 80})
	serves("r1 applied the whole revision", reps[0], newPort, map[string]int{"shop:1": 100})
	serves("r2 keeps serving the rest as it was", reps[1], savaPort, map[string]int{"sava:1.0.0": 100})
	if st := metricValue(reps[1].h.metricsText(), "vamp_gateway_store_rejected"); st != 1 {
		t.Errorf("r2's vamp_gateway_store_rejected is %v, want 1", st)
	}

	// While the port is held, a later revision of another gateway is applied by r2 too; the
	// rejected transaction (sava's change with shop) is retried with it and still refused:
	// r2's acknowledgement serves the later revision and names what it still refuses.
	later := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{other: twoRoutes(otherPort, s1, s2, 100, 0)})
	acks = waitAcks(t, cli, layout, ids, "every replica processed the later revision", func(a gatewaystore.Ack) bool { return a.Revision >= later })
	if a := acks["r1"]; a.Error != "" || a.Serving < later {
		t.Errorf("r1: want revision %d applied, got %+v", later, a)
	}
	if a := acks["r2"]; a.Serving < later || a.Gateway != shop || !strings.Contains(a.Error, "cannot listen on port "+strconv.Itoa(newPort)) {
		t.Errorf("r2 with the port still held: want revision %d served and %s still refused for its port, got %+v", later, shop, a)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := (gatewaystore.Store{Client: cli, Layout: layout}).WaitAcked(ctx, later, ids); err != nil {
		t.Errorf("WaitAcked(%d), a revision every replica serves: %v", later, err)
	}
	cancel()
	serves("r2 with the port still held", reps[1], otherPort, map[string]int{"shop:1": 100})
	serves("r2 with the port still held", reps[1], savaPort, map[string]int{"sava:1.0.0": 100})
	if st := metricValue(reps[1].h.metricsText(), "vamp_gateway_store_rejected"); st != 1 {
		t.Errorf("r2's vamp_gateway_store_rejected is %v while it refuses shop, want 1", st)
	}

	// The port freed, the next revision (another gateway) brings r2 the whole store.
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	next := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{other: twoRoutes(otherPort, s1, s2, 0, 100)})
	acks = waitAcks(t, cli, layout, ids, "every replica processed the revision after the port was freed", func(a gatewaystore.Ack) bool { return a.Revision >= next })
	for id, a := range acks {
		if a.Error != "" || a.Serving < next {
			t.Errorf("replica %s after the port was freed: want revision %d applied, got %+v", id, next, a)
		}
	}
	for _, r := range reps {
		serves("after the port was freed", r, savaPort, map[string]int{"sava:1.0.0": 20, "sava:1.1.0": 80})
		serves("after the port was freed", r, newPort, map[string]int{"shop:1": 100})
		serves("after the port was freed", r, otherPort, map[string]int{"shop:2": 100})
	}
}
