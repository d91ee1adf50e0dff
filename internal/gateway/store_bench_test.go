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
// changes, from the Put's start (commit-p50-ms: the Put alone). Each change flips the weights of one gateway (port 0: no listener, so the replicas
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
	// One watch on the replica keys for the whole run, opened before the first change (a watch
	// opened at a past revision is served by etcd's 100ms catch-up loop, which would be measured
	// instead of the replicas).
	acks := map[string]int64{} // replica -> revision applied
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	resp, err := cli.Get(ctx, layout.Replicas(), clientv3.WithPrefix())
	if err != nil {
		b.Fatal(err)
	}
	note := func(value []byte) {
		var a gatewaystore.Ack
		if json.Unmarshal(value, &a) == nil && a.Error == "" {
			acks[a.Replica] = a.Serving
		}
	}
	for _, kv := range resp.Kvs {
		note(kv.Value)
	}
	wch := cli.Watch(ctx, layout.Replicas(), clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	waitAll := func(rev int64) {
		timeout := time.After(30 * time.Second)
		for {
			done := 0
			for _, id := range ids {
				if acks[id] >= rev {
					done++
				}
			}
			if done == n {
				return
			}
			select {
			case wresp := <-wch:
				if err := wresp.Err(); err != nil {
					b.Fatalf("watching the acknowledgements: %v", err)
				}
				for _, ev := range wresp.Events {
					note(ev.Kv.Value)
				}
			case <-timeout:
				b.Fatalf("revision %d not acknowledged by %d replicas within 30s: %v", rev, n, acks)
			}
		}
	}
	waitAll(put(100))
	took := make([]time.Duration, 0, b.N)
	commit := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		rev := put(i % 100)
		commit = append(commit, time.Since(start))
		waitAll(rev)
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	slices.Sort(commit)
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(took, 0.50), "p50-ms")
	b.ReportMetric(q(took, 0.99), "p99-ms")
	b.ReportMetric(q(took, 1), "max-ms")
	b.ReportMetric(q(commit, 0.50), "commit-p50-ms")
}
