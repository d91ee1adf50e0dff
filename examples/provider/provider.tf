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
