package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/escalation"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// slaModel is a service's latency SLA (Vamp's escalations): the gateway scales the service's
// instances between min and max by the p99 latency of its route.
type slaModel struct {
	MinInstances types.Int64  `tfsdk:"min_instances"`
	MaxInstances types.Int64  `tfsdk:"max_instances"`
	UpperP99     types.String `tfsdk:"upper_p99"`
	LowerP99     types.String `tfsdk:"lower_p99"`
	Window       types.String `tfsdk:"window"`
	Cooldown     types.String `tfsdk:"cooldown"`
	Step         types.Int64  `tfsdk:"step"`
}

func slaAttribute() schema.SingleNestedAttribute {
	str := func(description string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: description, Optional: true}
	}
	num := func(description string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: description, Optional: true}
	}
	return schema.SingleNestedAttribute{
		MarkdownDescription: "Scaling by latency SLA (Vamp's escalations), run by the gateway: when the p99 latency of the service's route stays above " +
			"`upper_p99` for a whole `window` the service gets `step` more instances, below `lower_p99` for a whole `window` `step` fewer; always between " +
			"`min_instances` and `max_instances`, and never twice within `cooldown`. The p99 is measured on the route of the service's first port (by name). " +
			"While `sla` is set the gateway owns the instance count: `scale.instances` is only the starting count, and a count the gateway set is not drift. " +
			"Needs a gateway that can scale the runtime (`vamp-gateway dev`; on Marathon, a gateway with `--marathon-url` and write access).",
		Optional: true,
		Attributes: map[string]schema.Attribute{
			"min_instances": num("The fewest instances, at least 1. Required."),
			"max_instances": num("The most instances, at least `min_instances`. Required."),
			"upper_p99":     str("A p99 latency above this for a whole window scales up, e.g. `500ms`. Required."),
			"lower_p99":     str("A p99 latency below this for a whole window scales down, e.g. `100ms`; below `upper_p99`. Unset: never scales down."),
			"window":        str("How long the p99 must stay beyond a threshold, e.g. `2m`. Required."),
			"cooldown":      str("The least time between two scalings, e.g. `5m`; default none beyond the window."),
			"step":          num("Instances added or removed per scaling, default 1."),
		},
	}
}

// slaFault is a fault of one sla attribute ("" for the sla itself).
type slaFault struct{ field, msg string }

// policy is the gateway's scale policy of m, with the faults by attribute.
func (m *slaModel) policy() (gatewayapi.ScalePolicy, []slaFault) {
	var faults []slaFault
	fault := func(field, format string, args ...any) {
		faults = append(faults, slaFault{field, fmt.Sprintf(format, args...)})
	}
	p := gatewayapi.ScalePolicy{
		Min: int(m.MinInstances.ValueInt64()), Max: int(m.MaxInstances.ValueInt64()), Step: int(m.Step.ValueInt64()),
		Upper: m.UpperP99.ValueString(), Lower: m.LowerP99.ValueString(), Window: m.Window.ValueString(), Cooldown: m.Cooldown.ValueString(),
	}
	switch {
	case m.MinInstances.IsNull():
		fault("min_instances", "required: the fewest instances, e.g. 1")
	case p.Min < 1:
		fault("min_instances", "%d: keep at least 1 instance; a service scaled to zero has no latency to measure", p.Min)
	}
	switch {
	case m.MaxInstances.IsNull():
		fault("max_instances", "required: the most instances, e.g. 5")
	case p.Max < p.Min:
		fault("max_instances", "%d is below min_instances %d; raise max_instances or lower min_instances", p.Max, p.Min)
	}
	if !m.Step.IsNull() && p.Step < 1 {
		fault("step", "%d: give the instances per scaling, at least 1", p.Step)
	}
	durations := map[string]time.Duration{}
	for _, d := range []struct {
		field, value, example string
		required              bool
	}{
		{"upper_p99", p.Upper, "500ms", true}, {"lower_p99", p.Lower, "100ms", false},
		{"window", p.Window, "2m", true}, {"cooldown", p.Cooldown, "5m", false},
	} {
		if d.value == "" {
			if d.required {
				fault(d.field, "required: give a duration such as %q", d.example)
			}
			continue
		}
		v, err := time.ParseDuration(d.value)
		switch {
		case err != nil:
			fault(d.field, "%q is not a duration such as %q", d.value, d.example)
		case v < 0 || (d.required && v == 0):
			fault(d.field, "%q: give a positive duration such as %q", d.value, d.example)
		default:
			durations[d.field] = v
		}
	}
	if upper, lower := durations["upper_p99"], durations["lower_p99"]; upper > 0 && lower >= upper {
		fault("lower_p99", "%s is not below upper_p99 %s; leave a gap between them so the service does not flap", p.Lower, p.Upper)
	}
	if len(faults) == 0 {
		// The gateway's own rules, so that an apply never meets a 400 that the plan missed.
		engine := escalation.Policy{Service: "-", Min: p.Min, Max: p.Max, Step: p.Step, Upper: durations["upper_p99"],
			Lower: durations["lower_p99"], Window: durations["window"], Cooldown: durations["cooldown"]}
		if err := engine.Validate(); err != nil {
			fault("", "%v", err)
		}
	}
	return p, faults
}

// addSLAFaults reports, at their attribute paths, the faults of every service's sla: its own
// fields, a scale.instances outside min..max, and a service without a port to measure on.
func addSLAFaults(diags *diag.Diagnostics, clusters map[string]clusterModel) {
	for _, cname := range slices.Sorted(maps.Keys(clusters)) {
		for i, s := range clusters[cname].Services {
			if s.SLA == nil {
				continue
			}
			at := path.Root("clusters").AtMapKey(cname).AtName("services").AtListIndex(i)
			p, faults := s.SLA.policy()
			for _, f := range faults {
				fp := at.AtName("sla")
				if f.field != "" {
					fp = fp.AtName(f.field)
				}
				addAttrError(diags, fp, "Invalid SLA", fmt.Sprintf("%s: %s.", fp, f.msg))
			}
			if s.Breed != nil && len(s.Breed.Ports) == 0 {
				addAttrError(diags, at.AtName("sla"), "Invalid SLA",
					fmt.Sprintf("%s: the p99 is measured on the service's route, and a service without ports has none; give breed.ports a port or remove sla.", at.AtName("sla")))
			}
			if len(faults) == 0 && s.Scale != nil && !s.Scale.Instances.IsNull() && !s.Scale.Instances.IsUnknown() {
				if n := int(s.Scale.Instances.ValueInt64()); n < p.Min || n > p.Max {
					fp := at.AtName("scale").AtName("instances")
					addAttrError(diags, fp, "Invalid SLA",
						fmt.Sprintf("%s: %d is outside sla.min_instances..sla.max_instances (%d..%d); the starting count must be one the SLA allows.", fp, n, p.Min, p.Max))
				}
			}
		}
	}
}

// slaPolicies are the services' SLA policies by runtime service id.
func slaPolicies(deployment string, clusters map[string]clusterModel) map[string]gatewayapi.ScalePolicy {
	out := map[string]gatewayapi.ScalePolicy{}
	for cname, c := range clusters {
		for _, s := range c.Services {
			if s.SLA == nil || s.Breed == nil {
				continue
			}
			p, _ := s.SLA.policy()
			out[runtime.ID(deployment, cname, s.Breed.Name.ValueString())] = p
		}
	}
	return out
}

// addSLAs puts each service's scale policy on its route in the cluster gateway of its first
// port (by name): one route per service measures the p99 and scales, never two.
func addSLAs(deployment string, clusters map[string]clusterModel, gateways []deployplan.NamedGateway) {
	policies := slaPolicies(deployment, clusters)
	for cname, c := range clusters {
		for _, s := range c.Services {
			if s.SLA == nil || s.Breed == nil || len(s.Breed.Ports) == 0 {
				continue
			}
			id := runtime.ID(deployment, cname, s.Breed.Name.ValueString())
			gwName := blueprint.GatewayName(deployment, cname, slices.Min(slices.Collect(maps.Keys(s.Breed.Ports))))
			for gi := range gateways {
				if gateways[gi].Name != gwName {
					continue
				}
				for ri, rt := range gateways[gi].Gateway.Routes {
					if rt.Service != nil && rt.Service.ID == id {
						p := policies[id]
						gateways[gi].Gateway.Routes[ri].Scale = &p
					}
				}
			}
		}
	}
}

// slaStartCount is the instance count to deploy a service with an SLA with: the count the
// gateway scaled it to, so that an apply that changes something else of the service does not
// undo the scaling; the configured count for a new service. Either is kept within min..max.
func (r *deploymentResource) slaStartCount(ctx context.Context, s runtime.Service, p gatewayapi.ScalePolicy) int64 {
	n := s.Instances
	if st, found, err := r.data.Runtime.Get(ctx, s.ID); err == nil && found {
		n = st.Service.Instances
	}
	return min(max(n, int64(p.Min)), int64(p.Max))
}

// slaOwnsInstances: while a service has an sla, its instance count is the SLA scaler's.
func slaOwnsInstances(s serviceModel) bool { return s.SLA != nil }
