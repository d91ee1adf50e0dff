package provider

import (
	"context"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

var (
	_ resource.ResourceWithConfigure      = (*azureLBRuleResource)(nil)
	_ resource.ResourceWithImportState    = (*azureLBRuleResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*azureLBRuleResource)(nil)
	_ resource.ResourceWithValidateConfig = (*azureLBRuleResource)(nil)
)

// NewAzureLBRuleResource is vamp_azure_lb_rule: a load-balancing rule and the health probe it owns.
func NewAzureLBRuleResource() resource.Resource {
	return &azureLBRuleResource{newAzureRuleResource(&lbRuleKind)}
}

// azureLBRuleResource adds its schema, its cross-attribute checks and its computed defaults to the
// steps every Azure rule shares.
type azureLBRuleResource struct {
	azureRuleResource[azureLBRuleModel, azure.LBRuleSpec, azure.LBRule]
}

type azureLBRuleModel struct {
	ID                          types.String     `tfsdk:"id"`
	LoadBalancerID              types.String     `tfsdk:"load_balancer_id"`
	Name                        types.String     `tfsdk:"name"`
	FrontendIPConfigurationName types.String     `tfsdk:"frontend_ip_configuration_name"`
	BackendAddressPoolIDs       types.Set        `tfsdk:"backend_address_pool_ids"`
	Protocol                    types.String     `tfsdk:"protocol"`
	FrontendPort                types.Int64      `tfsdk:"frontend_port"`
	BackendPort                 types.Int64      `tfsdk:"backend_port"`
	IdleTimeoutInMinutes        types.Int64      `tfsdk:"idle_timeout_in_minutes"`
	FloatingIPEnabled           types.Bool       `tfsdk:"floating_ip_enabled"`
	LoadDistribution            types.String     `tfsdk:"load_distribution"`
	DisableOutboundSNAT         types.Bool       `tfsdk:"disable_outbound_snat"`
	TCPResetEnabled             types.Bool       `tfsdk:"tcp_reset_enabled"`
	ProbeID                     types.String     `tfsdk:"probe_id"`
	Probe                       *azureProbeModel `tfsdk:"probe"`
}

type azureProbeModel struct {
	Name              types.String `tfsdk:"name"`
	Protocol          types.String `tfsdk:"protocol"`
	Port              types.Int64  `tfsdk:"port"`
	RequestPath       types.String `tfsdk:"request_path"`
	IntervalInSeconds types.Int64  `tfsdk:"interval_in_seconds"`
	Threshold         types.Int64  `tfsdk:"threshold"`
	NumberOfProbes    types.Int64  `tfsdk:"number_of_probes"`
}

func (r *azureLBRuleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A load-balancing rule and the health probe it owns on an existing Azure load balancer (for instance " +
			"the agents' load balancer of a DC/OS or Kubernetes cluster, from azurerm): opens a gateway's port to the outside. " +
			"The load balancer is read, our rule and probe are spliced in by name, and it is written back with `If-Match` on its " +
			"etag, under a per-load-balancer lock in the provider, re-reading on a lost race (412); rules and probes this resource " +
			"does not own are never changed. Throttling (429) and transient errors are retried with backoff.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The rule's Azure id, `<load_balancer_id>/loadBalancingRules/<name>`.",
				Computed:            true,
			},
			"load_balancer_id": schema.StringAttribute{
				MarkdownDescription: "Id of the load balancer, e.g. `azurerm_lb.agents.id`. Changing it replaces the rule.",
				Required:            true,
				PlanModifiers:       replace,
				Validators:          []validator.String{azureIDValidator{what: "load balancer", check: azureCheck(azure.ParseLoadBalancerID)}},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the rule, unique on the load balancer. Changing it replaces the rule.",
				Required:            true,
				PlanModifiers:       replace,
				Validators:          []validator.String{azureIDValidator{what: "name", check: azure.CheckName}},
			},
			"frontend_ip_configuration_name": schema.StringAttribute{
				MarkdownDescription: "Name of the load balancer's frontend IP configuration that receives the traffic " +
					"(e.g. `azurerm_lb.agents.frontend_ip_configuration[0].name`).",
				Required:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"backend_address_pool_ids": schema.SetAttribute{
				MarkdownDescription: "Ids of the backend address pools that receive the traffic (the agents' pool). Two only on gateway load balancers.",
				ElementType:         types.StringType,
				Required:            true,
				Validators: []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(
					azureIDValidator{what: "backend address pool", check: azure.CheckBackendPoolID})},
			},
			"protocol": schema.StringAttribute{
				MarkdownDescription: "`Tcp` (default), `Udp` or `All` (with `frontend_port = 0`: an HA-ports rule).",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("Tcp"),
				Validators:          []validator.String{stringvalidator.OneOf(azure.LBProtocols...)},
			},
			"frontend_port": schema.Int64Attribute{
				MarkdownDescription: "The port clients connect to on the frontend, 1..65534: the gateway's port (e.g. `vamp_gateway.sava.port`). " +
					"`0` with `protocol = \"All\"` and `backend_port` 0 or unset is an HA-ports rule (every port, Standard internal load balancers), as in azurerm.",
				Required:   true,
				Validators: []validator.Int64{int64validator.Between(azure.MinFrontendPort, azure.MaxFrontendPort)},
			},
			"backend_port": schema.Int64Attribute{
				MarkdownDescription: "The port on the backends, 1..65535 (0 for HA ports). Default: `frontend_port`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.Int64{int64validator.Between(0, azure.MaxPort)},
			},
			"idle_timeout_in_minutes": schema.Int64Attribute{
				MarkdownDescription: "TCP idle timeout, 4..100 minutes. Default 4.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(azure.DefaultIdle),
				Validators:          []validator.Int64{int64validator.Between(azure.MinIdleTimeout, azure.MaxIdleTimeout)},
			},
			"floating_ip_enabled": schema.BoolAttribute{
				MarkdownDescription: "Floating IP (direct server return). Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"load_distribution": schema.StringAttribute{
				MarkdownDescription: "Session persistence: `Default` (5-tuple hash), `SourceIP` (client IP) or `SourceIPProtocol` (client IP and protocol).",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("Default"),
				Validators:          []validator.String{stringvalidator.OneOf(azure.LoadDistributions...)},
			},
			"disable_outbound_snat": schema.BoolAttribute{
				MarkdownDescription: "Do not use the frontend IP for the backends' outbound connections (set when outbound rules do that). Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"tcp_reset_enabled": schema.BoolAttribute{
				MarkdownDescription: "Send a TCP reset to both ends when a flow times out idle, as azurerm's `tcp_reset_enabled`. Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"probe_id": schema.StringAttribute{
				MarkdownDescription: "Without a `probe` block: the id of an existing probe of the same load balancer for the rule to use " +
					"(e.g. `azurerm_lb_probe.http.id`), as azurerm's `probe_id`; the rule does not own it and never changes or deletes it. " +
					"With a `probe` block: computed, the id of the probe the rule owns, `<load_balancer_id>/probes/<probe.name>`.",
				Optional: true,
				Computed: true,
			},
		},
		Blocks: map[string]schema.Block{
			"probe": schema.SingleNestedBlock{
				MarkdownDescription: "The health probe that decides which backends get traffic. The rule creates it, owns it and deletes it; " +
					"a probe of the same name used by another rule is an error. Required unless `probe_id` names an existing probe to use instead.",
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{
						MarkdownDescription: "Name of the probe. Default: the rule's name.",
						Optional:            true,
						Computed:            true,
						Validators:          []validator.String{azureIDValidator{what: "name", check: azure.CheckName}},
					},
					"protocol": schema.StringAttribute{
						MarkdownDescription: "`Tcp` (a connection is enough), `Http` or `Https` (a 200 from `request_path`). Required in a `probe` block.",
						Optional:            true, // required when the block is there: checked in ValidateConfig, since the block itself may be left out
						Validators:          []validator.String{stringvalidator.OneOf(azure.ProbeProtocols...)},
					},
					"port": schema.Int64Attribute{
						MarkdownDescription: "Port probed on each backend, 1..65535. Default: `backend_port`.",
						Optional:            true,
						Computed:            true,
						Validators:          []validator.Int64{int64validator.Between(azure.MinPort, azure.MaxPort)},
					},
					"request_path": schema.StringAttribute{
						MarkdownDescription: "Path requested by `Http`/`Https` probes, e.g. `/health` (required for them, not allowed for `Tcp`).",
						Optional:            true,
						Validators:          []validator.String{stringvalidator.RegexMatches(pathPattern, "must start with \"/\"")},
					},
					"interval_in_seconds": schema.Int64Attribute{
						MarkdownDescription: "Seconds between probes, 5..3600. Default 15.",
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(azure.DefaultInterval),
						Validators:          []validator.Int64{int64validator.Between(azure.MinProbeInterval, azure.MaxProbeInterval)},
					},
					"threshold": schema.Int64Attribute{
						MarkdownDescription: "Consecutive probe results that take a backend in or out of rotation, 1..100. Default 1.",
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(azure.DefaultThreshold),
						Validators:          []validator.Int64{int64validator.Between(azure.MinProbeThreshold, azure.MaxProbeThreshold)},
					},
					"number_of_probes": schema.Int64Attribute{
						MarkdownDescription: "Azure's `numberOfProbes`, as azurerm's `number_of_probes`: failed probes before a backend is taken out " +
							"(Azure now uses `threshold` for this and keeps the value for compatibility). At least 1; default 2, as in azurerm.",
						Optional:   true,
						Computed:   true,
						Default:    int64default.StaticInt64(azure.DefaultProbeCount),
						Validators: []validator.Int64{int64validator.AtLeast(azure.MinProbeCount)},
					},
				},
			},
		},
	}
}

// ValidateConfig checks what depends on more than one attribute.
func (r *azureLBRuleResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m azureLBRuleModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if p := m.Probe; p != nil && !p.Protocol.IsUnknown() && !p.RequestPath.IsUnknown() {
		at := path.Root("probe").AtName("request_path")
		switch proto := p.Protocol.ValueString(); {
		case proto == "Tcp" && !p.RequestPath.IsNull():
			resp.Diagnostics.AddAttributeError(at, "request_path is for Http and Https probes",
				"A Tcp probe only opens a connection. Remove request_path, or set probe.protocol = \"Http\".")
		case (proto == "Http" || proto == "Https") && p.RequestPath.IsNull():
			resp.Diagnostics.AddAttributeError(at, "request_path is required for an "+proto+" probe",
				"Set the path the probe requests on each backend, e.g. request_path = \"/health\"; a backend is healthy when it answers 200.")
		}
	}
	if m.ProbeID.IsNull() && m.Probe == nil {
		resp.Diagnostics.AddAttributeError(path.Root("probe"), "A probe is required",
			"Azure sends traffic only to backends a health probe finds healthy: add a probe { protocol = \"Tcp\" } block for the rule "+
				"to own, or set probe_id to an existing probe of the load balancer (e.g. azurerm_lb_probe.<name>.id).")
	}
	if m.Probe != nil && m.Probe.Protocol.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("probe").AtName("protocol"), "probe.protocol is required",
			"Set protocol = \"Tcp\" (a connection is enough), \"Http\" or \"Https\" (with request_path).")
	}
	if !m.ProbeID.IsNull() && m.Probe != nil {
		resp.Diagnostics.AddAttributeError(path.Root("probe_id"), "probe_id and a probe block are exclusive",
			"Either the rule owns a probe (a probe { ... } block) or it uses an existing one (probe_id = azurerm_lb_probe.<name>.id); remove one of them.")
	}
	if !m.FrontendPort.IsUnknown() && !m.FrontendPort.IsNull() && m.FrontendPort.ValueInt64() == 0 {
		// HA ports, as azurerm writes them: frontend_port 0, backend_port 0, protocol All.
		if !m.Protocol.IsUnknown() && m.Protocol.ValueString() != "All" {
			resp.Diagnostics.AddAttributeError(path.Root("protocol"), "HA ports need protocol All",
				"frontend_port = 0 makes an HA-ports rule, which forwards every port and protocol; set protocol = \"All\", or give a frontend port.")
		}
		if !m.BackendPort.IsUnknown() && !m.BackendPort.IsNull() && m.BackendPort.ValueInt64() != 0 {
			resp.Diagnostics.AddAttributeError(path.Root("backend_port"), "HA ports forward every port unchanged",
				"frontend_port = 0 makes an HA-ports rule; set backend_port = 0 or leave it out.")
		}
		if p := m.Probe; p != nil && p.Port.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("probe").AtName("port"), "probe.port is required for HA ports",
				"An HA-ports rule has no port of its own for the probe to default to; set probe.port to a port every backend answers on.")
		}
	}
	if m.LoadBalancerID.IsUnknown() || m.LoadBalancerID.IsNull() || m.BackendAddressPoolIDs.IsUnknown() {
		return
	}
	var pools []types.String
	resp.Diagnostics.Append(m.BackendAddressPoolIDs.ElementsAs(ctx, &pools, false)...)
	prefix := strings.ToLower(strings.TrimSuffix(m.LoadBalancerID.ValueString(), "/")) + "/backendaddresspools/"
	for _, p := range pools {
		if p.IsUnknown() || p.IsNull() || azure.CheckBackendPoolID("", p.ValueString()) != nil {
			continue // the attribute's own validator reports a malformed id
		}
		if !strings.HasPrefix(strings.ToLower(p.ValueString()), prefix) {
			resp.Diagnostics.AddAttributeError(path.Root("backend_address_pool_ids"), "Backend pool of another load balancer",
				"Pool "+quote(p.ValueString())+" does not belong to load balancer "+quote(m.LoadBalancerID.ValueString())+
					"; a rule can only send traffic to pools of its own load balancer.")
		}
	}
}

// ModifyPlan fills in the defaults that depend on other attributes, and the ids, which follow
// from the names.
func (r *azureLBRuleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan, config azureLBRuleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if config.BackendPort.IsNull() {
		plan.BackendPort = plan.FrontendPort
	}
	plan.ID = childID(plan.LoadBalancerID, "loadBalancingRules", plan.Name)
	if plan.Probe != nil && config.Probe != nil {
		if config.Probe.Name.IsNull() {
			plan.Probe.Name = plan.Name
		}
		if config.Probe.Port.IsNull() {
			plan.Probe.Port = plan.BackendPort
		}
		plan.ProbeID = childID(plan.LoadBalancerID, "probes", plan.Probe.Name)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// childID is parent + "/collection/" + name, unknown while either is.
func childID(parent types.String, collection string, name types.String) types.String {
	if parent.IsUnknown() || name.IsUnknown() || parent.IsNull() || name.IsNull() {
		return types.StringUnknown()
	}
	return types.StringValue(strings.TrimSuffix(parent.ValueString(), "/") + "/" + collection + "/" + name.ValueString())
}

var lbRuleKind = azureRuleKind[azureLBRuleModel, azure.LBRuleSpec, azure.LBRule]{
	typeSuffix: "_azure_lb_rule",
	what:       "load-balancing rule",
	parentAttr: "load_balancer_id",
	collection: "loadBalancingRules",
	exampleID:  "/subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.Network/loadBalancers/<lb>/loadBalancingRules/<rule>",
	parseName: func(id string) (string, error) {
		_, name, err := azure.ParseLBRuleID(id)
		return name, err
	},
	key: func(m *azureLBRuleModel) (string, string) {
		return m.LoadBalancerID.ValueString(), m.Name.ValueString()
	},
	spec: lbRuleSpec,
	// A probe the rule used through probe_id is not its to remove when it switches probes.
	fromPrior: func(prior *azureLBRuleModel, spec *azure.LBRuleSpec) { spec.PriorProbeNotOwned = prior.Probe == nil },
	create:    (*azure.Client).CreateLBRule,
	ensure:    (*azure.Client).EnsureLBRule,
	get:       (*azure.Client).GetLBRule,
	del: func(c *azure.Client, ctx context.Context, m *azureLBRuleModel) error {
		probe := "" // the rule owns its probe, so it goes too; a probe used through probe_id stays
		if m.Probe != nil {
			probe = m.Probe.Name.ValueString()
		}
		return c.DeleteLBRule(ctx, m.LoadBalancerID.ValueString(), m.Name.ValueString(), probe)
	},
	state: lbRuleState,
}

func lbRuleSpec(ctx context.Context, plan *azureLBRuleModel, diags *diag.Diagnostics) azure.LBRuleSpec {
	spec := azure.LBRuleSpec{
		LoadBalancerID:              plan.LoadBalancerID.ValueString(),
		Name:                        plan.Name.ValueString(),
		FrontendIPConfigurationName: plan.FrontendIPConfigurationName.ValueString(),
		Protocol:                    plan.Protocol.ValueString(),
		FrontendPort:                int32(plan.FrontendPort.ValueInt64()),
		BackendPort:                 int32(plan.BackendPort.ValueInt64()),
		IdleTimeoutMinutes:          int32(plan.IdleTimeoutInMinutes.ValueInt64()),
		FloatingIP:                  plan.FloatingIPEnabled.ValueBool(),
		LoadDistribution:            plan.LoadDistribution.ValueString(),
		DisableOutboundSNAT:         plan.DisableOutboundSNAT.ValueBool(),
		TCPReset:                    plan.TCPResetEnabled.ValueBool(),
	}
	diags.Append(plan.BackendAddressPoolIDs.ElementsAs(ctx, &spec.BackendPoolIDs, false)...)
	slices.Sort(spec.BackendPoolIDs)
	if plan.Probe == nil && !plan.ProbeID.IsNull() && !plan.ProbeID.IsUnknown() {
		spec.ProbeRefID = plan.ProbeID.ValueString()
	}
	if p := plan.Probe; p != nil {
		spec.Probe = &azure.ProbeSpec{
			Name: p.Name.ValueString(), Protocol: p.Protocol.ValueString(), Port: int32(p.Port.ValueInt64()),
			RequestPath: p.RequestPath.ValueString(), IntervalSeconds: int32(p.IntervalInSeconds.ValueInt64()),
			Threshold: int32(p.Threshold.ValueInt64()), NumberOfProbes: int32(p.NumberOfProbes.ValueInt64()),
		}
	}
	return spec
}

// lbRuleState renders what Azure has, keeping the spelling of ids from prior (configuration or
// state) where Azure differs only in case, as ARM ids do.
func lbRuleState(ctx context.Context, rule *azure.LBRule, prior *azureLBRuleModel, diags *diag.Diagnostics) *azureLBRuleModel {
	s := rule.Spec
	var priorPools []string
	if !prior.BackendAddressPoolIDs.IsNull() && !prior.BackendAddressPoolIDs.IsUnknown() {
		diags.Append(prior.BackendAddressPoolIDs.ElementsAs(ctx, &priorPools, false)...)
	}
	pools := make([]string, len(s.BackendPoolIDs))
	for i, id := range s.BackendPoolIDs {
		pools[i] = sameSpelling(id, priorPools)
	}
	poolSet, d := types.SetValueFrom(ctx, types.StringType, pools)
	diags.Append(d...)
	lbID := prior.LoadBalancerID.ValueString()
	m := &azureLBRuleModel{
		ID:                          types.StringValue(strings.TrimSuffix(lbID, "/") + "/loadBalancingRules/" + prior.Name.ValueString()),
		LoadBalancerID:              prior.LoadBalancerID,
		Name:                        prior.Name,
		FrontendIPConfigurationName: types.StringValue(s.FrontendIPConfigurationName),
		BackendAddressPoolIDs:       poolSet,
		Protocol:                    types.StringValue(s.Protocol),
		FrontendPort:                types.Int64Value(int64(s.FrontendPort)),
		BackendPort:                 types.Int64Value(int64(s.BackendPort)),
		IdleTimeoutInMinutes:        types.Int64Value(int64(s.IdleTimeoutMinutes)),
		FloatingIPEnabled:           types.BoolValue(s.FloatingIP),
		LoadDistribution:            types.StringValue(s.LoadDistribution),
		DisableOutboundSNAT:         types.BoolValue(s.DisableOutboundSNAT),
		TCPResetEnabled:             types.BoolValue(s.TCPReset),
		ProbeID:                     types.StringNull(),
	}
	if prior.FrontendIPConfigurationName.ValueString() != "" && strings.EqualFold(prior.FrontendIPConfigurationName.ValueString(), s.FrontendIPConfigurationName) {
		m.FrontendIPConfigurationName = prior.FrontendIPConfigurationName
	}
	if rule.ProbeID != "" && usesProbe(prior, rule) {
		// The rule uses a probe it does not own: only its id, in the spelling of the configuration.
		m.ProbeID = types.StringValue(rule.ProbeID)
		if strings.EqualFold(prior.ProbeID.ValueString(), rule.ProbeID) {
			m.ProbeID = prior.ProbeID
		}
		return m
	}
	if p := s.Probe; p != nil {
		m.ProbeID = types.StringValue(strings.TrimSuffix(lbID, "/") + "/probes/" + p.Name)
		m.Probe = &azureProbeModel{
			Name:              types.StringValue(p.Name),
			Protocol:          types.StringValue(p.Protocol),
			Port:              types.Int64Value(int64(p.Port)),
			RequestPath:       types.StringNull(),
			IntervalInSeconds: types.Int64Value(int64(p.IntervalSeconds)),
			Threshold:         types.Int64Value(int64(p.Threshold)),
			NumberOfProbes:    types.Int64Value(int64(p.NumberOfProbes)),
		}
		if p.RequestPath != "" {
			m.Probe.RequestPath = types.StringValue(p.RequestPath)
		}
		if prior.Probe != nil && strings.EqualFold(prior.Probe.Name.ValueString(), p.Name) {
			m.Probe.Name = prior.Probe.Name
			m.ProbeID = types.StringValue(strings.TrimSuffix(lbID, "/") + "/probes/" + prior.Probe.Name.ValueString())
		}
	}
	return m
}

// usesProbe tells whether the rule's probe is one it uses without owning it (probe_id set, no
// probe block). Read after create or update knows from prior; an import (neither set) takes a
// probe named like the rule, the default for an owned probe, as owned and any other as used.
func usesProbe(prior *azureLBRuleModel, rule *azure.LBRule) bool {
	if prior.Probe != nil {
		return false
	}
	if !prior.ProbeID.IsNull() && !prior.ProbeID.IsUnknown() {
		return true
	}
	return rule.Spec.Probe == nil || !strings.EqualFold(rule.Spec.Probe.Name, prior.Name.ValueString())
}

// sameSpelling returns the element of known that equals id ignoring case, else id.
func sameSpelling(id string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, id) {
			return k
		}
	}
	return id
}
