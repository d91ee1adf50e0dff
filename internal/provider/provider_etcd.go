package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewaystore"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// Environment variables that stand in for the etcd block's attributes. VAMP_ETCD_ENDPOINTS
// alone selects etcd when no gateway block sets a url or token.
const (
	EnvEtcdEndpoints = "VAMP_ETCD_ENDPOINTS"
	EnvEtcdPrefix    = "VAMP_ETCD_PREFIX"
)

// etcdDialTimeout bounds connecting to etcd; each read and write is bounded by its operation.
const etcdDialTimeout = 5 * time.Second

// etcdBlock writes the gateways to etcd, which every gateway replica follows (store mode,
// internal/gatewaystore), instead of one gateway's admin API.
type etcdBlock struct{}

type etcdBlockModel struct {
	Endpoints types.List   `tfsdk:"endpoints"`
	Prefix    types.String `tfsdk:"prefix"`
	Replicas  types.List   `tfsdk:"replicas"`
	CAFile    types.String `tfsdk:"ca_file"`
	CertFile  types.String `tfsdk:"cert_file"`
	KeyFile   types.String `tfsdk:"key_file"`
	CAPEM     types.String `tfsdk:"ca_pem"`
	CertPEM   types.String `tfsdk:"cert_pem"`
	KeyPEM    types.String `tfsdk:"key_pem"`
}

func (etcdBlock) blockName() string { return "etcd" }

func (etcdBlock) schema() schema.Block {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Writes the gateways to etcd, which every gateway replica follows (`vamp-gateway --etcd-endpoints`), " +
			"instead of one gateway's admin API: an alternative to the `gateway` block's `url` (set one of them). " +
			"A change of several gateways is one etcd transaction that compares each gateway's revision with the one this plan read, " +
			"so a change another writer made in between fails the apply instead of being overwritten. " +
			"The apply then waits, within the resource's `timeouts`, until every live replica has applied the change, and fails " +
			"naming a replica that rejected it (the change is taken out again) or did not catch up.",
		Attributes: map[string]schema.Attribute{
			"endpoints": schema.ListAttribute{
				ElementType: types.StringType,
				MarkdownDescription: "etcd's client URLs, e.g. `[\"https://10.0.0.5:2379\"]`. Falls back to `" + EnvEtcdEndpoints +
					"` (comma-separated).",
				Optional: true,
			},
			"prefix": schema.StringAttribute{
				MarkdownDescription: "The prefix of every key, the replicas' `--etcd-prefix`. Falls back to `" + EnvEtcdPrefix +
					"`, then `" + gatewaystore.DefaultPrefix + "`. Starts with `/` and does not end with one.",
				Optional: true,
			},
			"replicas": schema.ListAttribute{
				ElementType: types.StringType,
				MarkdownDescription: "Replica ids (`--replica-id`) that must acknowledge every change, running or not: an apply fails " +
					"naming one that is not running. Without it, the apply waits for the replicas that run (their keys live on a ~10 s lease).",
				Optional: true,
			},
			"ca_file": schema.StringAttribute{
				MarkdownDescription: "PEM file of the CA that etcd's server certificate chains to (TLS). Or `ca_pem`.",
				Optional:            true,
			},
			"cert_file": schema.StringAttribute{
				MarkdownDescription: "PEM file of a client certificate for etcd, with `key_file`. Or `cert_pem`.",
				Optional:            true,
			},
			"key_file": schema.StringAttribute{
				MarkdownDescription: "PEM file of the private key of `cert_file`. Or `key_pem`.",
				Optional:            true,
			},
			"ca_pem": schema.StringAttribute{
				MarkdownDescription: "The CA certificate(s) as PEM text, instead of `ca_file`.",
				Optional:            true,
			},
			"cert_pem": schema.StringAttribute{
				MarkdownDescription: "The client certificate as PEM text, instead of `cert_file`.",
				Optional:            true,
			},
			"key_pem": schema.StringAttribute{
				MarkdownDescription: "The client certificate's private key as PEM text, instead of `key_file`.",
				Optional:            true,
				Sensitive:           true,
			},
		},
	}
}

// gatewayAddressed reports whether the gateway block sets where its admin API is.
func gatewayAddressed(m *gatewayBlockModel) bool {
	return m != nil && (!m.URL.IsNull() || !m.Token.IsNull())
}

// validateEtcd checks the etcd block at plan time: the attributes it can check without
// reaching etcd, and that the gateway block does not address an admin API as well.
func validateEtcd(ctx context.Context, config tfsdk.Config) diag.Diagnostics {
	var gw *gatewayBlockModel
	var m *etcdBlockModel
	diags := config.GetAttribute(ctx, path.Root("gateway"), &gw)
	diags.Append(config.GetAttribute(ctx, path.Root("etcd"), &m)...)
	if diags.HasError() || m == nil {
		return diags
	}
	root := path.Root("etcd")
	if gatewayAddressed(gw) {
		diags.AddAttributeError(root, "Both gateway and etcd blocks are set",
			"The provider writes the gateways either to one gateway's admin API (the gateway block's url and token) or to etcd, "+
				"which every replica follows (the etcd block); both are set. Remove the etcd block to program one gateway, or remove "+
				"url and token from the gateway block to program the replicas through etcd (the gateway block may keep host).")
	}
	if !m.Endpoints.IsNull() && !m.Endpoints.IsUnknown() {
		if len(m.Endpoints.Elements()) == 0 {
			diags.AddAttributeError(root.AtName("endpoints"), "No etcd endpoint",
				"etcd.endpoints is empty. List etcd's client URLs, e.g. [\"https://10.0.0.5:2379\"], or leave the attribute out to use "+EnvEtcdEndpoints+".")
		}
		for i, v := range m.Endpoints.Elements() {
			s, ok := v.(types.String)
			if !ok || s.IsUnknown() {
				continue
			}
			if err := checkEtcdEndpoint(s.ValueString()); err != nil {
				diags.AddAttributeError(root.AtName("endpoints").AtListIndex(i), "Invalid etcd endpoint", err.Error())
			}
		}
	}
	if !m.Prefix.IsNull() && !m.Prefix.IsUnknown() {
		if m.Prefix.ValueString() == "" {
			diags.AddAttributeError(root.AtName("prefix"), "Invalid etcd prefix", "etcd.prefix is empty. Leave it out for "+gatewaystore.DefaultPrefix+", or write one like \"/vamp\".")
		} else if _, err := gatewaystore.NewLayout(m.Prefix.ValueString()); err != nil {
			diags.AddAttributeError(root.AtName("prefix"), "Invalid etcd prefix", err.Error()+". It must be the replicas' --etcd-prefix.")
		}
	}
	if !m.Replicas.IsNull() && !m.Replicas.IsUnknown() {
		for i, v := range m.Replicas.Elements() {
			s, ok := v.(types.String)
			if !ok || s.IsUnknown() {
				continue
			}
			if id := s.ValueString(); id == "" || strings.ContainsAny(id, "/ ") {
				diags.AddAttributeError(root.AtName("replicas").AtListIndex(i), "Invalid replica id",
					fmt.Sprintf("Replica id %q must be a replica's --replica-id: not empty, without \"/\" or spaces.", id))
			}
		}
	}
	pairs := []struct{ file, pem string }{{"ca_file", "ca_pem"}, {"cert_file", "cert_pem"}, {"key_file", "key_pem"}}
	values := map[string]types.String{"ca_file": m.CAFile, "cert_file": m.CertFile, "key_file": m.KeyFile, "ca_pem": m.CAPEM, "cert_pem": m.CertPEM, "key_pem": m.KeyPEM}
	for _, p := range pairs {
		if !values[p.file].IsNull() && !values[p.pem].IsNull() {
			diags.AddAttributeError(root.AtName(p.pem), "Conflicting etcd TLS attributes",
				fmt.Sprintf("etcd.%s and etcd.%s are both set; give the PEM either as a file or as text, not both.", p.file, p.pem))
		}
	}
	hasCert := !m.CertFile.IsNull() || !m.CertPEM.IsNull()
	hasKey := !m.KeyFile.IsNull() || !m.KeyPEM.IsNull()
	if hasCert != hasKey {
		diags.AddAttributeError(root, "Incomplete etcd client certificate",
			"A client certificate needs its key: set cert_file with key_file (or cert_pem with key_pem), or neither.")
	}
	return diags
}

func checkEtcdEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("etcd endpoint %q is not an http(s) URL with a host and port and no path; write it like https://10.0.0.5:2379", raw)
	}
	return nil
}

func (etcdBlock) configure(ctx context.Context, config tfsdk.Config, data *ProviderData) diag.Diagnostics {
	var gw *gatewayBlockModel
	var m *etcdBlockModel
	diags := config.GetAttribute(ctx, path.Root("gateway"), &gw)
	diags.Append(config.GetAttribute(ctx, path.Root("etcd"), &m)...)
	if diags.HasError() {
		return diags
	}
	root := path.Root("etcd")
	envEndpoints := os.Getenv(EnvEtcdEndpoints)
	if m == nil {
		if envEndpoints == "" || gatewayAddressed(gw) {
			return diags // the gateway block's admin API
		}
		m = &etcdBlockModel{Endpoints: types.ListNull(types.StringType), Replicas: types.ListNull(types.StringType)}
	}
	if m.Endpoints.IsUnknown() || m.Prefix.IsUnknown() || m.Replicas.IsUnknown() || m.CAFile.IsUnknown() || m.CertFile.IsUnknown() ||
		m.KeyFile.IsUnknown() || m.CAPEM.IsUnknown() || m.CertPEM.IsUnknown() || m.KeyPEM.IsUnknown() {
		diags.AddAttributeError(root, "etcd settings not known yet",
			"The etcd block depends on a value that is only known after apply. Apply the resources it depends on first "+
				"(terraform apply -target=...), or set "+EnvEtcdEndpoints+".")
		return diags
	}
	var endpoints, replicas []string
	diags.Append(m.Endpoints.ElementsAs(ctx, &endpoints, false)...)
	diags.Append(m.Replicas.ElementsAs(ctx, &replicas, false)...)
	if diags.HasError() {
		return diags
	}
	if len(endpoints) == 0 {
		for _, e := range strings.Split(envEndpoints, ",") {
			if e = strings.TrimSpace(e); e != "" {
				endpoints = append(endpoints, e)
			}
		}
	}
	if len(endpoints) == 0 {
		diags.AddAttributeError(root.AtName("endpoints"), "No etcd endpoint",
			"The etcd block has no endpoints and "+EnvEtcdEndpoints+" is empty. Set etcd.endpoints, e.g. [\"https://10.0.0.5:2379\"].")
		return diags
	}
	for _, e := range endpoints {
		if err := checkEtcdEndpoint(e); err != nil {
			diags.AddAttributeError(root.AtName("endpoints"), "Invalid etcd endpoint", err.Error())
		}
	}
	prefix := firstNonEmpty(m.Prefix.ValueString(), os.Getenv(EnvEtcdPrefix), gatewaystore.DefaultPrefix)
	layout, err := gatewaystore.NewLayout(prefix)
	if err != nil {
		diags.AddAttributeError(root.AtName("prefix"), "Invalid etcd prefix", err.Error()+". Set etcd.prefix or "+EnvEtcdPrefix+" to the replicas' --etcd-prefix.")
	}
	tlsCfg, err := etcdTLS(m)
	if err != nil {
		diags.AddAttributeError(root, "Invalid etcd TLS settings", err.Error())
	}
	if diags.HasError() {
		return diags
	}
	// The client dials lazily: an etcd that is down fails the first read, with the endpoints named.
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: etcdDialTimeout,
		TLS:         tlsCfg,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		diags.AddAttributeError(root.AtName("endpoints"), "Cannot use etcd", fmt.Sprintf("etcd (%s): %v", strings.Join(endpoints, ", "), err))
		return diags
	}
	data.Gateway = &storeGateways{store: gatewaystore.Store{Client: client, Layout: layout}, endpoints: endpoints, want: replicas}
	data.Admin = nil
	return diags
}

// etcdTLS is the TLS configuration of the etcd block; nil without CA and client certificate.
func etcdTLS(m *etcdBlockModel) (*tls.Config, error) {
	read := func(file, pem types.String, what string) ([]byte, error) {
		if !pem.IsNull() {
			return []byte(pem.ValueString()), nil
		}
		if file.IsNull() {
			return nil, nil
		}
		b, err := os.ReadFile(file.ValueString())
		if err != nil {
			return nil, fmt.Errorf("etcd.%s: %w", what, err)
		}
		return b, nil
	}
	ca, err := read(m.CAFile, m.CAPEM, "ca_file")
	if err != nil {
		return nil, err
	}
	cert, err := read(m.CertFile, m.CertPEM, "cert_file")
	if err != nil {
		return nil, err
	}
	key, err := read(m.KeyFile, m.KeyPEM, "key_file")
	if err != nil {
		return nil, err
	}
	if ca == nil && cert == nil && key == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("etcd CA (ca_file or ca_pem) holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if (cert == nil) != (key == nil) {
		return nil, fmt.Errorf("a client certificate needs its key: set cert_file with key_file (or cert_pem with key_pem)")
	}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// noRuntime is the runtime when the gateways are in etcd and no block selects a runtime: the
// local dev runtime lives behind one gateway's admin API, which the etcd mode does not use.
type noRuntime struct{}

var errNoRuntime = errors.New("no runtime runs services: the gateways are in etcd (the provider's etcd block), and the local dev runtime " +
	"is served by one gateway's admin API, which etcd mode does not use. Configure the marathon block (or MARATHON_URL) to run services; " +
	"vamp_gateway resources with addresses need no runtime")

func (noRuntime) Name() string { return "none" }
func (noRuntime) Apply(context.Context, runtime.Service) (runtime.Status, error) {
	return runtime.Status{}, errNoRuntime
}
func (noRuntime) Get(context.Context, string) (runtime.Status, bool, error) {
	return runtime.Status{}, false, nil
}
func (noRuntime) Delete(context.Context, string) error { return nil }
func (noRuntime) List(context.Context, string) ([]runtime.Status, error) {
	return nil, nil
}
