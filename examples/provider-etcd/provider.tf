terraform {
  required_providers {
    vamp = {
      source = "vamp-canary/vamp"
    }
  }
}

# Several gateway replicas (vamp-gateway --etcd-endpoints ... --replica-id ...) behind a load
# balancer follow the gateways in etcd. The provider writes to etcd instead of one admin API:
# set the etcd block, not the gateway block's url (the gateway block may keep host).
provider "vamp" {
  etcd {
    endpoints = ["https://10.0.0.5:2379", "https://10.0.0.6:2379", "https://10.0.0.7:2379"] # or VAMP_ETCD_ENDPOINTS
    prefix    = "/vamp"                                                                     # or VAMP_ETCD_PREFIX; the replicas' --etcd-prefix

    # Optional: replicas that must acknowledge every change even when they are not running
    # (without it, an apply waits for the replicas that run).
    replicas = ["gw-1", "gw-2", "gw-3"]

    ca_file   = "/etc/vamp/etcd-ca.pem"
    cert_file = "/etc/vamp/etcd-client.pem"
    key_file  = "/etc/vamp/etcd-client-key.pem" # or key_pem = var.etcd_client_key (sensitive)
  }

  gateway {
    host = "10.0.0.4" # where services reach the gateways' ports (the internal load balancer)
  }

  marathon {
    url = "https://dcos.example.com/service/marathon"
  }
}

# Each apply of a resource waits (within its timeouts) until every live replica serves the change.
resource "vamp_gateway" "shop" {
  name = "shop/9060"
  port = 9060
  routes = [
    { name = "blue", addresses = ["10.0.1.10:8080"], weight = 80 },
    { name = "green", addresses = ["10.0.1.11:8080"], weight = 20 },
  ]
  timeouts {
    update = "2m"
  }
}

# After an apply that changed it, e.g. "3 of 3 replicas (gw-1, gw-2, gw-3) serve etcd revision 42, 48ms after the commit".
output "shop_convergence" {
  value = vamp_gateway.shop.convergence.summary
}
