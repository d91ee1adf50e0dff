# The seed scenario on DC/OS: every service variant is a Marathon app, and the gateway (running
# on the public agents, see gateway-app.json) follows the apps' tasks.
#
#   export MARATHON_URL=https://<dcos-cluster>   # or http://marathon.mesos:8080 inside the cluster
#   export DCOS_TOKEN=$(dcos config show core.dcos_acs_token)
#   export VAMP_GATEWAY_URL=http://<a-public-agent>:9900 VAMP_GATEWAY_TOKEN=<the admin token secret>
#   terraform apply                                   # step 1: sava:1.0.0
#   terraform apply -var 'canary=true'                # step 3: merge sava:1.1.0 at 0%
#
# Steps 4 and 5 (50/50, then Firefox to 1.0.0) are HCL changes of the cluster gateway's routes,
# exactly as on the local dev runtime: see the canary-release guide.

terraform {
  required_providers {
    vamp = {
      source = "vamp-canary/vamp"
    }
  }
}

variable "canary" {
  description = "Merge the seed's second blueprint (sava:1.1.0, weight 0)."
  type        = bool
  default     = false
}

provider "vamp" {
  gateway {} # VAMP_GATEWAY_URL, VAMP_GATEWAY_TOKEN

  # Selects the Marathon runtime. url, dcos_token (or username/password) fall back to
  # MARATHON_URL, DCOS_TOKEN, MARATHON_USERNAME and MARATHON_PASSWORD.
  marathon {
    group               = "vamp" # apps are /vamp/<deployment>/<cluster>/<breed>
    request_timeout     = "30s"
    rollback_on_failure = true  # a deployment that fails or times out is cancelled: Marathon restores the previous version
    force_on_lock       = false # an app locked by a running deployment (409): wait for it instead of forcing
  }
}

# The seed's blueprints, unchanged: their deployables are docker images, which Marathon runs.
data "vamp_blueprint" "sava" {
  yaml = concat(
    [file("${path.module}/../quickstart/sava-1.0.0.yaml")],
    var.canary ? [file("${path.module}/../quickstart/sava-1.1.0.yaml")] : [],
  )
}

resource "vamp_deployment" "sava" {
  name     = data.vamp_blueprint.sava.name
  gateways = data.vamp_blueprint.sava.gateways
  clusters = data.vamp_blueprint.sava.clusters

  # How long an apply waits for the apps' tasks to be running and healthy before it fails
  # (and, with rollback_on_failure, rolls the app back).
  timeouts {
    create = "10m"
    update = "10m"
  }
}

output "instances" {
  description = "host:port of every task, by cluster/breed."
  value       = vamp_deployment.sava.instances
}
