# A security rule is imported by its Azure id.
terraform import vamp_azure_nsg_rule.sava \
  /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/dcos-rg/providers/Microsoft.Network/networkSecurityGroups/dcos-agent-public-nsg-1234/securityRules/allow-vamp-sava-9050
