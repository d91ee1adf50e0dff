package provider

import (
	"context"
	"net/http"
	"net/url"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// Environment variables that stand in for the gateway block's attributes.
const (
	EnvGatewayURL   = "VAMP_GATEWAY_URL"
	EnvGatewayToken = "VAMP_GATEWAY_TOKEN"
	// DefaultGatewayURL is the admin API of `vamp-gateway dev` on this machine.
	DefaultGatewayURL = "http://127.0.0.1:9900"
)

// gatewayBlock configures the gateway admin API client (the local dev runtime shares it).
type gatewayBlock struct{}

type gatewayBlockModel struct {
	URL   types.String `tfsdk:"url"`
	Token types.String `tfsdk:"token"`
	Host  types.String `tfsdk:"host"`
}

func (gatewayBlock) blockName() string { return "gateway" }

func (gatewayBlock) schema() schema.Block {
	return schema.SingleNestedBlock{
		MarkdownDescription: "The gateway's admin API. The local dev runtime (`vamp-gateway dev`) serves its " +
			"services API on the same address with the same token.",
		Attributes: map[string]schema.Attribute{
			"url": schema.StringAttribute{
				MarkdownDescription: "Base URL of the admin API. Falls back to `" + EnvGatewayURL + "`, then `" + DefaultGatewayURL + "`.",
				Optional:            true,
			},
			"token": schema.StringAttribute{
				MarkdownDescription: "Bearer token of the admin API. Falls back to `" + EnvGatewayToken + "`.",
				Optional:            true,
				Sensitive:           true,
			},
			"host": schema.StringAttribute{
				MarkdownDescription: "The host (name or IP address) at which services reach the gateway's ports: what a dependency " +
					"reference `$backend.host` in a service's environment variable becomes (`$backend.ports.NAME` becomes the port of " +
					"the dependency's cluster gateway). Defaults to the host of `url`, right for the local dev runtime; on Marathon give " +
					"the address the gateway's ports have inside the cluster (e.g. the internal load balancer's).",
				Optional: true,
			},
		},
	}
}

func (gatewayBlock) configure(ctx context.Context, config tfsdk.Config, data *ProviderData) diag.Diagnostics {
	var m *gatewayBlockModel
	diags := config.GetAttribute(ctx, path.Root("gateway"), &m)
	if diags.HasError() {
		return diags
	}
	if m == nil {
		m = &gatewayBlockModel{}
	}
	if m.URL.IsUnknown() || m.Token.IsUnknown() || m.Host.IsUnknown() {
		diags.AddAttributeError(path.Root("gateway"), "Gateway settings not known yet",
			"The gateway block's url or token depends on a value that is only known after apply. "+
				"Apply the resources it depends on first (terraform apply -target=...), or set "+EnvGatewayURL+" and "+EnvGatewayToken+".")
		return diags
	}
	rawURL := firstNonEmpty(m.URL.ValueString(), os.Getenv(EnvGatewayURL), DefaultGatewayURL)
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		diags.AddAttributeError(path.Root("gateway").AtName("url"), "Invalid gateway URL",
			"The gateway admin API URL "+quote(rawURL)+" is not an http(s) URL with a host. Write it like "+DefaultGatewayURL+".")
		return diags
	}
	data.Admin = &gatewayapi.Client{
		BaseURL: rawURL,
		Token:   firstNonEmpty(m.Token.ValueString(), os.Getenv(EnvGatewayToken)),
		// No fixed timeout: each request is bounded by its operation's context (the resource's
		// `timeouts`), or by the client's RequestTimeout when the operation has no deadline.
		HTTP: &http.Client{},
	}
	data.Gateway = adminGateways{data.Admin}
	data.GatewayHost = firstNonEmpty(m.Host.ValueString(), u.Hostname())
	return diags
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
