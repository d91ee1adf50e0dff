terraform {
  required_providers {
    vamp = {
      source = "vamp-canary/vamp"
    }
  }
}

# The gateway admin API. With `vamp-gateway dev` running on this machine nothing needs to be set:
# the URL defaults to http://127.0.0.1:9900 and the token comes from VAMP_GATEWAY_TOKEN.
provider "vamp" {
  gateway {
    url   = "http://127.0.0.1:9900" # or VAMP_GATEWAY_URL
    token = var.gateway_token       # or VAMP_GATEWAY_TOKEN
  }
}

variable "gateway_token" {
  type      = string
  sensitive = true
}

# Optional: service variants on Marathon (DC/OS) instead of the local dev runtime.
# provider "vamp" {
#   marathon {
#     url        = "https://dcos.example.com/service/marathon" # or MARATHON_URL
#     dcos_token = var.dcos_token                               # or DCOS_TOKEN
#   }
# }
#
# Optional: open gateway ports on Azure (vamp_azure_lb_rule, vamp_azure_nsg_rule). Credentials come
# from azidentity's default chain and the ARM_* variables azurerm users already set.
# provider "vamp" {
#   azure {
#     subscription_id = var.subscription_id # or ARM_SUBSCRIPTION_ID
#   }
# }
