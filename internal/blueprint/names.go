package blueprint

// GatewayNames returns Vamp's names of the deployment's gateways: the blueprint gateways
// ("sava/9050") in key order, then the internal gateways ("sava/sava_cluster/webport") by cluster
// and port. Call it on a normalized blueprint, which has an internal gateway for every port.
func (b *Blueprint) GatewayNames() []string {
	var out []string
	for _, port := range sortedKeys(b.Gateways) {
		out = append(out, DeploymentGatewayName(b.Name, port))
	}
	for _, cname := range sortedKeys(b.Clusters) {
		if c := b.Clusters[cname]; c != nil {
			for _, port := range sortedKeys(c.Gateways) {
				out = append(out, GatewayName(b.Name, cname, port))
			}
		}
	}
	return out
}

// RouteNames returns Vamp's names of the routes of the internal gateways
// ("sava/sava_cluster/sava:1.0.0/webport") by cluster, port and service order.
func (b *Blueprint) RouteNames() []string {
	var out []string
	for _, cname := range sortedKeys(b.Clusters) {
		c := b.Clusters[cname]
		if c == nil {
			continue
		}
		for _, port := range sortedKeys(c.Gateways) {
			for _, service := range c.ServicesWithPort(port) {
				out = append(out, RouteName(b.Name, cname, service, port))
			}
		}
	}
	return out
}
