# A public entry on port 9060: requests with the cookie "beta" go to the canary cluster gateway,
# the rest is split 90/10 between the deployment and a legacy server.
resource "vamp_gateway" "public" {
  name   = "public/9060"
  port   = 9060
  sticky = "route"

  routes = [
    {
      name      = "sava"
      gateway   = vamp_deployment.sava.gateway_name["sava_cluster/webport"] # "sava/sava_cluster/webport"
      weight    = 90
      condition = "has cookie beta"
    },
    {
      name      = "legacy"
      addresses = ["10.0.0.12:8080", "10.0.0.13:8080"]
      weight    = 10
      health_check = {
        path = "/health"
      }
    },
  ]
}

# A TCP entry (layer 4, Vamp's port type tcp) in front of a deployment's cluster gateway of a port
# declared "5432/tcp": each connection goes to a variant by the cluster gateway's weights.
resource "vamp_gateway" "db" {
  name     = "public/5432"
  port     = 5432
  protocol = "tcp"

  routes = [
    { name = "db", gateway = "db/db_cluster/dbport" },
  ]
}
