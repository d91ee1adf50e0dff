# The seed's step 2 as code: open the stable endpoint sava/9050 on Azure.
#
# In the article this was done by hand in the portal: a health probe and a load-balancing rule for
# port 9050 on the agents' load balancer, and an inbound allow rule for 9050 on the public agents'
# network security group. Here both take their ids from azurerm (the cluster's provisioning
# module) and their port from the vamp gateway, so opening a new endpoint is part of the same plan.

terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
    vamp = {
      source = "vamp-canary/vamp"
    }
  }
}

variable "subscription_id" {
  type        = string
  description = "The cluster's subscription (or set ARM_SUBSCRIPTION_ID)."
}

variable "location" {
  type    = string
  default = "westeurope"
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
}

# The same credentials as azurerm: ARM_TENANT_ID, ARM_CLIENT_ID and ARM_CLIENT_SECRET from the
# environment, or workload identity / managed identity / `az login` when no secret is set.
provider "vamp" {
  azure {
    subscription_id = var.subscription_id
    environment     = "public" # or "china", "usgovernment"
  }
}

# ---------------------------------------------------------------------------------------------
# What a cluster module creates (and would output): the agents' load balancer with its frontend
# and backend pool, and the public agents' network security group. With an existing cluster, use
# the module's outputs or data "azurerm_lb" / data "azurerm_network_security_group" instead.
# ---------------------------------------------------------------------------------------------

resource "azurerm_resource_group" "cluster" {
  name     = "dcos-rg"
  location = var.location
}

resource "azurerm_public_ip" "agents" {
  name                = "dcos-agent-lb-ip"
  location            = azurerm_resource_group.cluster.location
  resource_group_name = azurerm_resource_group.cluster.name
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_lb" "agents" {
  name                = "dcos-agent-lb-1234"
  location            = azurerm_resource_group.cluster.location
  resource_group_name = azurerm_resource_group.cluster.name
  sku                 = "Standard"

  frontend_ip_configuration {
    name                 = "dcos-agent-lb-frontend"
    public_ip_address_id = azurerm_public_ip.agents.id
  }
}

resource "azurerm_lb_backend_address_pool" "agents" {
  name            = "dcos-agent-pool"
  loadbalancer_id = azurerm_lb.agents.id
}

resource "azurerm_network_security_group" "public_agents" {
  name                = "dcos-agent-public-nsg-1234"
  location            = azurerm_resource_group.cluster.location
  resource_group_name = azurerm_resource_group.cluster.name
}

# ---------------------------------------------------------------------------------------------
# The stable endpoint and the two Azure changes that make it reachable.
# ---------------------------------------------------------------------------------------------

# The stable endpoint on 9050, routing to the cluster gateway of the deployment "sava"
# (examples/quickstart/1-deploy creates it).
resource "vamp_gateway" "sava" {
  name = "public/9050"
  port = 9050
  routes = [
    { name = "sava", gateway = "sava/sava_cluster/webport", weight = 100 },
  ]
}

# Step 2.1: a health probe and a load-balancing rule that forward 9050 to the agents. The rule
# owns its probe; the load balancer's other rules and probes are never touched.
resource "vamp_azure_lb_rule" "sava" {
  load_balancer_id               = azurerm_lb.agents.id
  name                           = "vamp-sava-${vamp_gateway.sava.port}"
  frontend_ip_configuration_name = azurerm_lb.agents.frontend_ip_configuration[0].name
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.agents.id]
  protocol                       = "Tcp"
  frontend_port                  = vamp_gateway.sava.port
  # backend_port defaults to frontend_port: the gateway listens on the same port on every agent.
  load_distribution = "Default" # "SourceIP" pins a client to one agent

  probe {
    protocol = "Tcp" # the gateway's listener; "Http" with request_path for an HTTP health path
    # port defaults to backend_port
    interval_in_seconds = 5
    threshold           = 2
  }
}

# Step 2.2: allow inbound 9050 on the public agents' NSG. Opening to the world is written out.
resource "vamp_azure_nsg_rule" "sava" {
  network_security_group_id = azurerm_network_security_group.public_agents.id
  name                      = "allow-vamp-sava-${vamp_gateway.sava.port}"
  priority                  = 1050 # unique among the NSG's inbound rules
  protocol                  = "Tcp"
  destination_port_ranges   = [tostring(vamp_gateway.sava.port)]
  source_address_prefixes   = ["Internet"]
  description               = "vamp gateway ${vamp_gateway.sava.name}"
}

output "endpoint" {
  description = "Where sava answers: the load balancer's public IP, port 9050."
  value       = "http://${azurerm_public_ip.agents.ip_address}:${vamp_gateway.sava.port}/"
}
