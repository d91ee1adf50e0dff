package provider

import (
	"context"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

var (
	_ resource.ResourceWithConfigure   = (*azureNSGRuleResource)(nil)
	_ resource.ResourceWithImportState = (*azureNSGRuleResource)(nil)
)

// NewAzureNSGRuleResource is vamp_azure_nsg_rule: a security rule on a network security group.
func NewAzureNSGRuleResource() resource.Resource {
	return &azureNSGRuleResource{newAzureRuleResource(&nsgRuleKind)}
}

// azureNSGRuleResource adds its schema to the steps every Azure rule shares.
type azureNSGRuleResource struct {
	azureRuleResource[azureNSGRuleModel, azure.NSGRuleSpec, azure.NSGRule]
}

type azureNSGRuleModel struct {
	ID                       types.String `tfsdk:"id"`
	NSGID                    types.String `tfsdk:"network_security_group_id"`
	Name                     types.String `tfsdk:"name"`
	Priority                 types.Int64  `tfsdk:"priority"`
	Direction                types.String `tfsdk:"direction"`
	Access                   types.String `tfsdk:"access"`
	Protocol                 types.String `tfsdk:"protocol"`
	DestinationPortRanges    types.Set    `tfsdk:"destination_port_ranges"`
	SourcePortRanges         types.Set    `tfsdk:"source_port_ranges"`
	SourceAddressPrefixes    types.Set    `tfsdk:"source_address_prefixes"`
	DestinationAddressPrefix types.String `tfsdk:"destination_address_prefix"`
	Description              types.String `tfsdk:"description"`
}

func (r *azureNSGRuleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A security rule on an existing network security group (for instance the public agents' NSG " +
			"from azurerm): typically an inbound allow rule that lets clients reach a gateway's port; `Deny` and `Outbound` rules too. A name or priority already used by another rule is reported " +
			"at plan/apply time with that rule's name, and the port is never opened to the world unless the configuration says so.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The rule's Azure id, `<network_security_group_id>/securityRules/<name>`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"network_security_group_id": schema.StringAttribute{
				MarkdownDescription: "Id of the network security group, e.g. `azurerm_network_security_group.public_agents.id`. Changing it replaces the rule.",
				Required:            true,
				PlanModifiers:       replace,
				Validators:          []validator.String{azureIDValidator{what: "network security group", check: azureCheck(azure.ParseNSGID)}},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the rule, unique in the security group. Changing it replaces the rule.",
				Required:            true,
				PlanModifiers:       replace,
				Validators:          []validator.String{azureIDValidator{what: "name", check: azure.CheckName}},
			},
			"priority": schema.Int64Attribute{
				MarkdownDescription: "100..4096, unique per direction in the security group; lower numbers are evaluated first.",
				Required:            true,
				Validators:          []validator.Int64{int64validator.Between(azure.MinNSGPriority, azure.MaxNSGPriority)},
			},
			"direction": schema.StringAttribute{
				MarkdownDescription: "`Inbound` (default) or `Outbound`; as azurerm's `direction`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(azure.DirectionInbound),
				Validators:          []validator.String{stringvalidator.OneOf(azure.NSGDirections...)},
			},
			"access": schema.StringAttribute{
				MarkdownDescription: "`Allow` (default) or `Deny`; as azurerm's `access`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(azure.AccessAllow),
				Validators:          []validator.String{stringvalidator.OneOf(azure.NSGAccesses...)},
			},
			"protocol": schema.StringAttribute{
				MarkdownDescription: "`Tcp` (default), `Udp`, `Icmp`, `Esp`, `Ah` or `*`; as azurerm's `protocol`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("Tcp"),
				Validators:          []validator.String{stringvalidator.OneOf(azure.NSGProtocols...)},
			},
			"destination_port_ranges": schema.SetAttribute{
				MarkdownDescription: "Ports to open: `\"9050\"`, ranges `\"8000-8100\"`, or `\"*\"` alone.",
				ElementType:         types.StringType,
				Required:            true,
				Validators:          []validator.Set{stringSetCheck{title: "Invalid destination port range", check: azure.CheckPortRanges}},
			},
			"source_port_ranges": schema.SetAttribute{
				MarkdownDescription: "Source ports the rule matches: ports or ranges as in `destination_port_ranges`. Default `[\"*\"]` (any); " +
					"azurerm's `source_port_range`/`source_port_ranges` in one list.",
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{types.StringValue("*")})),
				Validators:  []validator.Set{stringSetCheck{title: "Invalid source port range", check: azure.CheckPortRanges, allowNull: true}},
			},
			"source_address_prefixes": schema.SetAttribute{
				MarkdownDescription: "**Required.** Who may connect: CIDR prefixes or addresses (`\"203.0.113.0/24\"`), or, alone, a service " +
					"tag (`\"Internet\"`, `\"VirtualNetwork\"`) or `\"*\"`. There is no default: opening a port to the world is written " +
					"as `[\"*\"]` or `[\"Internet\"]`.",
				ElementType: types.StringType,
				Optional:    true, // required by its validator, whose message says how to open the port to the world
				Validators:  []validator.Set{stringSetCheck{title: "Invalid source_address_prefixes", check: azure.CheckSourcePrefixes}},
			},
			"destination_address_prefix": schema.StringAttribute{
				MarkdownDescription: "Destination address, prefix or service tag. Default `*` (every address behind the security group).",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("*"),
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "Free text shown in the portal, up to 140 characters.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.LengthAtMost(azure.MaxNSGDescription)},
			},
		},
	}
}

var nsgRuleKind = azureRuleKind[azureNSGRuleModel, azure.NSGRuleSpec, azure.NSGRule]{
	typeSuffix: "_azure_nsg_rule",
	what:       "security rule",
	parentAttr: "network_security_group_id",
	collection: "securityRules",
	exampleID:  "/subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.Network/networkSecurityGroups/<nsg>/securityRules/<rule>",
	parseName: func(id string) (string, error) {
		_, name, err := azure.ParseNSGRuleID(id)
		return name, err
	},
	key:    func(m *azureNSGRuleModel) (string, string) { return m.NSGID.ValueString(), m.Name.ValueString() },
	spec:   nsgRuleSpec,
	create: (*azure.Client).CreateNSGRule,
	ensure: (*azure.Client).EnsureNSGRule,
	get:    (*azure.Client).GetNSGRule,
	del: func(c *azure.Client, ctx context.Context, m *azureNSGRuleModel) error {
		return c.DeleteNSGRule(ctx, m.NSGID.ValueString(), m.Name.ValueString())
	},
	state: nsgRuleState,
}

func nsgRuleSpec(ctx context.Context, plan *azureNSGRuleModel, diags *diag.Diagnostics) azure.NSGRuleSpec {
	spec := azure.NSGRuleSpec{
		NSGID: plan.NSGID.ValueString(), Name: plan.Name.ValueString(), Priority: int32(plan.Priority.ValueInt64()),
		Direction: plan.Direction.ValueString(), Access: plan.Access.ValueString(), Protocol: plan.Protocol.ValueString(),
		DestinationAddressPrefix: plan.DestinationAddressPrefix.ValueString(), Description: plan.Description.ValueString(),
	}
	diags.Append(plan.DestinationPortRanges.ElementsAs(ctx, &spec.DestinationPortRanges, false)...)
	diags.Append(plan.SourceAddressPrefixes.ElementsAs(ctx, &spec.SourceAddressPrefixes, false)...)
	if !plan.SourcePortRanges.IsNull() && !plan.SourcePortRanges.IsUnknown() {
		diags.Append(plan.SourcePortRanges.ElementsAs(ctx, &spec.SourcePortRanges, false)...)
	}
	slices.Sort(spec.SourcePortRanges)
	slices.Sort(spec.DestinationPortRanges)
	slices.Sort(spec.SourceAddressPrefixes)
	return spec
}

func nsgRuleState(ctx context.Context, rule *azure.NSGRule, prior *azureNSGRuleModel, diags *diag.Diagnostics) *azureNSGRuleModel {
	s := rule.Spec
	set := func(vs []string) types.Set {
		v, d := types.SetValueFrom(ctx, types.StringType, vs)
		diags.Append(d...)
		return v
	}
	m := &azureNSGRuleModel{
		ID:                       types.StringValue(strings.TrimSuffix(prior.NSGID.ValueString(), "/") + "/securityRules/" + prior.Name.ValueString()),
		NSGID:                    prior.NSGID,
		Name:                     prior.Name,
		Priority:                 types.Int64Value(int64(s.Priority)),
		Direction:                types.StringValue(s.Direction),
		Access:                   types.StringValue(s.Access),
		Protocol:                 types.StringValue(s.Protocol),
		DestinationPortRanges:    set(s.DestinationPortRanges),
		SourcePortRanges:         set(s.SourcePortRanges),
		SourceAddressPrefixes:    set(s.SourceAddressPrefixes),
		DestinationAddressPrefix: types.StringValue(s.DestinationAddressPrefix),
		Description:              types.StringNull(),
	}
	if s.Description != "" {
		m.Description = types.StringValue(s.Description)
	}
	return m
}
