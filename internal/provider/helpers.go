package provider

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// providerDataFrom is the ProviderData that Configure received; nil before the provider is
// configured (Terraform validates resources before that).
func providerDataFrom(v any, diags *diag.Diagnostics) *ProviderData {
	if v == nil {
		return nil
	}
	data, ok := v.(*ProviderData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *provider.ProviderData, got %T; this is a bug in the provider", v))
		return nil
	}
	return data
}

// operationContext bounds ctx by the timeout that a resource's timeouts block sets for one
// operation: op is timeouts.Value.Create, .Update or .Delete, def applies when the block sets none.
// A malformed duration is reported in diags and def applies, as the timeouts package answers; the
// operation goes on so that every diagnostic of the request is reported at once.
func operationContext(ctx context.Context, t timeouts.Value, op func(timeouts.Value, context.Context, time.Duration) (time.Duration, diag.Diagnostics), def time.Duration, diags *diag.Diagnostics) (context.Context, context.CancelFunc) {
	timeout, d := op(t, ctx, def)
	diags.Append(d...)
	return context.WithTimeout(ctx, timeout)
}

// operation is one Create, Update or Delete with the timeout that bounds it, so that a failure
// can name the timeout that ran out and the setting that raises it.
type operation struct {
	// name is "create", "update" or "delete": the attribute of the timeouts block.
	name    string
	timeout time.Duration
}

// startOperation is operationContext that also returns the operation, for messages.
func startOperation(ctx context.Context, t timeouts.Value, name string, def time.Duration, diags *diag.Diagnostics) (context.Context, context.CancelFunc, operation) {
	ops := map[string]func(timeouts.Value, context.Context, time.Duration) (time.Duration, diag.Diagnostics){
		"create": timeouts.Value.Create, "update": timeouts.Value.Update, "delete": timeouts.Value.Delete,
	}
	timeout, d := ops[name](t, ctx, def)
	diags.Append(d...)
	tflog.Debug(ctx, "operation started", map[string]any{"operation": name, "timeout": timeout.String()})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, operation{name: name, timeout: timeout}
}

// ranOut says that the operation's timeout ended it and how to give it more time.
func (op operation) ranOut(resource string) string {
	return fmt.Sprintf("The %s timeout of %s (timeouts.%s = %q) ran out. If the service needs longer to become healthy, "+
		"raise it: add `timeouts { %s = \"%s\" }` to %s (the default is the provider's, see the resource's docs).",
		op.name, resource, op.name, op.timeout.String(), op.name, suggestTimeout(op.timeout), resource)
}

// suggestTimeout is a larger timeout to propose: double, rounded up to a whole minute.
func suggestTimeout(d time.Duration) string {
	m := int((2*d + time.Minute - 1) / time.Minute)
	return strconv.Itoa(max(m, 1)) + "m"
}

// stateSetter is tfsdk.State, so that Create and Update can share one function that writes it.
type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// attributeGetter is tfsdk.Config, tfsdk.Plan and tfsdk.State.
type attributeGetter interface {
	GetAttribute(ctx context.Context, p path.Path, target any) diag.Diagnostics
}

// decodeKnownList decodes the list at p into target when it and its elements are known and not
// null (values inside the elements may be unknown); false
// otherwise (then validation and plan defaults wait for the values).
func decodeKnownList(ctx context.Context, from attributeGetter, p path.Path, target any, diags *diag.Diagnostics) bool {
	var list types.List
	diags.Append(from.GetAttribute(ctx, p, &list)...)
	if diags.HasError() || list.IsNull() || list.IsUnknown() {
		return false
	}
	for _, e := range list.Elements() {
		if e.IsUnknown() {
			return false
		}
	}
	diags.Append(list.ElementsAs(ctx, target, false)...)
	return !diags.HasError()
}

// routeWeightAttribute is a route's weight, in vamp_gateway and vamp_deployment alike.
// routeWeightAttribute and its siblings take the validators to run: vamp_gateway checks its
// routes with them, vamp_deployment with blueprint.Validate (one message per fault).
func routeWeightAttribute(validators ...validator.Int64) schema.Int64Attribute {
	return schema.Int64Attribute{
		MarkdownDescription: "The share of the traffic not taken by a condition, in whole percent (0..100). " +
			"The weights of a gateway sum to 100, or are all 0 (then only conditional traffic is served). " +
			"Not stated: an even split when no route states one (remainder to the first), else 0.",
		Optional:   true,
		Computed:   true,
		Validators: validators,
	}
}

func routeConditionAttribute(validators ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "A condition such as `user-agent == Firefox`: a matching request takes this route with probability `condition_strength`. " +
			"See the conditions guide for the language.",
		Optional:   true,
		Validators: validators,
	}
}

func routeStrengthAttribute(validators ...validator.Int64) schema.Int64Attribute {
	return schema.Int64Attribute{
		MarkdownDescription: "The percentage (0..100) of requests matching `condition` that this route takes. Default 100 with a condition.",
		Optional:            true,
		Computed:            true,
		Validators:          validators,
	}
}

var pathPattern = regexp.MustCompile(`^/`)

func durationAttribute(description, def string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: description + " A duration such as `" + def + "` (default).",
		Optional:            true,
		Computed:            true,
		Default:             stringdefault.StaticString(def),
		Validators:          []validator.String{durationValidator{}},
	}
}

// durationValidator checks a Go duration ("10s", "500ms").
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "must be a duration such as `10s` or `500ms`"
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d < 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			"Attribute "+req.Path.String()+": "+quote(req.ConfigValue.ValueString())+" is not a duration: write it like \"10s\" or \"500ms\".")
	}
}

// fillWeights completes stated weights the way Vamp does: none stated → an even split with the
// remainder to the first; some stated → the others get 0. ok is false while a weight is unknown.
func fillWeights(stated []types.Int64) (weights []int64, ok bool) {
	weights = make([]int64, len(stated))
	anyStated := false
	for i, w := range stated {
		if w.IsUnknown() {
			return nil, false
		}
		if !w.IsNull() {
			anyStated = true
			weights[i] = w.ValueInt64()
		}
	}
	if !anyStated && len(stated) > 0 {
		n := int64(len(stated))
		for i := range weights {
			weights[i] = 100 / n
		}
		weights[0] += 100 % n
	}
	return weights, true
}

// checkWeightSum reports weights that neither sum to 100 nor are all 0, at p.
func checkWeightSum(stated []types.Int64, p path.Path, label func(i int) string, diags *diag.Diagnostics) {
	weights, ok := fillWeights(stated)
	if !ok {
		return
	}
	var sum int64
	parts := make([]string, len(weights))
	for i, w := range weights {
		sum += w
		parts[i] = label(i) + " = " + strconv.FormatInt(w, 10)
	}
	if sum != 100 && sum != 0 {
		diags.AddAttributeError(p, "Route weights do not sum to 100",
			fmt.Sprintf("Attribute "+p.String()+": the weights sum to %d (%s). Change them so they sum to 100, or set all to 0 to serve only conditional traffic.",
				sum, strings.Join(parts, ", ")))
	}
}

// effectiveStrength is the strength the plan shows: the stated one, else 100 with a condition.
func effectiveStrength(condition types.String, stated types.Int64) types.Int64 {
	switch {
	case !stated.IsNull():
		return stated
	case condition.IsUnknown():
		return types.Int64Unknown()
	case condition.IsNull():
		return types.Int64Null()
	default:
		return types.Int64Value(100)
	}
}

func intPointer(v types.Int64) *int {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	i := int(v.ValueInt64())
	return &i
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func listOfStrings(ctx context.Context, values []string, diags *diag.Diagnostics) types.List {
	list, d := types.ListValueFrom(ctx, types.StringType, values)
	diags.Append(d...)
	return list
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

var objectAsOptions = basetypes.ObjectAsOptions{}

// timeoutsAttrTypes is the object type of a `timeouts { create, update, delete }` block.
func timeoutsAttrTypes(context.Context) map[string]attr.Type {
	return map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType}
}
