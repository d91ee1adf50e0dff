# A load-balancing rule is imported by its Azure id; its probe comes with it.
terraform import vamp_azure_lb_rule.sava \
  /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/dcos-rg/providers/Microsoft.Network/loadBalancers/dcos-agent-lb-1234/loadBalancingRules/vamp-sava-9050
