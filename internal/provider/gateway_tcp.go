package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// gatewayProtocolAttribute is vamp_gateway's protocol: Vamp's port types http and tcp.
func gatewayProtocolAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "What the gateway forwards, Vamp's port type: `http` (default) routes every HTTP request by conditions and weights; " +
			"`tcp` forwards whole TCP connections (layer 4, what Vamp's HAProxy did in `mode tcp`), each to a route chosen by weight. " +
			"A `tcp` gateway takes no `sticky`, `virtual_hosts`, `condition` or `condition_strength`; a health check without `path` is a TCP connect check; " +
			"its routes to other gateways lead to `tcp` gateways (a deployment's cluster gateway of a port declared `8080/tcp`). It changes in place, on the same port.",
		Optional:   true,
		Computed:   true,
		Default:    stringdefault.StaticString(gatewayapi.ProtocolHTTP),
		Validators: []validator.String{stringvalidator.OneOf(gatewayapi.ProtocolHTTP, gatewayapi.ProtocolTCP)},
	}
}

// apiProtocol is the document's protocol: "tcp", or "" for HTTP (the default, so that the
// documents of HTTP gateways stay as they were).
func apiProtocol(v types.String) string {
	if v.ValueString() == gatewayapi.ProtocolTCP {
		return gatewayapi.ProtocolTCP
	}
	return ""
}

// configIsTCP reports whether a vamp_gateway configuration states protocol = "tcp".
func configIsTCP(ctx context.Context, config tfsdk.Config) bool {
	var protocol types.String
	config.GetAttribute(ctx, path.Root("protocol"), &protocol)
	return protocol.ValueString() == gatewayapi.ProtocolTCP
}

// addGatewayTCPFaults refuses on a vamp_gateway with protocol = "tcp" what needs HTTP requests
// (Vamp's StickyPortTypeError and ConditionPortTypeError, virtual hosts, an HTTP health check
// path), at the attribute, with the fix.
func addGatewayTCPFaults(ctx context.Context, config tfsdk.Config, routes []gatewayRouteModel, diags *diag.Diagnostics) {
	if !configIsTCP(ctx, config) {
		return
	}
	const why = "protocol = \"tcp\" forwards whole TCP connections; the gateway sees no HTTP request"
	var sticky types.String
	var hosts types.List
	config.GetAttribute(ctx, path.Root("sticky"), &sticky)
	config.GetAttribute(ctx, path.Root("virtual_hosts"), &hosts)
	if !sticky.IsNull() {
		diags.AddAttributeError(path.Root("sticky"), "Sticky sessions on a tcp gateway",
			why+", so it has no cookie to be sticky with (Vamp: StickyPortTypeError). Remove sticky, or use protocol = \"http\".")
	}
	if !hosts.IsNull() {
		diags.AddAttributeError(path.Root("virtual_hosts"), "Virtual hosts on a tcp gateway",
			why+", so it has no Host to match. Remove virtual_hosts, or use protocol = \"http\".")
	}
	for i, rt := range routes {
		p := path.Root("routes").AtListIndex(i)
		if !rt.Condition.IsNull() {
			diags.AddAttributeError(p.AtName("condition"), "Condition on a tcp gateway",
				fmt.Sprintf("Attribute %s: %s, so a condition has nothing to match (Vamp: ConditionPortTypeError). Remove the condition and shift traffic with weights, or use protocol = \"http\".", p.AtName("condition"), why))
		}
		if !rt.ConditionStrength.IsNull() {
			diags.AddAttributeError(p.AtName("condition_strength"), "Condition strength on a tcp gateway",
				fmt.Sprintf("Attribute %s: %s and takes no conditions. Remove condition_strength.", p.AtName("condition_strength"), why))
		}
		if !rt.HealthCheck.IsNull() && !rt.HealthCheck.IsUnknown() {
			if hcPath, ok := rt.HealthCheck.Attributes()["path"]; ok && !hcPath.IsNull() {
				diags.AddAttributeError(p.AtName("health_check").AtName("path"), "HTTP health check on a tcp gateway",
					fmt.Sprintf("Attribute %s: %s. Leave path out: the health check of a tcp gateway connects to each instance.", p.AtName("health_check").AtName("path"), why))
			}
		}
	}
}
