# A canary release of sava: 1.0.0 serves Firefox users, 1.1.0 everybody else.
resource "vamp_deployment" "sava" {
  name     = "sava"
  gateways = { "9050" = "sava_cluster/webport" } # the stable endpoint sava/9050

  clusters = {
    sava_cluster = {
      services = [
        {
          breed = {
            name       = "sava:1.0.0"
            deployable = "cmd:./bin/sava --version 1.0.0" # a Docker image on Marathon
            ports      = { webport = "8080/http" }
          }
          scale = { instances = 2 }
          health_checks = [
            { port = "webport", path = "/health" }
          ]
        },
        {
          breed = {
            name       = "sava:1.1.0"
            deployable = "cmd:./bin/sava --version 1.1.0"
            ports      = { webport = "8080/http" }
          }
        },
      ]

      # The internal gateway sava/sava_cluster/webport: conditions first, then weights.
      gateways = {
        webport = {
          routes = {
            "sava:1.0.0" = { weight = 0, condition = "user-agent == Firefox" } # strength 100
            "sava:1.1.0" = { weight = 100 }
          }
        }
      }
    }
  }

  timeouts {
    create = "10m"
  }
}

# Where traffic goes, known at plan time:
# ["user-agent == Firefox -> sava:1.0.0 100%", "other -> sava:1.1.0 100%"]
output "split" {
  value = vamp_deployment.sava.clusters["sava_cluster"].gateways["webport"].split
}

# Gateways by name, not by list position: "sava/sava_cluster/webport".
output "cluster_gateway" {
  value = vamp_deployment.sava.gateway_name["sava_cluster/webport"]
}

# A stable endpoint with routing of its own: beta testers (a cookie) reach the beta cluster,
# everybody else sava_cluster, with sticky sessions. No separate vamp_gateway is needed.
resource "vamp_deployment" "shop" {
  name = "shop"
  endpoints = {
    "9060" = {
      sticky = "route"
      routes = {
        "beta_cluster/webport" = { weight = 0, condition = "has cookie beta" } # strength 100
        "shop_cluster/webport" = { weight = 100 }
      }
    }
  }
  clusters = {
    shop_cluster = {
      services = [{ breed = { name = "shop:1.0.0", deployable = "cmd:./bin/sava --version 1.0.0", ports = { webport = "8080/http" } } }]
    }
    beta_cluster = {
      services = [{ breed = { name = "shop:2.0.0", deployable = "cmd:./bin/sava --version 2.0.0", ports = { webport = "8080/http" } } }]
    }
  }
}
