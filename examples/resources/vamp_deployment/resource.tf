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

output "endpoints" {
  value = vamp_deployment.sava.gateway_names # ["sava/9050", "sava/sava_cluster/webport"]
}
