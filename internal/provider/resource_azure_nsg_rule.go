package provider

import (
	"context"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
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

// NewAzureNSGRuleResource is vamp_azure_nsg_rule: an inbound allow rule on a network security group.
func NewAzureNSGRuleResource() resource.Resource { return &azureNSGRuleResource{} }

type azureNSGRuleResource struct{ data *ProviderData }

type azureNSGRuleModel struct {
	ID                       types.String `tfsdk:"id"`
	NSGID                    types.String `tfsdk:"network_security_group_id"`
	Name                     types.String `tfsdk:"name"`
	Priority                 types.Int64  `tfsdk:"priority"`
	Direction                types.String `tfsdk:"direction"`
	Access                   types.String `tfsdk:"access"`
	Protocol                 types.String `tfsdk:"protocol"`
	DestinationPortRanges    types.Set    `tfsdk:"destination_port_ranges"`
	SourceAddressPrefixes    types.Set    `tfsdk:"source_address_prefixes"`
	DestinationAddressPrefix types.String `tfsdk:"destination_address_prefix"`
	Description              types.String `tfsdk:"description"`
}

func (r *azureNSGRuleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_azure_nsg_rule"
}

func (r *azureNSGRuleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An inbound allow rule on an existing network security group (for instance the public agents' NSG " +
			"from azurerm): lets clients reach a gateway's port. A name or priority already used by another rule is reported " +
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
				MarkdownDescription: "`Inbound`, the only direction this resource manages.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(azure.DirectionInbound),
				Validators:          []validator.String{stringvalidator.OneOf(azure.DirectionInbound)},
			},
			"access": schema.StringAttribute{
				MarkdownDescription: "`Allow`, the only access this resource manages.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(azure.AccessAllow),
				Validators:          []validator.String{stringvalidator.OneOf(azure.AccessAllow)},
			},
			"protocol": schema.StringAttribute{
				MarkdownDescription: "`Tcp` (default), `Udp` or `*`.",
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

func (r *azureNSGRuleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *azureNSGRuleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics, true)
}

func (r *azureNSGRuleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics, false)
}

func (r *azureNSGRuleResource) write(ctx context.Context, getPlan func(context.Context, any) diag.Diagnostics, state stateSetter, diags *diag.Diagnostics, create bool) {
	client := azureClientFrom(r.data, diags)
	var plan azureNSGRuleModel
	diags.Append(getPlan(ctx, &plan)...)
	if diags.HasError() || client == nil {
		return
	}
	spec := azure.NSGRuleSpec{
		NSGID: plan.NSGID.ValueString(), Name: plan.Name.ValueString(), Priority: int32(plan.Priority.ValueInt64()),
		Direction: plan.Direction.ValueString(), Access: plan.Access.ValueString(), Protocol: plan.Protocol.ValueString(),
		DestinationAddressPrefix: plan.DestinationAddressPrefix.ValueString(), Description: plan.Description.ValueString(),
	}
	diags.Append(plan.DestinationPortRanges.ElementsAs(ctx, &spec.DestinationPortRanges, false)...)
	diags.Append(plan.SourceAddressPrefixes.ElementsAs(ctx, &spec.SourceAddressPrefixes, false)...)
	if diags.HasError() {
		return
	}
	slices.Sort(spec.DestinationPortRanges)
	slices.Sort(spec.SourceAddressPrefixes)
	write, verb := client.EnsureNSGRule, "Updating"
	if create {
		write, verb = client.CreateNSGRule, "Creating"
	}
	rule, err := write(ctx, spec)
	if err != nil {
		addAzureError(diags, path.Empty(), verb+" security rule "+quote(spec.Name)+" failed", err)
		return
	}
	diags.Append(state.Set(ctx, nsgRuleState(ctx, rule, &plan, diags))...)
}

func (r *azureNSGRuleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := azureClientFrom(r.data, &resp.Diagnostics)
	var state azureNSGRuleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	rule, err := client.GetNSGRule(ctx, state.NSGID.ValueString(), state.Name.ValueString())
	if err != nil {
		addAzureError(&resp.Diagnostics, path.Empty(), "Reading security rule "+quote(state.Name.ValueString())+" failed", err)
		return
	}
	if rule == nil {
		resp.State.RemoveResource(ctx) // removed outside Terraform: plan to create it again
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, nsgRuleState(ctx, rule, &state, &resp.Diagnostics))...)
}

func (r *azureNSGRuleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := azureClientFrom(r.data, &resp.Diagnostics)
	var state azureNSGRuleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	if err := client.DeleteNSGRule(ctx, state.NSGID.ValueString(), state.Name.ValueString()); err != nil {
		addAzureError(&resp.Diagnostics, path.Empty(), "Deleting security rule "+quote(state.Name.ValueString())+" failed", err)
	}
}

// ImportState takes the rule's Azure id: <network security group id>/securityRules/<name>.
func (r *azureNSGRuleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	_, name, err := azure.ParseNSGRuleID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id",
			err.Error()+"\n\nImport a security rule by its Azure id, e.g. terraform import vamp_azure_nsg_rule.sava "+
				"/subscriptions/<sub>/resourceGroups/<group>/providers/Microsoft.Network/networkSecurityGroups/<nsg>/securityRules/<rule>")
		return
	}
	nsgID := req.ID[:len(req.ID)-len("/securityRules/"+name)]
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("network_security_group_id"), nsgID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
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
		SourceAddressPrefixes:    set(s.SourceAddressPrefixes),
		DestinationAddressPrefix: types.StringValue(s.DestinationAddressPrefix),
		Description:              types.StringNull(),
	}
	if s.Description != "" {
		m.Description = types.StringValue(s.Description)
	}
	return m
}
