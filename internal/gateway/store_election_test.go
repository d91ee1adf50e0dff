package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

// electionGateway is the gateway whose roll-out the election test follows.
const electionGateway = "sava/9050"

// storedRollout reads the roll-out state key of electionGateway and its ModRevision (0: none).
func storedRollout(t *testing.T, cli *clientv3.Client, l gatewaystore.Layout) (gatewaystore.RolloutRecord, int64) {
	t.Helper()
	name := electionGateway
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, l.Rollout(name))
	if err != nil {
		t.Fatalf("reading %s: %v", l.Rollout(name), err)
	}
	if len(resp.Kvs) == 0 {
		return gatewaystore.RolloutRecord{}, 0
	}
	var rec gatewaystore.RolloutRecord
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
		t.Fatalf("%s holds no RolloutRecord: %v", l.Rollout(name), err)
	}
	return rec, resp.Kvs[0].ModRevision
}

// rolloutHistory is every value the roll-out state key of name held up to revision upto, oldest
// first (the watch replays the history: nothing is compacted in these tests).
func rolloutHistory(t *testing.T, cli *clientv3.Client, l gatewaystore.Layout, name string, upto int64) []gatewaystore.RolloutRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []gatewaystore.RolloutRecord
	for wresp := range cli.Watch(ctx, l.Rollout(name), clientv3.WithRev(1)) {
		if err := wresp.Err(); err != nil {
			t.Fatalf("replaying %s: %v", l.Rollout(name), err)
		}
		for _, ev := range wresp.Events {
			var rec gatewaystore.RolloutRecord
			if err := json.Unmarshal(ev.Kv.Value, &rec); err != nil {
				t.Fatalf("%s at revision %d: %v", l.Rollout(name), ev.Kv.ModRevision, err)
			}
			out = append(out, rec)
			if ev.Kv.ModRevision >= upto {
				return out
			}
		}
	}
	t.Fatalf("replaying %s: the watch ended before revision %d", l.Rollout(name), upto)
	return nil
}

// leaderOf waits until exactly one of reps leads the election and returns it.
func leaderOf(t *testing.T, reps []*replica) *replica {
	t.Helper()
	var lead *replica
	eventually(t, "exactly one replica leads the roll-out election", func() bool {
		lead = nil
		n := 0
		for _, r := range reps {
			if r.h.srv.StoreLeader() {
				lead, n = r, n+1
			}
		}
		return n == 1
	})
	return lead
}

// metricValue is the value of an unlabelled metric in /metrics text (-1: absent).
func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestEtcdElectionRolloutLeaderTicksOthersFollowAndTakeOver runs a roll-out on three replicas
// with one etcd: only the elected replica writes decisions (counted on every replica's /metrics
// and in the history of the roll-out key), every replica serves each step's weights (exact
// counts), the leader killed mid-roll-out (cut from etcd, then stopped) is replaced within the
// lease by another replica that goes on from the stored step (same start, never step 1 again) to
// promotion, and the deposed leader's compare-and-set fails without overwriting anything.
func TestEtcdElectionRolloutLeaderTicksOthersFollowAndTakeOver(t *testing.T) {
	etcd := startTestEtcd(t)
	cli := etcd.client()
	layout, _ := gatewaystore.NewLayout("")
	v1, v2 := newBackend(t, "sava:1.0.0"), newBackend(t, "sava:1.1.0")
	port := freePort(t)
	const sava = electionGateway
	clock := &fakeClock{t: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	target := "127.0.0.1:" + strconv.Itoa(etcd.clientPort)
	proxies := map[string]*cutProxy{}
	var reps []*replica
	for i, host := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		id := "r" + strconv.Itoa(i+1)
		p := newCutProxy(t, target)
		proxies[id] = p
		reps = append(reps, startReplica(t, id, host, "http://"+p.addr, filepath.Join(dir, id+".json"), func(c *gateway.Config) {
			c.RolloutTick = -1 // the test ticks (TickRollouts) on a fake clock
			c.Clock = clock.Now
			c.Etcd.LeaseTTL = 2 * time.Second
		}))
	}
	gw := twoRoutes(port, v1, v2, 100, 0)
	gw.Rollout = policy() // 10, 25, 50, 100 every 10s; at least 10 canary requests per step
	gw.Rollout.Canary = v2.name
	first := putTxn(t, cli, layout, map[string]gatewayapi.Gateway{sava: gw})
	ids := func(rs []*replica) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.id)
		}
		return out
	}
	applied := func(rev int64) func(gatewaystore.Ack) bool {
		return func(a gatewaystore.Ack) bool { return a.Revision >= rev && a.Error == "" && a.Serving >= rev }
	}
	waitAcks(t, cli, layout, ids(reps), "every replica applied the gateway with its roll-out", applied(first))

	// tick judges the roll-out on every replica at the clock's time, then waits until every
	// replica applied the stored state, and checks that each serves its weights: 100 requests
	// (whole cycles of any split) per replica, exact.
	tick := func(step string, rs []*replica) gatewaystore.RolloutRecord {
		t.Helper()
		for _, r := range rs {
			r.h.settled(sava)
			r.h.srv.TickRollouts(context.Background(), clock.Now())
		}
		rec, rev := storedRollout(t, cli, layout)
		if rev == 0 {
			t.Fatalf("%s: no roll-out state in the store", step)
		}
		waitAcks(t, cli, layout, ids(rs), step+": every replica applied the roll-out state", applied(rev))
		want := map[string]int{v1.name: rec.State.Weights[v1.name], v2.name: rec.State.Weights[v2.name]}
		for _, r := range rs {
			got := newBrowser(chromeUA).count(t, r.url(port), 100)
			if got[v1.name] != want[v1.name] || got[v2.name] != want[v2.name] {
				t.Errorf("%s (step %d): replica %s serves %v over 100 requests; the store says %v", step, rec.State.Step, r.id, got, want)
			}
		}
		return rec
	}

	old := leaderOf(t, reps)
	rec := tick("start", reps)
	if rec.State.Step != 1 || rec.State.Weights[v2.name] != 10 || rec.Writer != old.id {
		t.Fatalf("start: want step 1 at 10%% written by the leader %s, got step %d %v by %s", old.id, rec.State.Step, rec.State.Weights, rec.Writer)
	}
	// The record's key is what a controller computes from the document (gatewaystore.RolloutKey,
	// the provider's wait_for_promotion in etcd mode): the replicas' own rolloutKey.
	if key, err := gatewaystore.RolloutKey(sava, gw); err != nil || key != rec.Key {
		t.Errorf("gatewaystore.RolloutKey of the document is %q (%v); the leader's record has key %q", key, err, rec.Key)
	}
	clock.advance(10 * time.Second)
	rec = tick("second step", reps)
	if rec.State.Step != 2 || rec.State.Weights[v2.name] != 25 {
		t.Fatalf("second step: want step 2 at 25%%, got step %d %v (%s)", rec.State.Step, rec.State.Weights, rec.State.Reason)
	}
	// Exactly one writer so far: the leader, on its own /metrics and on nobody else's.
	for _, r := range reps {
		writes := metricValue(r.h.metricsText(), "vamp_gateway_store_rollout_writes_total")
		if (r == old) != (writes > 0) {
			t.Errorf("replica %s (leader: %v) wrote %v roll-out decisions; only the leader %s may write", r.id, r == old, writes, old.id)
		}
	}
	started := rec.State.StartedAt
	atKill := rec.State.Step
	oldKey, oldRev, ok := gateway.LeaderToken(old.h.srv)
	if !ok {
		t.Fatalf("the leader %s has no leader token", old.id)
	}

	var survivors []*replica
	for _, r := range reps {
		if r != old {
			survivors = append(survivors, r)
		}
	}
	// Load on the survivors from before the kill until the new leader holds the election and
	// the stored step: not one request may fail.
	kv, err := cli.Get(context.Background(), layout.Gateway(sava))
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("reading %s: %v", layout.Gateway(sava), err)
	}
	gwStep2 := kv.Kvs[0].ModRevision
	load := startSurvivorLoad(survivors, port)

	// Kill the leader mid-roll-out: cut from etcd (its lease cannot be renewed), then stopped.
	killed := time.Now()
	proxies[old.id].cut()
	if err := old.h.stop(); err != nil {
		t.Fatalf("stopping the leader %s: %v", old.id, err)
	}
	lead := leaderOf(t, survivors)
	t.Logf("leader %s killed; %s leads %v later (lease 2s)", old.id, lead.id, time.Since(killed).Round(10*time.Millisecond))
	if st := lead.h.get(sava).RolloutStatus; st == nil || st.Step != atKill || st.Phase != string(rollout.PhaseProgressing) {
		t.Fatalf("the new leader %s should hold the stored step %d, progressing; it shows %+v", lead.id, atKill, st)
	}

	// The deposed leader's token no longer writes: the compare on its leader key fails, and the
	// store keeps what it had.
	kv, err = cli.Get(context.Background(), layout.Gateway(sava))
	if err != nil || len(kv.Kvs) != 1 {
		t.Fatalf("reading %s: %v", layout.Gateway(sava), err)
	}
	gwBefore := kv.Kvs[0].ModRevision
	_, roBefore := storedRollout(t, cli, layout)
	err = gateway.WriteRolloutAs(context.Background(), lead.h.srv, oldKey, oldRev, sava, map[string]int{v1.name: 90, v2.name: 10})
	var lost *gateway.LeadershipLostError
	if !errors.As(err, &lost) {
		t.Fatalf("a write as the deposed leader %s: want a *LeadershipLostError, got %v", old.id, err)
	}
	kv, err = cli.Get(context.Background(), layout.Gateway(sava))
	if err != nil || len(kv.Kvs) != 1 || kv.Kvs[0].ModRevision != gwBefore {
		t.Fatalf("the deposed leader's write changed %s: %v", layout.Gateway(sava), err)
	}
	if _, roNow := storedRollout(t, cli, layout); roNow != roBefore {
		t.Fatalf("the deposed leader's write changed the roll-out state (revision %d, was %d)", roNow, roBefore)
	}

	// The load stops: 0 failed requests on the survivors. Their weights did not change under
	// it (the gateway key is where the second step left it), so each survivor's weighted cycle
	// (design.md rule 3) is completed with the requests the load left short of a whole one:
	// tick's exact counts start on a cycle's first request again.
	load.stopAndCheck(t, "the leader's kill and the take-over")
	if kv, err := cli.Get(context.Background(), layout.Gateway(sava)); err != nil || len(kv.Kvs) != 1 || kv.Kvs[0].ModRevision != gwStep2 {
		t.Fatalf("the gateway key changed during the take-over (revision %v, the second step's %d): %v", kv, gwStep2, err)
	}
	cycle := 100 / gcd(rec.State.Weights[v1.name], rec.State.Weights[v2.name])
	for _, r := range survivors {
		if n := (cycle - int(load.sent[r.id].Load())%cycle) % cycle; n > 0 {
			newBrowser(chromeUA).count(t, r.url(port), n)
		}
	}

	// The new leader goes on from the stored step to promotion. Its first interval may wait for
	// requests: it measures its own traffic from its first tick as leader.
	for i := 0; i < 12 && rec.State.Phase == rollout.PhaseProgressing; i++ {
		clock.advance(10 * time.Second)
		rec = tick("after the take-over", survivors)
		if rec.State.Step < atKill {
			t.Fatalf("the roll-out went back to step %d after the take-over (it was at %d)", rec.State.Step, atKill)
		}
	}
	if rec.State.Phase != rollout.PhasePromoted || rec.State.Weights[v2.name] != 100 {
		t.Fatalf("after the take-over: want promoted at 100%%, got %s %v (%s)", rec.State.Phase, rec.State.Weights, rec.State.Reason)
	}
	if rec.Writer != lead.id {
		t.Errorf("promotion written by %s, want the new leader %s", rec.Writer, lead.id)
	}

	// The roll-out key's history: decisions by the old leader up to the kill, then by the new
	// one only; one start time; steps never go back.
	_, last := storedRollout(t, cli, layout)
	hist := rolloutHistory(t, cli, layout, sava, last)
	writers := map[string]int{}
	prevStep, switched := 0, false
	for i, h := range hist {
		writers[h.Writer]++
		if !h.State.StartedAt.Equal(started) {
			t.Errorf("record %d (%s, step %d) started at %v, the roll-out at %v: it restarted", i, h.Writer, h.State.Step, h.State.StartedAt, started)
		}
		if h.State.Step < prevStep {
			t.Errorf("record %d by %s: step %d after step %d", i, h.Writer, h.State.Step, prevStep)
		}
		if h.Writer == lead.id && !switched {
			switched = true
			if h.State.Step < atKill {
				t.Errorf("the new leader's first decision is at step %d; it should continue from %d", h.State.Step, atKill)
			}
		}
		if switched && h.Writer != lead.id {
			t.Errorf("record %d written by %s after %s took over", i, h.Writer, lead.id)
		}
		prevStep = h.State.Step
	}
	if len(writers) != 2 || writers[old.id] != 2 || writers[lead.id] == 0 {
		t.Errorf("writers of the roll-out state: %v; want %s (2 decisions) then %s only", writers, old.id, lead.id)
	}
	// The same weight steps as without a take-over: the canary went through the policy's
	// schedule, each step once and in order, each record's weights those of its step.
	var canarySteps []int
	for i, h := range hist {
		if h.State.Phase != rollout.PhaseProgressing && h.State.Phase != rollout.PhasePromoted {
			t.Errorf("record %d by %s is %s (%s); want only progress and the promotion", i, h.Writer, h.State.Phase, h.State.Reason)
			continue
		}
		w := h.State.Weights[v2.name]
		if h.State.Step < 1 || h.State.Step > len(gw.Rollout.Steps) || w != gw.Rollout.Steps[h.State.Step-1] || h.State.Weights[v1.name] != 100-w {
			t.Errorf("record %d by %s: step %d with weights %v; the policy's steps are %v", i, h.Writer, h.State.Step, h.State.Weights, gw.Rollout.Steps)
		}
		if n := len(canarySteps); n == 0 || canarySteps[n-1] != w {
			canarySteps = append(canarySteps, w)
		}
	}
	if fmt.Sprint(canarySteps) != fmt.Sprint(gw.Rollout.Steps) {
		t.Errorf("the canary's weights over the roll-out went %v; want the policy's steps %v, each once", canarySteps, gw.Rollout.Steps)
	}
	for _, r := range survivors {
		writes := metricValue(r.h.metricsText(), "vamp_gateway_store_rollout_writes_total")
		if (r == lead) != (writes > 0) {
			t.Errorf("replica %s (leader: %v) wrote %v roll-out decisions", r.id, r == lead, writes)
		}
	}
	t.Logf("roll-out history: %d decisions, by %v", len(hist), writers)
}

// survivorLoad sends GETs to port on each replica, one client per replica, until stopped, and
// counts what did not answer 200.
type survivorLoad struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	sent   map[string]*atomic.Int64
	failed map[string]*atomic.Int64
	first  atomic.Value // the first failure, a string
}

func startSurvivorLoad(rs []*replica, port int) *survivorLoad {
	l := &survivorLoad{stop: make(chan struct{}), sent: map[string]*atomic.Int64{}, failed: map[string]*atomic.Int64{}}
	for _, r := range rs {
		sent, failed := &atomic.Int64{}, &atomic.Int64{}
		l.sent[r.id], l.failed[r.id] = sent, failed
		b, url, id := newBrowser(chromeUA), r.url(port), r.id
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			pace := time.NewTicker(2 * time.Millisecond) // pacing, not synchronisation
			defer pace.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-pace.C:
				}
				status, body, err := b.get(url)
				sent.Add(1)
				if err != nil || status != http.StatusOK {
					failed.Add(1)
					l.first.CompareAndSwap(nil, fmt.Sprintf("replica %s: status %d, body %q, error %v", id, status, body, err))
				}
			}
		}()
	}
	return l
}

// stopAndCheck stops the load and fails the test if a request failed or a replica got none.
func (l *survivorLoad) stopAndCheck(t *testing.T, during string) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	for id, sent := range l.sent {
		n, failed := sent.Load(), l.failed[id].Load()
		if failed != 0 {
			t.Errorf("during %s, %d of %d requests to surviving replica %s failed; first: %v", during, failed, n, id, l.first.Load())
		}
		if n == 0 {
			t.Errorf("during %s, no request reached surviving replica %s", during, id)
		}
		t.Logf("during %s: %d requests to %s, %d failed", during, n, id, failed)
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
