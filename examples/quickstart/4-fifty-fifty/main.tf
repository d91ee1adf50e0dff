# Step 4: shift half of the traffic to the canary. The services still come from the blueprints;
# the cluster gateway's routing is plain HCL now, the part a release pull request changes. The
# plan is an in-place update of two weights: no process is touched.

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
    file("${path.module}/../sava-1.1.0.yaml"),
    file("${path.module}/../local-1.1.0.yaml"),
  ]
}

resource "vamp_deployment" "sava" {
  name     = data.vamp_blueprint.sava.name
  gateways = data.vamp_blueprint.sava.gateways
  clusters = {
    sava_cluster = {
      services = data.vamp_blueprint.sava.clusters["sava_cluster"].services
      gateways = {
        webport = {
          routes = {
            "sava:1.0.0" = { weight = 50 }
            "sava:1.1.0" = { weight = 50 }
          }
        }
      }
    }
  }
}

output "gateways" {
  value = vamp_deployment.sava.gateway_names
}

output "instances" {
  value = vamp_deployment.sava.instances
}
