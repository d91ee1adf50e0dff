# Step 5: sava:1.1.0 breaks in Firefox. Firefox users stay on sava:1.0.0 (a condition with
# strength 100%: every matching request follows it); all other traffic goes to sava:1.1.0 by
# weight. Conditions are checked first, in route order; the rest is split by the weights.

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
            "sava:1.0.0" = {
              weight             = 0
              condition          = "user-agent == Firefox"
              condition_strength = 100
            }
            "sava:1.1.0" = { weight = 100 }
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
