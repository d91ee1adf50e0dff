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
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
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
				Check:  checkFrontendReachesBackend(port),
			},
			{
				// Nothing changes: the resolved variable the runtime runs with is the configured one.
				Config: frontendBackendBlueprint(port, bin),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
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
	return func(*terraform.State) error {
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
