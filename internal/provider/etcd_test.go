package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/etcdtest"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// storeEnv is etcd and gateway replicas that follow it (store mode), each replica on its own
// loopback address (127.0.0.1, .2, .3) with the same gateway ports.
type storeEnv struct {
	t        *testing.T
	etcd     *etcdtest.Etcd
	store    gatewaystore.Store
	dir      string
	replicas []*storeReplica
}

type storeReplica struct {
	id, host string
	stop     func() error
}

func newStoreEnv(t *testing.T, etcd *etcdtest.Etcd, prefix string, n int) *storeEnv {
	t.Helper()
	layout, err := gatewaystore.NewLayout(prefix)
	if err != nil {
		t.Fatal(err)
	}
	env := &storeEnv{t: t, etcd: etcd, store: gatewaystore.Store{Client: etcd.Client(t), Layout: layout}, dir: t.TempDir()}
	for i := 1; i <= n; i++ {
		r := &storeReplica{id: "r" + strconv.Itoa(i), host: "127.0.0." + strconv.Itoa(i)}
		env.replicas = append(env.replicas, r)
		env.start(r)
	}
	t.Cleanup(func() {
		for _, r := range env.replicas {
			r.halt(t)
		}
	})
	return env
}

// start runs replica r (again), on its state file.
func (env *storeEnv) start(r *storeReplica) {
	env.t.Helper()
	_, stop, err := startGateway(gateway.Config{
		AdminListen:  "127.0.0.1:0",
		AdminToken:   randomToken(),
		StateFile:    filepath.Join(env.dir, r.id+".json"),
		BindHost:     r.host,
		DrainTimeout: 5 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sources:      []discovery.Source{testRunner},
		Etcd: gateway.EtcdConfig{Endpoints: []string{env.etcd.Endpoint}, Prefix: env.store.Layout.Prefix, ReplicaID: r.id,
			RequestTimeout: 2 * time.Second},
	})
	if err != nil {
		env.t.Fatalf("starting replica %s: %v", r.id, err)
	}
	r.stop = stop
}

// halt stops replica r if it runs; an error means its admin API had stopped by itself.
func (r *storeReplica) halt(t testing.TB) {
	t.Helper()
	if r.stop != nil {
		if err := r.stop(); err != nil {
			t.Errorf("stopping replica %s: %v", r.id, err)
		}
		r.stop = nil
	}
}

func (env *storeEnv) providerBlock(extra string) string {
	ids := make([]string, len(env.replicas))
	for i, r := range env.replicas {
		ids[i] = strconv.Quote(r.id)
	}
	return fmt.Sprintf(`
provider "vamp" {
  etcd {
    endpoints = [%q]
    prefix    = %q
    replicas  = [%s]
  }
}
%s`, env.etcd.Endpoint, env.store.Layout.Prefix, strings.Join(ids, ", "), extra)
}

// twoGateways is two vamp_gateway resources, each with two routes to backends.
func twoGateways(p1, p2 int, a, b, c, d string, w [4]int, timeout string) string {
	gw := func(res, name string, port int, x, y string, wx, wy int) string {
		to := ""
		if timeout != "" {
			to = fmt.Sprintf("\n  timeouts {\n    update = %q\n  }", timeout)
		}
		return fmt.Sprintf(`
resource "vamp_gateway" %q {
  name   = %q
  port   = %d
  routes = [
    { name = "x", addresses = [%q], weight = %d },
    { name = "y", addresses = [%q], weight = %d },
  ]%s
}
`, res, name, port, x, wx, y, wy, to)
	}
	return gw("one", "acc/etcd/one", p1, a, b, w[0], w[1]) + gw("two", "acc/etcd/two", p2, c, d, w[2], w[3])
}

// replicaRequests is how many requests expectOnEveryReplica sends to each replica.
const replicaRequests = 300

// expectOnEveryReplica counts replicaRequests requests on port at each running replica's address.
func (env *storeEnv) expectOnEveryReplica(port int, want map[string]int) resource.TestCheckFunc {
	const n = replicaRequests
	return func(*terraform.State) error {
		for _, r := range env.replicas {
			if r.stop == nil {
				continue
			}
			got, err := countVersionsAt(r.host, port, n, chromeUA)
			if err != nil {
				return fmt.Errorf("replica %s: %w", r.id, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("replica %s port %d: %d requests went %v, want %v", r.id, port, n, got, want)
			}
		}
		return nil
	}
}

// expectAcked checks, right when the apply returned, that every replica has acknowledged the
// revisions of the named gateways' keys without an error: the apply waited for them.
func (env *storeEnv) expectAcked(names ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		entries, _, err := env.store.Read(ctx)
		if err != nil {
			return err
		}
		var newest int64
		for _, n := range names {
			e, ok := entries[n]
			if !ok {
				return fmt.Errorf("gateway %q is not in etcd", n)
			}
			newest = max(newest, e.ModRevision)
		}
		acks, _, err := env.store.Acks(ctx)
		if err != nil {
			return err
		}
		for _, r := range env.replicas {
			a, ok := acks[r.id]
			if !ok || a.Revision < newest || a.Serving < newest || a.Error != "" {
				return fmt.Errorf("replica %s: acknowledgement %+v (found %v) when the apply returned; want revision %d applied", r.id, a, ok, newest)
			}
		}
		return nil
	}
}

// anotherWriter is a plan check that, between the plan and the apply, changes a gateway in
// etcd as another Terraform run would.
type anotherWriter struct {
	env  *storeEnv
	name string
	edit func(*gatewayapi.Gateway)
}

func (w anotherWriter) CheckPlan(ctx context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	entries, _, err := w.env.store.Read(ctx)
	if err != nil {
		resp.Error = err
		return
	}
	e, ok := entries[w.name]
	if !ok {
		resp.Error = fmt.Errorf("gateway %q is not in etcd", w.name)
		return
	}
	w.edit(&e.Gateway)
	rev, err := w.env.store.Write(ctx, []gatewaystore.Change{{Name: w.name, Gateway: &e.Gateway, Expect: e.ModRevision}})
	if err != nil {
		resp.Error = err
		return
	}
	// Every running replica serves the other writer's change before the test goes on.
	var running []string
	for _, r := range w.env.replicas {
		if r.stop != nil {
			running = append(running, r.id)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := w.env.store.WaitAcked(wctx, rev, running); err != nil {
		resp.Error = fmt.Errorf("the other writer's change: %w", err)
	}
}

func setWeights(x, y int) func(*gatewayapi.Gateway) {
	return func(gw *gatewayapi.Gateway) { gw.Routes[0].Weight, gw.Routes[1].Weight = x, y }
}

func checkStoreGone(env *storeEnv, names ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		entries, _, err := env.store.Read(context.Background())
		if err != nil {
			return err
		}
		for _, n := range names {
			if _, ok := entries[n]; ok {
				return fmt.Errorf("gateway %q is still in etcd", n)
			}
		}
		return nil
	}
}

// expectConvergence checks the convergence that the resource at address records: all of env's
// replicas acknowledged the revision of the apply's transaction, which is the revision of the
// named gateways' keys in etcd now.
func (env *storeEnv) expectConvergence(address string, gateways ...string) []statecheck.StateCheck {
	ids := make([]knownvalue.Check, len(env.replicas))
	names := make([]string, len(env.replicas))
	for i, r := range env.replicas {
		ids[i], names[i] = knownvalue.StringExact(r.id), r.id
	}
	n := int64(len(env.replicas))
	conv := tfjsonpath.New("convergence")
	return []statecheck.StateCheck{
		statecheck.ExpectKnownValue(address, conv.AtMapKey("revision"), knownvalue.Int64Func(func(rev int64) error {
			return env.keysAt(rev, gateways...)
		})),
		statecheck.ExpectKnownValue(address, conv.AtMapKey("replicas"), knownvalue.ListExact(ids)),
		statecheck.ExpectKnownValue(address, conv.AtMapKey("acknowledged"), knownvalue.Int64Exact(n)),
		statecheck.ExpectKnownValue(address, conv.AtMapKey("expected"), knownvalue.Int64Exact(n)),
		statecheck.ExpectKnownValue(address, conv.AtMapKey("summary"), knownvalue.StringRegexp(regexp.MustCompile(
			fmt.Sprintf(`^%d of %d replicas \(%s\) serve etcd revision [1-9][0-9]*, [0-9.]+[µm]?s after the commit$`, n, n, strings.Join(names, ", "))))),
		statecheck.ExpectKnownValue(address, conv.AtMapKey("took"), knownvalue.StringFunc(func(took string) error {
			if d, err := time.ParseDuration(took); err != nil || d <= 0 {
				return fmt.Errorf("took %q is not a positive duration (%v)", took, err)
			}
			return nil
		})),
	}
}

// keysAt fails unless every named gateway's key in etcd was last written at rev.
func (env *storeEnv) keysAt(rev int64, names ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, _, err := env.store.Read(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		e, ok := entries[n]
		if !ok {
			return fmt.Errorf("gateway %q is not in etcd", n)
		}
		if e.ModRevision != rev {
			return fmt.Errorf("convergence.revision is %d, but gateway %q's key in etcd is at revision %d", rev, n, e.ModRevision)
		}
	}
	return nil
}

// TestAccEtcdReplicasConverge runs the provider against a real etcd process (Debian's
// etcd-server, `make tools`; started on loopback, stopped by its PID) and three gateway replicas: every apply returns once all three serve the change; another writer's change is
// drift; a write between plan and apply fails the apply; a replica that rejects a change or is
// stopped fails it, naming the replica; a restarted replica catches up.
func TestAccEtcdReplicasConverge(t *testing.T) {
	env := newStoreEnv(t, etcdtest.Binary(t), "/acc-converge", 3)
	a, b := versionServer(t, "1.0.0"), versionServer(t, "2.0.0")
	c, d := versionServer(t, "3.0.0"), versionServer(t, "4.0.0")
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	const one, two = "acc/etcd/one", "acc/etcd/two"
	config := func(w [4]int, timeout string) string {
		return env.providerBlock(twoGateways(p1, p2, a, b, c, d, w, timeout))
	}
	split := config([4]int{20, 80, 30, 70}, "")
	var held net.Listener

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkStoreGone(env, one, two),
		Steps: []resource.TestStep{
			{
				Config: config([4]int{100, 0, 100, 0}, ""),
				Check: resource.ComposeTestCheckFunc(
					env.expectAcked(one, two),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 300}),
					env.expectOnEveryReplica(p2, map[string]int{"3.0.0": 300}),
				),
			},
			{
				// One apply changes the weights of both gateways; the state reports that all
				// three replicas serve each gateway's revision, and the next plan is empty (the
				// convergence stays as it is).
				Config: split,
				Check: resource.ComposeTestCheckFunc(
					env.expectAcked(one, two),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 60, "2.0.0": 240}),
					env.expectOnEveryReplica(p2, map[string]int{"3.0.0": 90, "4.0.0": 210}),
				),
				ConfigStateChecks: append(env.expectConvergence("vamp_gateway.one", one), env.expectConvergence("vamp_gateway.two", two)...),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectUnknownValue("vamp_gateway.one", tfjsonpath.New("convergence")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Another writer's change in etcd is drift: the plan puts the weights back.
				PreConfig: func() {
					if err := (anotherWriter{env: env, name: one, edit: setWeights(50, 50)}).write(); err != nil {
						t.Fatal(err)
					}
				},
				Config: split,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_gateway.one", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("vamp_gateway.two", plancheck.ResourceActionNoop),
					plancheck.ExpectKnownValue("vamp_gateway.two", tfjsonpath.New("convergence").AtMapKey("acknowledged"), knownvalue.Int64Exact(3)),
				}},
				Check: resource.ComposeTestCheckFunc(
					env.expectAcked(one),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 60, "2.0.0": 240}),
				),
			},
			{
				// A write between this plan and its apply: the apply fails and writes nothing.
				Config: config([4]int{40, 60, 30, 70}, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					anotherWriter{env: env, name: one, edit: setWeights(10, 90)},
				}},
				ExpectError: regexp.MustCompile(`(?s)Another writer changed a gateway in etcd.*another writer changed gateway\s+"acc/etcd/one".*Run terraform plan\s+again`),
			},
			{
				// The other writer's 10/90 serves (nothing was overwritten); a new plan sees it.
				PreConfig: func() {
					got, err := countVersionsAt("127.0.0.2", p1, 300, chromeUA)
					if err != nil || fmt.Sprint(got) != fmt.Sprint(map[string]int{"1.0.0": 30, "2.0.0": 270}) {
						t.Fatalf("after the conflict, replica r2 serves %v (%v), want the other writer's 10/90", got, err)
					}
				},
				Config: split,
				Check: resource.ComposeTestCheckFunc(
					env.expectAcked(one, two),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 60, "2.0.0": 240}),
				),
			},
			{
				// Replica r2 cannot listen on a third gateway's port: it rejects the change, the
				// apply fails naming it, and the change is taken out of etcd again.
				PreConfig: func() {
					var err error
					if held, err = net.Listen("tcp", "127.0.0.2:"+strconv.Itoa(p3)); err != nil {
						t.Fatal(err)
					}
				},
				Config: split + fmt.Sprintf(`
resource "vamp_gateway" "three" {
  name   = "acc/etcd/three"
  port   = %d
  routes = [{ name = "x", addresses = [%q] }]
}
`, p3, a),
				ExpectError: regexp.MustCompile(`(?s)Gateway replica "r2" rejected the change.*replica r2 rejected revision`),
			},
			{
				PreConfig: func() {
					if err := held.Close(); err != nil {
						t.Fatal(err)
					}
				},
				Config: split,
				Check: resource.ComposeTestCheckFunc(
					checkStoreGone(env, "acc/etcd/three"),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 60, "2.0.0": 240}),
				),
			},
			{
				// r3 is stopped: the apply fails naming it once the resource's timeout ends (r3 is
				// in the provider's replicas, so it is waited for also after its key's lease ended).
				PreConfig:   func() { env.replicas[2].halt(t) },
				Config:      config([4]int{40, 60, 30, 70}, "3s"),
				ExpectError: regexp.MustCompile(`(?s)Gateway replica "r3" did not apply the change in\s+time.*in time: r3\s+\((at\s+revision|no\s+acknowledgement)`),
			},
			{
				// r3 back: it catches up, and the next apply converges on all three.
				PreConfig: func() { env.start(env.replicas[2]) },
				Config:    config([4]int{40, 60, 30, 70}, ""),
				Check: resource.ComposeTestCheckFunc(
					env.expectAcked(one, two),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 120, "2.0.0": 180}),
				),
			},
			{
				// An import from etcd is the state an apply made, except convergence: null, as no
				// apply made it.
				ResourceName:                         "vamp_gateway.one",
				ImportState:                          true,
				ImportStateId:                        one,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				ImportStateVerifyIgnore:              []string{"convergence"},
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					for _, st := range states {
						for k, v := range st.Attributes {
							if strings.HasPrefix(k, "convergence.") && v != "0" {
								return fmt.Errorf("imported %s has %s = %q, want convergence null", st.ID, k, v)
							}
						}
					}
					return nil
				},
			},
		},
	})
}

// write is the plan check's change, for a PreConfig.
func (w anotherWriter) write() error {
	var resp plancheck.CheckPlanResponse
	w.CheckPlan(context.Background(), plancheck.CheckPlanRequest{}, &resp)
	return resp.Error
}

// TestAccEtcdBinaryConverges is the same convergence with the real etcd binary (Debian's
// etcd-server 3.4, `make tools`), started by the test and stopped by its PID, and then etcd
// stopped under load: every replica keeps serving the last split without a failed request, an
// apply fails naming etcd and its endpoint and writes nothing, and once etcd is back on the same
// data and port the next apply converges on all three replicas.
func TestAccEtcdBinaryConverges(t *testing.T) {
	etcd := etcdtest.Binary(t)
	env := newStoreEnv(t, etcd, "/vamp", 3)
	a, b := versionServer(t, "1.0.0"), versionServer(t, "2.0.0")
	c, d := versionServer(t, "3.0.0"), versionServer(t, "4.0.0")
	p1, p2 := freePort(t), freePort(t)
	const one, two = "acc/etcd/one", "acc/etcd/two"
	config := func(w [4]int) string { return env.providerBlock(twoGateways(p1, p2, a, b, c, d, w, "")) }
	var load *replicaLoad
	t.Cleanup(func() {
		if load != nil {
			load.stop()
		}
	})
	var stored map[string]gatewaystore.Entry // the gateways in etcd when it stopped
	var window map[string]int                // by replica: where the counted answers after the stop begin
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkStoreGone(env, one, two),
		Steps: []resource.TestStep{
			{
				Config: config([4]int{100, 0, 100, 0}),
				Check:  env.expectAcked(one, two),
			},
			{
				Config: config([4]int{20, 80, 30, 70}),
				Check: resource.ComposeTestCheckFunc(
					env.expectAcked(one, two),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 60, "2.0.0": 240}),
					env.expectOnEveryReplica(p2, map[string]int{"3.0.0": 90, "4.0.0": 210}),
					logConvergence(t, "the split", "vamp_gateway.one", "vamp_gateway.two"),
				),
				ConfigStateChecks: append(env.expectConvergence("vamp_gateway.one", one), env.expectConvergence("vamp_gateway.two", two)...),
			},
			{
				// Load on every replica, then etcd stopped by its PID: the replicas serve on,
				// and an apply fails at its first read, naming etcd and the endpoint.
				PreConfig: func() {
					// The counted port's table has served whole weight cycles (expectOnEveryReplica's
					// 300 requests), so the load's counted answers start at a cycle's start.
					load = env.startLoad(p1, p2, 2)
					load.waitCounted(t, func(id string, n int) bool { return n >= replicaRequests }, "the load's first answers")
					var err error
					if stored, _, err = env.store.Read(context.Background()); err != nil {
						t.Fatal(err)
					}
					etcd.Stop(t)
					// The window starts at the next whole hundred of answers: a multiple of any
					// weight cycle (weights sum to 100), so its counts are exact.
					window = map[string]int{}
					for id, n := range load.counted() {
						window[id] = (n + 99) / 100 * 100
					}
					load.waitCounted(t, func(id string, n int) bool { return n >= window[id]+replicaRequests }, "300 answers on every replica after etcd stopped")
				},
				Config: config([4]int{40, 60, 0, 100}),
				ExpectError: regexp.MustCompile(`(?s)Cannot reach etcd.*etcd\s+\(` + regexp.QuoteMeta(etcd.Endpoint) +
					`\):\s+no\s+answer\s+within\s+5s.*Check\s+the\s+provider's\s+etcd.endpoints`),
			},
			{
				// etcd back on the same data and port: the failed apply wrote nothing, and the next
				// apply converges on all three replicas while the load goes on.
				PreConfig: func() {
					load.stopCounting()
					want := map[string]int{"1.0.0": 60, "2.0.0": 240}
					for _, r := range env.replicas {
						got := map[string]int{}
						for _, v := range load.versions(r.id)[window[r.id] : window[r.id]+replicaRequests] {
							got[v]++
						}
						if fmt.Sprint(got) != fmt.Sprint(want) {
							t.Errorf("etcd stopped: replica %s port %d: %d requests went %v, want the last split %v", r.id, p1, replicaRequests, got, want)
						}
					}
					etcd.Start(t)
					now, _, err := env.store.Read(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					for _, n := range []string{one, two} {
						if now[n].ModRevision != stored[n].ModRevision {
							t.Errorf("gateway %q: at revision %d in etcd after the failed apply, was %d: the apply wrote while etcd was down", n, now[n].ModRevision, stored[n].ModRevision)
						}
					}
				},
				Config: config([4]int{40, 60, 0, 100}),
				Check: resource.ComposeTestCheckFunc(
					func(*terraform.State) error {
						done, failed, first := load.stop()
						t.Logf("load from before etcd stopped until after the apply that followed its return: %d requests to 3 replicas, %d failed", done, failed)
						if failed != 0 {
							return fmt.Errorf("%d of %d requests failed under load while etcd stopped and came back; the first: %s", failed, done, first)
						}
						return nil
					},
					env.expectAcked(one, two),
					env.expectOnEveryReplica(p1, map[string]int{"1.0.0": 120, "2.0.0": 180}),
					env.expectOnEveryReplica(p2, map[string]int{"4.0.0": 300}),
					logConvergence(t, "etcd back", "vamp_gateway.one", "vamp_gateway.two"),
				),
				ConfigStateChecks: append(env.expectConvergence("vamp_gateway.one", one), env.expectConvergence("vamp_gateway.two", two)...),
			},
		},
	})
}

// logConvergence logs the convergence summary of each resource (expectConvergence checks it).
func logConvergence(t *testing.T, step string, addresses ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, a := range addresses {
			rs, ok := s.RootModule().Resources[a]
			if !ok {
				return fmt.Errorf("%s is not in the state", a)
			}
			t.Logf("%s: %s: %s", step, a, rs.Primary.Attributes["convergence.summary"])
		}
		return nil
	}
}

// replicaLoad is traffic against every replica of a storeEnv: per replica, one client that
// sends requests to one gateway port (counted) one after another and records the version of
// each answer (the gateway's only client on that replica, so its answers are consecutive in the
// gateway's weighted cycle), and workers clients that send requests to another port (loaded) as
// fast as they are answered. An answer other than 200 and a transport error are failures.
type replicaLoad struct {
	done, failed atomic.Int64
	ids          []string // the replicas
	mu           sync.Mutex
	first        string              // the first failure
	seen         map[string][]string // by replica id: the counted port's answers, in order
	changed      chan struct{}       // gets a value when an answer is recorded
	quitCount    chan struct{}
	quitLoad     chan struct{}
	counting     sync.WaitGroup
	loading      sync.WaitGroup
	stopped      bool
}

func (env *storeEnv) startLoad(counted, loaded, workers int) *replicaLoad {
	l := &replicaLoad{seen: map[string][]string{}, changed: make(chan struct{}, 1),
		quitCount: make(chan struct{}), quitLoad: make(chan struct{})}
	for _, r := range env.replicas {
		l.ids = append(l.ids, r.id)
		countURL := "http://" + net.JoinHostPort(r.host, strconv.Itoa(counted)) + "/"
		loadURL := "http://" + net.JoinHostPort(r.host, strconv.Itoa(loaded)) + "/"
		l.counting.Add(1)
		go func() {
			defer l.counting.Done()
			l.run(countURL, l.quitCount, func(version string) {
				l.mu.Lock()
				l.seen[r.id] = append(l.seen[r.id], version)
				l.mu.Unlock()
				select {
				case l.changed <- struct{}{}:
				default:
				}
			})
		}()
		for range workers {
			l.loading.Add(1)
			go func() {
				defer l.loading.Done()
				l.run(loadURL, l.quitLoad, func(string) {})
			}()
		}
	}
	return l
}

// run sends requests to url one after another until quit is closed, handing each good answer's
// version to answered.
func (l *replicaLoad) run(url string, quit <-chan struct{}, answered func(version string)) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for {
		select {
		case <-quit:
			return
		default:
		}
		version, err := getVersion(client, url)
		l.done.Add(1)
		if err != nil {
			if l.failed.Add(1) == 1 {
				l.mu.Lock()
				l.first = err.Error()
				l.mu.Unlock()
			}
			continue
		}
		answered(version)
	}
}

// getVersion is one GET of url as Chrome: the version that answered, or why it failed.
func getVersion(client *http.Client, url string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", chromeUA)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return versionIn(string(body)), nil
}

// counted is how many answers the counted port gave each replica so far.
func (l *replicaLoad) counted() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.seen))
	for id, v := range l.seen {
		out[id] = len(v)
	}
	return out
}

// versions is the counted port's answers of replica id, in order.
func (l *replicaLoad) versions(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen[id])
}

// waitCounted waits, on each recorded answer, until ok holds for every replica's number of
// counted answers; it fails the test after 60s (the bound, not the synchronisation) or when a
// request failed.
func (l *replicaLoad) waitCounted(t *testing.T, ok func(id string, n int) bool, what string) {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		n := l.counted()
		all := true
		for _, id := range l.ids {
			all = all && ok(id, n[id])
		}
		if all {
			return
		}
		if f := l.failed.Load(); f > 0 {
			l.mu.Lock()
			first := l.first
			l.mu.Unlock()
			t.Fatalf("waiting for %s: %d requests failed; the first: %s", what, f, first)
		}
		select {
		case <-l.changed:
		case <-deadline.C:
			t.Fatalf("waiting for %s: not within 60s; answers so far %v", what, n)
		}
	}
}

// stopCounting stops the counted port's clients.
func (l *replicaLoad) stopCounting() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.quitCount:
	default:
		close(l.quitCount)
	}
}

// stop ends all traffic and returns the requests sent, those that failed and the first failure.
func (l *replicaLoad) stop() (done, failed int64, first string) {
	l.stopCounting()
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.quitLoad)
	}
	l.mu.Unlock()
	l.counting.Wait()
	l.loading.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done.Load(), l.failed.Load(), l.first
}

// TestAccEtcdProviderConfigErrors: the etcd block's mistakes are plan-time errors that name
// the attribute and the fix.
func TestAccEtcdProviderConfigErrors(t *testing.T) {
	const res = `
resource "vamp_gateway" "x" {
  name   = "acc/etcd/config"
  port   = 1
  routes = [{ name = "x", addresses = ["127.0.0.1:1"] }]
}
`
	cases := []struct{ name, provider, want string }{
		{"both blocks", `gateway { url = "http://127.0.0.1:9900" }
  etcd { endpoints = ["http://127.0.0.1:2379"] }`, `(?s)Both gateway and etcd blocks are set.*remove\s+url and token from the gateway block`},
		{"endpoint not a URL", `etcd { endpoints = ["127.0.0.1:2379"] }`, `(?s)Invalid etcd endpoint.*"127.0.0.1:2379" is not an http\(s\) URL.*write it like\s+https://10.0.0.5:2379`},
		{"no endpoints", `etcd { endpoints = [] }`, `(?s)No etcd endpoint.*etcd.endpoints is empty`},
		{"prefix without slash", `etcd {
    endpoints = ["http://127.0.0.1:2379"]
    prefix    = "vamp"
  }`, `(?s)Invalid etcd prefix.*must start with "/"`},
		{"cert without key", `etcd {
    endpoints = ["http://127.0.0.1:2379"]
    cert_file = "/tmp/cert.pem"
  }`, `(?s)Incomplete etcd client certificate.*key_file`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{{
					Config:      "provider \"vamp\" {\n  " + tc.provider + "\n}\n" + res,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// countVersionsAt is countVersions at host.
func countVersionsAt(host string, port, n int, userAgent string) (map[string]int, error) {
	counts := map[string]int{}
	client := &http.Client{Timeout: 10 * time.Second}
	for range n {
		req, err := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(host, strconv.Itoa(port))+"/", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", userAgent)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /: %s: %s", resp.Status, body)
		}
		counts[versionIn(string(body))]++
	}
	return counts, nil
}

// sameRevision checks that the named gateways' keys were last written by one transaction.
func (env *storeEnv) sameRevision(names ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		entries, _, err := env.store.Read(context.Background())
		if err != nil {
			return err
		}
		revs := map[string]int64{}
		for _, n := range names {
			revs[n] = entries[n].ModRevision
		}
		for _, n := range names {
			if revs[n] == 0 || revs[n] != revs[names[0]] {
				return fmt.Errorf("gateways were not written by one transaction: revisions %v", revs)
			}
		}
		return nil
	}
}

// TestAccEtcdDeploymentIsOneTransaction: a vamp_deployment's gateways (the cluster gateway and
// the blueprint gateway) go into etcd in one transaction, and the apply returns once all three
// replicas route by the new weights (services on the local dev runtime).
func TestAccEtcdDeploymentIsOneTransaction(t *testing.T) {
	env := newStoreEnv(t, etcdtest.Embedded(t), "/acc-deployment", 3)
	bin := sava(t)
	port := freePort(t)
	names := []string{fmt.Sprintf("etcdsava/%d", port), "etcdsava/sava_cluster/webport"}
	config := func(w1, w2 int) string {
		return env.providerBlock(fmt.Sprintf(`
resource "vamp_deployment" "sava" {
  name     = "etcdsava"
  gateways = { "%d" = "sava_cluster/webport" }
  clusters = {
    sava_cluster = {
      services = [
        { breed = { name = "sava:1.0.0", deployable = "cmd:%[2]s --version 1.0.0", ports = { webport = "8080/http" } } },
        { breed = { name = "sava:1.1.0", deployable = "cmd:%[2]s --version 1.1.0", ports = { webport = "8080/http" } } },
      ]
      gateways = {
        webport = {
          routes = {
            "sava:1.0.0" = { weight = %d }
            "sava:1.1.0" = { weight = %d }
          }
        }
      }
    }
  }
}
`, port, bin, w1, w2))
	}
	factories := map[string]func() (tfprotov6.ProviderServer, error){
		"vamp": providerserver.NewProtocol6WithError(NewWithOptions("test", Options{Runtime: testRuntime})()),
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkStoreGone(env, names...), checkNothingLeft("etcdsava")),
		Steps: []resource.TestStep{
			{
				Config: config(100, 0),
				Check: resource.ComposeTestCheckFunc(
					env.sameRevision(names...),
					env.expectAcked(names...),
					env.expectOnEveryReplica(port, map[string]int{"1.0.0": 300}),
				),
			},
			{
				Config: config(20, 80),
				Check: resource.ComposeTestCheckFunc(
					env.sameRevision(names...),
					env.expectAcked(names...),
					env.expectOnEveryReplica(port, map[string]int{"1.0.0": 60, "1.1.0": 240}),
				),
				// The deployment's one transaction: all its gateways' keys are at the revision.
				ConfigStateChecks: env.expectConvergence("vamp_deployment.sava", names...),
			},
		},
	})
}
