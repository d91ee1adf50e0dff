package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

func tcpBlueprint(sticky, condition string) *blueprint.Blueprint {
	svc := func(name, port string) *blueprint.Service {
		return &blueprint.Service{Breed: blueprint.Breed{Name: name, Deployable: "cmd:x", Ports: map[string]string{"dbport": port, "webport": "8080/http"}}}
	}
	g := &blueprint.ClusterGateway{Sticky: sticky, Routes: map[string]*blueprint.Route{
		"db:1": {Weight: blueprint.Int64(30), Condition: condition}, "db:2": {Weight: blueprint.Int64(70)},
	}}
	return &blueprint.Blueprint{
		Name:     "db",
		Gateways: map[string]string{"5432": "db_cluster/dbport", "8080": "db_cluster/webport"},
		Clusters: map[string]*blueprint.Cluster{"db_cluster": {
			Services: []*blueprint.Service{svc("db:1", "5432/tcp"), svc("db:2", "5432/TCP")},
			Gateways: map[string]*blueprint.ClusterGateway{"dbport": g},
		}},
	}
}

// TestTCPPortGateways: a port declared tcp makes its cluster gateway and the blueprint gateway in
// front of it TCP gateways; an http port's stay HTTP (no protocol in the document).
func TestTCPPortGateways(t *testing.T) {
	bp := tcpBlueprint("", "")
	bp.Normalize()
	docs := append(deployplan.ClusterGateways(bp, "local"), deployplan.BlueprintGateways(bp)...)
	setGatewayProtocols(bp, docs)
	got := map[string]string{}
	for _, g := range docs {
		got[g.Name] = g.Gateway.Protocol
	}
	want := map[string]string{"db/db_cluster/dbport": "tcp", "db/5432": "tcp", "db/db_cluster/webport": "", "db/8080": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("gateway protocols %v, want %v", got, want)
	}
	if faults := tcpGatewayFaults(bp); len(faults) != 0 {
		t.Fatalf("a tcp port with weights only is refused: %v", faults)
	}
}

// TestTCPPortRefusals: sticky and conditions on a tcp port are refused at their attribute, with
// Vamp's error named and the fix.
func TestTCPPortRefusals(t *testing.T) {
	faults := tcpGatewayFaults(tcpBlueprint("route", "user-agent == Firefox"))
	var got []string
	for _, f := range faults {
		got = append(got, f.Path.String()+" | "+f.Summary+" | "+f.Detail)
	}
	want := []struct{ path, says string }{
		{`clusters["db_cluster"].gateways["dbport"].sticky`, "StickyPortTypeError); remove sticky, or declare the port http"},
		{`clusters["db_cluster"].gateways["dbport"].routes["db:1"].condition`, "ConditionPortTypeError); remove the condition"},
	}
	if len(got) != len(want) {
		t.Fatalf("faults %q, want %d", got, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w.path+" | ") || !strings.Contains(got[i], w.says) {
			t.Errorf("fault %d: %q, want at %s saying %q", i, got[i], w.path, w.says)
		}
	}
}

// countPerConnection opens n connections to port, one HTTP request each, and counts the answers
// by version: a TCP gateway chooses per connection.
func countPerConnection(port, n int) (map[string]int, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	counts := map[string]int{}
	for range n {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		counts[versionIn(string(body))]++
	}
	return counts, nil
}

func expectConnectionCounts(port, n int, want map[string]int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := countPerConnection(port, n)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%d connections went %v, want %v", n, got, want)
		}
		return nil
	}
}

func expectProtocols(want map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for name, protocol := range want {
			gw, err := testGateway.Get(context.Background(), name)
			if err != nil {
				return err
			}
			if gw.Protocol != protocol {
				return fmt.Errorf("gateway %q has protocol %q, want %q", name, gw.Protocol, protocol)
			}
		}
		return nil
	}
}

// TestAccDeploymentTCPPort: a deployment whose breeds declare webport tcp gets TCP gateways (its
// cluster gateway and its stable endpoint); connections split by weight; a vamp_gateway with
// protocol = "tcp" routes to the cluster gateway; a port changed from http to tcp changes its
// gateways in place; sticky or a condition on the tcp port, and sticky on the tcp vamp_gateway,
// are refused at plan.
func TestAccDeploymentTCPPort(t *testing.T) {
	bin := sava(t)
	port, entry := freePort(t), freePort(t)
	configOf := func(protocol, gatewayBlock, entryExtra string) string {
		service := func(version string) string {
			return fmt.Sprintf(`{ breed = { name = "sava:%s", deployable = "cmd:%s --version %s", ports = { webport = "8080/%s" } } },`, version, bin, version, protocol)
		}
		return fmt.Sprintf(`
resource "vamp_deployment" "tcp" {
  name     = "tcpdep"
  gateways = { "%d" = "web/webport" }
  clusters = { web = {
    services = [%s%s]
    %s
  } }
}

resource "vamp_gateway" "entry" {
  name     = "tcpdep-entry"
  port     = %d
  protocol = %q
  %s
  routes   = [{ name = "web", gateway = "tcpdep/web/webport" }]
  depends_on = [vamp_deployment.tcp]
}
`, port, service("1.0.0"), service("1.1.0"), gatewayBlock, entry, protocol, entryExtra)
	}
	config := func(gatewayBlock, entryExtra string) string { return configOf("tcp", gatewayBlock, entryExtra) }
	weights := `gateways = { webport = { routes = { "sava:1.0.0" = { weight = 30 }, "sava:1.1.0" = { weight = 70 } } } }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkNothingLeft("tcpdep"), checkGatewayGone("tcpdep-entry")),
		Steps: []resource.TestStep{
			// Refused at plan, before anything exists (the last step's configuration must be valid:
			// the destroy uses it).
			{
				Config:      config(`gateways = { webport = { sticky = "route" } }`, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Sticky sessions on a tcp port.*StickyPortTypeError`),
			},
			{
				Config:      config(`gateways = { webport = { routes = { "sava:1.0.0" = { weight = 0, condition = "user-agent == Firefox" }, "sava:1.1.0" = { weight = 100 } } } }`, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Condition on a tcp port.*ConditionPortTypeError`),
			},
			{
				Config:      config(weights, `sticky = "route"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Sticky sessions on a tcp gateway.*StickyPortTypeError`),
			},
			{
				Config: configOf("http", weights, ""),
				Check: resource.ComposeTestCheckFunc(
					expectProtocols(map[string]string{"tcpdep/web/webport": "", fmt.Sprintf("tcpdep/%d", port): "", "tcpdep-entry": ""}),
					expectConnectionCounts(port, 10, map[string]int{"1.0.0": 3, "1.1.0": 7}),
				),
			},
			{
				// http → tcp: the gateways change in place (cluster gateway first).
				Config: config(weights, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.tcp", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("vamp_gateway.entry", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("vamp_gateway.entry", tfjsonpath.New("protocol"), knownvalue.StringExact("tcp")),
				},
				Check: resource.ComposeTestCheckFunc(
					expectProtocols(map[string]string{"tcpdep/web/webport": "tcp", fmt.Sprintf("tcpdep/%d", port): "tcp", "tcpdep-entry": "tcp"}),
					expectConnectionCounts(port, 10, map[string]int{"1.0.0": 3, "1.1.0": 7}),
					expectConnectionCounts(entry, 10, map[string]int{"1.0.0": 3, "1.1.0": 7}),
				),
			},
			{
				ResourceName:                         "vamp_gateway.entry",
				ImportState:                          true,
				ImportStateId:                        "tcpdep-entry",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
			{
				// Against the running deployment too (where the merge keeps the running routing).
				Config:      config(`gateways = { webport = { sticky = "route" } }`, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Sticky sessions on a tcp port.*StickyPortTypeError`),
			},
			{
				Config: config(weights, ""),
				Check:  expectConnectionCounts(port, 10, map[string]int{"1.0.0": 3, "1.1.0": 7}),
			},
		},
	})
}

// TestAccGatewayTCPHealthCheck: a tcp vamp_gateway's health check without a path is a TCP
// connect check; with a path it is refused at plan.
func TestAccGatewayTCPHealthCheck(t *testing.T) {
	a := versionServer(t, "1.0.0")
	port := freePort(t)
	config := func(hc string) string {
		return fmt.Sprintf(`
resource "vamp_gateway" "tcp" {
  name     = "acc/tcp-hc"
  port     = %d
  protocol = "tcp"
  routes   = [{ name = "a", addresses = [%q], health_check = %s }]
}
`, port, a, hc)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkGatewayGone("acc/tcp-hc"),
		Steps: []resource.TestStep{
			{
				Config:      config(`{ path = "/health" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)HTTP health check on a tcp gateway.*Leave path out`),
			},
			{
				Config: config(`{ interval = "1s" }`),
				Check: resource.ComposeTestCheckFunc(
					expectProtocols(map[string]string{"acc/tcp-hc": gatewayapi.ProtocolTCP}),
					expectConnectionCounts(port, 3, map[string]int{"1.0.0": 3}),
				),
			},
		},
	})
}

// TestTCPPortRolloutAndSLARefused: a rollout of a tcp port and the sla of a service whose first
// port is tcp are refused at their attributes; on an http port both pass this check.
func TestTCPPortRolloutAndSLARefused(t *testing.T) {
	service := func(name, port string) serviceModel {
		return serviceModel{
			Breed: &breedModel{Name: types.StringValue(name), Deployable: types.StringValue("cmd:x"), Ports: map[string]string{"dbport": port}},
			SLA:   &slaModel{},
		}
	}
	clusters := func(port string) map[string]clusterModel {
		return map[string]clusterModel{"db": {
			Services: []serviceModel{service("db:1", port), service("db:2", port)},
			Gateways: map[string]clusterGatewayModel{"dbport": {Rollout: &rolloutModel{}}},
		}}
	}
	var diags diag.Diagnostics
	addTCPGatewayFaults(&diags, "d", nil, clusters("5432/tcp"))
	var got []string
	for _, d := range diags.Errors() {
		got = append(got, d.Summary()+" | "+d.Detail())
	}
	want := []string{
		`Rollout on a tcp port | Attribute clusters["db"].gateways["dbport"].rollout: port dbport is declared tcp`,
		`SLA scaling on a tcp port | Attribute clusters["db"].services[0].sla: `,
		`SLA scaling on a tcp port | Attribute clusters["db"].services[1].sla: `,
	}
	if len(got) != len(want) {
		t.Fatalf("faults %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("fault %d: %q, want it to start with %q", i, got[i], want[i])
		}
	}
	diags = nil
	addTCPGatewayFaults(&diags, "d", nil, clusters("5432/http"))
	if diags.HasError() {
		t.Fatalf("http port: %v", diags)
	}
}
