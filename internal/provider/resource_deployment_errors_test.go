package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// deploymentWith is a two-variant deployment whose cluster gateway routes and blueprint
// gateways are given.
func deploymentWith(gateways, services, routes string) string {
	return fmt.Sprintf(`
resource "vamp_deployment" "bad" {
  name     = "bad"
  gateways = { %s }
  clusters = {
    c = {
      services = [%s]
      gateways = { webport = { routes = { %s } } }
    }
  }
}
`, gateways, services, routes)
}

const (
	twoVariants = `
        { breed = { name = "sava:1.0.0", deployable = "cmd:sava", ports = { webport = "8080/http" } } },
        { breed = { name = "sava:1.1.0", deployable = "cmd:sava", ports = { webport = "8080/http" } } },`
	oneGateway = `"9050" = "c/webport"`
)

// TestAccDeploymentPlanErrors: each fault fails at plan with its attribute path and the fix.
// (Removing a variant that still has weight needs a running deployment: see the scenario test.)
func TestAccDeploymentPlanErrors(t *testing.T) {
	cases := []struct {
		name   string
		config string
		want   *regexp.Regexp
	}{
		{"weights", deploymentWith(oneGateway, twoVariants, `"sava:1.0.0" = { weight = 60 }, "sava:1.1.0" = { weight = 30 }`),
			words(`Weights do not sum to 100`, `clusters["c"].gateways["webport"].routes:`, `(sum 90); make them sum to 100`)},
		{"unknown service", deploymentWith(oneGateway, twoVariants, `"sava:1.0.0" = { weight = 100 }, "sava:9.9.9" = { weight = 0 }`),
			words(`Route to an unknown service`, `clusters["c"].gateways["webport"].routes["sava:9.9.9"]:`, `Rename the route or add the service`)},
		{"condition", deploymentWith(oneGateway, twoVariants, `"sava:1.0.0" = { weight = 100, condition = "user-agent ==" }`),
			words(`Invalid condition`, `clusters["c"].gateways["webport"].routes["sava:1.0.0"].condition:`, `expected a value`, `Write a condition such as`)},
		{"strength", deploymentWith(oneGateway, twoVariants, `"sava:1.0.0" = { weight = 100, condition = "has cookie x", condition_strength = 150 }`),
			words(`clusters["c"].gateways["webport"].routes["sava:1.0.0"].condition_strength`, `value must be between 0 and 100, got: 150`)},
		{"duplicate service", deploymentWith(oneGateway, twoVariants+twoVariants, `"sava:1.0.0" = { weight = 100 }`),
			words(`Duplicate service name`, `clusters["c"].services[2].breed.name:`, `give each variant its own breed name`)},
		// Every request would get 503: refused at plan, naming the cluster and the fix.
		{"serves nothing", deploymentWith(oneGateway, twoVariants, `"sava:1.0.0" = { weight = 0 }, "sava:1.1.0" = { weight = 0 }`),
			words(`Cluster "c" serves no request on port "webport"`, `clusters["c"].gateways["webport"].routes:`,
				`Gateway "bad/c/webport" would answer every request with 503`, `weights that sum to 100`, `condition_strength above 0`)},
		{"serves nothing, condition of strength 0", deploymentWith(oneGateway, twoVariants,
			`"sava:1.0.0" = { weight = 0, condition = "user-agent == Firefox", condition_strength = 0 }, "sava:1.1.0" = { weight = 0 }`),
			words(`Cluster "c" serves no request on port "webport"`)},
		// One fault, one message (TestFieldErrorsDoNotCascade: no "unknown service" for its route).
		{"no breed name", deploymentWith(oneGateway, `{ breed = { deployable = "cmd:sava", ports = { webport = "8080/http" } } },`,
			`"sava:1.0.0" = { weight = 100 }`),
			words(`Missing breed name`, `clusters["c"].services[0].breed.name: set the breed name`)},
		{"port twice", deploymentWith(oneGateway+`, "09050" = "c/webport"`, twoVariants, `"sava:1.0.0" = { weight = 100 }`),
			words(`Gateway port used twice`, `gateways["9050"]:`, `are both port 9050; keep one of them`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps:                    []resource.TestStep{{Config: c.config, PlanOnly: true, ExpectError: c.want}},
			})
		})
	}
}
