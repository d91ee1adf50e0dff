package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/metricsource"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// A roll-out on a cluster gateway (clusters[c].gateways[port].rollout). The provider sends the
// policy with the gateway's PUT; the gateway runs it. State model (templates/guides/rollouts.md.tmpl):
// while the gateway runs the same policy, the roll-out owns the weights of the gateway's routes,
// so Read keeps the configured weights in state and shows the live ones in rollout_status.

// Defaults of the optional roll-out attributes.
const (
	defaultRolloutInterval    = "1m"
	defaultRolloutMinRequests = 20
	defaultRolloutMax5xxRate  = 0.01
)

// rolloutPollInterval is how often an apply that waits for a promotion asks the gateway.
var rolloutPollInterval = 500 * time.Millisecond

type rolloutModel struct {
	Canary           types.String     `tfsdk:"canary"`
	Stable           []string         `tfsdk:"stable"`
	Steps            []int64          `tfsdk:"steps"`
	StepWeight       types.Int64      `tfsdk:"step_weight"`
	MaxWeight        types.Int64      `tfsdk:"max_weight"`
	Interval         types.String     `tfsdk:"interval"`
	Max5xxRate       types.Float64    `tfsdk:"max_5xx_rate"`
	MaxP99           types.String     `tfsdk:"max_p99"`
	MinRequests      types.Int64      `tfsdk:"min_requests"`
	MaxWaitIntervals types.Int64      `tfsdk:"max_wait_intervals"`
	Judge            types.String     `tfsdk:"judge"`
	Confidence       types.Float64    `tfsdk:"confidence"`
	MinEffect        types.Float64    `tfsdk:"min_effect"`
	Webhooks         []webhookModel   `tfsdk:"webhooks"`
	Prometheus       *prometheusModel `tfsdk:"prometheus"`
	WaitForPromotion types.Bool       `tfsdk:"wait_for_promotion"`
	WaitTimeout      types.String     `tfsdk:"wait_timeout"`
}

type webhookModel struct {
	Name     types.String      `tfsdk:"name"`
	Type     types.String      `tfsdk:"type"`
	URL      types.String      `tfsdk:"url"`
	Timeout  types.String      `tfsdk:"timeout"`
	Metadata map[string]string `tfsdk:"metadata"`
}

type prometheusModel struct {
	URL       types.String `tfsdk:"url"`
	Requests  types.String `tfsdk:"requests"`
	Errors5xx types.String `tfsdk:"errors_5xx"`
	ErrorRate types.String `tfsdk:"error_rate"`
	P99       types.String `tfsdk:"p99"`
}

func rolloutAttribute() schema.SingleNestedAttribute {
	str := func(description string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: description, Optional: true}
	}
	return schema.SingleNestedAttribute{
		MarkdownDescription: "A progressive roll-out of one variant, run by the gateway: the canary's weight steps up while its own traffic stays healthy; " +
			"a failed check rolls it back at once (canary 0, the stable variants restored). While the same policy stands, the roll-out owns this gateway's weights. " +
			"See the roll-outs guide.",
		Optional: true,
		Attributes: map[string]schema.Attribute{
			"canary": str("The service (breed name) that rolls out, e.g. `sava:1.1.0`. Required."),
			"stable": schema.ListAttribute{
				MarkdownDescription: "The services to roll back to; default: every other service of the gateway. With several, they keep their relative weights.",
				Optional:            true, ElementType: types.StringType,
			},
			"steps": schema.ListAttribute{
				MarkdownDescription: "The canary's weights in increasing order, e.g. `[10, 25, 50, 100]`. Or `step_weight`.",
				Optional:            true, ElementType: types.Int64Type,
				Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueInt64sAre(int64validator.Between(1, 100))},
			},
			"step_weight": schema.Int64Attribute{
				MarkdownDescription: "Instead of `steps`: the weight added per step (`step_weight`, 2×`step_weight`, ... up to `max_weight`).",
				Optional:            true, Validators: []validator.Int64{int64validator.Between(1, 100)},
			},
			"max_weight": schema.Int64Attribute{
				MarkdownDescription: "With `step_weight`: the canary's last weight, default 100.",
				Optional:            true, Validators: []validator.Int64{int64validator.Between(1, 100)},
			},
			"interval": str("How long each step is held and measured, default `" + defaultRolloutInterval + "`."),
			"max_5xx_rate": schema.Float64Attribute{
				MarkdownDescription: "The highest acceptable fraction of 5xx answers of the canary in a step, default `0.01` (1%).",
				Optional:            true, Validators: []validator.Float64{float64validator.Between(0, 1)},
			},
			"max_p99": str("The highest acceptable 99th percentile latency of the canary, e.g. `500ms`; unset: no latency check."),
			"min_requests": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("Canary requests a step needs before it is judged, default %d.", defaultRolloutMinRequests),
				Optional:            true, Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"max_wait_intervals": schema.Int64Attribute{
				MarkdownDescription: "A step still short of `min_requests` this many intervals after its own interval ended is rolled back; default 0: wait for traffic without a bound.",
				Optional:            true, Validators: []validator.Int64{int64validator.AtLeast(0)},
			},
			"judge": schema.StringAttribute{
				MarkdownDescription: "How a step is decided: `threshold` (default: the canary's own 5xx rate and p99 against `max_5xx_rate` and `max_p99`, at every tick) or " +
					"`statistical` (at the end of each interval, the canary's 5xx rate against the stable services' over the same window by a two-proportion test: " +
					"worse with `confidence` rolls back, shown not worse by `min_effect` passes, otherwise the step waits, up to `max_wait_intervals`). See the roll-outs guide.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.OneOf(rollout.JudgeThreshold, rollout.JudgeStatistical)},
			},
			"confidence": schema.Float64Attribute{
				MarkdownDescription: "With `judge = \"statistical\"`: the chance that no step of the roll-out gets a wrong verdict, default `0.95`.",
				Optional:            true, Validators: []validator.Float64{float64validator.Between(0.5, 0.999999)},
			},
			"min_effect": schema.Float64Attribute{
				MarkdownDescription: "With `judge = \"statistical\"`: the increase of the 5xx rate over the baseline a step must rule out to pass, absolute (`0.01` = one percentage point, the default).",
				Optional:            true, Validators: []validator.Float64{float64validator.Between(0.000001, 0.999999)},
			},
			"webhooks": schema.ListNestedAttribute{
				MarkdownDescription: "HTTP endpoints that get a JSON POST: `pre-rollout` (must answer 2xx, or the roll-out fails without moving traffic), `step`, `rollback`, `promotion`.",
				Optional:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":     str("Unique name of the webhook. Required."),
					"type":     str("`pre-rollout`, `step`, `rollback` or `promotion`. Required."),
					"url":      str("An absolute http(s) URL. Required."),
					"timeout":  str("Time the call may take, default `10s`."),
					"metadata": schema.MapAttribute{MarkdownDescription: "Passed through in the payload.", Optional: true, ElementType: types.StringType},
				}},
			},
			"prometheus": schema.SingleNestedAttribute{
				MarkdownDescription: "Judge the canary on a Prometheus server's numbers instead of the gateway's own counters: PromQL templates with `{{gateway}}`, `{{route}}` and `{{window}}`. " +
					"Unset queries read the gateway's own series (`vamp_gateway_requests_total`, `vamp_gateway_request_duration_seconds`).",
				Optional: true,
				Attributes: map[string]schema.Attribute{
					"url":        str("The Prometheus server, e.g. `http://prometheus:9090`. Required."),
					"requests":   str("Query: the canary's requests in the window."),
					"errors_5xx": str("Query: its 5xx answers in the window (or `error_rate`)."),
					"error_rate": str("Query: its fraction of 5xx answers (instead of `errors_5xx`)."),
					"p99":        str("Query: its p99 latency in seconds."),
				},
			},
			"wait_for_promotion": schema.BoolAttribute{
				MarkdownDescription: "Make the apply wait until the canary is promoted; a roll-back (or a refused start) fails the apply with its reason.",
				Optional:            true,
			},
			"wait_timeout": str("With `wait_for_promotion`: how long to wait, e.g. `30m`; default: until the deployment's create/update timeout."),
		},
	}
}

// rolloutStatusModel is one element of the computed rollout_status.
type rolloutStatusModel struct {
	Canary  types.String `tfsdk:"canary"`
	Phase   types.String `tfsdk:"phase"`
	Step    types.Int64  `tfsdk:"step"`
	Steps   types.Int64  `tfsdk:"steps"`
	Weight  types.Int64  `tfsdk:"weight"`
	Weights types.Map    `tfsdk:"weights"`
	Reason  types.String `tfsdk:"reason"`
}

var rolloutStatusAttrTypes = map[string]attr.Type{
	"canary": types.StringType, "phase": types.StringType, "step": types.Int64Type, "steps": types.Int64Type,
	"weight": types.Int64Type, "weights": types.MapType{ElemType: types.Int64Type}, "reason": types.StringType,
}

var rolloutStatusType = types.ObjectType{AttrTypes: rolloutStatusAttrTypes}

func rolloutStatusAttribute() schema.MapNestedAttribute {
	computed := func(t attr.Type, description string) schema.Attribute {
		switch t {
		case types.Int64Type:
			return schema.Int64Attribute{MarkdownDescription: description, Computed: true}
		default:
			return schema.StringAttribute{MarkdownDescription: description, Computed: true}
		}
	}
	return schema.MapNestedAttribute{
		MarkdownDescription: "The live progress of each cluster gateway's roll-out, by gateway name (e.g. `sava/sava_cluster/webport`), as last read from the gateway.",
		Computed:            true,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"canary": computed(types.StringType, "The canary service."),
			"phase":  computed(types.StringType, "`pending`, `progressing`, `promoted`, `rolled_back` or `failed`."),
			"step":   computed(types.Int64Type, "The current step, 1-based (0 before the start)."),
			"steps":  computed(types.Int64Type, "How many steps the roll-out has."),
			"weight": computed(types.Int64Type, "The canary's live weight."),
			"weights": schema.MapAttribute{
				MarkdownDescription: "The live weights of the roll-out's services (the configured weights stay in `clusters`).",
				Computed:            true, ElementType: types.Int64Type,
			},
			"reason": computed(types.StringType, "Why the roll-out is where it is, e.g. the failed check of a roll-back."),
		}},
	}
}

// clusterRollout is one configured roll-out with where it is.
type clusterRollout struct {
	cluster, port, gateway string
	model                  *rolloutModel
}

func (c clusterRollout) attrPath() path.Path {
	return path.Root("clusters").AtMapKey(c.cluster).AtName("gateways").AtMapKey(c.port).AtName("rollout")
}

// clusterRollouts lists the configured roll-outs, sorted by gateway name.
func clusterRollouts(deployment string, clusters map[string]clusterModel) []clusterRollout {
	var out []clusterRollout
	for cname, c := range clusters {
		for port, g := range c.Gateways {
			if g.Rollout != nil {
				out = append(out, clusterRollout{cname, port, blueprint.GatewayName(deployment, cname, port), g.Rollout})
			}
		}
	}
	slices.SortFunc(out, func(a, b clusterRollout) int { return strings.Compare(a.gateway, b.gateway) })
	return out
}

// rolloutFault is a fault of a roll-out at a path of the engine's form ("steps[2]", "checks.max_p99").
type rolloutFault struct{ path, msg string }

// policy reads the model into the engine's policy, with service names as the routes, and the
// metric source.
func (m *rolloutModel) policy(gateway string) (rollout.Policy, *gatewayapi.RolloutMetrics, []rolloutFault) {
	var faults []rolloutFault
	dur := func(at string, v types.String, fallback string) time.Duration {
		s := v.ValueString()
		if v.IsNull() {
			s = fallback
		}
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			faults = append(faults, rolloutFault{at, fmt.Sprintf("%q is not a duration; write it like \"30s\", \"1m\" or \"1h30m\"", s)})
		}
		return d
	}
	p := rollout.Policy{
		Gateway:          gateway,
		Canary:           m.Canary.ValueString(),
		Stable:           slices.Clone(m.Stable),
		StepWeight:       int(m.StepWeight.ValueInt64()),
		MaxWeight:        int(m.MaxWeight.ValueInt64()),
		Interval:         dur("interval", m.Interval, defaultRolloutInterval),
		MaxWaitIntervals: int(m.MaxWaitIntervals.ValueInt64()),
		Checks: rollout.Checks{
			Max5xxRate:  defaultRolloutMax5xxRate,
			MaxP99:      dur("max_p99", m.MaxP99, ""),
			MinRequests: defaultRolloutMinRequests,
		},
	}
	for _, s := range m.Steps {
		p.Steps = append(p.Steps, int(s))
	}
	if !m.Max5xxRate.IsNull() {
		p.Checks.Max5xxRate = m.Max5xxRate.ValueFloat64()
	}
	if !m.MinRequests.IsNull() {
		p.Checks.MinRequests = int(m.MinRequests.ValueInt64())
	}
	p.Checks.Judge = m.Judge.ValueString()
	p.Checks.Confidence = m.Confidence.ValueFloat64()
	p.Checks.MinEffect = m.MinEffect.ValueFloat64()
	for i, h := range m.Webhooks {
		p.Webhooks = append(p.Webhooks, rollout.Webhook{
			Name: h.Name.ValueString(), Type: rollout.HookType(h.Type.ValueString()), URL: h.URL.ValueString(),
			Timeout: dur(fmt.Sprintf("webhooks[%d].timeout", i), h.Timeout, ""), Metadata: maps.Clone(h.Metadata),
		})
	}
	var metrics *gatewayapi.RolloutMetrics
	if pm := m.Prometheus; pm != nil {
		metrics = &gatewayapi.RolloutMetrics{Source: "prometheus", PrometheusURL: pm.URL.ValueString()}
		q := gatewayapi.PrometheusQueries{Requests: pm.Requests.ValueString(), Errors5xx: pm.Errors5xx.ValueString(), ErrorRate: pm.ErrorRate.ValueString(), P99: pm.P99.ValueString()}
		if q != (gatewayapi.PrometheusQueries{}) {
			metrics.Queries = &q
		}
		check := metricsource.DefaultQueries
		if metrics.Queries != nil {
			check = metricsource.Queries{Requests: q.Requests, Errors5xx: q.Errors5xx, ErrorRate: q.ErrorRate, P99: q.P99}
		}
		if _, err := metricsource.NewPrometheus(metrics.PrometheusURL, check, metricsource.PrometheusOptions{}); err != nil {
			faults = append(faults, rolloutFault{"prometheus", err.Error()})
		}
	}
	if err := p.Validate(); err != nil {
		reported := map[string]bool{}
		for _, f := range faults {
			reported[f.path] = true
		}
		for _, f := range engineFaults(err) {
			switch {
			case reported[f.path]:
				// an unparsable duration, already said
			case f.path == "stable" && len(m.Stable) == 0:
				// unset: every other service of the gateway (checkRolloutRoutes)
			case f.path == "canary":
				faults = append(faults, rolloutFault{"canary", "required: name the service that rolls out, e.g. \"sava:1.1.0\""})
			default:
				faults = append(faults, f)
			}
		}
	}
	return p, metrics, faults
}

func engineFaults(err error) []rolloutFault {
	ve, ok := err.(*rollout.ValidationError)
	if !ok {
		return []rolloutFault{{"", err.Error()}}
	}
	var out []rolloutFault
	for _, f := range ve.Faults {
		out = append(out, rolloutFault{f.Path, f.Msg})
	}
	return out
}

var faultStep = regexp.MustCompile(`^([a-z0-9_]+)(?:\[(\d+)\])?$`)

// at turns an engine path into the attribute path under base: "checks." is flat in HCL.
func (f rolloutFault) at(base path.Path) path.Path {
	p := base
	for _, part := range strings.Split(strings.TrimPrefix(f.path, "checks."), ".") {
		m := faultStep.FindStringSubmatch(part)
		if m == nil {
			return p
		}
		p = p.AtName(m[1])
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			p = p.AtListIndex(i)
		}
	}
	return p
}

// addRolloutFaults reports the faults of every configured roll-out at its attributes.
func addRolloutFaults(diags *diag.Diagnostics, deployment string, clusters map[string]clusterModel) {
	for _, cr := range clusterRollouts(deployment, clusters) {
		_, _, faults := cr.model.policy(cr.gateway)
		for _, f := range faults {
			at := f.at(cr.attrPath())
			addAttrError(diags, at, "Invalid roll-out", fmt.Sprintf("%s: %s.", at, f.msg))
		}
	}
}

// checkRolloutRoutes checks each roll-out against its gateway's planned routing: the canary and
// stable services exist, and no other service carries weight.
func checkRolloutRoutes(diags *diag.Diagnostics, bp *blueprint.Blueprint, clusters map[string]clusterModel) {
	for _, cr := range clusterRollouts(bp.Name, clusters) {
		policy, _, faults := cr.model.policy(cr.gateway)
		if len(faults) > 0 {
			continue // ValidateConfig reported them
		}
		weights := map[string]int{}
		c := bp.Clusters[cr.cluster]
		if c == nil || c.Gateways[cr.port] == nil {
			continue // blueprint.Validate reports the unknown gateway
		}
		for _, svc := range c.ServicesWithPort(cr.port) {
			if r := c.Gateways[cr.port].Routes[svc]; r != nil && r.Weight != nil {
				weights[svc] = int(*r.Weight)
			}
		}
		if len(policy.Stable) == 0 {
			for _, svc := range slices.Sorted(maps.Keys(weights)) {
				if svc != policy.Canary {
					policy.Stable = append(policy.Stable, svc)
				}
			}
		}
		if err := policy.CheckRoutes(weights); err != nil {
			for _, f := range engineFaults(err) {
				at := f.at(cr.attrPath())
				if f.path == "routes" {
					at = cr.attrPath().ParentPath().AtName("routes")
				}
				addAttrError(diags, at, "Invalid roll-out", fmt.Sprintf("%s: %s.", at, f.msg))
			}
		}
	}
}

// apiRollout is the policy as the gateway's PUT carries it (route names for service names).
func apiRollout(deployment string, cr clusterRollout) *gatewayapi.RolloutPolicy {
	p, metrics, _ := cr.model.policy(cr.gateway)
	route := func(svc string) string { return blueprint.RouteName(deployment, cr.cluster, svc, cr.port) }
	out := &gatewayapi.RolloutPolicy{
		Canary:     route(p.Canary),
		Steps:      p.Steps,
		StepWeight: p.StepWeight,
		MaxWeight:  p.MaxWeight,
		Interval:   p.Interval.String(),
		Checks: gatewayapi.RolloutChecks{Max5xxRate: p.Checks.Max5xxRate, MinRequests: p.Checks.MinRequests,
			Judge: p.Checks.Judge, Confidence: p.Checks.Confidence, MinEffect: p.Checks.MinEffect},
		MaxWaitIntervals: p.MaxWaitIntervals,
		Metrics:          metrics,
	}
	for _, s := range p.Stable {
		out.Stable = append(out.Stable, route(s))
	}
	if p.Checks.MaxP99 > 0 {
		out.Checks.MaxP99 = p.Checks.MaxP99.String()
	}
	for _, h := range p.Webhooks {
		w := gatewayapi.RolloutWebhook{Name: h.Name, Type: string(h.Type), URL: h.URL, Metadata: h.Metadata}
		if h.Timeout > 0 {
			w.Timeout = h.Timeout.String()
		}
		out.Webhooks = append(out.Webhooks, w)
	}
	return out
}

// addRollouts puts each configured roll-out into its cluster gateway's document.
func addRollouts(deployment string, clusters map[string]clusterModel, gateways []deployplan.NamedGateway) {
	byName := map[string]clusterRollout{}
	for _, cr := range clusterRollouts(deployment, clusters) {
		byName[cr.gateway] = cr
	}
	for i, g := range gateways {
		if cr, ok := byName[g.Name]; ok {
			gateways[i].Gateway.Rollout = apiRollout(deployment, cr)
		}
	}
}

// samePolicy compares two wire policies by their JSON (empty and absent lists are the same).
func samePolicy(a, b *gatewayapi.RolloutPolicy) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// withLiveRollout completes live routing (liveRouting) with the roll-out: while the gateway runs
// the recorded policy, the roll-out owns the weights, so the recorded (configured) weights stay
// and the live ones go to rollout_status; any other live roll-out (or none) is drift and is
// read back as it is.
func withLiveRollout(deployment, cluster, port string, recorded, live clusterGatewayModel, gw gatewayapi.Gateway) clusterGatewayModel {
	if recorded.Rollout != nil && gw.Rollout != nil {
		cr := clusterRollout{cluster, port, gw.Name, recorded.Rollout}
		if samePolicy(apiRollout(deployment, cr), gw.Rollout) {
			live.Rollout = recorded.Rollout
			for svc, r := range live.Routes {
				if rec, ok := recorded.Routes[svc]; ok {
					r.Weight = rec.Weight
					live.Routes[svc] = r
				}
			}
			return live
		}
	}
	live.Rollout = rolloutFromAPI(gw, recorded.Rollout)
	return live
}

// rolloutFromAPI reads a live policy back into HCL form (nil without one); the provider-only
// settings (wait_*) come from recorded.
func rolloutFromAPI(gw gatewayapi.Gateway, recorded *rolloutModel) *rolloutModel {
	in := gw.Rollout
	if in == nil {
		return nil
	}
	svc := serviceNames(gw)
	m := &rolloutModel{
		Canary:           types.StringValue(svc(in.Canary)),
		StepWeight:       int64OrNull(in.StepWeight),
		MaxWeight:        int64OrNull(in.MaxWeight),
		Interval:         nullIfEmpty(in.Interval),
		Max5xxRate:       types.Float64Value(in.Checks.Max5xxRate),
		MaxP99:           nullIfEmpty(in.Checks.MaxP99),
		MinRequests:      types.Int64Value(int64(in.Checks.MinRequests)),
		MaxWaitIntervals: int64OrNull(in.MaxWaitIntervals),
		Judge:            nullIfEmpty(in.Checks.Judge),
		Confidence:       types.Float64Null(),
		MinEffect:        types.Float64Null(),
		WaitForPromotion: types.BoolNull(),
		WaitTimeout:      types.StringNull(),
	}
	if in.Checks.Confidence != 0 {
		m.Confidence = types.Float64Value(in.Checks.Confidence)
	}
	if in.Checks.MinEffect != 0 {
		m.MinEffect = types.Float64Value(in.Checks.MinEffect)
	}
	if recorded != nil {
		m.WaitForPromotion, m.WaitTimeout = recorded.WaitForPromotion, recorded.WaitTimeout
	}
	for _, s := range in.Stable {
		m.Stable = append(m.Stable, svc(s))
	}
	for _, w := range in.Steps {
		m.Steps = append(m.Steps, int64(w))
	}
	for _, h := range in.Webhooks {
		m.Webhooks = append(m.Webhooks, webhookModel{
			Name: types.StringValue(h.Name), Type: types.StringValue(h.Type), URL: types.StringValue(h.URL),
			Timeout: nullIfEmpty(h.Timeout), Metadata: nilIfEmpty(h.Metadata),
		})
	}
	if mt := in.Metrics; mt != nil && mt.Source == "prometheus" {
		m.Prometheus = &prometheusModel{URL: types.StringValue(mt.PrometheusURL),
			Requests: types.StringNull(), Errors5xx: types.StringNull(), ErrorRate: types.StringNull(), P99: types.StringNull()}
		if q := mt.Queries; q != nil {
			m.Prometheus.Requests, m.Prometheus.Errors5xx = nullIfEmpty(q.Requests), nullIfEmpty(q.Errors5xx)
			m.Prometheus.ErrorRate, m.Prometheus.P99 = nullIfEmpty(q.ErrorRate), nullIfEmpty(q.P99)
		}
	}
	return m
}

func int64OrNull(v int) types.Int64 {
	if v == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(int64(v))
}

// serviceNames maps a gateway's route names to the services they lead to (unknown names stay).
func serviceNames(gw gatewayapi.Gateway) func(route string) string {
	names := map[string]string{}
	for _, r := range gw.Routes {
		if r.Service != nil {
			if _, _, svc, ok := runtime.SplitID(r.Service.ID); ok {
				names[r.Name] = svc
			}
		}
	}
	return func(route string) string {
		if s, ok := names[route]; ok {
			return s
		}
		return route
	}
}

// rolloutStatuses is rollout_status from the live cluster gateways.
func rolloutStatuses(ctx context.Context, live map[string]gatewayapi.Gateway, diags *diag.Diagnostics) types.Map {
	out := map[string]rolloutStatusModel{}
	for name, gw := range live {
		st := gw.RolloutStatus
		if st == nil {
			continue
		}
		svc := serviceNames(gw)
		weights := map[string]int64{}
		for r, w := range st.Weights {
			weights[svc(r)] = int64(w)
		}
		wv, d := types.MapValueFrom(ctx, types.Int64Type, weights)
		diags.Append(d...)
		out[name] = rolloutStatusModel{
			Canary: types.StringValue(svc(st.Canary)), Phase: types.StringValue(st.Phase),
			Step: types.Int64Value(int64(st.Step)), Steps: types.Int64Value(int64(st.Steps)),
			Weight: types.Int64Value(int64(st.Weight)), Weights: wv, Reason: types.StringValue(st.Reason),
		}
	}
	v, d := types.MapValueFrom(ctx, rolloutStatusType, out)
	diags.Append(d...)
	return v
}

// readRolloutStatuses GETs the deployment's cluster gateways that have a roll-out.
func (r *deploymentResource) readRolloutStatuses(ctx context.Context, deployment string, clusters map[string]clusterModel, diags *diag.Diagnostics) types.Map {
	live := map[string]gatewayapi.Gateway{}
	for _, cr := range clusterRollouts(deployment, clusters) {
		gw, err := r.data.Gateway.Get(ctx, cr.gateway)
		if err != nil {
			addAPIError(diags, "GET", "gateway "+quote(cr.gateway), err)
			continue
		}
		live[cr.gateway] = gw
	}
	return rolloutStatuses(ctx, live, diags)
}

// waitForPromotions waits for every roll-out with wait_for_promotion until it is promoted; a
// roll-back, a refused start or the timeout is an error naming the roll-out's reason.
func (r *deploymentResource) waitForPromotions(ctx context.Context, deployment string, clusters map[string]clusterModel, diags *diag.Diagnostics) {
	for _, cr := range clusterRollouts(deployment, clusters) {
		if !cr.model.WaitForPromotion.ValueBool() {
			continue
		}
		wctx, cancel := ctx, context.CancelFunc(func() {})
		limit := "the deployment's timeout"
		if s := cr.model.WaitTimeout.ValueString(); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				addAttrError(diags, cr.attrPath().AtName("wait_timeout"), "Invalid roll-out", fmt.Sprintf("wait_timeout %q is not a positive duration such as \"30m\".", s))
				continue
			}
			wctx, cancel = context.WithTimeout(ctx, d)
			limit = "wait_timeout " + s
		}
		r.waitForPromotion(wctx, cr, limit, diags)
		cancel()
	}
}

func (r *deploymentResource) waitForPromotion(ctx context.Context, cr clusterRollout, limit string, diags *diag.Diagnostics) {
	if store, ok := r.data.Gateway.(*storeGateways); ok {
		waitForStoredPromotion(ctx, store, cr, limit, diags) // deployment_rollout_etcd.go
		return
	}
	tick := time.NewTicker(rolloutPollInterval)
	defer tick.Stop()
	var last *gatewayapi.RolloutStatus
	for {
		gw, err := r.data.Gateway.Get(ctx, cr.gateway)
		switch {
		case err != nil && ctx.Err() == nil:
			addAPIError(diags, "GET", "gateway "+quote(cr.gateway), err)
			return
		case err == nil && gw.RolloutStatus == nil:
			addNoRollout(diags, cr)
			return
		case err == nil:
			last = gw.RolloutStatus
		}
		if last != nil && rolloutSettled(ctx, diags, cr, last) {
			return
		}
		select {
		case <-ctx.Done():
			addNotPromoted(diags, cr, limit, last, "no status was read")
			return
		case <-tick.C:
		}
	}
}

// addNoRollout reports a gateway that runs no roll-out right after an apply gave it one.
func addNoRollout(diags *diag.Diagnostics, cr clusterRollout) {
	addAttrError(diags, cr.attrPath(), "The gateway runs no roll-out",
		fmt.Sprintf("Gateway %q has no roll-out although it was just applied with one; another client may have changed it. Apply again.", cr.gateway))
}

// rolloutSettled reports whether the roll-out has ended: promoted (no error), or rolled back or
// refused (an error with the roll-out's reason).
func rolloutSettled(ctx context.Context, diags *diag.Diagnostics, cr clusterRollout, last *gatewayapi.RolloutStatus) bool {
	tflog.Debug(ctx, "waiting for the roll-out's promotion", map[string]any{
		"gateway": cr.gateway, "phase": last.Phase, "step": last.Step, "steps": last.Steps, "canary_weight": last.Weight,
	})
	switch last.Phase {
	case string(rollout.PhasePromoted):
		return true
	case string(rollout.PhaseRolledBack), string(rollout.PhaseFailed):
		title := "Roll-out of " + quote(cr.model.Canary.ValueString()) + " was rolled back"
		if last.Phase == string(rollout.PhaseFailed) {
			title = "Roll-out of " + quote(cr.model.Canary.ValueString()) + " did not start"
		}
		addAttrError(diags, cr.attrPath(), title, fmt.Sprintf(
			"Gateway %q: %s.\n\nThe gateway routes the canary's traffic back to the stable services. The roll-out stays %s while this policy stands: "+
				"fix the canary (e.g. deploy a new variant) or change the policy to start a new roll-out; rollout_status shows the details.",
			cr.gateway, last.Reason, last.Phase))
		return true
	}
	return false
}

// addNotPromoted reports a wait that ended (limit) before the promotion; last is the status
// last seen (nil: none, which unseen says).
func addNotPromoted(diags *diag.Diagnostics, cr clusterRollout, limit string, last *gatewayapi.RolloutStatus, unseen string) {
	where := unseen
	if last != nil {
		where = fmt.Sprintf("it is %s at step %d of %d (canary weight %d): %s", last.Phase, last.Step, last.Steps, last.Weight, last.Reason)
	}
	addAttrError(diags, cr.attrPath(), "Roll-out not promoted in time",
		fmt.Sprintf("Gateway %q: the canary %q was not promoted within %s; %s.\n\nThe roll-out goes on in the gateway; raise wait_timeout or the deployment's timeouts, or apply again later.",
			cr.gateway, cr.model.Canary.ValueString(), limit, where))
}

// warnRolloutChanges says in the plan what a changed or removed policy does to a roll-out that
// the gateway runs: the running one is dropped and the routes take the configured weights (from
// which a new roll-out starts).
func warnRolloutChanges(diags *diag.Diagnostics, deployment string, prior, next map[string]clusterModel, status types.Map) {
	old := map[string]clusterRollout{}
	for _, cr := range clusterRollouts(deployment, prior) {
		old[cr.gateway] = cr
	}
	nextByName := map[string]clusterRollout{}
	for _, cr := range clusterRollouts(deployment, next) {
		nextByName[cr.gateway] = cr
	}
	live := map[string]rolloutStatusModel{}
	if !status.IsNull() && !status.IsUnknown() {
		status.ElementsAs(context.Background(), &live, false)
	}
	for _, name := range slices.Sorted(maps.Keys(old)) {
		o := old[name]
		st, running := live[name]
		if !running {
			continue
		}
		n, kept := nextByName[name]
		if kept && samePolicy(apiRollout(deployment, o), apiRollout(deployment, n)) {
			continue
		}
		what := "is removed"
		then := "The routes take the configured weights."
		if kept {
			what = "changes"
			then = "The routes take the configured weights and a new roll-out starts from them."
		}
		diags.AddAttributeWarning(o.attrPath(), "The roll-out policy "+what,
			fmt.Sprintf("Gateway %q runs a roll-out of %s (%s, step %d of %d, canary weight %d). Applying drops it. %s",
				name, st.Canary.ValueString(), st.Phase.ValueString(), st.Step.ValueInt64(), st.Steps.ValueInt64(), st.Weight.ValueInt64(), then))
	}
}

// planRolloutStatus sets the plan's rollout_status: the state's when the plan changes nothing
// else (so a roll-out's progress alone never makes a plan), unknown otherwise (an apply reads it
// afresh). It also warns about roll-outs that the plan drops.
func planRolloutStatus(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, plan, state *deploymentModel, clusters map[string]clusterModel) {
	if len(clusterRollouts(plan.Name.ValueString(), clusters)) == 0 {
		// Without roll-outs an apply leaves none: no "(known after apply)" noise in plans.
		plan.RolloutStatus = types.MapValueMust(rolloutStatusType, map[string]attr.Value{})
	} else {
		plan.RolloutStatus = types.MapUnknown(rolloutStatusType)
	}
	if req.State.Raw.IsNull() {
		resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
		return
	}
	if prior, ok := decodeClusters(ctx, state.Clusters, &resp.Diagnostics); ok && state.Name.Equal(plan.Name) {
		warnRolloutChanges(&resp.Diagnostics, plan.Name.ValueString(), prior, clusters, state.RolloutStatus)
	}
	planned := plan.RolloutStatus
	plan.RolloutStatus = state.RolloutStatus
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
	if !equalAsPlanned(resp.Plan.Raw, req.State.Raw) {
		plan.RolloutStatus = planned
		resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
	}
}

// settleRollouts, after an apply, waits for the promotions asked for and records the roll-outs'
// progress. A roll-back fails the apply; the state still records what was applied, so the next
// plan is empty until the configuration changes.
func (r *deploymentResource) settleRollouts(ctx context.Context, plan *deploymentModel, diags *diag.Diagnostics) {
	clusters, ok := decodeClusters(ctx, plan.Clusters, diags)
	if !ok {
		plan.RolloutStatus = types.MapNull(rolloutStatusType)
		return
	}
	var waited diag.Diagnostics
	r.waitForPromotions(ctx, plan.Name.ValueString(), clusters, &waited)
	plan.RolloutStatus = r.readRolloutStatuses(context.WithoutCancel(ctx), plan.Name.ValueString(), clusters, diags)
	diags.Append(waited...)
}

// importedRollouts adds the live roll-outs to imported clusters.
func importedRollouts(deployment string, clusters map[string]clusterModel, all []gatewayapi.Gateway) map[string]clusterModel {
	live := liveByName(all)
	for cname, c := range clusters {
		for port, g := range c.Gateways {
			if gw, ok := live[blueprint.GatewayName(deployment, cname, port)]; ok {
				g.Rollout = rolloutFromAPI(gw, nil)
				c.Gateways[port] = g
			}
		}
	}
	return clusters
}

func liveByName(all []gatewayapi.Gateway) map[string]gatewayapi.Gateway {
	out := make(map[string]gatewayapi.Gateway, len(all))
	for _, gw := range all {
		out[gw.Name] = gw
	}
	return out
}
