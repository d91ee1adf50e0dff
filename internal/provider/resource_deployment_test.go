package provider

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
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

// The seed's two blueprints (../shared/seed/scenario.md), unchanged.
const (
	seedBlueprint100 = `name: sava                        # deployment name
gateways:
  9050: sava_cluster/webport      # stable endpoint
clusters:
  sava_cluster:                   # cluster to create
    services:
      -
        breed:
          name: sava:1.0.0        # service variant name
          deployable: magneticio/sava:1.0.0
          ports:
            webport: 8080/http    # cluster endpoint, used for canary releasing
`
	seedBlueprint110 = `name: sava:1.1.0      # blueprint name
clusters:
  sava_cluster:       # cluster to update
    services:
      -
        breed:
          name: sava:1.1.0
          deployable: magneticio/sava:1.1.0
          ports:
            webport: 8080/http
`
)

// localBreed is merged after a seed blueprint to run its variant as a local process: Vamp's
// merge replaces a service by breed name (the quickstart does the same).
func localBreed(version, bin string) string {
	return fmt.Sprintf(`name: sava-local
clusters:
  sava_cluster:
    services:
      - breed:
          name: sava:%s
          deployable: "cmd:%s --version %s"
          ports:
            webport: 8080/http
`, version, bin, version)
}

// blueprintStep is the scenario through data "vamp_blueprint": the seed documents, with the
// port 9050 moved to a free one, each followed by its local-runtime document.
func blueprintStep(port int, bin string, versions ...string) string {
	var docs []string
	for _, v := range versions {
		seed := seedBlueprint100
		if v == "1.1.0" {
			seed = seedBlueprint110
		}
		docs = append(docs, fmt.Sprintf("replace(%s, \"9050:\", \"%d:\")", heredoc(seed), port), heredoc(localBreed(v, bin)))
	}
	return fmt.Sprintf(`
data "vamp_blueprint" "sava" {
  yaml = [
    %s
  ]
}

resource "vamp_deployment" "sava" {
  name     = data.vamp_blueprint.sava.name
  gateways = data.vamp_blueprint.sava.gateways
  clusters = data.vamp_blueprint.sava.clusters
}
`, strings.Join(docs, ",\n    "))
}

func heredoc(s string) string { return "<<-EOT\n" + s + "EOT\n" }

// hclStep is the scenario in HCL: both variants and the routing of the cluster gateway.
func hclStep(port int, bin, routes string) string {
	return fmt.Sprintf(`
resource "vamp_deployment" "sava" {
  name     = "sava"
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
            %s
          }
        }
      }
    }
  }
}
`, port, bin, routes)
}

const (
	fiftyFifty = `"sava:1.0.0" = { weight = 50 }
            "sava:1.1.0" = { weight = 50 }`
	firefoxTo100 = `"sava:1.0.0" = { weight = 0, condition = "user-agent == Firefox" }
            "sava:1.1.0" = { weight = 100 }`
)

// pids records the process ids of services, to prove that an apply left them alone.
type pids map[string][]int

func (p pids) record(ids ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, id := range ids {
			got, err := servicePIDs(id)
			if err != nil {
				return err
			}
			p[id] = got
		}
		return nil
	}
}

func (p pids) unchanged() resource.TestCheckFunc {
	return func(*terraform.State) error {
		for id, want := range p {
			got, err := servicePIDs(id)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("service %s was touched: its processes were %v, now %v", id, want, got)
			}
		}
		return nil
	}
}

func servicePIDs(id string) ([]int, error) {
	st, err := localrt.NewClient(testGateway).Get(context.Background(), id)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, inst := range st.Instances {
		out = append(out, inst.PID)
	}
	return out, nil
}

// checkNothingLeft asserts that no gateway and no service of the deployment remains.
func checkNothingLeft(deployment string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		gws, err := testGateway.List(ctx)
		if err != nil {
			return err
		}
		for _, g := range gws {
			if strings.HasPrefix(g.Name, deployment+"/") {
				return fmt.Errorf("gateway %q is still there after destroy", g.Name)
			}
		}
		svcs, err := testRuntime.List(ctx, deployment+"/")
		if err != nil {
			return err
		}
		if len(svcs) > 0 {
			return fmt.Errorf("service %q is still running after destroy", svcs[0].Service.ID)
		}
		return nil
	}
}

// expectOnlyChanged is a plan check: the resource's planned change touches exactly the given
// attribute paths (rendered like `clusters.sava_cluster.gateways.webport.routes.sava:1.0.0.weight`).
type expectOnlyChanged struct {
	address string
	paths   []string
}

func (e expectOnlyChanged) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != e.address {
			continue
		}
		var changed []string
		diffPaths("", rc.Change.Before, rc.Change.After, &changed)
		slices.Sort(changed)
		want := slices.Sorted(slices.Values(e.paths))
		if !slices.Equal(changed, want) {
			resp.Error = fmt.Errorf("%s: the plan changes %v, want only %v", e.address, changed, want)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", e.address)
}

// diffPaths collects the leaf paths whose values differ between two JSON values.
func diffPaths(prefix string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Collect(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			diffPaths(strings.TrimPrefix(prefix+"."+k, "."), am[k], bm[k], out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffPaths(fmt.Sprintf("%s[%d]", prefix, i), al[i], bl[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, prefix)
	}
}

// expectSplit is a plan check: the cluster gateway's split goes from before (nil: the resource
// is created) to after in the plan, both known: the release's traffic, as a reviewer reads it.
type expectSplit struct {
	address, cluster, port string
	before, after          []string
}

func (e expectSplit) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != e.address {
			continue
		}
		get := func(v any) []string {
			for _, key := range []string{"clusters", e.cluster, "gateways", e.port, "split"} {
				m, ok := v.(map[string]any)
				if !ok {
					return nil
				}
				v = m[key]
			}
			list, _ := v.([]any)
			out := []string{}
			for _, x := range list {
				out = append(out, fmt.Sprint(x))
			}
			return out
		}
		if e.before != nil && !slices.Equal(get(rc.Change.Before), e.before) {
			resp.Error = fmt.Errorf("%s: split before the change is %q, want %q", e.address, get(rc.Change.Before), e.before)
			return
		}
		if got := get(rc.Change.After); !slices.Equal(got, e.after) {
			resp.Error = fmt.Errorf("%s: planned split is %q, want %q (unknown values: %v)", e.address, got, e.after, rc.Change.AfterUnknown)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", e.address)
}

func splitPath() tfjsonpath.Path {
	return tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("gateways").AtMapKey("webport").AtMapKey("split")
}

// The effective split of each step of the scenario.
var (
	splitAll100  = []string{"all -> sava:1.0.0 100%"}
	splitFifty   = []string{"all -> sava:1.0.0 50%, sava:1.1.0 50%"}
	splitFirefox = []string{"user-agent == Firefox -> sava:1.0.0 100%", "other -> sava:1.1.0 100%"}
)

func routeWeight(service string) tfjsonpath.Path {
	return tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("gateways").AtMapKey("webport").
		AtMapKey("routes").AtMapKey(service).AtMapKey("weight")
}

// TestAccDeploymentScenario walks the seed scenario with the real CLI, the real gateway and the
// local dev runtime, sending real requests after each step.
func TestAccDeploymentScenario(t *testing.T) {
	bin := sava(t)
	port := freePort(t)
	const v100, v110 = "sava/sava_cluster/sava:1.0.0", "sava/sava_cluster/sava:1.1.0"
	running := pids{}
	gatewayName := fmt.Sprintf("sava/%d", port)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkNothingLeft("sava"),
		Steps: []resource.TestStep{
			{
				// Step 1: deploy sava:1.0.0 from the seed blueprint.
				Config: blueprintStep(port, bin, "1.0.0"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectSplit{"vamp_deployment.sava", "sava_cluster", "webport", nil, splitAll100},
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_deployment.sava", splitPath(), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(splitAll100[0])})),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("status"), knownvalue.StringExact("deployed")),
					// Written through the admin API, not etcd: no replicas to report on.
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("convergence"), knownvalue.Null()),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("gateway_names"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(gatewayName), knownvalue.StringExact("sava/sava_cluster/webport"),
					})),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("route_names"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("sava/sava_cluster/sava:1.0.0/webport"),
					})),
					statecheck.ExpectKnownValue("vamp_deployment.sava", routeWeight("sava:1.0.0"), knownvalue.Int64Exact(100)),
					statecheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("instances").AtMapKey("sava_cluster/sava:1.0.0"), knownvalue.ListSizeExact(1)),
				},
				Check: resource.ComposeTestCheckFunc(
					expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
					running.record(v100),
				),
			},
			{
				// Step 3: merge sava:1.1.0: it is deployed beside 1.0.0 with weight 0; 1.0.0 is left alone.
				Config: blueprintStep(port, bin, "1.0.0", "1.1.0"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_deployment.sava", routeWeight("sava:1.1.0"), knownvalue.Int64Exact(0)),
					plancheck.ExpectKnownValue("vamp_deployment.sava", routeWeight("sava:1.0.0"), knownvalue.Int64Exact(100)),
					// No traffic moves: the canary's 0% route takes nothing.
					expectSplit{"vamp_deployment.sava", "sava_cluster", "webport", splitAll100, splitAll100},
					// sava:1.0.0 is left alone: its instances stay known; only the canary's are to come.
					plancheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("instances").AtMapKey("sava_cluster/sava:1.0.0"), knownvalue.ListSizeExact(1)),
					plancheck.ExpectUnknownValue("vamp_deployment.sava", tfjsonpath.New("instances").AtMapKey("sava_cluster/sava:1.1.0")),
				}},
				Check: resource.ComposeTestCheckFunc(
					running.unchanged(),
					expectCounts(port, 10, chromeUA, map[string]int{"1.0.0": 10}),
					running.record(v110),
				),
			},
			{
				// Step 4: 50/50, written in HCL: only the two weights change, in place.
				Config: hclStep(port, bin, fiftyFifty),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionUpdate),
					expectOnlyChanged{"vamp_deployment.sava", []string{
						"clusters.sava_cluster.gateways.webport.routes.sava:1.0.0.weight",
						"clusters.sava_cluster.gateways.webport.routes.sava:1.1.0.weight",
						"clusters.sava_cluster.gateways.webport.split[0]",
					}},
					expectSplit{"vamp_deployment.sava", "sava_cluster", "webport", splitAll100, splitFifty},
				}},
				Check: resource.ComposeTestCheckFunc(
					running.unchanged(),
					expectCounts(port, 100, chromeUA, map[string]int{"1.0.0": 50, "1.1.0": 50}),
				),
			},
			{
				// Step 5: Firefox users to 1.0.0 (strength 100 by default in HCL), everybody else to 1.1.0.
				Config: hclStep(port, bin, firefoxTo100),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("vamp_deployment.sava",
						tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("gateways").AtMapKey("webport").AtMapKey("routes").AtMapKey("sava:1.0.0").AtMapKey("condition_strength"),
						knownvalue.Int64Exact(100)),
					expectSplit{"vamp_deployment.sava", "sava_cluster", "webport", splitFifty, splitFirefox},
				}},
				Check: resource.ComposeTestCheckFunc(
					running.unchanged(),
					expectCounts(port, 100, firefoxUA, map[string]int{"1.0.0": 100}),
					expectCounts(port, 100, chromeUA, map[string]int{"1.1.0": 100}),
				),
			},
			{
				ResourceName:                         "vamp_deployment.sava",
				ImportState:                          true,
				ImportStateId:                        "sava",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
			{
				// Drift: weights changed through the admin API show up in the plan and are put back.
				PreConfig: func() {
					ctx := context.Background()
					gw, err := testGateway.Get(ctx, "sava/sava_cluster/webport")
					if err != nil {
						t.Fatal(err)
					}
					for i := range gw.Routes {
						gw.Routes[i].Weight = 50
					}
					if _, err := testGateway.Put(ctx, "sava/sava_cluster/webport", gw); err != nil {
						t.Fatal(err)
					}
				},
				Config: hclStep(port, bin, firefoxTo100),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionUpdate),
					expectOnlyChanged{"vamp_deployment.sava", []string{
						"clusters.sava_cluster.gateways.webport.routes.sava:1.0.0.weight",
						"clusters.sava_cluster.gateways.webport.routes.sava:1.1.0.weight",
						"clusters.sava_cluster.gateways.webport.split[1]",
					}},
					// The drift shows as traffic: the rest went 50/50, the plan puts it back.
					expectSplit{"vamp_deployment.sava", "sava_cluster", "webport",
						[]string{splitFirefox[0], "other -> sava:1.0.0 50%, sava:1.1.0 50%"}, splitFirefox},
				}},
				Check: resource.ComposeTestCheckFunc(
					running.unchanged(),
					expectCounts(port, 20, chromeUA, map[string]int{"1.1.0": 20}),
				),
			},
			{
				// A variant that vanished from the runtime is deployed again; the other is left alone.
				PreConfig: func() {
					if err := testRuntime.Delete(context.Background(), v110); err != nil {
						t.Fatal(err)
					}
					delete(running, v110)
				},
				Config: hclStep(port, bin, firefoxTo100),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					running.unchanged(),
					expectCounts(port, 20, chromeUA, map[string]int{"1.1.0": 20}),
				),
			},
			{
				// Vamp's rule: a variant that still has weight cannot be removed.
				Config: strings.Replace(hclStep(port, bin, `"sava:1.0.0" = { weight = 100 }`),
					`        { breed = { name = "sava:1.1.0", deployable = "cmd:`+bin+` --version 1.1.0", ports = { webport = "8080/http" } } },`+"\n", "", 1),
				PlanOnly:    true,
				ExpectError: words(`Service removed while it still has traffic`, `clusters["sava_cluster"].services`, `"sava:1.1.0" still has weight 100%`, `Set its weight to 0 in an earlier apply first`),
			},
		},
	})
}

// words matches the given phrases in order, whatever line breaks Terraform puts between words.
func words(phrases ...string) *regexp.Regexp {
	parts := make([]string, len(phrases))
	for i, p := range phrases {
		fields := strings.Fields(p)
		for j, f := range fields {
			fields[j] = regexp.QuoteMeta(f)
		}
		parts[i] = strings.Join(fields, `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}
