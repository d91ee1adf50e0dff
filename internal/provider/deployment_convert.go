package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
)

// fullyKnown reports whether v and everything inside it is known.
func fullyKnown(ctx context.Context, v attr.Value) bool {
	tv, err := v.ToTerraformValue(ctx)
	return err == nil && tv.IsFullyKnown()
}

// decodeClusters reads a fully known clusters value; ok is false while any part is unknown.
func decodeClusters(ctx context.Context, v types.Map, diags *diag.Diagnostics) (clusters map[string]clusterModel, ok bool) {
	if v.IsNull() {
		return nil, true
	}
	if !fullyKnown(ctx, v) {
		return nil, false
	}
	diags.Append(v.ElementsAs(ctx, &clusters, false)...)
	return clusters, !diags.HasError()
}

func decodeStringMap(ctx context.Context, v types.Map, diags *diag.Diagnostics) (m map[string]string, ok bool) {
	if v.IsNull() {
		return nil, true
	}
	if !fullyKnown(ctx, v) {
		return nil, false
	}
	diags.Append(v.ElementsAs(ctx, &m, false)...)
	return m, !diags.HasError()
}

// toBlueprint is the blueprint an HCL model states: unset values stay unset (nil, "") so that
// Normalize and the prior state can fill them.
func toBlueprint(name string, gateways map[string]string, clusters map[string]clusterModel) *blueprint.Blueprint {
	bp := &blueprint.Blueprint{Name: name, Gateways: maps.Clone(gateways), Clusters: map[string]*blueprint.Cluster{}}
	for cname, c := range clusters {
		bc := &blueprint.Cluster{}
		for _, s := range c.Services {
			bc.Services = append(bc.Services, s.toBlueprint())
		}
		if c.Gateways != nil {
			bc.Gateways = map[string]*blueprint.ClusterGateway{}
			for port, g := range c.Gateways {
				bg := &blueprint.ClusterGateway{Sticky: g.Sticky.ValueString()}
				if g.Routes != nil {
					bg.Routes = map[string]*blueprint.Route{}
					for svc, r := range g.Routes {
						bg.Routes[svc] = &blueprint.Route{
							Weight:            int64Pointer(r.Weight),
							Condition:         r.Condition.ValueString(),
							ConditionStrength: int64Pointer(r.ConditionStrength),
						}
					}
				}
				bc.Gateways[port] = bg
			}
		}
		bp.Clusters[cname] = bc
	}
	return bp
}

func (s serviceModel) toBlueprint() *blueprint.Service {
	if s.Breed == nil {
		s.Breed = &breedModel{} // Validate reports the missing name and deployable
	}
	out := &blueprint.Service{
		Breed: blueprint.Breed{
			Name:        s.Breed.Name.ValueString(),
			Deployable:  s.Breed.Deployable.ValueString(),
			Ports:       maps.Clone(s.Breed.Ports),
			Environment: maps.Clone(s.Breed.EnvironmentVariables),
		},
		Marathon: s.Marathon.ValueString(),
	}
	if s.Scale != nil {
		scale := blueprint.DefaultScale
		if !s.Scale.CPU.IsNull() {
			scale.CPU = s.Scale.CPU.ValueFloat64()
		}
		if !s.Scale.Memory.IsNull() {
			scale.MemoryMB = s.Scale.Memory.ValueInt64()
		}
		if !s.Scale.Instances.IsNull() {
			scale.Instances = s.Scale.Instances.ValueInt64()
		}
		out.Scale = &scale
	}
	for _, hc := range s.HealthChecks {
		failures := int64(blueprint.DefaultHealthCheckFailures)
		if !hc.Failures.IsNull() {
			failures = hc.Failures.ValueInt64()
		}
		out.HealthChecks = append(out.HealthChecks, blueprint.HealthCheck{
			Port: hc.Port.ValueString(), Path: hc.Path.ValueString(), Protocol: hc.Protocol.ValueString(),
			InitialDelay: hc.InitialDelay.ValueString(), Interval: hc.Interval.ValueString(), Timeout: hc.Timeout.ValueString(),
			Failures: failures,
		})
	}
	return out
}

// plannedBlueprint is the normalized blueprint that an apply of model makes, given what runs.
func plannedBlueprint(name string, gateways map[string]string, clusters map[string]clusterModel, prior *blueprint.Blueprint) *blueprint.Blueprint {
	return deployplan.Merge(toBlueprint(name, gateways, clusters), prior)
}

// setSplits computes the split of every cluster gateway from its routes (deployplan.Split).
func setSplits(clusters map[string]clusterModel) map[string]clusterModel {
	bp := toBlueprint("", nil, clusters)
	for cname, c := range clusters {
		for port, g := range c.Gateways {
			g.Split = deployplan.Split(deployplan.ClusterRoutes(bp.Clusters[cname], port))
			c.Gateways[port] = g
		}
	}
	return clusters
}

// addUnservedErrors refuses a cluster gateway of the normalized blueprint that can serve no
// request (all weights 0, no condition with a strength above 0), at its routes.
func addUnservedErrors(diags *diag.Diagnostics, bp *blueprint.Blueprint) {
	for _, cname := range slices.Sorted(maps.Keys(bp.Clusters)) {
		c := bp.Clusters[cname]
		for _, port := range slices.Sorted(maps.Keys(c.Gateways)) {
			routes := deployplan.ClusterRoutes(c, port)
			if len(routes) == 0 || !deployplan.ServesNothing(routes) {
				continue
			}
			p := path.Root("clusters").AtMapKey(cname).AtName("gateways").AtMapKey(port).AtName("routes")
			addAttrError(diags, p, fmt.Sprintf("Cluster %q serves no request on port %q", cname, port),
				"Attribute "+p.String()+": "+deployplan.ServesNothingDetail(blueprint.GatewayName(bp.Name, cname, port), routes))
		}
	}
}

// fillComputed completes the configuration's unset computed values from the normalized
// blueprint; everything the configuration states stays exactly as stated.
func fillComputed(cfg map[string]clusterModel, bp *blueprint.Blueprint) map[string]clusterModel {
	out := make(map[string]clusterModel, len(cfg))
	for cname, c := range cfg {
		bc := bp.Clusters[cname]
		pc := clusterModel{Gateways: c.Gateways}
		for i, s := range c.Services {
			pc.Services = append(pc.Services, fillService(s, bc.Services[i]))
		}
		if c.Gateways == nil {
			pc.Gateways = gatewaysModel(bc)
		} else {
			pc.Gateways = map[string]clusterGatewayModel{}
			for port, g := range c.Gateways {
				bg := bc.Gateways[port]
				if g.Routes == nil {
					g.Routes = routesModel(bg)
				} else {
					routes := map[string]routeModel{}
					for svc, r := range g.Routes {
						br := bg.Routes[svc]
						if r.Weight.IsNull() {
							r.Weight = types.Int64Value(*br.Weight)
						}
						if r.ConditionStrength.IsNull() {
							r.ConditionStrength = types.Int64PointerValue(br.ConditionStrength)
						}
						routes[svc] = r
					}
					g.Routes = routes
				}
				pc.Gateways[port] = g
			}
		}
		out[cname] = pc
	}
	return out
}

func fillService(s serviceModel, bs *blueprint.Service) serviceModel {
	if s.Scale == nil {
		s.Scale = &scaleModel{}
	}
	s.Scale = &scaleModel{
		CPU:       types.Float64Value(bs.Scale.CPU),
		Memory:    types.Int64Value(bs.Scale.MemoryMB),
		Instances: types.Int64Value(bs.Scale.Instances),
	}
	checks := make([]healthCheckModel, len(s.HealthChecks))
	for i, hc := range s.HealthChecks {
		bh := bs.HealthChecks[i]
		checks[i] = healthCheckModel{
			Port:         hc.Port,
			Path:         orString(hc.Path, bh.Path),
			Protocol:     orString(hc.Protocol, bh.Protocol),
			InitialDelay: orString(hc.InitialDelay, bh.InitialDelay),
			Interval:     orString(hc.Interval, bh.Interval),
			Timeout:      orString(hc.Timeout, bh.Timeout),
			Failures:     types.Int64Value(bh.Failures),
		}
	}
	if s.HealthChecks != nil {
		s.HealthChecks = checks
	}
	return s
}

func orString(stated types.String, filled string) types.String {
	if !stated.IsNull() {
		return stated
	}
	return nullIfEmpty(filled)
}

// clustersModel is a normalized blueprint's clusters as state: empty collections and strings
// are null (the form an import and data "vamp_blueprint" give).
func clustersModel(bp *blueprint.Blueprint) map[string]clusterModel {
	out := map[string]clusterModel{}
	for cname, bc := range bp.Clusters {
		c := clusterModel{Gateways: gatewaysModel(bc)}
		for _, bs := range bc.Services {
			s := serviceModel{
				Breed: &breedModel{
					Name:                 types.StringValue(bs.Breed.Name),
					Deployable:           types.StringValue(bs.Breed.Deployable),
					Ports:                nilIfEmpty(bs.Breed.Ports),
					EnvironmentVariables: nilIfEmpty(bs.Breed.Environment),
				},
				Marathon: nullIfEmpty(bs.Marathon),
				SLA:      slaFromBlueprint(bs.SLA),
			}
			for range bs.HealthChecks {
				s.HealthChecks = append(s.HealthChecks, healthCheckModel{})
			}
			for i, hc := range bs.HealthChecks {
				s.HealthChecks[i].Port = types.StringValue(hc.Port)
			}
			c.Services = append(c.Services, fillService(s, bs))
		}
		out[cname] = c
	}
	return out
}

// slaFromBlueprint is a Vamp SLA read by data "vamp_blueprint" (nil for none).
func slaFromBlueprint(s *blueprint.SLA) *slaModel {
	if s == nil {
		return nil
	}
	return &slaModel{
		MinInstances: types.Int64Value(s.MinInstances), MaxInstances: types.Int64Value(s.MaxInstances), Step: types.Int64Value(s.Step),
		UpperP99: types.StringValue(s.UpperP99), LowerP99: types.StringValue(s.LowerP99),
		Window: types.StringValue(s.Window), Cooldown: types.StringValue(s.Cooldown),
	}
}

func gatewaysModel(bc *blueprint.Cluster) map[string]clusterGatewayModel {
	out := map[string]clusterGatewayModel{}
	for port, g := range bc.Gateways {
		out[port] = clusterGatewayModel{Sticky: nullIfEmpty(g.Sticky), Routes: routesModel(g)}
	}
	return out
}

func routesModel(g *blueprint.ClusterGateway) map[string]routeModel {
	out := map[string]routeModel{}
	for svc, r := range g.Routes {
		out[svc] = routeModel{
			Weight:            types.Int64PointerValue(r.Weight),
			Condition:         nullIfEmpty(r.Condition),
			ConditionStrength: types.Int64PointerValue(r.ConditionStrength),
		}
	}
	return out
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func int64Pointer(v types.Int64) *int64 {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	return blueprint.Int64(v.ValueInt64())
}

// attributePath is a blueprint path as a Terraform attribute path (the names are the same).
func attributePath(p blueprint.Path) path.Path {
	if len(p) == 0 || p[0].Kind != blueprint.StepAttr {
		return path.Empty()
	}
	out := path.Root(p[0].Attr)
	for _, s := range p[1:] {
		switch s.Kind {
		case blueprint.StepAttr:
			out = out.AtName(s.Attr)
		case blueprint.StepKey:
			out = out.AtMapKey(s.Key)
		case blueprint.StepIndex:
			out = out.AtListIndex(s.Index)
		}
	}
	return out
}

// addFieldErrors reports blueprint faults at their attribute paths. The path is also written
// into the detail: a value that came from a data source has no place of its own in the
// configuration to point at.
//
// A service without a breed name cannot be routed to: the routing faults of its cluster that
// follow from it (a route to an "unknown" service) are left out, so that the one fault to fix is
// the one reported. Which faults cascade is decided by path, not by message.
func addFieldErrors(diags *diag.Diagnostics, errs []*blueprint.FieldError) {
	unnamed := map[string]bool{} // clusters with a service that has no breed name
	for _, fe := range errs {
		if cluster, ok := breedNameFault(fe.Path); ok {
			unnamed[cluster] = true
		}
	}
	for _, fe := range errs {
		if n := len(fe.Path); n > 0 && fe.Path[n-1].Kind == blueprint.StepAttr && schemaChecked[fe.Path[n-1].Attr] {
			continue // the schema validator reported it
		}
		if cluster, ok := clusterRoutingFault(fe.Path); ok && unnamed[cluster] {
			continue // follows from the missing breed name, reported on its own
		}
		detail := fe.Path.String() + ": " + fe.Detail + "."
		if len(fe.Path) == 0 {
			diags.AddError(fe.Summary, detail)
			continue
		}
		addAttrError(diags, attributePath(fe.Path), fe.Summary, detail)
	}
}

// breedNameFault reports whether p is clusters[c].services[i].breed.name (or the breed itself,
// when it is missing), and c.
func breedNameFault(p blueprint.Path) (cluster string, ok bool) {
	if len(p) < 5 || len(p) > 6 || p[0].Kind != blueprint.StepAttr || p[0].Attr != "clusters" || p[1].Kind != blueprint.StepKey ||
		p[2].Kind != blueprint.StepAttr || p[2].Attr != "services" || p[3].Kind != blueprint.StepIndex ||
		p[4].Kind != blueprint.StepAttr || p[4].Attr != "breed" {
		return "", false
	}
	if len(p) == 6 && (p[5].Kind != blueprint.StepAttr || p[5].Attr != "name") {
		return "", false
	}
	return p[1].Key, true
}

// clusterRoutingFault reports whether p is under clusters[c].gateways, and c.
func clusterRoutingFault(p blueprint.Path) (cluster string, ok bool) {
	if len(p) < 3 || p[0].Kind != blueprint.StepAttr || p[0].Attr != "clusters" || p[1].Kind != blueprint.StepKey ||
		p[2].Kind != blueprint.StepAttr || p[2].Attr != "gateways" {
		return "", false
	}
	return p[1].Key, true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
