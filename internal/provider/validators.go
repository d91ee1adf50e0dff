package provider

import (
	"context"
	"net"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/vamp-canary/terraform-provider-vamp/internal/condition"
)

// conditionValidator checks a route condition with the gateway's own parser, so a condition the
// gateway would refuse fails at plan.
type conditionValidator struct{}

func (conditionValidator) Description(context.Context) string {
	return "must be a condition of the condition language, e.g. `user-agent == Firefox`"
}

func (v conditionValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (conditionValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := condition.Parse(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid condition",
			"Attribute "+req.Path.String()+": "+quote(req.ConfigValue.ValueString())+": "+err.Error()+
				". Conditions look like `user-agent == Firefox`, `host != localhost`, `has cookie vamp`.")
	}
}

// hostPortValidator checks a static address "host:port".
type hostPortValidator struct{}

func (hostPortValidator) Description(context.Context) string {
	return "must be an address `host:port` with a port from 1 to 65535"
}

func (v hostPortValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (hostPortValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, _, err := splitHostPort(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid address", "Attribute "+req.Path.String()+": "+err.Error())
	}
}

func splitHostPort(s string) (string, int, error) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", 0, &addressError{s}
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, &addressError{s}
	}
	return host, port, nil
}

type addressError struct{ address string }

func (e *addressError) Error() string {
	return quote(e.address) + " is not an address: write it as host:port with a port from 1 to 65535, e.g. \"127.0.0.1:8080\""
}
