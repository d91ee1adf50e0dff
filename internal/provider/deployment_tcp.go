package provider

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// gatewayProtocol is the protocol field of the gateway that serves a cluster port:
// gatewayapi.ProtocolTCP when the breeds declare the port "/tcp" (the cluster gateway and the
// blueprint gateways in front of it forward whole connections), "" (HTTP, the default) otherwise.
// The breeds of a cluster agree on a port's protocol (blueprint.Validate).
func gatewayProtocol(c *blueprint.Cluster, port string) string {
	if c == nil {
		return ""
	}
	for _, s := range c.Services {
		if s == nil {
			continue
		}
		if spec, ok := s.Breed.Ports[port]; ok {
			if _, protocol, err := blueprint.ParsePort(spec); err == nil && protocol == gatewayapi.ProtocolTCP {
				return gatewayapi.ProtocolTCP
			}
			return ""
		}
	}
	return ""
}

// setGatewayProtocols gives every gateway of a deployment the protocol of the cluster port it
// serves: the cluster gateway of a port its breeds declare tcp, and the blueprint gateways that
// lead to it, are TCP gateways.
func setGatewayProtocols(bp *blueprint.Blueprint, docs []deployplan.NamedGateway) {
	protocols := gatewayProtocols(bp)
	for i := range docs {
		docs[i].Gateway.Protocol = protocols[docs[i].Name]
	}
}

// gatewayProtocols maps the name of each gateway of bp that serves a tcp port (cluster gateways
// and the blueprint gateways leading to them) to gatewayapi.ProtocolTCP.
func gatewayProtocols(bp *blueprint.Blueprint) map[string]string {
	out := map[string]string{}
	for cname, c := range bp.Clusters {
		for _, port := range c.PortNames() {
			if gatewayProtocol(c, port) == gatewayapi.ProtocolTCP {
				out[blueprint.GatewayName(bp.Name, cname, port)] = gatewayapi.ProtocolTCP
			}
		}
	}
	for port, target := range bp.Gateways {
		cluster, cport, _ := strings.Cut(target, "/")
		if gatewayProtocol(bp.Clusters[cluster], cport) == gatewayapi.ProtocolTCP {
			out[blueprint.DeploymentGatewayName(bp.Name, port)] = gatewayapi.ProtocolTCP
		}
	}
	return out
}

// addTCPGatewayFaults reports tcpGatewayFaults of the configuration at their attributes (unlike
// addFieldErrors it skips none: sticky and condition have schema validators, which check only
// their syntax), and what the gateway cannot run on a TCP gateway: a rollout of a tcp port and
// the sla of a service whose first port (the one its scaling measures) is tcp.
func addTCPGatewayFaults(diags *diag.Diagnostics, name string, gateways map[string]string, clusters map[string]clusterModel) {
	bp := toBlueprint(name, gateways, clusters)
	for _, fe := range tcpGatewayFaults(bp) {
		diags.AddAttributeError(attributePath(fe.Path), fe.Summary, fe.Path.String()+": "+fe.Detail+".")
	}
	for _, cname := range slices.Sorted(maps.Keys(clusters)) {
		c, bc := clusters[cname], bp.Clusters[cname]
		cp := path.Root("clusters").AtMapKey(cname)
		for _, port := range slices.Sorted(maps.Keys(c.Gateways)) {
			if c.Gateways[port].Rollout != nil && gatewayProtocol(bc, port) == gatewayapi.ProtocolTCP {
				p := cp.AtName("gateways").AtMapKey(port).AtName("rollout")
				diags.AddAttributeError(p, "Rollout on a tcp port",
					fmt.Sprintf("Attribute %s: port %s is declared tcp by its breeds, so its gateway forwards whole TCP connections, and a rollout judges HTTP answers (5xx rate, latency). Remove the rollout and shift the weights yourself, or declare the port http (\"8080/http\").", p, port))
			}
		}
		for i, s := range c.Services {
			if s.SLA == nil || s.Breed == nil || len(s.Breed.Ports) == 0 {
				continue
			}
			if port := slices.Min(slices.Collect(maps.Keys(s.Breed.Ports))); gatewayProtocol(bc, port) == gatewayapi.ProtocolTCP {
				p := cp.AtName("services").AtListIndex(i).AtName("sla")
				diags.AddAttributeError(p, "SLA scaling on a tcp port",
					fmt.Sprintf("Attribute %s: the sla measures the p99 latency of HTTP requests at the gateway of the service's first port, %s, which is declared tcp: its gateway forwards whole TCP connections and sees no request. Remove the sla, or declare the port http (\"8080/http\").", p, port))
			}
		}
	}
}

// tcpGatewayFaults refuses what a TCP gateway cannot honour, as Vamp does: sticky sessions
// (Vamp's StickyPortTypeError) and conditions (ConditionPortTypeError) on a cluster port whose
// breeds declare it tcp. Each fault names its attribute and the fix.
func tcpGatewayFaults(bp *blueprint.Blueprint) []*blueprint.FieldError {
	if bp == nil {
		return nil
	}
	var errs []*blueprint.FieldError
	for _, cname := range slices.Sorted(maps.Keys(bp.Clusters)) {
		c := bp.Clusters[cname]
		if c == nil {
			continue
		}
		for _, port := range slices.Sorted(maps.Keys(c.Gateways)) {
			g := c.Gateways[port]
			if g == nil || gatewayProtocol(c, port) != gatewayapi.ProtocolTCP {
				continue
			}
			gp := blueprint.Path{}.Attr("clusters").Key(cname).Attr("gateways").Key(port)
			if g.Sticky != "" {
				errs = append(errs, &blueprint.FieldError{Path: gp.Attr("sticky"), Summary: "Sticky sessions on a tcp port",
					Detail: "port " + port + " is declared tcp by its breeds, so its gateway forwards whole TCP connections and has no HTTP cookie to be sticky with (Vamp: StickyPortTypeError); remove sticky, or declare the port http (\"8080/http\")"})
			}
			for _, svc := range slices.Sorted(maps.Keys(g.Routes)) {
				r := g.Routes[svc]
				if r == nil {
					continue
				}
				rp := gp.Attr("routes").Key(svc)
				if r.Condition != "" {
					errs = append(errs, &blueprint.FieldError{Path: rp.Attr("condition"), Summary: "Condition on a tcp port",
						Detail: "port " + port + " is declared tcp by its breeds, so its gateway forwards whole TCP connections and sees no HTTP request to match (Vamp: ConditionPortTypeError); remove the condition and shift traffic with weights, or declare the port http (\"8080/http\")"})
				}
			}
		}
	}
	return errs
}
