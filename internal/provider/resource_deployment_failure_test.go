package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/vamp-canary/terraform-provider-vamp/internal/localrt"
)

// slowStep is a deployment whose only service listens (and so becomes healthy) 35 s after it
// starts, with the given timeouts block. Its health check's grace period is longer than that,
// so the runtime waits for it instead of restarting it.
func slowStep(bin, timeouts string) string {
	return fmt.Sprintf(`
resource "vamp_deployment" "slow" {
  name = "slow"
  clusters = {
    slow_cluster = {
      services = [{
        breed = {
          name       = "slow:1.0.0"
          deployable = "cmd:sleep 35; exec %s --version 1.0.0"
          ports      = { webport = "8080/http" }
        }
        health_checks = [{ port = "webport", protocol = "TCP", initial_delay = "3m", interval = "1s" }]
      }]
    }
  }
  timeouts {
    %s
  }
}
`, bin, timeouts)
}

// A service that needs 35 s to become healthy: a 10 s create timeout fails the apply naming the
// timeout and how to raise it, and leaves nothing running; `timeouts { create = "5m" }` lets it
// deploy (the gateway client once had a fixed 30 s HTTP timeout that ended every such apply).
func TestAccDeploymentTimeoutsAreHonoured(t *testing.T) {
	bin := sava(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkNothingLeft("slow"),
		Steps: []resource.TestStep{
			{
				Config:      slowStep(bin, `create = "10s"`),
				ExpectError: words(`Service "slow/slow_cluster/slow:1.0.0" is not healthy after timeouts.create (10s)`, `not healthy`, `The create timeout of vamp_deployment (timeouts.create = "10s") ran out`, `timeouts { create = "1m" }`),
			},
			{
				// The failed create left no service behind.
				PreConfig: func() {
					if err := checkNothingLeft("slow")(nil); err != nil {
						t.Fatalf("after the failed create: %v", err)
					}
				},
				Config: slowStep(bin, `create = "5m"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.slow", tfjsonpath.New("status"), knownvalue.StringExact("deployed")),
					statecheck.ExpectKnownValue("vamp_deployment.slow", tfjsonpath.New("instances").AtMapKey("slow_cluster/slow:1.0.0"), knownvalue.ListSizeExact(1)),
				},
			},
		},
	})
}

// failingStep is the scenario's deployment on its own port with sava:1.0.0 serving, and, when
// broken is set, a new variant sava:1.1.0 that writes why it cannot start and never listens.
// Every process carries marker in its environment, so the test can find any that is left.
func failingStep(port int, bin, marker string, broken bool) string {
	canary := ""
	routes := `"sava:1.0.0" = { weight = 100 }`
	if broken {
		canary = fmt.Sprintf(`{
          breed = {
            name                  = "sava:1.1.0"
            deployable            = "cmd:echo 'sava:1.1.0: cannot open /etc/sava/sava.conf' >&2; sleep 600"
            ports                 = { webport = "8080/http" }
            environment_variables = { VAMP_TEST_MARKER = "%s-1.1.0" }
          }
        },`, marker)
		routes += "\n            \"sava:1.1.0\" = { weight = 0 }"
	}
	return fmt.Sprintf(`
resource "vamp_deployment" "relfail" {
  name     = "relfail"
  gateways = { "%d" = "sava_cluster/webport" }
  clusters = {
    sava_cluster = {
      services = [
        {
          breed = {
            name                  = "sava:1.0.0"
            deployable            = "cmd:%s --version 1.0.0"
            ports                 = { webport = "8080/http" }
            environment_variables = { VAMP_TEST_MARKER = "%s-1.0.0" }
          }
        },
        %s
      ]
      gateways = {
        webport = {
          routes = {
            %s
          }
        }
      }
    }
  }
  timeouts {
    update = "8s"
  }
}
`, port, bin, marker, canary, routes)
}

// processesWith lists the processes whose environment holds VAMP_TEST_MARKER=value.
func processesWith(value string) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	want := []byte("VAMP_TEST_MARKER=" + value + "\x00")
	var out []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone, or not ours to read
		}
		if bytes.Contains(env, want) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out, nil
}

// checkNoProcess fails when a process with the marker value runs.
func checkNoProcess(value string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		left, err := processesWith(value)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("processes of %s still run: %v", value, left)
		}
		return nil
	}
}

// checkNoService fails when the runtime's admin API lists the service.
func checkNoService(id string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		all, err := localrt.NewClient(testGateway).List(context.Background())
		if err != nil {
			return err
		}
		for _, st := range all {
			if st.Service.ID == id {
				return fmt.Errorf("the admin API still lists service %s (%d instances)", id, len(st.Instances))
			}
		}
		return nil
	}
}

// A release whose new variant never gets healthy fails with the process's own output and the
// runtime's reason; it leaves nothing behind: after the HCL is reverted the plan is empty, no
// process of the variant runs and the admin API lists no service for it. Destroy then leaves
// no process and no route.
func TestAccDeploymentFailedReleaseLeavesNothing(t *testing.T) {
	bin := sava(t)
	port := freePort(t)
	marker := randomToken()
	const canary = "relfail/sava_cluster/sava:1.1.0"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkNothingLeft("relfail"),
			checkNoProcess(marker+"-1.0.0"),
			checkNoProcess(marker+"-1.1.0"),
		),
		Steps: []resource.TestStep{
			{
				Config: failingStep(port, bin, marker, false),
				Check:  expectCounts(port, 5, chromeUA, map[string]int{"1.0.0": 5}),
			},
			{
				Config: failingStep(port, bin, marker, true),
				ExpectError: words(`Service "relfail/sava_cluster/sava:1.1.0" is not healthy after timeouts.update (8s)`,
					`sava:1.1.0: cannot open /etc/sava/sava.conf`, `the new service was removed`, `timeouts { update = "1m" }`),
			},
			{
				// The HCL reverted: nothing to do, nothing of the canary left, 1.0.0 serves.
				Config: failingStep(port, bin, marker, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: resource.ComposeTestCheckFunc(
					checkNoService(canary),
					checkNoProcess(marker+"-1.1.0"),
					expectCounts(port, 5, chromeUA, map[string]int{"1.0.0": 5}),
				),
			},
		},
	})
}
