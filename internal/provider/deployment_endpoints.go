package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// endpointModel is one element of vamp_deployment's `endpoints`: a stable endpoint (a blueprint
// gateway on a port) with the routing of a cluster gateway. Its routes go to cluster ports,
// keyed "cluster/port".
type endpointModel struct {
	Sticky       types.String          `tfsdk:"sticky"`
	VirtualHosts []string              `tfsdk:"virtual_hosts"`
	Routes       map[string]routeModel `tfsdk:"routes"`
	Split        []string              `tfsdk:"split"`
}

func endpointsAttribute() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		MarkdownDescription: "Stable endpoints with routing, keyed by port: what `gateways` does (the gateway `<name>/<port>`), " +
			"plus sticky sessions, virtual hosts, conditions with strength and several routes, in this one resource. " +
			"A port is in `gateways` or in `endpoints`, not both. Conditions are evaluated in the order of the route keys (sorted).",
		Optional: true,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"sticky": schema.StringAttribute{
				MarkdownDescription: "Sticky sessions: `route` or `instance`. Conditions are decided first; a cookie for a route with weight 0 is ignored.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(blueprint.StickyRoute, blueprint.StickyInstance)},
			},
			"virtual_hosts": schema.ListAttribute{
				MarkdownDescription: "When set, the endpoint serves only requests whose `Host` is one of these.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
			"routes": schema.MapNestedAttribute{
				MarkdownDescription: "The routes, keyed by the cluster port they go to, `<cluster>/<port>` (e.g. `sava_cluster/webport`). Required.",
				Optional:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"weight":             routeWeightAttribute(int64validator.Between(0, 100)),
					"condition":          routeConditionAttribute(conditionValidator{}),
					"condition_strength": routeStrengthAttribute(int64validator.Between(0, 100)),
				}},
			},
			"split": schema.ListAttribute{
				MarkdownDescription: "Computed, known at plan time: where the endpoint's requests go, as the cluster gateways' `split`.",
				Computed:            true,
				ElementType:         types.StringType,
			},
		}},
	}
}

// gatewayNameAttribute is the computed map from a gateway's key to its name.
func gatewayNameAttribute() schema.MapAttribute {
	return schema.MapAttribute{
		MarkdownDescription: "The name of each gateway of the deployment by its key: the port of a blueprint gateway or endpoint " +
			"(`\"9050\"` → `sava/9050`) and `<cluster>/<port>` of a cluster gateway (`\"sava_cluster/webport\"` → `sava/sava_cluster/webport`). " +
			"Reference gateways through it, e.g. `vamp_deployment.sava.gateway_name[\"sava_cluster/webport\"]`, rather than by position in `gateway_names`.",
		Computed:    true,
		ElementType: types.StringType,
	}
}

// endpointsType is the type of `endpoints`: what MapNestedAttribute.GetType returns without a CustomType.
func endpointsType() types.MapType {
	return types.MapType{ElemType: endpointsAttribute().NestedObject.Type()}
}

func decodeEndpoints(ctx context.Context, v types.Map, diags *diag.Diagnostics) (eps map[string]endpointModel, ok bool) {
	if v.IsNull() {
		return nil, true
	}
	if !fullyKnown(ctx, v) {
		return nil, false
	}
	diags.Append(v.ElementsAs(ctx, &eps, false)...)
	return eps, !diags.HasError()
}

func endpointsValue(ctx context.Context, eps map[string]endpointModel, diags *diag.Diagnostics) types.Map {
	if eps == nil {
		return types.MapNull(endpointsType().ElemType)
	}
	v, d := types.MapValueFrom(ctx, endpointsType().ElemType, eps)
	diags.Append(d...)
	return v
}

// routeKeys are an endpoint's route keys in evaluation order.
func (e endpointModel) routeKeys() []string { return slices.Sorted(maps.Keys(e.Routes)) }

// withEndpointPorts is gateways with each endpoint's port mapped to its first route's target, so
// that the blueprint's rules (one gateway per port, names) see the endpoints too.
func withEndpointPorts(gateways map[string]string, eps map[string]endpointModel) map[string]string {
	if len(eps) == 0 {
		return gateways
	}
	out := maps.Clone(gateways)
	if out == nil {
		out = map[string]string{}
	}
	for port, e := range eps {
		if keys := e.routeKeys(); len(keys) > 0 {
			out[port] = keys[0]
		}
	}
	return out
}

// filledEndpoints completes weights (Vamp's rule: none stated → even split in key order, some
// stated → the others 0), strengths (100 with a condition) and the split.
func filledEndpoints(eps map[string]endpointModel) map[string]endpointModel {
	if eps == nil {
		return nil
	}
	out := map[string]endpointModel{}
	for port, e := range eps {
		keys := e.routeKeys()
		stated := make([]types.Int64, len(keys))
		for i, k := range keys {
			stated[i] = e.Routes[k].Weight
		}
		weights, _ := fillWeights(stated)
		routes := map[string]routeModel{}
		for i, k := range keys {
			r := e.Routes[k]
			r.Weight = types.Int64Value(weights[i])
			r.ConditionStrength = effectiveStrength(r.Condition, r.ConditionStrength)
			routes[k] = r
		}
		e.Routes = routes
		e.Split = deployplan.Split(e.planRoutes())
		out[port] = e
	}
	return out
}

// planRoutes are the endpoint's routes for deployplan (weights and strengths filled).
func (e endpointModel) planRoutes() []deployplan.Route {
	var out []deployplan.Route
	for _, k := range e.routeKeys() {
		r := e.Routes[k]
		rt := deployplan.Route{Name: k, Weight: r.Weight.ValueInt64(), Condition: r.Condition.ValueString()}
		if !r.Condition.IsNull() {
			rt.Strength = 100
			if !r.ConditionStrength.IsNull() {
				rt.Strength = r.ConditionStrength.ValueInt64()
			}
		}
		out = append(out, rt)
	}
	return out
}

// addEndpointErrors checks the endpoints (weights and strengths filled) against the normalized
// blueprint of the clusters: ports, route targets, weights, and that each can serve a request.
func addEndpointErrors(diags *diag.Diagnostics, name string, gateways map[string]string, eps map[string]endpointModel, bp *blueprint.Blueprint) {
	taken := map[int]string{}
	for port := range gateways {
		if n, err := strconv.Atoi(port); err == nil {
			taken[n] = port
		}
	}
	for _, port := range slices.Sorted(maps.Keys(eps)) {
		e := eps[port]
		at := path.Root("endpoints").AtMapKey(port)
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			addAttrError(diags, at, "Invalid endpoint port",
				fmt.Sprintf("Attribute %s: %q is not a port; key the endpoint by its port number, 1 to 65535, e.g. \"9050\".", at, port))
			continue
		}
		if other, dup := taken[n]; dup {
			addAttrError(diags, at, "Gateway port used twice",
				fmt.Sprintf("Attribute %s: port %d is also gateways[%q]; a port is in gateways or in endpoints, not both: keep one of them.", at, n, other))
			continue
		}
		if len(e.Routes) == 0 {
			addAttrError(diags, at.AtName("routes"), "Endpoint without routes",
				fmt.Sprintf("Attribute %s: an endpoint needs at least one route, e.g. routes = { \"sava_cluster/webport\" = {} }.", at.AtName("routes")))
			continue
		}
		ok := true
		var sum int64
		for _, k := range e.routeKeys() {
			rp := at.AtName("routes").AtMapKey(k)
			cname, port, found := strings.Cut(k, "/")
			c := bp.Clusters[cname]
			switch {
			case !found:
				addAttrError(diags, rp, "Invalid route target",
					fmt.Sprintf("Attribute %s: %q is not <cluster>/<port>; key a route by the cluster port it goes to, e.g. \"sava_cluster/webport\".", rp, k))
				ok = false
			case c == nil:
				addAttrError(diags, rp, "Route to an unknown cluster",
					fmt.Sprintf("Attribute %s: the deployment has no cluster %q; use one of %s.", rp, cname, quotedKeys(bp.Clusters)))
				ok = false
			case c.Gateways[port] == nil:
				addAttrError(diags, rp, "Route to an unknown cluster port",
					fmt.Sprintf("Attribute %s: cluster %q has no port %q; use one of %s (its services' breed ports).", rp, cname, port, quotedKeys(c.Gateways)))
				ok = false
			}
			sum += e.Routes[k].Weight.ValueInt64()
		}
		if !ok {
			continue
		}
		if sum != 100 && sum != 0 {
			addAttrError(diags, at.AtName("routes"), "Weights do not sum to 100",
				fmt.Sprintf("Attribute %s: the weights sum to %d; make them sum to 100, or set all to 0 to serve only requests that match a condition.", at.AtName("routes"), sum))
			continue
		}
		if routes := e.planRoutes(); deployplan.ServesNothing(routes) {
			addAttrError(diags, at.AtName("routes"), fmt.Sprintf("Endpoint %s serves no request", port),
				"Attribute "+at.AtName("routes").String()+": "+deployplan.ServesNothingDetail(blueprint.DeploymentGatewayName(name, port), routes))
		}
	}
}

func quotedKeys[V any](m map[string]V) string {
	keys := slices.Sorted(maps.Keys(m))
	for i, k := range keys {
		keys[i] = strconv.Quote(k)
	}
	if len(keys) == 0 {
		return "(none)"
	}
	return strings.Join(keys, ", ")
}

// endpointGateway is the gateway document of an endpoint: one route per target, to the cluster
// gateway, in key order.
func endpointGateway(deployment, port string, e endpointModel) gatewayapi.Gateway {
	gw := gatewayapi.Gateway{Port: atoi(port), Sticky: e.Sticky.ValueString(), VirtualHosts: e.VirtualHosts, Routes: []gatewayapi.Route{}}
	for _, k := range e.routeKeys() {
		r := e.Routes[k]
		gw.Routes = append(gw.Routes, gatewayapi.Route{
			Name: k, Weight: int(r.Weight.ValueInt64()), Condition: r.Condition.ValueString(),
			ConditionStrength: intPointer(r.ConditionStrength), Gateway: deployment + "/" + k,
		})
	}
	return gw
}

// liveEndpoint is an endpoint as the live gateway has it (drift shows in the plan).
func liveEndpoint(deployment string, gw gatewayapi.Gateway) endpointModel {
	e := endpointModel{Sticky: nullIfEmpty(gw.Sticky), Routes: map[string]routeModel{}}
	if len(gw.VirtualHosts) > 0 {
		e.VirtualHosts = slices.Clone(gw.VirtualHosts)
	}
	for _, rt := range gw.Routes {
		target, ok := strings.CutPrefix(rt.Gateway, deployment+"/")
		if !ok {
			continue
		}
		e.Routes[target] = routeModel{
			Weight:            types.Int64Value(int64(rt.Weight)),
			Condition:         nullIfEmpty(rt.Condition),
			ConditionStrength: liveStrength(rt.Condition, rt.ConditionStrength),
		}
	}
	e.Split = deployplan.Split(e.planRoutes())
	return e
}

// gatewayNameMap is the gateway_name attribute: key → gateway name.
func gatewayNameMap(bp *blueprint.Blueprint) map[string]string {
	out := map[string]string{}
	for port := range bp.Gateways {
		out[port] = blueprint.DeploymentGatewayName(bp.Name, port)
	}
	for cname, c := range bp.Clusters {
		for port := range c.Gateways {
			out[cname+"/"+port] = blueprint.GatewayName(bp.Name, cname, port)
		}
	}
	return out
}

func stringMapValue(ctx context.Context, m map[string]string, diags *diag.Diagnostics) types.Map {
	v, d := types.MapValueFrom(ctx, types.StringType, m)
	diags.Append(d...)
	return v
}
