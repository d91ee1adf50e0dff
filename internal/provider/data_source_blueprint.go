package provider

import (
	"context"
	"errors"
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
		MarkdownDescription: "Reads Vamp YAML blueprints, merges them in order the way Vamp merges a blueprint into a " +
			"running deployment, and gives the normalized, validated result in the shape of `vamp_deployment`'s arguments: " +
			"`clusters = data.vamp_blueprint.sava.clusters`.",
		Attributes: map[string]schema.Attribute{
			"yaml": schema.ListAttribute{
				MarkdownDescription: "Blueprint documents (Vamp YAML), merged in order: the first is the deployment, each next one is merged into it " +
					"(services by breed name; a new variant without a stated weight gets 0).",
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
				ElementType:         clustersType(ctx).ElemType,
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
	var merged *blueprint.Blueprint
	for i, doc := range m.YAML {
		at := path.Root("yaml").AtListIndex(i)
		bp, err := blueprint.ParseYAML([]byte(doc.ValueString()))
		if err != nil {
			var yerrs blueprint.YAMLErrors
			if !errors.As(err, &yerrs) {
				resp.Diagnostics.AddAttributeError(at, "Invalid blueprint YAML", "yaml["+strconv.Itoa(i)+"]: "+err.Error())
				continue
			}
			for _, e := range yerrs {
				resp.Diagnostics.AddAttributeError(at, "Invalid blueprint YAML", "yaml["+strconv.Itoa(i)+"], "+e.Error())
			}
			continue
		}
		merged = blueprint.Merge(merged, bp)
	}
	if resp.Diagnostics.HasError() {
		return
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
