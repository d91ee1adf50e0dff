package provider

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
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

// blueprintGatewayProtocol is gatewayProtocol of the cluster port a blueprint gateway leads to
// ("cluster/port").
func blueprintGatewayProtocol(bp *blueprint.Blueprint, target string) string {
	cluster, port, _ := strings.Cut(target, "/")
	return gatewayProtocol(bp.Clusters[cluster], port)
}

// addTCPGatewayFaults reports tcpGatewayFaults at their attributes. Unlike addFieldErrors it
// skips none: sticky and condition have schema validators, which check only their syntax.
func addTCPGatewayFaults(diags *diag.Diagnostics, bp *blueprint.Blueprint) {
	for _, fe := range tcpGatewayFaults(bp) {
		diags.AddAttributeError(attributePath(fe.Path), fe.Summary, fe.Path.String()+": "+fe.Detail+".")
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
