package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

// vamp_azure_lb_rule and vamp_azure_nsg_rule both manage one named rule inside an existing Azure
// parent (a load balancer, a security group) and go through the same steps to do it: fetch the
// client, read the plan or state, call Azure, render the answer, name the rule in every error.
// azureRuleResource holds those steps once; each resource supplies an azureRuleKind with the
// parts that differ (its model, its Azure calls, its wording) and keeps its own Schema, so a fix
// to the steps (say, how a rule deleted outside Terraform is handled) lands in both.

// azureRuleKind is what sets one kind of Azure rule apart. M is the Terraform model, S the spec
// sent to Azure, R what Azure answers.
type azureRuleKind[M, S, R any] struct {
	typeSuffix string // appended to the provider's type name: "_azure_lb_rule"
	what       string // the rule in messages: "load-balancing rule"
	parentAttr string // the attribute holding the parent's id: "load_balancer_id"
	collection string // the id segment between the parent's id and the rule's name: "loadBalancingRules"
	exampleID  string // shown in the import hint

	// parseName checks an import id and returns the rule's name in it.
	parseName func(id string) (string, error)
	// key is the parent's id and the rule's name, as the model has them.
	key func(*M) (parentID, name string)
	// spec is what to send to Azure for the planned model; it reports bad values in diags.
	spec func(context.Context, *M, *diag.Diagnostics) S
	// fromPrior, when set, lets an update's spec depend on the prior state (what the rule owned).
	fromPrior func(prior *M, spec *S)
	// create fails when the rule exists already; ensure makes Azure match the spec.
	create, ensure func(*azure.Client, context.Context, S) (*R, error)
	// get returns nil, nil when the rule (or its parent) is gone.
	get func(*azure.Client, context.Context, string, string) (*R, error)
	del func(*azure.Client, context.Context, *M) error
	// state renders Azure's answer, taking from prior what Azure does not say or spells otherwise.
	state func(context.Context, *R, *M, *diag.Diagnostics) *M
}

// azureRuleResource is the shared part of an Azure rule resource, embedded by each of them.
type azureRuleResource[M, S, R any] struct {
	kind *azureRuleKind[M, S, R]
	data *ProviderData
}

func newAzureRuleResource[M, S, R any](kind *azureRuleKind[M, S, R]) azureRuleResource[M, S, R] {
	return azureRuleResource[M, S, R]{kind: kind}
}

func (r *azureRuleResource[M, S, R]) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + r.kind.typeSuffix
}

func (r *azureRuleResource[M, S, R]) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *azureRuleResource[M, S, R]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.write(ctx, req.Plan.Get, nil, &resp.State, &resp.Diagnostics, true)
}

func (r *azureRuleResource[M, S, R]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var prior M
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	r.write(ctx, req.Plan.Get, &prior, &resp.State, &resp.Diagnostics, false)
}

func (r *azureRuleResource[M, S, R]) write(ctx context.Context, getPlan func(context.Context, any) diag.Diagnostics, prior *M, state stateSetter, diags *diag.Diagnostics, create bool) {
	k := r.kind
	client := azureClientFrom(r.data, diags)
	var plan M
	diags.Append(getPlan(ctx, &plan)...)
	if diags.HasError() || client == nil {
		return
	}
	spec := k.spec(ctx, &plan, diags)
	if diags.HasError() {
		return
	}
	if prior != nil && k.fromPrior != nil {
		k.fromPrior(prior, &spec)
	}
	write, verb := k.ensure, "Updating"
	if create {
		write, verb = k.create, "Creating"
	}
	rule, err := write(client, ctx, spec)
	if err != nil {
		_, name := k.key(&plan)
		addAzureError(diags, path.Empty(), verb+" "+k.what+" "+quote(name)+" failed", err)
		return
	}
	diags.Append(state.Set(ctx, k.state(ctx, rule, &plan, diags))...)
}

func (r *azureRuleResource[M, S, R]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	k := r.kind
	client := azureClientFrom(r.data, &resp.Diagnostics)
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	parentID, name := k.key(&state)
	rule, err := k.get(client, ctx, parentID, name)
	if err != nil {
		addAzureError(&resp.Diagnostics, path.Empty(), "Reading "+k.what+" "+quote(name)+" failed", err)
		return
	}
	if rule == nil {
		// Removed outside Terraform (or its parent is gone): plan to create it again.
		resp.State.RemoveResource(ctx)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, k.state(ctx, rule, &state, &resp.Diagnostics))...)
}

func (r *azureRuleResource[M, S, R]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	k := r.kind
	client := azureClientFrom(r.data, &resp.Diagnostics)
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	if err := k.del(client, ctx, &state); err != nil {
		_, name := k.key(&state)
		addAzureError(&resp.Diagnostics, path.Empty(), "Deleting "+k.what+" "+quote(name)+" failed", err)
	}
}

// ImportState takes the rule's Azure id: <parent id>/<collection>/<name>.
func (r *azureRuleResource[M, S, R]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	k := r.kind
	name, err := k.parseName(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id",
			err.Error()+"\n\nImport a "+k.what+" by its Azure id, e.g. terraform import vamp"+k.typeSuffix+".sava "+k.exampleID)
		return
	}
	parentID := req.ID[:len(req.ID)-len("/"+k.collection+"/"+name)] // as written, casing kept
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(k.parentAttr), parentID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
