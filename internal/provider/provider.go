// Package provider is the Terraform provider "vamp": canary releases as plans. It validates with
// internal/blueprint and internal/condition at plan time, runs service variants through a
// runtime.Driver and programs the gateway through its admin API.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// ProviderData is what the provider hands every resource and data source: the clients that
// the provider's blocks configured.
type ProviderData struct {
	// Gateway is where gateways are read and written: the gateway block's admin API, or etcd
	// (the etcd block), which every gateway replica follows.
	Gateway gatewayClient
	// Admin is the gateway block's admin API client (the local dev runtime's too); nil when the
	// gateways are in etcd.
	Admin *gatewayapi.Client
	// GatewayHost is where services reach the gateway's ports (the gateway block's host, else
	// the host of its url): what a dependency reference ${CLUSTER.host} becomes.
	GatewayHost string
	// Runtime runs service variants. A block that selects a runtime (e.g. marathon) sets it;
	// when none does, it is the local dev runtime behind the gateway's admin API.
	Runtime runtime.Driver
	// Azure writes load-balancer and security rules; nil when no Azure credential is configured.
	Azure *azure.Client
}

// settingsBlock is one block of the provider configuration. Adding a block (marathon, azure)
// is a new file with a settingsBlock and one line in settingsBlocks.
type settingsBlock interface {
	// blockName is the block's name in HCL.
	blockName() string
	schema() schema.Block
	// configure reads the block from config (it may be absent) and fills in data.
	configure(ctx context.Context, config tfsdk.Config, data *ProviderData) diag.Diagnostics
}

// settingsBlocks are configured in this order: later blocks see what earlier ones set.
var settingsBlocks = []settingsBlock{
	gatewayBlock{},
	etcdBlock{},
	azureBlock{},
	marathonBlock{},
}

// Options replace what the configuration would build; tests use them to inject clients.
type Options struct {
	// Gateway, when set, is used instead of the gateway block's client.
	Gateway *gatewayapi.Client
	// Runtime, when set, is used instead of the configured runtime.
	Runtime runtime.Driver
	// Azure, when set, is used instead of the azure block's client (tests: azurefake's transport).
	Azure *azure.Client
}

// VampProvider is the provider.
type VampProvider struct {
	version string
	options Options
}

var (
	_ provider.Provider                   = (*VampProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*VampProvider)(nil)
)

// ValidateConfig checks, at plan time, what no single attribute's validator can: that only
// one of the gateway and etcd blocks says where the gateways are, and the etcd block's values.
func (p *VampProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	resp.Diagnostics.Append(validateEtcd(ctx, req.Config)...)
}

// New returns the provider factory that providerserver.Serve takes.
func New(version string) func() provider.Provider {
	return NewWithOptions(version, Options{})
}

// NewWithOptions is New with clients injected.
func NewWithOptions(version string, opts Options) func() provider.Provider {
	return func() provider.Provider { return &VampProvider{version: version, options: opts} }
}

// Metadata implements provider.Provider.
func (p *VampProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "vamp"
	resp.Version = p.version
}

// Schema implements provider.Provider.
func (p *VampProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	blocks := map[string]schema.Block{}
	for _, b := range settingsBlocks {
		blocks[b.blockName()] = b.schema()
	}
	resp.Schema = schema.Schema{
		Description: "Vamp-style canary releases with Terraform: deploy service variants, " +
			"program the gateway's weights and conditions, review every release as a plan.",
		Blocks: blocks,
	}
}

// Configure implements provider.Provider.
func (p *VampProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	data := &ProviderData{}
	for _, b := range settingsBlocks {
		resp.Diagnostics.Append(b.configure(ctx, req.Config, data)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if p.options.Gateway != nil {
		data.Gateway, data.Admin = adminGateways{p.options.Gateway}, p.options.Gateway
	}
	if p.options.Azure != nil {
		data.Azure = p.options.Azure
	}
	if p.options.Runtime != nil {
		data.Runtime = p.options.Runtime
	}
	if data.Runtime == nil && data.Admin != nil {
		data.Runtime = runtime.NewLocal(data.Admin)
	}
	if data.Runtime == nil {
		data.Runtime = noRuntime{}
	}
	resp.DataSourceData = data
	resp.ResourceData = data
}

// Resources implements provider.Provider.
func (p *VampProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewDeploymentResource,
		NewGatewayResource,
		NewAzureLBRuleResource,
		NewAzureNSGRuleResource,
	}
}

// DataSources implements provider.Provider.
func (p *VampProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewBlueprintDataSource,
	}
}
