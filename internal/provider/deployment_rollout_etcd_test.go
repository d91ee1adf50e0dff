package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
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

	"github.com/vamp-canary/terraform-provider-vamp/internal/etcdtest"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// replicasLoad sends requests from Firefox and Chrome in turn to a gateway port on every
// replica of env until stopped, and counts the answers that were not 200 by browser. In etcd
// mode the elected replica judges a roll-out on its own traffic, so every replica gets some.
type replicasLoad struct {
	stop                  chan struct{}
	done                  chan struct{}
	sent                  atomic.Int64
	chromeErr, firefoxErr atomic.Int64
}

func startReplicasLoad(t *testing.T, env *storeEnv, port int) *replicasLoad {
	l := &replicasLoad{stop: make(chan struct{}), done: make(chan struct{})}
	running := make(chan struct{}, len(env.replicas))
	for _, r := range env.replicas {
		url := fmt.Sprintf("http://%s:%d/", r.host, port)
		go func() {
			defer func() { running <- struct{}{} }()
			client := &http.Client{Timeout: 5 * time.Second}
			pace := time.NewTicker(5 * time.Millisecond) // pacing, not synchronisation
			defer pace.Stop()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-pace.C:
				}
				ua, failed := chromeUA, &l.chromeErr
				if i%3 == 0 { // not a divisor of 10: the canary sees both browsers at any weight
					ua, failed = firefoxUA, &l.firefoxErr
				}
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("User-Agent", ua)
				resp, err := client.Do(req)
				l.sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	go func() {
		for range env.replicas {
			<-running
		}
		close(l.done)
	}()
	t.Cleanup(l.halt)
	return l
}

func (l *replicasLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// expectStoredPhase checks, right when the apply returned, the roll-out state that the elected
// replica wrote for gateway name: its phase and the canary's weight, and that it belongs to the
// document in etcd (the record of the roll-out the apply wrote).
func (env *storeEnv) expectStoredPhase(name, phase string, canaryWeight int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var view gatewaystore.RolloutView
		err := env.store.FollowRollout(ctx, name, func(v gatewaystore.RolloutView) bool { view = v; return true })
		if err != nil {
			return err
		}
		if view.Record == nil {
			return fmt.Errorf("gateway %q: etcd holds no roll-out state of its roll-out when the apply returned", name)
		}
		st := view.Record.Status()
		if st.Phase != phase || st.Weight != canaryWeight {
			data, _ := json.Marshal(st)
			return fmt.Errorf("gateway %q: the stored roll-out is %s with canary weight %d when the apply returned, want %s at %d: %s", name, st.Phase, st.Weight, phase, canaryWeight, data)
		}
		return nil
	}
}

func etcdRolloutFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"vamp": providerserver.NewProtocol6WithError(NewWithOptions("test", Options{Runtime: testRuntime})()),
	}
}

// TestAccEtcdRolloutWaitsForPromotion: with the gateways in etcd and two replicas, a roll-out
// with wait_for_promotion makes the apply return once the elected replica has promoted the
// canary, and every replica then serves it alone.
func TestAccEtcdRolloutWaitsForPromotion(t *testing.T) {
	env := newStoreEnv(t, etcdtest.Embedded(t), "/acc-rollout-good", 2)
	port := freePort(t)
	bin := sava(t)
	stable, canary := "cmd:"+bin+" --version 1.0.0", "cmd:"+bin+" --version 1.1.0"
	policy := `{
            canary             = "sava:1.1.0"
            steps              = [50, 100]
            interval           = "1s"
            min_requests       = 3
            wait_for_promotion = true
            wait_timeout       = "2m"
          }`
	const deployment = "etcdrollgood"
	gwName := deployment + clusterGatewayOf
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: etcdRolloutFactories(),
		CheckDestroy:             resource.ComposeTestCheckFunc(checkStoreGone(env, gwName), checkNothingLeft(deployment)),
		Steps: []resource.TestStep{
			{Config: env.providerBlock(rolloutConfig(deployment, port, stable, canary, ""))},
			{
				PreConfig: func() { startReplicasLoad(t, env, port) },
				Config:    env.providerBlock(rolloutConfig(deployment, port, stable, canary, policy)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("phase"), knownvalue.StringExact("promoted")),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("weights"),
						knownvalue.MapExact(map[string]knownvalue.Check{"sava:1.0.0": knownvalue.Int64Exact(0), "sava:1.1.0": knownvalue.Int64Exact(100)})),
				},
				Check: resource.ComposeTestCheckFunc(
					env.expectStoredPhase(gwName, "promoted", 100),
					func(*terraform.State) error {
						for _, r := range env.replicas {
							got, err := countVersionsAt(r.host, port, 10, chromeUA)
							if err != nil {
								return fmt.Errorf("replica %s: %w", r.id, err)
							}
							if got["1.1.0"] != 10 {
								return fmt.Errorf("after the promotion replica %s should send every request to sava:1.1.0, got %v", r.id, got)
							}
						}
						return nil
					},
				),
			},
			{
				// The roll-out's own weights are no drift, its progress makes no plan.
				Config:           env.providerBlock(rolloutConfig(deployment, port, stable, canary, policy)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("phase"), knownvalue.StringExact("promoted")),
				},
			},
			{
				// A new policy is a new roll-out: the promoted record of the previous one does
				// not end the wait. Its first step is held for an hour: the wait ends at
				// wait_timeout, named, with the new roll-out's progress.
				Config: env.providerBlock(rolloutConfig(deployment, port, stable, canary, strings.Replace(
					strings.Replace(policy, `"1s"`, `"1h"`, 1), `"2m"`, `"3s"`, 1))),
				ExpectError: regexp.MustCompile(`(?s)Roll-out not promoted in time.*Gateway\s+"` + regexp.QuoteMeta(gwName) +
					`":\s+the\s+canary\s+"sava:1.1.0"\s+was\s+not\s+promoted\s+within\s+wait_timeout\s+3s;\s+it\s+is\s+(pending|progressing)`),
			},
		},
	})
}

// TestAccEtcdRolloutOfAFailingCanaryFailsTheApply: the seed's story (sava:1.1.0 breaks in
// Firefox) with the gateways in etcd and three replicas: the elected replica rolls the canary
// back on its 5xx rate, the apply fails with the roll-back's reason, Chrome users on every
// replica see no error, and the next plan is empty.
func TestAccEtcdRolloutOfAFailingCanaryFailsTheApply(t *testing.T) {
	env := newStoreEnv(t, etcdtest.Embedded(t), "/acc-rollout-bad", 3)
	port := freePort(t)
	bin, broken := sava(t), brokenSava(t)
	stable, canary := "cmd:"+bin+" --version 1.0.0", "cmd:"+broken
	policy := `{
            canary             = "sava:1.1.0"
            steps              = [10, 50, 100]
            interval           = "2s"
            min_requests       = 5
            max_5xx_rate       = 0.05
            wait_for_promotion = true
            wait_timeout       = "2m"
          }`
	const deployment = "etcdrollbad"
	gwName := deployment + clusterGatewayOf
	var traffic *replicasLoad
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: etcdRolloutFactories(),
		CheckDestroy:             resource.ComposeTestCheckFunc(checkStoreGone(env, gwName), checkNothingLeft(deployment)),
		Steps: []resource.TestStep{
			{Config: env.providerBlock(rolloutConfig(deployment, port, stable, canary, ""))},
			{
				PreConfig:   func() { traffic = startReplicasLoad(t, env, port) },
				Config:      env.providerBlock(rolloutConfig(deployment, port, stable, canary, policy)),
				ExpectError: regexp.MustCompile(`(?s)Roll-out\s+of\s+"sava:1.1.0"\s+was\s+rolled\s+back.*Gateway\s+"` + regexp.QuoteMeta(gwName) + `":\s+rolled\s+back:\s+5xx\s+rate`),
			},
			{
				PreConfig: func() {
					traffic.halt()
					if n := traffic.chromeErr.Load(); n != 0 {
						t.Errorf("Chrome users saw %d errors of %d requests; want 0", n, traffic.sent.Load())
					}
					if traffic.firefoxErr.Load() == 0 {
						t.Errorf("the canary served no Firefox request: the roll-back was not caused by its errors")
					}
					t.Logf("%d requests over 3 replicas; Firefox errors %d (the canary's, until the roll-back); Chrome errors %d",
						traffic.sent.Load(), traffic.firefoxErr.Load(), traffic.chromeErr.Load())
				},
				Config:           env.providerBlock(rolloutConfig(deployment, port, stable, canary, policy)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("phase"), knownvalue.StringExact("rolled_back")),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("reason"),
						knownvalue.StringRegexp(regexp.MustCompile(`^rolled back: 5xx rate .* at step 1 \(weight 10\)$`))),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("weights"),
						knownvalue.MapExact(map[string]knownvalue.Check{"sava:1.0.0": knownvalue.Int64Exact(100), "sava:1.1.0": knownvalue.Int64Exact(0)})),
				},
				Check: resource.ComposeTestCheckFunc(
					env.expectStoredPhase(gwName, "rolled_back", 0),
					env.expectOnEveryReplica(port, map[string]int{"1.0.0": replicaRequests}),
				),
			},
		},
	})
}
