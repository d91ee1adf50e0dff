package provider

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
)

var _ datasource.DataSource = (*blueprintDataSource)(nil)

// NewBlueprintDataSource is the factory of data "vamp_blueprint".
func NewBlueprintDataSource() datasource.DataSource { return &blueprintDataSource{} }

type blueprintDataSource struct{}

type blueprintModel struct {
	YAML     []types.String `tfsdk:"yaml"`
	Name     types.String   `tfsdk:"name"`
	Gateways types.Map      `tfsdk:"gateways"`
	Clusters types.Map      `tfsdk:"clusters"`
}

func (d *blueprintDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_blueprint"
}

func (d *blueprintDataSource) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads Vamp YAML blueprints (with the breeds, scales and SLAs they name), merges them in order the way Vamp merges a blueprint into a " +
			"running deployment, and gives the normalized, validated result in the shape of `vamp_deployment`'s arguments: " +
			"`clusters = data.vamp_blueprint.sava.clusters`.",
		Attributes: map[string]schema.Attribute{
			"yaml": schema.ListAttribute{
				MarkdownDescription: "Vamp YAML documents: blueprints, merged in order (the first is the deployment, each next one is merged into it: " +
					"services by breed name; a new variant without a stated weight gets 0), and the breeds, scales and SLAs they name by reference " +
					"(`kind: breeds`, `kind: scales`, `kind: slas`; several documents in one element separated by `---`).",
				Required:    true,
				ElementType: types.StringType,
				Validators:  []validator.List{listvalidator.SizeAtLeast(1)},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The deployment's name: the first document's `name`.",
				Computed:            true,
			},
			"gateways": schema.MapAttribute{
				MarkdownDescription: "The blueprint gateways, as `vamp_deployment`'s `gateways`.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"clusters": schema.MapAttribute{
				MarkdownDescription: "The clusters, normalized (defaults, weights and strengths filled in), as `vamp_deployment`'s `clusters`.",
				Computed:            true,
				ElementType:         clustersType().ElemType,
			},
		},
	}
}

func (d *blueprintDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m blueprintModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	docs := make([]string, len(m.YAML))
	for i, doc := range m.YAML {
		docs[i] = doc.ValueString()
	}
	merged, notes, errs := blueprint.ReadVampDocuments(docs)
	for _, e := range errs {
		resp.Diagnostics.AddAttributeError(path.Root("yaml").AtListIndex(e.Index), "Invalid blueprint YAML", "yaml["+strconv.Itoa(e.Index)+"], "+e.Error())
	}
	if resp.Diagnostics.HasError() {
		return
	}
	for _, n := range notes {
		resp.Diagnostics.AddAttributeWarning(path.Root("yaml"), "Read and not used", n+".")
	}
	merged.Normalize()
	for _, fe := range merged.Validate() {
		resp.Diagnostics.AddAttributeError(path.Root("yaml"), fe.Summary,
			fmt.Sprintf("In the merged blueprint at %s: %s.", fe.Path.YAMLString(), fe.Detail))
	}
	if resp.Diagnostics.HasError() {
		return
	}
	m.Name = types.StringValue(merged.Name)
	m.Gateways = types.MapNull(types.StringType)
	if len(merged.Gateways) > 0 {
		v, diags := types.MapValueFrom(ctx, types.StringType, merged.Gateways)
		resp.Diagnostics.Append(diags...)
		m.Gateways = v
	}
	m.Clusters = clustersValue(ctx, clustersModel(merged), &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
