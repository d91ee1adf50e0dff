# Forward port 9050 on the agents' load balancer to the agents, with a TCP health probe.
resource "vamp_azure_lb_rule" "sava" {
  load_balancer_id               = azurerm_lb.agents.id
  name                           = "vamp-sava-9050"
  frontend_ip_configuration_name = azurerm_lb.agents.frontend_ip_configuration[0].name
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.agents.id]
  frontend_port                  = vamp_gateway.sava.port # backend_port defaults to it

  probe {
    protocol = "Tcp" # or "Http"/"Https" with request_path = "/health"
  }
}
