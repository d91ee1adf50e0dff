package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
)

// Environment variables that stand in for the marathon block's attributes. MARATHON_URL alone
// selects the Marathon runtime.
const (
	EnvMarathonURL      = "MARATHON_URL"
	EnvMarathonUsername = "MARATHON_USERNAME"
	EnvMarathonPassword = "MARATHON_PASSWORD"
	EnvDCOSToken        = "DCOS_TOKEN"
)

// Defaults of the marathon block.
const (
	defaultMarathonRequestTimeout = 30 * time.Second
	defaultMarathonPollInterval   = time.Second
)

// marathonBlock selects the Marathon runtime: every service variant becomes a Marathon app and
// the cluster gateways route to its tasks (the gateway follows them, see gatewayimage/marathon.go).
type marathonBlock struct{}

type marathonBlockModel struct {
	URL               types.String `tfsdk:"url"`
	Username          types.String `tfsdk:"username"`
	Password          types.String `tfsdk:"password"`
	DCOSToken         types.String `tfsdk:"dcos_token"`
	RequestTimeout    types.String `tfsdk:"request_timeout"`
	PollInterval      types.String `tfsdk:"poll_interval"`
	Group             types.String `tfsdk:"group"`
	ForceOnLock       types.Bool   `tfsdk:"force_on_lock"`
	RollbackOnFailure types.Bool   `tfsdk:"rollback_on_failure"`
}

func (marathonBlock) blockName() string { return "marathon" }

func (marathonBlock) schema() schema.Block {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Runs service variants on Marathon (DC/OS): one app per variant, `/<group>/<deployment>/<cluster>/<breed>`. " +
			"The block, or the `" + EnvMarathonURL + "` environment variable alone, selects the Marathon runtime; without either, " +
			"services run on the local dev runtime. The gateway must be started with `--marathon-url` to route to the apps' tasks.",
		Attributes: map[string]schema.Attribute{
			"url": schema.StringAttribute{
				MarkdownDescription: "Marathon's base URL: `http://marathon.mesos:8080` inside the cluster, or `https://<cluster>` with `dcos_token` " +
					"(the client then adds `/marathon`). Falls back to `" + EnvMarathonURL + "`.",
				Optional: true,
			},
			"username": schema.StringAttribute{
				MarkdownDescription: "HTTP basic auth user. Falls back to `" + EnvMarathonUsername + "`.",
				Optional:            true,
			},
			"password": schema.StringAttribute{
				MarkdownDescription: "HTTP basic auth password. Falls back to `" + EnvMarathonPassword + "`.",
				Optional:            true,
				Sensitive:           true,
			},
			"dcos_token": schema.StringAttribute{
				MarkdownDescription: "DC/OS authentication token (sent as `Authorization: token=...`). Falls back to `" + EnvDCOSToken + "`.",
				Optional:            true,
				Sensitive:           true,
			},
			"request_timeout": schema.StringAttribute{
				MarkdownDescription: "Timeout of each request to Marathon, a Go duration. Default `30s`. How long a deployment may take is the " +
					"deployment's `timeouts` block.",
				Optional: true,
			},
			"poll_interval": schema.StringAttribute{
				MarkdownDescription: "How often a deployment's progress is polled while `terraform apply` waits for it. Default `1s`.",
				Optional:            true,
			},
			"group": schema.StringAttribute{
				MarkdownDescription: "The Marathon group that holds every deployment's apps. Default `" + marathon.DefaultGroup + "`.",
				Optional:            true,
			},
			"force_on_lock": schema.BoolAttribute{
				MarkdownDescription: "When an app is locked by a running Marathon deployment (409), force the change (`?force=true`), " +
					"which cancels that deployment. Default `false`: wait for it to finish, up to the deployment's timeout.",
				Optional: true,
			},
			"rollback_on_failure": schema.BoolAttribute{
				MarkdownDescription: "When a deployment fails or times out (e.g. health checks never pass), cancel it so that Marathon " +
					"restores the previous version (or removes a new app). Default `true`.",
				Optional: true,
			},
		},
	}
}

func (marathonBlock) configure(ctx context.Context, config tfsdk.Config, data *ProviderData) diag.Diagnostics {
	var m *marathonBlockModel
	root := path.Root("marathon")
	diags := config.GetAttribute(ctx, root, &m)
	if diags.HasError() {
		return diags
	}
	if m == nil {
		if os.Getenv(EnvMarathonURL) == "" {
			return diags // the local dev runtime
		}
		m = &marathonBlockModel{}
	}
	for _, v := range []types.String{m.URL, m.Username, m.Password, m.DCOSToken, m.RequestTimeout, m.PollInterval, m.Group} {
		if v.IsUnknown() {
			diags.AddAttributeError(root, "Marathon settings not known yet",
				"A setting of the marathon block depends on a value that is only known after apply. Apply the resources it depends "+
					"on first (terraform apply -target=...), or set "+EnvMarathonURL+" and the credentials in the environment.")
			return diags
		}
	}
	if m.ForceOnLock.IsUnknown() || m.RollbackOnFailure.IsUnknown() {
		diags.AddAttributeError(root, "Marathon settings not known yet", "force_on_lock and rollback_on_failure must be known at plan time.")
		return diags
	}

	conn := marathon.Connection{
		URL:      firstNonEmpty(m.URL.ValueString(), os.Getenv(EnvMarathonURL)),
		Username: firstNonEmpty(m.Username.ValueString(), os.Getenv(EnvMarathonUsername)),
		Password: firstNonEmpty(m.Password.ValueString(), os.Getenv(EnvMarathonPassword)),
		Token:    firstNonEmpty(m.DCOSToken.ValueString(), os.Getenv(EnvDCOSToken)),
	}
	if conn.URL == "" {
		diags.AddAttributeError(root.AtName("url"), "Marathon URL missing",
			"The marathon block selects the Marathon runtime but has no url. Set url (e.g. \"http://marathon.mesos:8080\") or "+EnvMarathonURL+
				", or remove the block to use the local dev runtime.")
		return diags
	}
	if u, err := url.Parse(conn.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		diags.AddAttributeError(root.AtName("url"), "Invalid Marathon URL",
			"The Marathon URL "+quote(conn.URL)+" is not an http(s) URL with a host. Write it like http://marathon.mesos:8080 or https://my-dcos-cluster.")
		return diags
	}
	if (conn.Username == "") != (conn.Password == "") {
		diags.AddAttributeError(root.AtName("password"), "Incomplete Marathon basic auth",
			"HTTP basic auth needs both username and password (or "+EnvMarathonUsername+" and "+EnvMarathonPassword+"); set the missing one or neither.")
		return diags
	}
	var err error
	if conn.Timeout, err = positiveDuration(m.RequestTimeout, defaultMarathonRequestTimeout); err != nil {
		diags.AddAttributeError(root.AtName("request_timeout"), "Invalid request_timeout", err.Error())
	}
	opts := marathon.Options{
		Group:       firstNonEmpty(m.Group.ValueString(), marathon.DefaultGroup),
		ForceOnLock: m.ForceOnLock.ValueBool(),
		KeepFailed:  !m.RollbackOnFailure.IsNull() && !m.RollbackOnFailure.ValueBool(),
	}
	if opts.PollInterval, err = positiveDuration(m.PollInterval, defaultMarathonPollInterval); err != nil {
		diags.AddAttributeError(root.AtName("poll_interval"), "Invalid poll_interval", err.Error())
	}
	if _, err := marathon.AppID(opts.Group, "d/c/b"); err != nil {
		diags.AddAttributeError(root.AtName("group"), "Invalid Marathon group", err.Error())
	}
	if diags.HasError() {
		return diags
	}
	client, err := marathon.Connect(conn)
	if err != nil {
		diags.AddAttributeError(root.AtName("url"), "Cannot set up the Marathon client", err.Error())
		return diags
	}
	data.Runtime = marathon.New(client, opts)
	return diags
}

func positiveDuration(v types.String, def time.Duration) (time.Duration, error) {
	if v.IsNull() || v.ValueString() == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v.ValueString())
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration; write it like \"30s\" or \"2m\"", v.ValueString())
	}
	return d, nil
}

// runtimeFieldErrors are the faults that only the selected runtime sees in a normalized
// blueprint, at plan time. On Marathon: names that cannot become app id segments (at the
// attribute that holds the name), two services that map to one app, and anything else that
// stops their app definitions from being built (port names, health checks, the marathon
// dialect).
func runtimeFieldErrors(data *ProviderData, bp *blueprint.Blueprint) []*blueprint.FieldError {
	if data == nil {
		return nil
	}
	driver, ok := data.Runtime.(*marathon.Driver)
	if !ok {
		return nil
	}
	var out []*blueprint.FieldError
	owners := map[string]string{} // app id -> service id
	for _, cname := range slices.Sorted(maps.Keys(bp.Clusters)) {
		for i, s := range bp.Clusters[cname].Services {
			svcPath := blueprint.Path{}.Attr("clusters").Key(cname).Attr("services").Index(i)
			rs := deployplan.RuntimeService(bp.Name, cname, s)
			appID, err := driver.AppID(rs.ID)
			var idErr *marathon.IDError
			if errors.As(err, &idErr) {
				if fe := idFieldError(idErr, cname, svcPath); fe != nil && !slices.ContainsFunc(out, func(o *blueprint.FieldError) bool { return o.Path.String() == fe.Path.String() }) {
					out = append(out, fe)
				}
				continue
			}
			if owner, taken := owners[appID]; taken {
				out = append(out, &blueprint.FieldError{
					Path: svcPath.Attr("breed").Attr("name"), Summary: "Two services map to one Marathon app",
					Detail: fmt.Sprintf("%s and %s both become the Marathon app %s (names are lower-cased and characters Marathon does not allow become '-'); rename one of them",
						owner, rs.ID, appID),
				})
				continue
			}
			owners[appID] = rs.ID
			if _, err := marathon.BuildApp(driver.Group(), rs); err != nil {
				out = append(out, &blueprint.FieldError{Path: svcPath, Summary: "Invalid Marathon app definition", Detail: err.Error()})
			}
		}
	}
	return out
}

// idFieldError puts an app id fault on the attribute that holds the name.
func idFieldError(e *marathon.IDError, cluster string, svcPath blueprint.Path) *blueprint.FieldError {
	fe := &blueprint.FieldError{Summary: "Name not allowed in a Marathon app id", Detail: e.Error()}
	switch e.Part {
	case marathon.PartDeployment:
		fe.Path = blueprint.Path{}.Attr("name")
	case marathon.PartCluster:
		fe.Path = blueprint.Path{}.Attr("clusters").Key(cluster)
	case marathon.PartBreed:
		fe.Path = svcPath.Attr("breed").Attr("name")
	default:
		return nil // the group: reported by the provider block
	}
	return fe
}
