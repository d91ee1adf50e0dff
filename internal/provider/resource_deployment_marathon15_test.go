package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/apiversion"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
)

// TestAccMarathon15DockerPortMappings: on Marathon 1.5+ — the emulator's default, which, as
// Marathon's docs/docs/networking.md says of 1.5 and later, answers only in the 1.5 networking
// format ("networks", "container.portMappings") — a Docker app with port mappings deploys on
// Docker's bridge network, its ports read back (by the driver, as the deployment's instances and
// as the gateway's route targets), the gateway routes to its tasks, and the next plan is empty.
// Then the same app on the host network (the marathon dialect's "networks"), where its ports
// are port definitions.
func TestAccMarathon15DockerPortMappings(t *testing.T) {
	env := startMarathonEnv(t)
	port := freePort(t)
	only100 := `"sava:1.0.0" = { weight = 100 }`
	bridge := env.provider() + marathonHCL(port, []string{savaService("1.0.0", healthChecked)}, only100, "")
	host := env.provider() + marathonHCL(port,
		[]string{savaService("1.0.0", healthChecked+`, marathon = jsonencode({ networks = [{ mode = "host" }] })`)}, only100, "")
	emptyPlan := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if apps := env.emu.Apps(); len(apps) != 0 {
				return fmt.Errorf("Marathon still has %d apps after destroy, e.g. %s", len(apps), apps[0].ID)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: bridge,
				Check: resource.ComposeTestCheckFunc(
					env.checkMarathon15(),
					env.checkNetwork(app100, marathon.ModeBridge),
					env.checkPortsReadBack(app100),
					env.checkRoutesFollowMarathon(),
					expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
				),
			},
			{
				// Nothing changed: the plan is empty (ports read back as applied), no deployment.
				PreConfig:        env.recordVersion(app100),
				Config:           bridge,
				ConfigPlanChecks: emptyPlan,
				Check:            env.checkVersionUnchanged(app100),
			},
			{
				Config: host,
				Check: resource.ComposeTestCheckFunc(
					env.checkNetwork(app100, marathon.ModeHost),
					env.checkPortsReadBack(app100),
					env.checkRoutesFollowMarathon(),
					expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
				),
			},
			{
				PreConfig:        env.recordVersion(app100),
				Config:           host,
				ConfigPlanChecks: emptyPlan,
				Check:            env.checkVersionUnchanged(app100),
			},
		},
	})
}

// checkMarathon15: the emulated Marathon says in /v2/info that it is 1.5 or later.
func (env *marathonEnv) checkMarathon15() resource.TestCheckFunc {
	return func(*terraform.State) error {
		client, err := marathon.Connect(marathon.Connection{URL: env.emu.URL(), Timeout: 5 * time.Second})
		if err != nil {
			return err
		}
		info, err := client.Info()
		if err != nil {
			return err
		}
		if apiversion.Before15(info.Version) || info.Version != emulator.DefaultVersion {
			return fmt.Errorf("/v2/info says Marathon %s, want %s (1.5 or later)", info.Version, emulator.DefaultVersion)
		}
		return nil
	}
}

// checkNetwork: Marathon stores (and answers) the app in the 1.5 format on the given network:
// "networks", and the port as a container.portMappings entry (bridge) or a port definition
// (host); never the legacy container.docker.network / container.docker.portMappings.
func (env *marathonEnv) checkNetwork(appID, mode string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		app, ok := env.emu.App(appID)
		if !ok {
			return fmt.Errorf("Marathon has no app %s", appID)
		}
		def := app.Definition
		nets, _ := def["networks"].([]any)
		if len(nets) != 1 {
			return fmt.Errorf("app %s networks %v, want [{mode: %s}]", appID, def["networks"], mode)
		}
		if net0, ok := nets[0].(map[string]any); !ok || net0["mode"] != mode {
			return fmt.Errorf("app %s networks %v, want [{mode: %s}]", appID, def["networks"], mode)
		}
		c, _ := def["container"].(map[string]any)
		d, _ := c["docker"].(map[string]any)
		if d["network"] != nil || d["portMappings"] != nil {
			return fmt.Errorf("app %s has the legacy docker network fields: %v", appID, d)
		}
		var ports []any
		if mode == marathon.ModeHost {
			ports, _ = def["portDefinitions"].([]any)
		} else {
			ports, _ = c["portMappings"].([]any)
		}
		if len(ports) != 1 {
			return fmt.Errorf("app %s on %s networking has ports %v, want webport", appID, mode, ports)
		}
		if port0, ok := ports[0].(map[string]any); !ok || port0["name"] != "webport" {
			return fmt.Errorf("app %s on %s networking has ports %v, want webport", appID, mode, ports)
		}
		return nil
	}
}

// checkPortsReadBack: the driver reads the app's port back by name and spec, and its task's
// host port as the instance's port; the deployment's instances in state and the gateway's
// route targets are that task's address.
func (env *marathonEnv) checkPortsReadBack(appID string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		app, ok := env.emu.App(appID)
		if !ok || len(app.Tasks) != 1 || len(app.Tasks[0].Ports) != 1 {
			return fmt.Errorf("app %s: want one task with one port, got %+v", appID, app.Tasks)
		}
		task := app.Tasks[0]
		addr := task.Host + ":" + strconv.Itoa(task.Ports[0])

		client, err := marathon.Connect(marathon.Connection{URL: env.emu.URL(), Timeout: 5 * time.Second})
		if err != nil {
			return err
		}
		st, found, err := marathon.New(client, marathon.Options{}).Get(context.Background(), "sava/sava_cluster/sava:1.0.0")
		if err != nil || !found {
			return fmt.Errorf("reading the app back: found=%v, %v", found, err)
		}
		if st.Service.Ports["webport"] != "8080/http" || len(st.Instances) != 1 || st.Instances[0].Ports["webport"] != task.Ports[0] ||
			st.Instances[0].Host != task.Host {
			return fmt.Errorf("read back ports %v, instances %+v; want webport 8080/http at %s", st.Service.Ports, st.Instances, addr)
		}

		var inState []string
		for k, v := range s.RootModule().Resources["vamp_deployment.sava"].Primary.Attributes {
			if strings.HasPrefix(k, "instances.sava_cluster/sava:1.0.0.") && !strings.HasSuffix(k, "#") {
				inState = append(inState, v)
			}
		}
		if len(inState) != 1 || !strings.Contains(inState[0], addr) {
			return fmt.Errorf("state instances of sava_cluster/sava:1.0.0: %v, want the task at %s", inState, addr)
		}

		got, err := env.source.Resolve(appID, "webport")
		if err != nil || len(got) != 1 || got[0].Host != task.Host || got[0].Port != task.Ports[0] {
			return fmt.Errorf("the gateway resolves %s/webport to %v (%v), want %s", appID, got, err, addr)
		}
		return nil
	}
}
