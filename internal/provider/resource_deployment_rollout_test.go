package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// brokenSava is sava:1.1.0 of the seed's story (testdata/rollout_sava): 500 to Firefox.
func brokenSava(t *testing.T) string {
	return testBinary(t, "github.com/vamp-canary/terraform-provider-vamp/internal/provider/testdata/rollout_sava")
}

// rolloutConfig is a deployment `name` with sava:1.0.0 at 100 and sava:1.1.0 (deployable
// canary) at 0, and rollout (HCL, may be empty) on the cluster gateway.
func rolloutConfig(name string, port int, stable, canary, rollout string) string {
	if rollout != "" {
		rollout = "rollout = " + rollout
	}
	return fmt.Sprintf(`
resource "vamp_deployment" "sava" {
  name     = %q
  gateways = { "%d" = "sava_cluster/webport" }
  clusters = {
    sava_cluster = {
      services = [
        { breed = { name = "sava:1.0.0", deployable = %q, ports = { webport = "8080/http" } } },
        { breed = { name = "sava:1.1.0", deployable = %q, ports = { webport = "8080/http" } } },
      ]
      gateways = {
        webport = {
          routes = {
            "sava:1.0.0" = { weight = 100 }
            "sava:1.1.0" = { weight = 0 }
          }
          %s
        }
      }
    }
  }
}
`, name, port, stable, canary, rollout)
}

// browserLoad sends requests from Firefox and Chrome in turn to a gateway port until stopped, and
// counts the answers that were not 200 by browser.
type browserLoad struct {
	stop                  chan struct{}
	done                  chan struct{}
	sent                  atomic.Int64
	chromeErr, firefoxErr atomic.Int64
}

func startBrowserLoad(t *testing.T, port int) *browserLoad {
	l := &browserLoad{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(l.done)
		pace := time.NewTicker(5 * time.Millisecond)
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
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
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
	t.Cleanup(l.halt)
	return l
}

func (l *browserLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

const clusterGatewayOf = "/sava_cluster/webport"

// The seed's story through Terraform: sava:1.1.0 breaks in Firefox; a roll-out with
// wait_for_promotion fails the apply with the roll-back's reason, Chrome users see no error, and
// the next plan is empty (the rolled-back roll-out is not drift).
func TestAccDeploymentRolloutOfAFailingCanaryFailsTheApply(t *testing.T) {
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
	gwName := "rollbad" + clusterGatewayOf
	var traffic *browserLoad
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: rolloutConfig("rollbad", port, stable, canary, "")},
			{
				PreConfig:   func() { traffic = startBrowserLoad(t, port) },
				Config:      rolloutConfig("rollbad", port, stable, canary, policy),
				ExpectError: regexp.MustCompile(`(?s)Roll-out\s+of\s+"sava:1.1.0"\s+was\s+rolled\s+back.*rolled\s+back:\s+5xx\s+rate`),
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
					t.Logf("%d requests; Firefox errors %d (the canary's, until the roll-back); Chrome errors %d",
						traffic.sent.Load(), traffic.firefoxErr.Load(), traffic.chromeErr.Load())
				},
				Config:           rolloutConfig("rollbad", port, stable, canary, policy),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("phase"), knownvalue.StringExact("rolled_back")),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("reason"),
						knownvalue.StringRegexp(regexp.MustCompile(`^rolled back: 5xx rate .* at step 1 \(weight 10\)$`))),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("weights"),
						knownvalue.MapExact(map[string]knownvalue.Check{"sava:1.0.0": knownvalue.Int64Exact(100), "sava:1.1.0": knownvalue.Int64Exact(0)})),
				},
				Check: func(*terraform.State) error {
					gw, err := testGateway.Get(context.Background(), gwName)
					if err != nil {
						return err
					}
					if gw.RolloutStatus == nil || !strings.HasPrefix(gw.RolloutStatus.Reason, "rolled back: 5xx rate") {
						return fmt.Errorf("the admin API should show the roll-back's reason, got %+v", gw.RolloutStatus)
					}
					return nil
				},
			},
		},
	})
}

// A healthy canary is promoted while the apply waits; its weights (canary 100) live in the
// gateway and in rollout_status, the configured ones (canary 0) stay in state, and the next
// plan is empty.
func TestAccDeploymentRolloutOfAHealthyCanaryIsPromoted(t *testing.T) {
	port := freePort(t)
	bin := sava(t)
	stable, canary := "cmd:"+bin+" --version 1.0.0", "cmd:"+bin+" --version 1.1.0"
	policy := `{
            canary             = "sava:1.1.0"
            steps              = [50, 100]
            interval           = "1s"
            min_requests       = 3
            wait_for_promotion = true
          }`
	gwName := "rollgood" + clusterGatewayOf
	expectPromoted := []statecheck.StateCheck{
		statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("phase"), knownvalue.StringExact("promoted")),
		statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("rollout_status").AtMapKey(gwName).AtMapKey("weights"),
			knownvalue.MapExact(map[string]knownvalue.Check{"sava:1.0.0": knownvalue.Int64Exact(0), "sava:1.1.0": knownvalue.Int64Exact(100)})),
		statecheck.ExpectKnownValue("vamp_deployment.sava",
			tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("gateways").AtMapKey("webport").AtMapKey("routes").AtMapKey("sava:1.0.0").AtMapKey("weight"),
			knownvalue.Int64Exact(100)),
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: rolloutConfig("rollgood", port, stable, canary, "")},
			{
				PreConfig:         func() { startBrowserLoad(t, port) },
				Config:            rolloutConfig("rollgood", port, stable, canary, policy),
				ConfigStateChecks: expectPromoted,
				Check: func(*terraform.State) error {
					counts, err := countVersions(port, 10, chromeUA)
					if err != nil {
						return err
					}
					if counts["1.1.0"] != 10 {
						return fmt.Errorf("after the promotion every request should reach sava:1.1.0, got %v", counts)
					}
					return nil
				},
			},
			{
				Config:            rolloutConfig("rollgood", port, stable, canary, policy),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: expectPromoted,
			},
		},
	})
}

// Roll-out faults are reported at plan time, at the attribute.
func TestAccDeploymentRolloutFaultsFailThePlan(t *testing.T) {
	port := freePort(t)
	bin := sava(t)
	stable, canary := "cmd:"+bin+" --version 1.0.0", "cmd:"+bin+" --version 1.1.0"
	for _, c := range []struct{ rollout, want string }{
		{`{ canary = "sava:1.1.0", steps = [10, 50, 25] }`, `(?s)rollout\.steps\[2\].*not\s+greater\s+than\s+steps\[1\]`},
		{`{ canary = "sava:2.0.0", steps = [10, 100] }`, `(?s)rollout\.canary.*has\s+no\s+route\s+"sava:2\.0\.0"`},
		{`{ canary = "sava:1.1.0", step_weight = 10, interval = "soon" }`, `(?s)rollout\.interval:\s+"soon"\s+is\s+not\s+a\s+duration`},
		{`{ canary = "sava:1.1.0", steps = [10], prometheus = { url = "prometheus:9090" } }`, `(?s)rollout\.prometheus.*absolute\s+http\(s\)\s+URL`},
	} {
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviderFactories,
			Steps: []resource.TestStep{{
				Config:      rolloutConfig("rollfault", port, stable, canary, c.rollout),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(c.want),
			}},
		})
	}
}
