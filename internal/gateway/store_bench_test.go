package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// BenchmarkEtcdPropagation measures, with a real (embedded) etcd and N gateway replicas in this
// process, the time from a committed change of a gateway key to every replica having applied it
// and acknowledged it under its replica key (what the provider waits for): p50 and p99 over b.N
// changes. Each change flips the weights of one gateway (port 0: no listener, so the replicas
// share a host).
//
//	go test -run '^$' -bench EtcdPropagation -benchtime 200x ./internal/gateway/
func BenchmarkEtcdPropagation(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) { benchPropagation(b, n) })
	}
}

func benchPropagation(b *testing.B, n int) {
	etcd := startTestEtcd(b)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cli.Close() })
	layout, _ := gatewaystore.NewLayout("")
	v1, v2 := newBackend(b, "sava:1.0.0"), newBackend(b, "sava:1.1.0")
	const name = "sava/bench"
	doc := func(w int) string {
		gw := gatewayapi.Gateway{Routes: []gatewayapi.Route{
			{Name: v1.name, Weight: w, Instances: []gatewayapi.Instance{v1.instance()}},
			{Name: v2.name, Weight: 100 - w, Instances: []gatewayapi.Instance{v2.instance()}},
		}}
		data, err := json.Marshal(gw)
		if err != nil {
			b.Fatal(err)
		}
		return string(data)
	}
	put := func(w int) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := cli.Put(ctx, layout.Gateway(name), doc(w))
		if err != nil {
			b.Fatal(err)
		}
		return resp.Header.Revision
	}
	dir := b.TempDir()
	ids := make([]string, n)
	for i := range n {
		ids[i] = "r" + strconv.Itoa(i+1)
		startReplica(b, ids[i], "127.0.0.1", etcd.endpoint(), filepath.Join(dir, ids[i]+".json"))
	}
	// waitAll blocks until every replica's ack has applied rev, on watch events of the replica
	// keys (a read first, then a watch from the read's next revision).
	waitAll := func(rev int64) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			resp, err := cli.Get(ctx, layout.Replicas(), clientv3.WithPrefix())
			if err != nil {
				b.Fatalf("waiting for revision %d: %v", rev, err)
			}
			done := 0
			for _, kv := range resp.Kvs {
				var a gatewaystore.Ack
				if json.Unmarshal(kv.Value, &a) == nil && a.Revision >= rev && a.Serving >= rev && a.Error == "" {
					done++
				}
			}
			if done == n {
				return
			}
			wctx, wcancel := context.WithCancel(ctx)
			select {
			case <-cli.Watch(wctx, layout.Replicas(), clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)):
			case <-ctx.Done():
				wcancel()
				b.Fatalf("revision %d not acknowledged by %d replicas within 30s", rev, n)
			}
			wcancel()
		}
	}
	waitAll(put(100))
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		rev := put(i % 100)
		waitAll(rev)
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	q := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
}
