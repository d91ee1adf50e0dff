# Every stable endpoint of a deployment, opened on Azure with for_each.
#
# The stable endpoints are one map. Each becomes a vamp_gateway, and each gateway gets a
# load-balancing rule (with the probe it owns) and an inbound NSG rule, keyed by the same name:
# adding an endpoint to the map in a release opens its port in the same plan, removing it closes
# it. The load balancer and NSG come from the cluster's azurerm module (ids as variables here).

terraform {
  required_providers {
    vamp = {
      source = "vamp-canary/vamp"
    }
  }
}

variable "subscription_id" {
  type = string
}

variable "load_balancer_id" {
  type        = string
  description = "The agents' load balancer, e.g. azurerm_lb.agents.id or the cluster module's output."
}

variable "frontend_ip_configuration_name" {
  type = string
}

variable "backend_address_pool_id" {
  type = string
}

variable "network_security_group_id" {
  type        = string
  description = "The public agents' NSG, e.g. azurerm_network_security_group.public_agents.id (no inline security_rule blocks)."
}

provider "vamp" {
  azure {
    subscription_id = var.subscription_id
  }
}

locals {
  # name => port and the deployment's cluster gateway that the endpoint routes to.
  endpoints = {
    sava     = { port = 9050, target = "sava/sava_cluster/webport" }
    sava-api = { port = 9060, target = "sava/sava_cluster/apiport" }
  }
}

resource "vamp_gateway" "stable" {
  for_each = local.endpoints

  name = "public/${each.value.port}"
  port = each.value.port
  routes = [
    { name = each.key, gateway = each.value.target, weight = 100 },
  ]
}

resource "vamp_azure_lb_rule" "stable" {
  for_each = vamp_gateway.stable

  load_balancer_id               = var.load_balancer_id
  name                           = "vamp-${each.key}-${each.value.port}"
  frontend_ip_configuration_name = var.frontend_ip_configuration_name
  backend_address_pool_ids       = [var.backend_address_pool_id]
  frontend_port                  = each.value.port
  tcp_reset_enabled              = true

  probe {
    protocol = "Tcp"
  }
}

resource "vamp_azure_nsg_rule" "stable" {
  for_each = vamp_gateway.stable

  network_security_group_id = var.network_security_group_id
  name                      = "allow-vamp-${each.key}-${each.value.port}"
  # Unique per direction: 1000 + the endpoint's position in the sorted map keeps vamp rules in
  # 1000..1999, clear of the cluster's own rules.
  priority                = 1000 + index(sort(keys(local.endpoints)), each.key)
  protocol                = "Tcp"
  destination_port_ranges = [tostring(each.value.port)]
  source_address_prefixes = ["Internet"]
  description             = "vamp gateway ${each.value.name}"
}
