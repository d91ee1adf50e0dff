package provider

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// Defaults of a stand-alone gateway that the plan shows.
const (
	defaultBalance             = "round-robin"
	defaultHealthCheckInterval = "2s"
	defaultHealthCheckTimeout  = "1s"
	defaultGatewayTimeout      = 2 * time.Minute
)

var (
	_ resource.Resource                   = (*gatewayResource)(nil)
	_ resource.ResourceWithConfigure      = (*gatewayResource)(nil)
	_ resource.ResourceWithImportState    = (*gatewayResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*gatewayResource)(nil)
	_ resource.ResourceWithValidateConfig = (*gatewayResource)(nil)
)

// NewGatewayResource is the factory of vamp_gateway.
func NewGatewayResource() resource.Resource { return &gatewayResource{} }

type gatewayResource struct{ data *ProviderData }

type gatewayModel struct {
	Name         types.String   `tfsdk:"name"`
	Port         types.Int64    `tfsdk:"port"`
	Protocol     types.String   `tfsdk:"protocol"`
	Sticky       types.String   `tfsdk:"sticky"`
	Balance      types.String   `tfsdk:"balance"`
	VirtualHosts types.List     `tfsdk:"virtual_hosts"`
	Routes       types.List     `tfsdk:"routes"`
	Split        types.List     `tfsdk:"split"`
	Convergence  types.Object   `tfsdk:"convergence"`
	Timeouts     timeouts.Value `tfsdk:"timeouts"`
}

type gatewayRouteModel struct {
	Name              types.String `tfsdk:"name"`
	Weight            types.Int64  `tfsdk:"weight"`
	Condition         types.String `tfsdk:"condition"`
	ConditionStrength types.Int64  `tfsdk:"condition_strength"`
	Gateway           types.String `tfsdk:"gateway"`
	Addresses         types.List   `tfsdk:"addresses"`
	HealthCheck       types.Object `tfsdk:"health_check"`
}

type gatewayHealthCheckModel struct {
	Path     types.String `tfsdk:"path"`
	Interval types.String `tfsdk:"interval"`
	Timeout  types.String `tfsdk:"timeout"`
}

func (r *gatewayResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gateway"
}

func (r *gatewayResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A stand-alone gateway: a port on the gateway with an ordered list of routes to other " +
			"gateways (for example a deployment's cluster gateway `sava/sava_cluster/webport`) or to static addresses. " +
			"Routes are chosen by condition first (in order, with their condition strength), then by weight.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "The gateway's name, e.g. `public/9060`. Changing it replaces the gateway.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: "The TCP port the gateway listens on (1..65535).",
				Required:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
			},
			"protocol": gatewayProtocolAttribute(),
			"sticky": schema.StringAttribute{
				MarkdownDescription: "Sticky sessions: `route` pins a client to the route chosen by weight, `instance` to the instance. Conditions are decided first.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf("route", "instance")},
			},
			"balance": schema.StringAttribute{
				MarkdownDescription: "How a route's instances share its requests: `round-robin` (default) or `least-connections`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(defaultBalance),
				Validators:          []validator.String{stringvalidator.OneOf(defaultBalance, "least-connections")},
			},
			"virtual_hosts": schema.ListAttribute{
				MarkdownDescription: "When set, the gateway serves only requests whose `Host` is one of these.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
			"split": schema.ListAttribute{
				MarkdownDescription: "Computed, known at plan time: where the gateway's requests go, one line per condition (in route order, " +
					"for the requests that match it) and one for the rest, by route name, e.g. " +
					"`[\"user-agent == Firefox -> stable 100%\", \"other -> canary 100%\"]`. The plan's diff of it is the traffic a change moves.",
				Computed:    true,
				ElementType: types.StringType,
			},
			"convergence": convergenceAttribute(),
			"routes": schema.ListNestedAttribute{
				MarkdownDescription: "The routes, in the order their conditions are evaluated.",
				Required:            true,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						// Required, checked in ValidateConfig: see deployment_schema.go on why
						// attributes inside collection elements are not marked Required.
						"name": schema.StringAttribute{
							MarkdownDescription: "The route's name, unique in this gateway. Required.",
							Optional:            true,
							Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
						},
						"weight":             routeWeightAttribute(int64validator.Between(0, 100)),
						"condition":          routeConditionAttribute(conditionValidator{}),
						"condition_strength": routeStrengthAttribute(int64validator.Between(0, 100)),
						"gateway": schema.StringAttribute{
							MarkdownDescription: "Route to another gateway by name, e.g. `sava/sava_cluster/webport` (a vamp_deployment's `gateway_names`). Exactly one of `gateway` and `addresses`.",
							Optional:            true,
							// Exactly one of gateway and addresses: checked in ValidateConfig, whose
							// message names the route (ExactlyOneOf printed a garbled path).
							Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
						},
						"addresses": schema.ListAttribute{
							MarkdownDescription: "Route to static addresses `host:port`, balanced by `balance`.",
							Optional:            true,
							ElementType:         types.StringType,
							Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(hostPortValidator{})},
						},
						"health_check": schema.SingleNestedAttribute{
							MarkdownDescription: "Active HTTP health checks of the route's addresses; unhealthy ones get no requests.",
							Optional:            true,
							Attributes: map[string]schema.Attribute{
								"path": schema.StringAttribute{
									MarkdownDescription: "The path to GET; 2xx and 3xx are healthy. Required, except with `protocol = \"tcp\"`, where it must be left out: the check connects to each instance.",
									Optional:            true,
									Validators:          []validator.String{stringvalidator.RegexMatches(pathPattern, "must start with \"/\"")},
								},
								"interval": durationAttribute("How often each address is checked.", defaultHealthCheckInterval),
								"timeout":  durationAttribute("How long one check may take.", defaultHealthCheckTimeout),
							},
						},
					},
				},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *gatewayResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks what the attribute validators cannot see alone: unique route names
// and the weights as the plan will fill them.
func (r *gatewayResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var routes []gatewayRouteModel
	if !decodeKnownList(ctx, req.Config, path.Root("routes"), &routes, &resp.Diagnostics) {
		return
	}
	seen := map[string]int{}
	for i, rt := range routes {
		if rt.Name.IsNull() {
			p := path.Root("routes").AtListIndex(i).AtName("name")
			resp.Diagnostics.AddAttributeError(p, "Missing route name",
				fmt.Sprintf("Attribute %s: every route needs a name, unique in the gateway, e.g. name = \"canary\".", p))
		}
		if !rt.HealthCheck.IsNull() && !rt.HealthCheck.IsUnknown() {
			if hcPath, ok := rt.HealthCheck.Attributes()["path"]; ok && hcPath.IsNull() && !configIsTCP(ctx, req.Config) {
				p := path.Root("routes").AtListIndex(i).AtName("health_check").AtName("path")
				resp.Diagnostics.AddAttributeError(p, "Missing health check path",
					fmt.Sprintf("Attribute %s: an HTTP health check needs the path to GET, e.g. path = \"/health\".", p))
			}
		}
		if !rt.Gateway.IsUnknown() && !rt.Addresses.IsUnknown() {
			p := path.Root("routes").AtListIndex(i)
			switch {
			case !rt.Gateway.IsNull() && !rt.Addresses.IsNull():
				resp.Diagnostics.AddAttributeError(p.AtName("gateway"), "Route with both gateway and addresses",
					fmt.Sprintf("Attribute %s: a route goes to another gateway (gateway) or to static addresses (addresses), not both; remove one of them.", p))
			case rt.Gateway.IsNull() && rt.Addresses.IsNull():
				resp.Diagnostics.AddAttributeError(p, "Route without a target",
					fmt.Sprintf("Attribute %s: set gateway (e.g. vamp_deployment.sava.gateway_name[\"sava_cluster/webport\"]) or addresses (e.g. [\"10.0.0.5:8080\"]).", p))
			}
		}
		if rt.Name.IsUnknown() || rt.Name.IsNull() {
			continue
		}
		if j, dup := seen[rt.Name.ValueString()]; dup {
			p := path.Root("routes").AtListIndex(i).AtName("name")
			resp.Diagnostics.AddAttributeError(p, "Duplicate route name",
				fmt.Sprintf("Attribute %s: routes[%d] and routes[%d] are both named %q; give every route of a gateway its own name.", p, j, i, rt.Name.ValueString()))
		}
		seen[rt.Name.ValueString()] = i
	}
	addGatewayTCPFaults(ctx, req.Config, routes, &resp.Diagnostics)
	stated := make([]types.Int64, len(routes))
	for i, rt := range routes {
		stated[i] = rt.Weight
	}
	checkWeightSum(stated, path.Root("routes"), func(i int) string { return "routes[" + strconv.Itoa(i) + "]" }, &resp.Diagnostics)
	checkServesSomething(ctx, req.Config, routes, &resp.Diagnostics)
}

// checkServesSomething refuses routes that serve no request: all weights 0 and no condition
// with a strength above 0 (every request would get 503). It waits while a value is unknown.
func checkServesSomething(ctx context.Context, config attributeGetter, routes []gatewayRouteModel, diags *diag.Diagnostics) {
	stated := make([]types.Int64, len(routes))
	for i, rt := range routes {
		stated[i] = rt.Weight
	}
	weights, ok := fillWeights(stated)
	if !ok || len(routes) == 0 {
		return
	}
	var planned []deployplan.Route
	for i, rt := range routes {
		strength := effectiveStrength(rt.Condition, rt.ConditionStrength)
		if rt.Name.IsUnknown() || rt.Condition.IsUnknown() || strength.IsUnknown() {
			return
		}
		planned = append(planned, deployplan.Route{Name: rt.Name.ValueString(), Weight: weights[i],
			Condition: rt.Condition.ValueString(), Strength: strength.ValueInt64()})
	}
	if !deployplan.ServesNothing(planned) {
		return
	}
	var name types.String
	diags.Append(config.GetAttribute(ctx, path.Root("name"), &name)...)
	p := path.Root("routes")
	diags.AddAttributeError(p, fmt.Sprintf("Gateway %s serves no request", name.String()),
		"Attribute "+p.String()+": "+deployplan.ServesNothingDetail(name.ValueString(), planned))
}

// ModifyPlan shows the real weights and strengths in the plan, and convergence as the apply
// will change it.
func (r *gatewayResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	defer planConvergence(ctx, r.gatewayClient(), req, resp) // once the rest of the plan is set
	var routes []gatewayRouteModel
	if !decodeKnownList(ctx, req.Config, path.Root("routes"), &routes, &resp.Diagnostics) {
		return
	}
	r.warnUnknownGateways(ctx, routes, &resp.Diagnostics)
	var planned []gatewayRouteModel
	if !decodeKnownList(ctx, req.Plan, path.Root("routes"), &planned, &resp.Diagnostics) || len(planned) != len(routes) {
		return
	}
	stated := make([]types.Int64, len(routes))
	for i, rt := range routes {
		stated[i] = rt.Weight
	}
	weights, ok := fillWeights(stated)
	if !ok {
		return
	}
	for i := range planned {
		planned[i].Weight = types.Int64Value(weights[i])
		planned[i].ConditionStrength = effectiveStrength(routes[i].Condition, routes[i].ConditionStrength)
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("routes"), planned)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("split"), gatewaySplit(ctx, planned, &resp.Diagnostics))...)
}

// gatewaySplit is the split of routes whose weights and strengths are filled (deployplan.Split);
// unknown while a name, weight or condition is.
func gatewaySplit(ctx context.Context, routes []gatewayRouteModel, diags *diag.Diagnostics) types.List {
	var planned []deployplan.Route
	for _, rt := range routes {
		if rt.Name.IsUnknown() || rt.Weight.IsUnknown() || rt.Condition.IsUnknown() || rt.ConditionStrength.IsUnknown() {
			return types.ListUnknown(types.StringType)
		}
		planned = append(planned, deployplan.Route{Name: rt.Name.ValueString(), Weight: rt.Weight.ValueInt64(),
			Condition: rt.Condition.ValueString(), Strength: rt.ConditionStrength.ValueInt64()})
	}
	return listOfStrings(ctx, deployplan.Split(planned), diags)
}

// warnUnknownGateways warns at plan about a route to a gateway that the admin API does not have.
// It is a warning, not an error: a literal name may be of a gateway that a resource of the same
// apply makes (a reference through vamp_deployment's gateway_name is unknown until then and not
// checked). The apply fails with the gateway's refusal if the gateway is still missing.
func (r *gatewayResource) warnUnknownGateways(ctx context.Context, routes []gatewayRouteModel, diags *diag.Diagnostics) {
	if r.data == nil || r.data.Gateway == nil {
		return
	}
	for i, rt := range routes {
		if rt.Gateway.IsNull() || rt.Gateway.IsUnknown() {
			continue
		}
		name := rt.Gateway.ValueString()
		_, err := r.data.Gateway.Get(ctx, name)
		switch {
		case gatewayapi.IsNotFound(err):
			p := path.Root("routes").AtListIndex(i).AtName("gateway")
			diags.AddAttributeWarning(p, "Route to a gateway that does not exist",
				fmt.Sprintf("Attribute %s: the gateway has no gateway %q now, so the apply will fail unless a resource of the same apply makes it. "+
					"Reference that resource (e.g. vamp_deployment.sava.gateway_name[\"sava_cluster/webport\"]) so that Terraform makes it first, or correct the name.", p, name))
		case err != nil:
			tflog.Debug(ctx, "cannot check a route's gateway at plan", map[string]any{"gateway": name, "error": err.Error()})
		}
	}
}

// gatewayClient is where the resource writes; nil while the provider is not configured.
func (r *gatewayResource) gatewayClient() gatewayClient {
	if r.data == nil {
		return nil
	}
	return r.data.Gateway
}

func (r *gatewayResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx, record := revisionsContext(ctx, r.data.Gateway, nil, &resp.Diagnostics)
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics, timeouts.Value.Create)
	// Also after an error: a change that etcd took (a replica lagged) is this run's revision.
	record(resp.Private)
}

func (r *gatewayResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	// In etcd, the write compares the gateway's revision with the one the plan read.
	ctx, record := revisionsContext(ctx, r.data.Gateway, req.Private, &resp.Diagnostics)
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics, timeouts.Value.Update)
	// Also after an error: a change that etcd took (a replica lagged) is this run's revision.
	record(resp.Private)
}

// write is Create and Update: the gateway API's PUT replaces the whole gateway, so both send the
// plan and record it; only the timeout that bounds the call differs.
func (r *gatewayResource) write(ctx context.Context, getPlan func(context.Context, any) diag.Diagnostics, state stateSetter, diags *diag.Diagnostics,
	timeoutOf func(timeouts.Value, context.Context, time.Duration) (time.Duration, diag.Diagnostics)) {
	var plan gatewayModel
	diags.Append(getPlan(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	ctx, cancel := operationContext(ctx, plan.Timeouts, timeoutOf, defaultGatewayTimeout, diags)
	defer cancel()
	gw := r.toAPI(ctx, &plan, diags)
	if diags.HasError() {
		return
	}
	name := plan.Name.ValueString()
	ctx, report := withConvergence(ctx)
	if err := r.data.Gateway.Write(ctx, []gatewayChange{{Name: name, Gateway: &gw}}); err != nil {
		addWriteError(diags, err)
		return
	}
	plan.Convergence = report.value(ctx, diags) // null through the admin API
	if plan.Split.IsUnknown() {
		var routes []gatewayRouteModel
		diags.Append(plan.Routes.ElementsAs(ctx, &routes, false)...)
		plan.Split = gatewaySplit(ctx, routes, diags)
	}
	diags.Append(state.Set(ctx, &plan)...)
}

func (r *gatewayResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state gatewayModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.Name.ValueString()
	// In etcd, the revision read here is what the next apply compares (private state).
	ctx, record := revisionsContext(ctx, r.data.Gateway, nil, &resp.Diagnostics)
	live, err := r.data.Gateway.Get(ctx, name)
	if gatewayapi.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	record(resp.Private)
	if err != nil {
		addAPIError(&resp.Diagnostics, "GET", "gateway "+quote(name), err)
		return
	}
	next := r.fromAPI(ctx, name, live, &resp.Diagnostics)
	next.Timeouts = state.Timeouts
	next.Convergence = state.Convergence // what the last apply saw: a refresh does not change it
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &next)...)
}

func (r *gatewayResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state gatewayModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := operationContext(ctx, state.Timeouts, timeouts.Value.Delete, defaultGatewayTimeout, &resp.Diagnostics)
	defer cancel()
	ctx, _ = revisionsContext(ctx, r.data.Gateway, req.Private, &resp.Diagnostics)
	name := state.Name.ValueString()
	if err := r.data.Gateway.Write(ctx, []gatewayChange{{Name: name}}); err != nil {
		addWriteError(&resp.Diagnostics, err)
	}
}

// ImportState takes the gateway's name: `terraform import vamp_gateway.public public/9060`.
func (r *gatewayResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	live, err := r.data.Gateway.Get(ctx, req.ID)
	if gatewayapi.IsNotFound(err) {
		resp.Diagnostics.AddError("No such gateway",
			fmt.Sprintf("The gateway has no gateway named %q. `GET /v1/gateways` on the admin API lists the names.", req.ID))
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "GET", "gateway "+quote(req.ID), err)
		return
	}
	model := r.fromAPI(ctx, req.ID, live, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	model.Timeouts = timeouts.Value{Object: types.ObjectNull(timeoutsAttrTypes(ctx))}
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

// toAPI is the admin API document of a fully known plan.
func (r *gatewayResource) toAPI(ctx context.Context, m *gatewayModel, diags *diag.Diagnostics) gatewayapi.Gateway {
	gw := gatewayapi.Gateway{
		Port:     int(m.Port.ValueInt64()),
		Protocol: apiProtocol(m.Protocol),
		Sticky:   m.Sticky.ValueString(),
		Balance:  m.Balance.ValueString(),
	}
	diags.Append(m.VirtualHosts.ElementsAs(ctx, &gw.VirtualHosts, false)...)
	var routes []gatewayRouteModel
	diags.Append(m.Routes.ElementsAs(ctx, &routes, false)...)
	for _, rt := range routes {
		out := gatewayapi.Route{
			Name:              rt.Name.ValueString(),
			Weight:            int(rt.Weight.ValueInt64()),
			Condition:         rt.Condition.ValueString(),
			ConditionStrength: intPointer(rt.ConditionStrength),
			Gateway:           rt.Gateway.ValueString(),
		}
		var addresses []string
		diags.Append(rt.Addresses.ElementsAs(ctx, &addresses, false)...)
		for _, a := range addresses {
			host, port, err := splitHostPort(a)
			if err != nil {
				diags.AddError("Invalid address", err.Error())
				continue
			}
			out.Instances = append(out.Instances, gatewayapi.Instance{Host: host, Port: port})
		}
		if !rt.HealthCheck.IsNull() {
			var hc gatewayHealthCheckModel
			diags.Append(rt.HealthCheck.As(ctx, &hc, objectAsOptions)...)
			out.HealthCheck = &gatewayapi.HealthCheck{Path: hc.Path.ValueString(), Interval: hc.Interval.ValueString(), Timeout: hc.Timeout.ValueString()}
		}
		gw.Routes = append(gw.Routes, out)
	}
	return gw
}

// fromAPI is the state of a gateway as the admin API reports it.
func (r *gatewayResource) fromAPI(ctx context.Context, name string, gw gatewayapi.Gateway, diags *diag.Diagnostics) gatewayModel {
	m := gatewayModel{
		Name:         types.StringValue(name),
		Port:         types.Int64Value(int64(gw.Port)),
		Protocol:     types.StringValue(gatewayapi.ProtocolOf(gw)),
		Sticky:       nullIfEmpty(gw.Sticky),
		Balance:      types.StringValue(firstNonEmpty(gw.Balance, defaultBalance)),
		VirtualHosts: types.ListNull(types.StringType),
		Convergence:  types.ObjectNull(convergenceAttrTypes),
	}
	if len(gw.VirtualHosts) > 0 {
		m.VirtualHosts = listOfStrings(ctx, gw.VirtualHosts, diags)
	}
	routes := make([]gatewayRouteModel, 0, len(gw.Routes))
	for _, rt := range gw.Routes {
		out := gatewayRouteModel{
			Name:              types.StringValue(rt.Name),
			Weight:            types.Int64Value(int64(rt.Weight)),
			Condition:         nullIfEmpty(rt.Condition),
			ConditionStrength: liveStrength(rt.Condition, rt.ConditionStrength),
			Gateway:           nullIfEmpty(rt.Gateway),
			Addresses:         types.ListNull(types.StringType),
			HealthCheck:       types.ObjectNull(healthCheckAttrTypes),
		}
		if len(rt.Instances) > 0 {
			addresses := make([]string, len(rt.Instances))
			for i, inst := range rt.Instances {
				addresses[i] = joinHostPort(inst.Host, inst.Port)
			}
			out.Addresses = listOfStrings(ctx, addresses, diags)
		}
		if rt.HealthCheck != nil {
			hc := gatewayHealthCheckModel{
				Path:     nullIfEmpty(rt.HealthCheck.Path), // a tcp gateway's connect check has none
				Interval: types.StringValue(firstNonEmpty(rt.HealthCheck.Interval, defaultHealthCheckInterval)),
				Timeout:  types.StringValue(firstNonEmpty(rt.HealthCheck.Timeout, defaultHealthCheckTimeout)),
			}
			obj, d := types.ObjectValueFrom(ctx, healthCheckAttrTypes, hc)
			diags.Append(d...)
			out.HealthCheck = obj
		}
		routes = append(routes, out)
	}
	list, d := types.ListValueFrom(ctx, types.ObjectType{AttrTypes: gatewayRouteAttrTypes}, routes)
	diags.Append(d...)
	m.Routes = list
	m.Split = gatewaySplit(ctx, routes, diags)
	return m
}

var healthCheckAttrTypes = map[string]attr.Type{
	"path":     types.StringType,
	"interval": types.StringType,
	"timeout":  types.StringType,
}

var gatewayRouteAttrTypes = map[string]attr.Type{
	"name":               types.StringType,
	"weight":             types.Int64Type,
	"condition":          types.StringType,
	"condition_strength": types.Int64Type,
	"gateway":            types.StringType,
	"addresses":          types.ListType{ElemType: types.StringType},
	"health_check":       types.ObjectType{AttrTypes: healthCheckAttrTypes},
}

func liveStrength(condition string, strength *int) types.Int64 {
	return types.Int64PointerValue(deployplan.LiveStrength(condition, strength))
}
