package gatewaystore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// BenchmarkWaitAcked measures the controller's side of a change: from Write's start to
// WaitAcked's return, with n simulated replicas (each a client of its own that watches the
// gateway keys and writes its acknowledgement of every revision at once) on a real (embedded)
// etcd: p50 and p99 over b.N changes. The replicas' own work is BenchmarkEtcdPropagation's
// (internal/gateway); this one is the store's round trips and WaitAcked's watch.
//
//	go test -run '^$' -bench WaitAcked -benchtime 300x ./internal/gatewaystore/
func BenchmarkWaitAcked(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) { benchWaitAcked(b, n) })
	}
}

func benchWaitAcked(b *testing.B, n int) {
	base := startEtcd(b)
	st := gatewaystore.Store{Client: base, Layout: gatewaystore.Layout{Prefix: "/vamp"}}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	ids := make([]string, n)
	for i := range n {
		ids[i] = "r" + strconv.Itoa(i+1)
		c, err := clientv3.New(clientv3.Config{Endpoints: base.Endpoints(), DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		id := ids[i]
		ready := make(chan struct{})
		go func() {
			wch := c.Watch(ctx, st.Layout.Gateways(), clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			for wresp := range wch {
				if wresp.Created {
					close(ready)
					continue
				}
				if len(wresp.Events) == 0 {
					continue
				}
				rev := wresp.Header.Revision
				data, _ := json.Marshal(gatewaystore.Ack{Replica: id, Revision: rev, Serving: rev, Reads: 1})
				if _, err := c.Put(ctx, st.Layout.Replica(id), string(data)); err != nil && ctx.Err() == nil {
					b.Errorf("replica %s: %v", id, err)
				}
			}
		}()
		<-ready
	}
	var modRev int64
	change := func(i int) time.Duration {
		start := time.Now()
		rev, err := st.Write(ctx, []gatewaystore.Change{{Name: "sava/9050", Gateway: gw(9050, i%100, 100-i%100), Expect: modRev}})
		if err != nil {
			b.Fatal(err)
		}
		modRev = rev
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := st.WaitAcked(wctx, rev, ids); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	change(100)
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		took = append(took, change(i))
	}
	b.StopTimer()
	slices.Sort(took)
	q := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
