package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// addAPIError turns an admin API failure into a diagnostic with a title and what to do about it.
// what names the object, e.g. `gateway "sava/9050"`.
func addAPIError(diags *diag.Diagnostics, action, what string, err error) {
	if addStoreError(diags, action, what, err) {
		return
	}
	var apiErr *gatewayapi.APIError
	if !errors.As(err, &apiErr) {
		diags.AddError("Cannot reach the gateway admin API",
			fmt.Sprintf("%s %s: %v\n\nIs the gateway running (`vamp-gateway dev` for the local dev runtime)? "+
				"Check the provider's gateway.url or %s.", action, what, err, EnvGatewayURL))
		return
	}
	switch apiErr.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		diags.AddError("The gateway admin API refused the token",
			fmt.Sprintf("%s %s: %s\n\nSet the provider's gateway.token or %s to the gateway's admin token.",
				action, what, apiErr.Body.Error, EnvGatewayToken))
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		where := ""
		if apiErr.Body.Path != "" {
			where = " at " + apiErr.Body.Path
		}
		diags.AddError("The gateway refused "+what,
			fmt.Sprintf("%s %s: %s%s.\n\nNothing was changed on the gateway; correct the configuration and apply again.",
				action, what, apiErr.Body.Error, where))
	default:
		diags.AddError("The gateway admin API failed",
			fmt.Sprintf("%s %s: HTTP %d: %s", action, what, apiErr.Status, apiErr.Body.Error))
	}
}

func quote(s string) string { return strconv.Quote(s) }

// addAttrError is diags.AddAttributeError at the deepest part of p that Terraform can point at
// in the configuration (locatable); the detail should name the whole path.
func addAttrError(diags *diag.Diagnostics, p path.Path, summary, detail string) {
	diags.AddAttributeError(locatable(p), summary, detail)
}

// locatable is p cut to what Terraform (1.5) finds in a resource's configuration: an attribute
// of the resource and one map key or list index into its value. A deeper path into a nested
// attribute is not resolved, and the diagnostic then points at the resource's first line; cut,
// it points at the element (e.g. the cluster in `clusters = { sava_cluster = {...} }`).
func locatable(p path.Path) path.Path {
	steps := p.Steps()
	if len(steps) <= 2 {
		return p
	}
	root, ok := steps[0].(path.PathStepAttributeName)
	if !ok {
		return p
	}
	out := path.Root(string(root))
	switch s := steps[1].(type) {
	case path.PathStepElementKeyString:
		out = out.AtMapKey(string(s))
	case path.PathStepElementKeyInt:
		out = out.AtListIndex(int(s))
	}
	return out
}
