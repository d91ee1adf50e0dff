# Step 1: deploy the first variant, sava:1.0.0, from the seed's blueprint.
# Two gateways appear: the stable endpoint sava/9050 and the cluster gateway
# sava/sava_cluster/webport, whose single route sava/sava_cluster/sava:1.0.0/webport takes 100%.

terraform {
  required_providers {
    vamp = {
      source = "vamp-canary/vamp"
    }
  }
  # Every step changes the same deployment: the steps share one state file.
  backend "local" {
    path = "../terraform.tfstate"
  }
}

# The gateway admin API of `vamp-gateway dev`: VAMP_GATEWAY_URL (default http://127.0.0.1:9900)
# and VAMP_GATEWAY_TOKEN, as the dev command prints them.
provider "vamp" {}

data "vamp_blueprint" "sava" {
  yaml = [
    file("${path.module}/../sava-1.0.0.yaml"),  # the seed's blueprint, unchanged
    file("${path.module}/../local-1.0.0.yaml"), # local dev runtime: run sava:1.0.0 as a process
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
