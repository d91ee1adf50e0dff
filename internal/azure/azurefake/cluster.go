package azurefake

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// Cluster names what a cluster-provisioning module (azurerm) leaves behind for the provider: the
// agents' load balancer with a frontend and a backend pool, and the public agents' NSG.
type Cluster struct {
	SubscriptionID string
	LoadBalancerID string
	Frontend       string // frontend IP configuration name
	PoolID         string
	NSGID          string
}

// SeedCluster stores the cluster's load balancer, with an "ssh" rule and "ssh-probe" probe on
// port 22, and its NSG, with an "allow-ssh" rule at priority 100: things the provider does not
// own and must leave alone.
func (f *Fake) SeedCluster(subscriptionID string) Cluster {
	rg := "/subscriptions/" + subscriptionID + "/resourceGroups/dcos-rg/providers/Microsoft.Network/"
	c := Cluster{
		SubscriptionID: subscriptionID,
		LoadBalancerID: rg + "loadBalancers/dcos-agent-lb-1234",
		Frontend:       "dcos-agent-lb-frontend",
		NSGID:          rg + "networkSecurityGroups/dcos-agent-public-nsg-1234",
	}
	c.PoolID = c.LoadBalancerID + "/backendAddressPools/dcos-agent-pool"
	lb := LoadBalancer(c.LoadBalancerID, []string{c.Frontend}, []string{"dcos-agent-pool"})
	lb.Properties.Probes = []*armnetwork.Probe{{Name: to.Ptr("ssh-probe"), Properties: &armnetwork.ProbePropertiesFormat{
		Protocol: to.Ptr(armnetwork.ProbeProtocolTCP), Port: to.Ptr[int32](22), IntervalInSeconds: to.Ptr[int32](5), NumberOfProbes: to.Ptr[int32](2)}}}
	lb.Properties.LoadBalancingRules = []*armnetwork.LoadBalancingRule{{Name: to.Ptr("ssh"), Properties: &armnetwork.LoadBalancingRulePropertiesFormat{
		FrontendIPConfiguration: &armnetwork.SubResource{ID: to.Ptr(c.LoadBalancerID + "/frontendIPConfigurations/" + c.Frontend)},
		BackendAddressPool:      &armnetwork.SubResource{ID: to.Ptr(c.PoolID)},
		Probe:                   &armnetwork.SubResource{ID: to.Ptr(c.LoadBalancerID + "/probes/ssh-probe")},
		Protocol:                to.Ptr(armnetwork.TransportProtocolTCP), FrontendPort: to.Ptr[int32](22), BackendPort: to.Ptr[int32](22),
	}}}
	f.SeedLoadBalancer(lb)
	f.SeedNSG(c.NSGID, SecurityRule("allow-ssh", 100, "22"))
	return c
}
