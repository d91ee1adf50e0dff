# Allow inbound 9050 on the public agents' network security group, from anywhere on the Internet.
resource "vamp_azure_nsg_rule" "sava" {
  network_security_group_id = azurerm_network_security_group.public_agents.id
  name                      = "allow-vamp-sava-9050"
  priority                  = 1050
  destination_port_ranges   = ["9050"]
  source_address_prefixes   = ["Internet"] # required: ["*"] or ["Internet"] opens to the world
}
