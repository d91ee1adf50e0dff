# Step 3: merge the canary sava:1.1.0 into the running deployment with the seed's second
# blueprint. It is deployed beside sava:1.0.0 and its route gets weight 0 (Vamp's merge rule):
# no traffic reaches it yet. The plan shows the new service and its 0% route; sava:1.0.0 is not
# touched.

terraform {
  required_providers {
    vamp = {
      source = "vamp-canary/vamp"
    }
  }
  backend "local" {
    path = "../terraform.tfstate"
  }
}

provider "vamp" {}

data "vamp_blueprint" "sava" {
  yaml = [
    file("${path.module}/../sava-1.0.0.yaml"),
    file("${path.module}/../local-1.0.0.yaml"),
    file("${path.module}/../sava-1.1.0.yaml"),  # the seed's canary blueprint, unchanged
    file("${path.module}/../local-1.1.0.yaml"), # local dev runtime: run sava:1.1.0 as a process
  ]
}

resource "vamp_deployment" "sava" {
  name     = data.vamp_blueprint.sava.name
  gateways = data.vamp_blueprint.sava.gateways
  clusters = data.vamp_blueprint.sava.clusters
}

output "gateways" {
  value = vamp_deployment.sava.gateway_names
}

output "instances" {
  value = vamp_deployment.sava.instances
}
