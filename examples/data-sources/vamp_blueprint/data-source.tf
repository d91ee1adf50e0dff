# Vamp blueprints, merged in order: the deployment, then the canary variant (weight 0).
data "vamp_blueprint" "sava" {
  yaml = [
    file("${path.module}/sava-1.0.0.yaml"),
    file("${path.module}/sava-1.1.0.yaml"),
  ]
}

resource "vamp_deployment" "sava" {
  name     = data.vamp_blueprint.sava.name
  gateways = data.vamp_blueprint.sava.gateways
  clusters = data.vamp_blueprint.sava.clusters
}
