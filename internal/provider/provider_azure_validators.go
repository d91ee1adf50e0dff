package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

// azureIDValidator runs one of internal/azure's checks at plan time, so that a malformed id or
// name fails at `terraform plan` with the same message the apply would give.
type azureIDValidator struct {
	what  string
	check func(field, value string) error
}

// azureCheck adapts a parser that also returns the parsed value.
func azureCheck[T any](parse func(field, s string) (T, error)) func(field, value string) error {
	return func(field, value string) error { _, err := parse(field, value); return err }
}

func (v azureIDValidator) Description(context.Context) string {
	return "must be a valid Azure " + v.what
}

func (v azureIDValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v azureIDValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.Path.String(), req.ConfigValue.ValueString()); err != nil {
		msg := err.Error()
		if fe, ok := err.(*azure.FieldError); ok {
			msg = "Attribute " + fe.Field + ": " + fe.Msg
		}
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Azure "+v.what, msg)
	}
}

// stringSetCheck runs one of internal/azure's list checks on a set of strings at plan time. The
// check also sees a null set (as empty): source_address_prefixes is required through it, with a
// message that says how to open a port to the world, which Terraform's "required" cannot say.
type stringSetCheck struct {
	title     string
	check     func(field string, values []string) error
	allowNull bool // an attribute left out is fine (it has a default); an empty list is still checked
}

func (v stringSetCheck) Description(context.Context) string { return v.title }

func (v stringSetCheck) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v stringSetCheck) ValidateSet(ctx context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsUnknown() || (v.allowNull && req.ConfigValue.IsNull()) {
		return
	}
	var elems []types.String
	resp.Diagnostics.Append(req.ConfigValue.ElementsAs(ctx, &elems, false)...)
	values := make([]string, 0, len(elems))
	for _, e := range elems {
		if e.IsUnknown() {
			return
		}
		values = append(values, e.ValueString())
	}
	err := v.check(req.Path.String(), values)
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		resp.Diagnostics.AddAttributeError(req.Path, v.title, "Attribute "+e.Error())
	}
}
