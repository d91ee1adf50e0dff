package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
)

// frontendBackendBlueprint is Vamp's tutorial blueprint of a frontend that finds its backend
// through a dependency: BACKEND is $backend.host:$backend.ports.webport. The demo service
// answers, as a frontend, with its own name and the backend's answer.
func frontendBackendBlueprint(port int, bin string) string {
	yaml := fmt.Sprintf(`name: shop
gateways:
  %d: frontend/webport
clusters:
  frontend:
    services:
      breed:
        name: sava-frontend:1.0.0
        deployable: "cmd:%[2]s --version 1.0.0"
        ports:
          webport: 8080/http
        environment_variables:
          BACKEND: $backend.host:$backend.ports.webport
        dependencies:
          backend: sava-backend:1.0.0
  backend:
    services:
      breed:
        name: sava-backend:1.0.0
        deployable: "cmd:%[2]s --version 9.9.9"
        ports:
          webport: 8080/http
`, port, bin)
	return fmt.Sprintf(`
data "vamp_blueprint" "shop" {
  yaml = [%s]
}

resource "vamp_deployment" "shop" {
  name     = data.vamp_blueprint.shop.name
  gateways = data.vamp_blueprint.shop.gateways
  clusters = data.vamp_blueprint.shop.clusters
}
`, heredoc(yaml))
}

// TestAccDeploymentDependencyReference deploys a frontend/backend blueprint on the local runtime:
// the frontend is started with BACKEND = the gateway's host and the port the backend's cluster
// gateway listens on, and a request to the frontend's endpoint comes back with the backend's
// answer through that address.
func TestAccDeploymentDependencyReference(t *testing.T) {
	bin := sava(t)
	port := freePort(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkNothingLeft("shop"),
		Steps: []resource.TestStep{
			{
				Config: frontendBackendBlueprint(port, bin),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// The backend's cluster gateway gets its port in the apply.
					plancheck.ExpectUnknownValue("vamp_deployment.shop", tfjsonpath.New("resolved_environment").AtMapKey("frontend/sava-frontend:1.0.0")),
				}},
				Check: checkFrontendReachesBackend(port),
			},
			{
				// Nothing changes: the runtime runs the configured variable resolved, and the plan
				// shows the value, known now that the backend's gateway listens.
				Config: frontendBackendBlueprint(port, bin),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					plancheck.ExpectKnownValue("vamp_deployment.shop", resolvedEnvPath(),
						knownvalue.StringRegexp(regexp.MustCompile(`^127\.0\.0\.1:4\d{4}$`))),
				}},
				Check: checkFrontendReachesBackend(port),
			},
		},
	})
}

// checkFrontendReachesBackend asks the frontend through the blueprint gateway on port: the answer
// names the backend (sava:9.9.9) and the address the frontend was given, which is where the
// backend's cluster gateway listens.
func checkFrontendReachesBackend(port int) resource.TestCheckFunc {
	return func(state *terraform.State) error {
		ctx := context.Background()
		gw, err := testGateway.Get(ctx, "shop/backend/webport")
		if err != nil {
			return err
		}
		if gw.Port < refPortFirst || gw.Port > refPortLast {
			return fmt.Errorf("the backend's cluster gateway listens on port %d, want one of %d-%d", gw.Port, refPortFirst, refPortLast)
		}
		addr := "127.0.0.1:" + strconv.Itoa(gw.Port)
		st, _, err := testRuntime.Get(ctx, "shop/frontend/sava-frontend:1.0.0")
		if err != nil {
			return err
		}
		if got := st.Service.Environment["BACKEND"]; got != addr {
			return fmt.Errorf("the frontend runs with BACKEND=%q, want %q", got, addr)
		}
		attrs := state.RootModule().Resources["vamp_deployment.shop"].Primary.Attributes
		if got := attrs["resolved_environment.frontend/sava-frontend:1.0.0.BACKEND"]; got != addr {
			return fmt.Errorf("resolved_environment says BACKEND=%q, want %q (state: %v)", got, addr, attrs)
		}
		if got := attrs["clusters.frontend.services.0.breed.environment_variables.BACKEND"]; got != "${backend.host}:${backend.ports.webport}" {
			return fmt.Errorf("the configured BACKEND is recorded as %q, want the reference", got)
		}
		body, err := getBody(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return err
		}
		if want := "sava:1.0.0 -> sava:9.9.9 (via " + addr + ")"; strings.TrimSpace(body) != want {
			return fmt.Errorf("GET / on the frontend's endpoint = %q, want %q", body, want)
		}
		// The address is the backend's stable endpoint: it answers there itself too.
		body, err = getBody("http://" + addr + "/")
		if err != nil {
			return err
		}
		if strings.TrimSpace(body) != "sava:9.9.9" {
			return fmt.Errorf("GET / on %s = %q, want sava:9.9.9", addr, body)
		}
		return nil
	}
}

func resolvedEnvPath() tfjsonpath.Path {
	return tfjsonpath.New("resolved_environment").AtMapKey("frontend/sava-frontend:1.0.0").AtMapKey("BACKEND")
}

func getBody(url string) (string, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), nil
}

// refHCL is a deployment whose frontend's BACKEND is value (HCL writes ${ as $${).
func refHCL(value string) string {
	return fmt.Sprintf(`
resource "vamp_deployment" "refs" {
  name = "refs"
  clusters = {
    frontend = {
      services = [{ breed = { name = "f:1.0.0", deployable = "cmd:/bin/true", ports = { webport = "8080/http" },
        environment_variables = { BACKEND = %q } } }]
    }
    backend = {
      services = [{ breed = { name = "b:1.0.0", deployable = "cmd:/bin/true", ports = { webport = "8080/http" },
        environment_variables = { FRONTEND = "$frontend.host" } } }]
    }
  }
}
`, value)
}

// TestAccDeploymentDependencyReferenceErrors: a reference to a cluster or port the deployment
// does not have, and references that go round, are refused at plan, naming the variable.
func TestAccDeploymentDependencyReferenceErrors(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      strings.Replace(refHCL("$nope.host:$nope.ports.webport"), `FRONTEND = "$frontend.host"`, `X = "1"`, 1),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Reference to an unknown cluster.*"BACKEND".*cluster "nope".*does\s+not\s+have`),
			},
			{
				Config:      strings.Replace(refHCL("$backend.host:$backend.ports.admin"), `FRONTEND = "$frontend.host"`, `X = "1"`, 1),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Reference to an unknown port.*port "admin".*cluster\s+"backend"`),
			},
			{
				Config:      refHCL("$${backend.host}:$${backend.ports.webport}"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Dependency cycle.*backend → frontend → backend`),
			},
		},
	})
}

// TestUnresolvedEnv: Read records the configured reference when the runtime runs it resolved
// with the current addresses, and the live value otherwise (a stale port shows as drift).
func TestUnresolvedEnv(t *testing.T) {
	recorded := map[string]string{"BACKEND": "${backend.host}:${backend.ports.webport}", "X": "1"}
	a := deployplan.Addresses{Host: "127.0.0.1", Ports: map[string]int{"backend/webport": 40002}}
	if got := unresolvedEnv(recorded, map[string]string{"BACKEND": "127.0.0.1:40002", "X": "1"}, a); got["BACKEND"] != recorded["BACKEND"] {
		t.Errorf("running the resolved value: recorded %v, want the reference", got)
	}
	stale := map[string]string{"BACKEND": "127.0.0.1:40001", "X": "1"}
	if got := unresolvedEnv(recorded, stale, a); got["BACKEND"] != "127.0.0.1:40001" {
		t.Errorf("running a stale port: recorded %v, want the live value", got)
	}
	if got := unresolvedEnv(recorded, map[string]string{"BACKEND": "127.0.0.1:40002", "X": "1"}, deployplan.Addresses{Host: "127.0.0.1"}); got["BACKEND"] != "127.0.0.1:40002" {
		t.Errorf("the backend's gateway gone: recorded %v, want the live value", got)
	}
}
