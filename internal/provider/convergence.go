package provider

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
)

// convergenceAttrTypes are the attributes of `convergence` (vamp_gateway, vamp_deployment).
var convergenceAttrTypes = map[string]attr.Type{
	"revision":     types.Int64Type,
	"replicas":     types.ListType{ElemType: types.StringType},
	"acknowledged": types.Int64Type,
	"expected":     types.Int64Type,
	"took":         types.StringType,
	"summary":      types.StringType,
}

// convergenceAttribute is the computed `convergence` of a resource that writes gateways: what
// the last apply that changed it saw of the replicas when it wrote to etcd.
func convergenceAttribute() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		MarkdownDescription: "With the provider's `etcd` block: how the last apply that changed this resource converged: the etcd " +
			"revision of the transaction that wrote its gateways, the gateway replicas that acknowledged serving it, and how long " +
			"the apply waited for them, e.g. `summary = \"3 of 3 replicas (r1, r2, r3) serve etcd revision 42, 48ms after the commit\"`. " +
			"An apply that returns without an error has every replica it waited for in `replicas` (one that rejects the change or " +
			"does not catch up within the resource's `timeouts` fails the apply instead). " +
			"Null when the provider writes through a gateway's admin API (the `gateway` block's `url`), after an import, and when " +
			"the apply wrote no gateway. Known after apply when the resource changes; a plan without a change keeps it, and a " +
			"refresh leaves it as it is: it records that apply, not what the replicas serve now (each replica's " +
			"`vamp_gateway_store_serving_revision` metric says that).",
		Computed: true,
		Attributes: map[string]schema.Attribute{
			"revision": schema.Int64Attribute{
				MarkdownDescription: "The etcd revision of the transaction: the `mod_revision` of this resource's gateway keys until another write changes them.",
				Computed:            true,
			},
			"replicas": schema.ListAttribute{
				MarkdownDescription: "The ids (`--replica-id`) of the replicas that acknowledged serving the revision, sorted, e.g. `[\"r1\", \"r2\", \"r3\"]`.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"acknowledged": schema.Int64Attribute{
				MarkdownDescription: "How many replicas acknowledged serving the revision: the length of `replicas`.",
				Computed:            true,
			},
			"expected": schema.Int64Attribute{
				MarkdownDescription: "How many replicas the apply waited for: every replica that was running (its key in etcd was live) " +
					"and every one in the provider's `etcd.replicas`. 0 means that no replica was running to acknowledge the change (the apply warns).",
				Computed: true,
			},
			"took": schema.StringAttribute{
				MarkdownDescription: "How long the apply waited from the committed transaction to the last acknowledgement, e.g. `48ms`.",
				Computed:            true,
			},
			"summary": schema.StringAttribute{
				MarkdownDescription: "The same in words, e.g. `3 of 3 replicas (r1, r2, r3) serve etcd revision 42, 48ms after the commit`.",
				Computed:            true,
			},
		},
	}
}

// convergenceReport is what storeGateways.Write records of the last change it committed and
// saw acknowledged, for the resource that made it. It travels in the operation's context.
type convergenceReport struct {
	mu       sync.Mutex
	recorded bool
	revision int64
	acked    []string // the replicas that serve the revision, sorted
	expected int      // the replicas waited for
	took     time.Duration
}

type convergenceKey struct{}

// withConvergence returns ctx carrying a report that the gateway writes made with it fill in.
func withConvergence(ctx context.Context) (context.Context, *convergenceReport) {
	r := &convergenceReport{}
	return context.WithValue(ctx, convergenceKey{}, r), r
}

// convergenceFrom is ctx's report; nil (which records nothing) when it carries none.
func convergenceFrom(ctx context.Context) *convergenceReport {
	r, _ := ctx.Value(convergenceKey{}).(*convergenceReport)
	return r
}

// record keeps the acknowledgements of rev; a later write of the same operation replaces an
// earlier one (a vamp_deployment that listens on referenced ports first writes twice).
func (r *convergenceReport) record(rev int64, conv gatewaystore.Convergence) {
	if r == nil {
		return
	}
	acked := make([]string, 0, len(conv.Acks))
	for id, a := range conv.Acks {
		if a.Revision >= rev && (a.Error == "" || a.Serving >= rev) {
			acked = append(acked, id)
		}
	}
	sort.Strings(acked)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recorded, r.revision, r.acked, r.expected, r.took = true, rev, acked, len(conv.Acks), conv.Took
}

// summary is the report in words.
func (r *convergenceReport) summary() string {
	who := ""
	if len(r.acked) > 0 {
		who = " (" + strings.Join(r.acked, ", ") + ")"
	}
	return fmt.Sprintf("%d of %d replicas%s serve etcd revision %d, %s after the commit",
		len(r.acked), r.expected, who, r.revision, roundTook(r.took))
}

// roundTook is d to the millisecond, or to the microsecond below one.
func roundTook(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// value is the `convergence` attribute of the report: null when nothing was recorded (the
// admin API, or no gateway written).
func (r *convergenceReport) value(ctx context.Context, diags *diag.Diagnostics) types.Object {
	if r == nil {
		return types.ObjectNull(convergenceAttrTypes)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.recorded {
		return types.ObjectNull(convergenceAttrTypes)
	}
	replicas, d := types.ListValueFrom(ctx, types.StringType, r.acked)
	diags.Append(d...)
	obj, d := types.ObjectValue(convergenceAttrTypes, map[string]attr.Value{
		"revision":     types.Int64Value(r.revision),
		"replicas":     replicas,
		"acknowledged": types.Int64Value(int64(len(r.acked))),
		"expected":     types.Int64Value(int64(r.expected)),
		"took":         types.StringValue(roundTook(r.took).String()),
		"summary":      types.StringValue(r.summary()),
	})
	diags.Append(d...)
	return obj
}

// planConvergence sets `convergence` in a plan that the resource's ModifyPlan has finished:
// the state's value when the resource does not change otherwise (no perpetual diff); else
// unknown when the gateways are in etcd (the apply reports it) and null through the admin API.
func planConvergence(ctx context.Context, gc gatewayClient, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || resp.Diagnostics.HasError() {
		return
	}
	p := path.Root("convergence")
	prior := types.ObjectNull(convergenceAttrTypes)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, p, &prior)...)
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, p, prior)...)
	if resp.Diagnostics.HasError() || (!req.State.Raw.IsNull() && equalAsPlanned(resp.Plan.Raw, req.State.Raw)) {
		return
	}
	next := types.ObjectNull(convergenceAttrTypes)
	if gc == nil || gc.tracksRevisions() { // gc is nil while the provider's configuration is unknown
		next = types.ObjectUnknown(convergenceAttrTypes)
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, p, next)...)
}

// equalAsPlanned reports whether a and b are equal as Terraform compares a plan with the state:
// a number that went through a float64 (a Float64 attribute the plan sets from its model) equals
// the state's decimal when both are the same float64. planRolloutStatus uses it too.
func equalAsPlanned(a, b tftypes.Value) bool {
	diffs, err := a.Diff(b)
	if err != nil {
		return false
	}
	for _, d := range diffs {
		if !sameFloat64(d.Value1, d.Value2) {
			return false
		}
	}
	return true
}

func sameFloat64(a, b *tftypes.Value) bool {
	if a == nil || b == nil || !a.Type().Is(tftypes.Number) || !b.Type().Is(tftypes.Number) ||
		!a.IsFullyKnown() || !b.IsFullyKnown() || a.IsNull() || b.IsNull() {
		return false
	}
	var x, y big.Float
	if a.As(&x) != nil || b.As(&y) != nil {
		return false
	}
	fx, _ := x.Float64()
	fy, _ := y.Float64()
	return fx == fy
}
