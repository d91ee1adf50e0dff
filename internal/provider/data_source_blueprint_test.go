package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func seedRoutes(service string) tfjsonpath.Path {
	return tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("gateways").AtMapKey("webport").AtMapKey("routes").AtMapKey(service)
}

// TestAccBlueprintDataSourceSeed reads the seed's two blueprints unchanged and hands the result
// to vamp_deployment as `clusters = data.vamp_blueprint.sava.clusters`.
func TestAccBlueprintDataSourceSeed(t *testing.T) {
	config := fmt.Sprintf(`
data "vamp_blueprint" "sava" {
  yaml = [%s, %s]
}

resource "vamp_deployment" "sava" {
  name     = data.vamp_blueprint.sava.name
  gateways = data.vamp_blueprint.sava.gateways
  clusters = data.vamp_blueprint.sava.clusters
}
`, heredoc(seedBlueprint100), heredoc(seedBlueprint110))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("vamp_deployment.sava", plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("name"), knownvalue.StringExact("sava")),
					plancheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("gateways"), knownvalue.MapExact(map[string]knownvalue.Check{
						"9050": knownvalue.StringExact("sava_cluster/webport"),
					})),
					plancheck.ExpectKnownValue("vamp_deployment.sava", seedRoutes("sava:1.0.0").AtMapKey("weight"), knownvalue.Int64Exact(100)),
					plancheck.ExpectKnownValue("vamp_deployment.sava", seedRoutes("sava:1.1.0").AtMapKey("weight"), knownvalue.Int64Exact(0)),
					plancheck.ExpectKnownValue("vamp_deployment.sava",
						tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("services").AtSliceIndex(1).AtMapKey("breed").AtMapKey("deployable"),
						knownvalue.StringExact("magneticio/sava:1.1.0")),
					plancheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("gateway_names"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("sava/9050"), knownvalue.StringExact("sava/sava_cluster/webport"),
					})),
					plancheck.ExpectKnownValue("vamp_deployment.sava", tfjsonpath.New("route_names"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("sava/sava_cluster/sava:1.0.0/webport"), knownvalue.StringExact("sava/sava_cluster/sava:1.1.0/webport"),
					})),
				}},
				// The seed deploys Docker images, which the local dev runtime refuses with a
				// message pointing at Marathon; nothing is left behind.
				ExpectError: words(`Service "sava/sava_cluster/sava:1.0.0" did not deploy`, `Docker image`, `Marathon`),
			},
		},
		CheckDestroy: checkNothingLeft("sava"),
	})
}

func TestAccBlueprintDataSourceOutputs(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`
data "vamp_blueprint" "sava" {
  yaml = [%s]
}
`, heredoc(`name: sava
clusters:
  sava_cluster:
    services:
      - breed: { name: "sava:1.0.0", deployable: "cmd:sava", ports: { webport: 8080/http } }
        scale: { cpu: 0.5, memory: 1GB, instances: 2 }
        health_checks: [ { port: webport, path: /health } ]
      - breed: { name: "sava:1.1.0", deployable: "cmd:sava", ports: { webport: 8080 } }
    gateways:
      webport:
        sticky: route
        routes:
          sava:1.0.0: { weight: 60%, condition: "User-Agent = Firefox" }
          sava:1.1.0: { weight: 40% }
`)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.vamp_blueprint.sava", tfjsonpath.New("gateways"), knownvalue.Null()),
					statecheck.ExpectKnownValue("data.vamp_blueprint.sava", seedRoutes("sava:1.0.0"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"weight": knownvalue.Int64Exact(60), "condition": knownvalue.StringExact("User-Agent = Firefox"),
						// Vamp YAML: a condition without a strength has strength 0%.
						"condition_strength": knownvalue.Int64Exact(0),
					})),
					statecheck.ExpectKnownValue("data.vamp_blueprint.sava",
						tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("services").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
							"breed": knownvalue.ObjectExact(map[string]knownvalue.Check{
								"name": knownvalue.StringExact("sava:1.0.0"), "deployable": knownvalue.StringExact("cmd:sava"),
								"ports":                 knownvalue.MapExact(map[string]knownvalue.Check{"webport": knownvalue.StringExact("8080/http")}),
								"environment_variables": knownvalue.Null(),
							}),
							"scale": knownvalue.ObjectExact(map[string]knownvalue.Check{
								"cpu": knownvalue.Float64Exact(0.5), "memory": knownvalue.Int64Exact(1024), "instances": knownvalue.Int64Exact(2),
							}),
							"health_checks": knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectExact(map[string]knownvalue.Check{
								"port": knownvalue.StringExact("webport"), "path": knownvalue.StringExact("/health"), "protocol": knownvalue.StringExact("HTTP"),
								"initial_delay": knownvalue.StringExact("10s"), "interval": knownvalue.StringExact("10s"), "timeout": knownvalue.StringExact("5s"),
								"failures": knownvalue.Int64Exact(3),
							})}),
							"marathon": knownvalue.Null(),
							// Vamp YAML has no SLA of a service: set it in HCL.
							"sla": knownvalue.Null(),
						})),
					// "8080" is normalized to "8080/http".
					statecheck.ExpectKnownValue("data.vamp_blueprint.sava",
						tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("services").AtSliceIndex(1).AtMapKey("breed").AtMapKey("ports").AtMapKey("webport"),
						knownvalue.StringExact("8080/http")),
					statecheck.ExpectKnownValue("data.vamp_blueprint.sava",
						tfjsonpath.New("clusters").AtMapKey("sava_cluster").AtMapKey("gateways").AtMapKey("webport").AtMapKey("sticky"), knownvalue.StringExact("route")),
				},
			},
		},
	})
}

func TestAccBlueprintDataSourceErrors(t *testing.T) {
	step := func(docs ...string) string {
		yaml := ""
		for _, d := range docs {
			yaml += heredoc(d) + ",\n"
		}
		return fmt.Sprintf("data \"vamp_blueprint\" \"bad\" {\n  yaml = [\n%s]\n}\n", yaml)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				// The second document's fault names its index, line and YAML path.
				Config:      step(seedBlueprint100, "name: x\nclusters:\n  sava_cluster:\n    services:\n      - breed: { name: \"sava:1.1.0\", deployable: x, ports: { webport: 8080/htp } }\n"),
				ExpectError: words(`Invalid blueprint YAML`, `yaml[1], line 5`, `clusters.sava_cluster.services[0].breed.ports.webport`, `http or tcp`),
			},
			{
				// Faults of the merged blueprint name the YAML path and the fix.
				Config:      step(seedBlueprint100, "name: x\nclusters:\n  sava_cluster:\n    gateways:\n      webport:\n        routes:\n          sava:1.0.0: { weight: 60% }\n"),
				ExpectError: words(`Weights do not sum to 100`, `clusters.sava_cluster.gateways.webport.routes`, `sum to 100`),
			},
		},
	})
}

// TestAccBlueprintDataSourceVampForms reads a blueprint in Vamp's forms: breeds by reference
// given by a second document, a trait alias, a dependency reference, a cluster SLA and a
// PORT/TYPE gateway key.
func TestAccBlueprintDataSourceVampForms(t *testing.T) {
	svc := func(cluster string) tfjsonpath.Path {
		return tfjsonpath.New("clusters").AtMapKey(cluster).AtMapKey("services").AtSliceIndex(0)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
data "vamp_blueprint" "runner" {
  yaml = [%s, %s]
}
`, heredoc(`name: runner
gateways:
  9050/http: frontend/port
clusters:
  frontend:
    services: frontend
    sla:
      type: response_time_sliding_window
      threshold: { upper: 1000, lower: 100 }
      window: { interval: 60, cooldown: 120 }
      escalations:
        - { type: scale_instances, minimum: 1, maximum: 4, scale_by: 1 }
  backend: backend
env:
  frontend.debug: true
`), heredoc(`kind: breeds
name: frontend
deployable: cmd:./bin/sava
ports: { port: 8081/http }
environment_variables:
  debug[SAVA_DEBUG]: false
  BACKEND: http://$backend.host:$backend.ports.webport
dependencies: { backend: backend }
---
kind: breeds
name: backend
deployable: cmd:./bin/sava
ports: { webport: 8085/http }
`)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.vamp_blueprint.runner", tfjsonpath.New("gateways"), knownvalue.MapExact(map[string]knownvalue.Check{
					"9050": knownvalue.StringExact("frontend/port"),
				})),
				statecheck.ExpectKnownValue("data.vamp_blueprint.runner", svc("frontend").AtMapKey("breed").AtMapKey("environment_variables"), knownvalue.MapExact(map[string]knownvalue.Check{
					"SAVA_DEBUG": knownvalue.StringExact("true"),
					"BACKEND":    knownvalue.StringExact("http://${backend.host}:${backend.ports.webport}"),
				})),
				statecheck.ExpectKnownValue("data.vamp_blueprint.runner", svc("frontend").AtMapKey("sla"), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"min_instances": knownvalue.Int64Exact(1), "max_instances": knownvalue.Int64Exact(4), "step": knownvalue.Int64Exact(1),
					"upper_p99": knownvalue.StringExact("1000ms"), "lower_p99": knownvalue.StringExact("100ms"),
					"window": knownvalue.StringExact("60s"), "cooldown": knownvalue.StringExact("120s"),
				})),
				statecheck.ExpectKnownValue("data.vamp_blueprint.runner", svc("backend").AtMapKey("breed").AtMapKey("ports"), knownvalue.MapExact(map[string]knownvalue.Check{
					"webport": knownvalue.StringExact("8085/http"),
				})),
			},
		}, {
			// A breed named but given by no document is named in the error.
			Config:      "data \"vamp_blueprint\" \"bad\" {\n  yaml = [\"name: x\\nclusters:\\n  c: nowhere\\n\"]\n}\n",
			ExpectError: words(`Invalid blueprint YAML`, `yaml[0]`, `breed "nowhere" is referenced but no document gives it`),
		}},
	})
}
