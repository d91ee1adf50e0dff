package provider

import (
	"context"
	"errors"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

// azureBlock configures the Azure client that vamp_azure_lb_rule and vamp_azure_nsg_rule use.
// Every attribute falls back to the ARM_* variable azurerm users already set.
type azureBlock struct{}

type azureBlockModel struct {
	SubscriptionID types.String `tfsdk:"subscription_id"`
	Environment    types.String `tfsdk:"environment"`
	TenantID       types.String `tfsdk:"tenant_id"`
	ClientID       types.String `tfsdk:"client_id"`
	ClientSecret   types.String `tfsdk:"client_secret"`
}

func (azureBlock) blockName() string { return "azure" }

func (azureBlock) schema() schema.Block {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Azure credentials for `vamp_azure_lb_rule` and `vamp_azure_nsg_rule`. Without `client_secret` the " +
			"credential comes from azidentity's default chain: environment (`AZURE_*`), workload identity, managed identity, " +
			"Azure CLI (`az login`); with only `client_id`, that user-assigned managed or workload identity. Nothing is logged.",
		Attributes: map[string]schema.Attribute{
			"subscription_id": schema.StringAttribute{
				MarkdownDescription: "The subscription whose load balancers and security groups may be written; ids from another " +
					"subscription are refused. Falls back to `" + azure.EnvSubscriptionID + "`. Unset: the subscription in each id.",
				Optional: true,
			},
			"environment": schema.StringAttribute{
				MarkdownDescription: "The cloud: `public` (default), `china` or `usgovernment`. Falls back to `" + azure.EnvEnvironment + "`.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOfCaseInsensitive(azure.Environments...)},
			},
			"tenant_id": schema.StringAttribute{
				MarkdownDescription: "Microsoft Entra tenant. Falls back to `" + azure.EnvTenantID + "`.",
				Optional:            true,
			},
			"client_id": schema.StringAttribute{
				MarkdownDescription: "Service principal or user-assigned identity client id. Falls back to `" + azure.EnvClientID + "`.",
				Optional:            true,
			},
			"client_secret": schema.StringAttribute{
				MarkdownDescription: "Service principal secret (needs `tenant_id` and `client_id`). Falls back to `" + azure.EnvClientSecret + "`.",
				Optional:            true,
				Sensitive:           true,
			},
		},
	}
}

func (azureBlock) configure(ctx context.Context, config tfsdk.Config, data *ProviderData) diag.Diagnostics {
	root := path.Root("azure")
	var m *azureBlockModel
	diags := config.GetAttribute(ctx, root, &m)
	if diags.HasError() {
		return diags
	}
	present := m != nil
	if m == nil {
		m = &azureBlockModel{}
	}
	for _, v := range []types.String{m.SubscriptionID, m.Environment, m.TenantID, m.ClientID, m.ClientSecret} {
		if v.IsUnknown() {
			// Known at apply; until then the Azure resources cannot be read (they say so).
			return diags
		}
	}
	cfg, err := azure.Config{
		SubscriptionID: m.SubscriptionID.ValueString(),
		Environment:    azure.Environment(m.Environment.ValueString()),
		TenantID:       m.TenantID.ValueString(),
		ClientID:       m.ClientID.ValueString(),
		ClientSecret:   m.ClientSecret.ValueString(),
	}.WithEnvDefaults(nil)
	if err == nil {
		var cred azcore.TokenCredential
		cred, err = azure.NewCredential(cfg)
		if err == nil {
			data.Azure, err = azure.NewClient(cfg.SubscriptionID, cred, azure.Options{Environment: cfg.Environment})
		}
	}
	if err != nil && present {
		// Without the block the provider may well be used without Azure: the Azure resources
		// report the missing configuration when they are used.
		addAzureError(&diags, root, "Invalid azure configuration", err)
	}
	return diags
}

// addAzureError reports an error from internal/azure at the attribute it names, below base.
func addAzureError(diags *diag.Diagnostics, base path.Path, summary string, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() { // errors.Join of several field errors: report each
			addAzureError(diags, base, summary, e)
		}
		return
	}
	var fe *azure.FieldError
	var ce *azure.ConflictError
	switch {
	case errors.As(err, &ce):
		diags.AddAttributeError(fieldPath(base, ce.Field), "Already used by "+quote(ce.Other), ce.Msg)
	case errors.As(err, &fe):
		diags.AddAttributeError(fieldPath(base, fe.Field), summary, fe.Msg)
	default:
		diags.AddError(summary, err.Error())
	}
}

// fieldPath turns "probe.port" or "backend_address_pool_ids[0]" into an attribute path.
func fieldPath(base path.Path, field string) path.Path {
	p := base
	for _, part := range strings.Split(field, ".") {
		if i := strings.IndexByte(part, '['); i >= 0 {
			part = part[:i] // set elements have no index: point at the attribute
		}
		if part != "" {
			p = p.AtName(part)
		}
	}
	return p
}

// azureClientFrom returns the configured Azure client or explains how to configure one.
func azureClientFrom(data *ProviderData, diags *diag.Diagnostics) *azure.Client {
	if data == nil || data.Azure == nil {
		diags.AddError("Azure is not configured",
			"This resource writes to Azure, but the provider has no usable Azure credential. Add an azure block to the provider "+
				"(subscription_id, and tenant_id/client_id/client_secret for a service principal) or set "+azure.EnvSubscriptionID+", "+
				azure.EnvTenantID+", "+azure.EnvClientID+" and "+azure.EnvClientSecret+"; without a secret the credential comes from "+
				"workload identity, managed identity or `az login`. If the azure block uses values known only after apply, apply those first.")
		return nil
	}
	return data.Azure
}
