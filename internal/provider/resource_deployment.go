package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// Status values of a deployment.
const (
	statusDeployed = "deployed"
	// statusDegraded: a gateway or service that the deployment made is gone; the next apply
	// puts it back.
	statusDegraded = "degraded"
)

const (
	defaultDeployTimeout = 15 * time.Minute
	defaultDeleteTimeout = 10 * time.Minute
)

var (
	_ resource.Resource                   = (*deploymentResource)(nil)
	_ resource.ResourceWithConfigure      = (*deploymentResource)(nil)
	_ resource.ResourceWithImportState    = (*deploymentResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*deploymentResource)(nil)
	_ resource.ResourceWithValidateConfig = (*deploymentResource)(nil)
)

// NewDeploymentResource is the factory of vamp_deployment.
func NewDeploymentResource() resource.Resource { return &deploymentResource{} }

type deploymentResource struct{ data *ProviderData }

func (r *deploymentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (r *deploymentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = deploymentSchema(ctx)
}

func (r *deploymentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig runs the blueprint rules on the configuration as it will be normalized.
func (r *deploymentResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg deploymentModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() || cfg.Name.IsUnknown() {
		return
	}
	gateways, ok1 := decodeStringMap(ctx, cfg.Gateways, &resp.Diagnostics)
	clusters, ok2 := decodeClusters(ctx, cfg.Clusters, &resp.Diagnostics)
	if !ok1 || !ok2 || resp.Diagnostics.HasError() {
		return
	}
	addFieldErrors(&resp.Diagnostics, toBlueprint(cfg.Name.ValueString(), gateways, clusters).Validate())
	addRolloutFaults(&resp.Diagnostics, cfg.Name.ValueString(), clusters)
	addSLAFaults(&resp.Diagnostics, clusters)
}

// ModifyPlan shows the real routing in the plan (Vamp's defaults and merge rule filled in),
// refuses what Vamp refuses (a removed variant that still has weight), and keeps computed
// values that an apply will not change.
func (r *deploymentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	defer planConvergence(ctx, r.gatewayClient(), req, resp) // once the rest of the plan is set
	var cfg, plan deploymentModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || cfg.Name.IsUnknown() {
		return
	}
	gateways, ok1 := decodeStringMap(ctx, cfg.Gateways, &resp.Diagnostics)
	clusters, ok2 := decodeClusters(ctx, cfg.Clusters, &resp.Diagnostics)
	if !ok1 || !ok2 || resp.Diagnostics.HasError() {
		return
	}
	var prior *blueprint.Blueprint
	var state deploymentModel
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		prior = stateBlueprint(ctx, &state, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		if state.Name.ValueString() != cfg.Name.ValueString() {
			prior = nil // replaced: a new deployment starts fresh
		}
	}
	eps, ok3 := decodeEndpoints(ctx, cfg.Endpoints, &resp.Diagnostics)
	if !ok3 || resp.Diagnostics.HasError() {
		return
	}
	bp := plannedBlueprint(cfg.Name.ValueString(), gateways, clusters, prior)
	addFieldErrors(&resp.Diagnostics, bp.Validate())
	addFieldErrors(&resp.Diagnostics, blueprint.RemovedWithWeight(prior, bp))
	addFieldErrors(&resp.Diagnostics, deployplan.RefFaults(bp)) // $backend.host, $backend.ports.NAME
	// What needs HTTP on a tcp port, as configured (the merge may keep the running routing).
	addTCPGatewayFaults(&resp.Diagnostics, cfg.Name.ValueString(), gateways, clusters)
	if resp.Diagnostics.HasError() {
		return
	}
	eps = filledEndpoints(eps)
	addEndpointErrors(&resp.Diagnostics, bp.Name, bp.Gateways, eps, bp)
	if resp.Diagnostics.HasError() {
		return
	}
	bp.Gateways = withEndpointPorts(bp.Gateways, eps)
	addUnservedErrors(&resp.Diagnostics, bp)
	addFieldErrors(&resp.Diagnostics, runtimeFieldErrors(r.data, bp)) // e.g. Marathon's app id rules
	checkRolloutRoutes(&resp.Diagnostics, bp, clusters)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.Clusters = clustersValue(ctx, setSplits(fillComputed(clusters, bp)), &resp.Diagnostics)
	plan.Endpoints = endpointsValue(ctx, eps, &resp.Diagnostics)
	plan.GatewayName = plannedGatewayName(ctx, gatewayNameMap(bp), state.GatewayNames, prior != nil && prior.Name == bp.Name, &resp.Diagnostics)
	plan.GatewayNames = listOfStrings(ctx, deployplan.GatewayNames(bp), &resp.Diagnostics)
	plan.RouteNames = listOfStrings(ctx, deployplan.RouteNames(bp), &resp.Diagnostics)
	plan.Status = types.StringValue(statusDeployed)
	plan.Instances = plannedInstances(prior, bp, state.Instances, &resp.Diagnostics)
	plan.ResolvedEnvironment = r.plannedResolvedEnv(ctx, bp, &resp.Diagnostics)
	if !req.State.Raw.IsNull() {
		// As recorded, for rollout_status's comparison of the plan with the state; the deferred
		// planConvergence decides.
		plan.Convergence = state.Convergence
	}
	planRolloutStatus(ctx, req, resp, &plan, &state, clusters)
}

// plannedGatewayName is gateway_name in a plan: a gateway that exists already (the state lists
// it) has its name; one the apply makes is known after apply, so that a resource that routes to
// it through gateway_name waits for it (and a plan-time check of the reference does not see a
// gateway that is not there yet).
func plannedGatewayName(ctx context.Context, names map[string]string, recorded types.List, same bool, diags *diag.Diagnostics) types.Map {
	var existing []string
	if same && !recorded.IsNull() && !recorded.IsUnknown() {
		diags.Append(recorded.ElementsAs(ctx, &existing, false)...)
	}
	elems := map[string]attr.Value{}
	for key, name := range names {
		if slices.Contains(existing, name) {
			elems[key] = types.StringValue(name)
		} else {
			elems[key] = types.StringUnknown()
		}
	}
	v, d := types.MapValue(types.StringType, elems)
	diags.Append(d...)
	return v
}

// plannedInstances is the plan's instances: a service the apply leaves alone keeps the
// instances the state records (so the plan does not show them as "known after apply", which
// reads as if they went away); a service it deploys gets unknown ones; a removed one drops out.
func plannedInstances(prior, next *blueprint.Blueprint, recorded types.Map, diags *diag.Diagnostics) types.Map {
	if prior == nil || recorded.IsNull() || recorded.IsUnknown() {
		return types.MapUnknown(instancesType.ElemType)
	}
	deploy := map[string]bool{}
	for _, s := range deployplan.ServicesToDeploy(prior, next) {
		deploy[s.ID] = true
	}
	known := recorded.Elements()
	elems := map[string]attr.Value{}
	for _, cname := range slices.Sorted(maps.Keys(next.Clusters)) {
		for _, s := range next.Clusters[cname].Services {
			key := cname + "/" + s.Breed.Name
			if v, ok := known[key]; ok && !deploy[deployplan.ServiceID(next.Name, cname, s)] {
				elems[key] = v
			} else {
				elems[key] = types.ListUnknown(types.StringType)
			}
		}
	}
	v, d := types.MapValue(instancesType.ElemType, elems)
	diags.Append(d...)
	return v
}

// keepKnown is read with the elements that planned knows already: an apply must give what the
// plan promised.
func keepKnown(planned, read types.Map, diags *diag.Diagnostics) types.Map {
	if planned.IsUnknown() || planned.IsNull() || read.IsNull() || read.IsUnknown() {
		return read
	}
	elems := read.Elements()
	for k, v := range planned.Elements() {
		if !v.IsUnknown() {
			elems[k] = v
		}
	}
	for k, v := range elems {
		if v.IsUnknown() {
			delete(elems, k)
		}
	}
	out, d := types.MapValue(instancesType.ElemType, elems)
	diags.Append(d...)
	return out
}

func clustersValue(ctx context.Context, clusters map[string]clusterModel, diags *diag.Diagnostics) types.Map {
	v, d := types.MapValueFrom(ctx, clustersType().ElemType, clusters)
	diags.Append(d...)
	return v
}

// stateBlueprint is the normalized blueprint that a state records.
func stateBlueprint(ctx context.Context, m *deploymentModel, diags *diag.Diagnostics) *blueprint.Blueprint {
	gateways, _ := decodeStringMap(ctx, m.Gateways, diags)
	clusters, _ := decodeClusters(ctx, m.Clusters, diags)
	eps, _ := decodeEndpoints(ctx, m.Endpoints, diags)
	bp := toBlueprint(m.Name.ValueString(), withEndpointPorts(gateways, eps), clusters)
	bp.Normalize()
	return bp
}

// gatewayClient is where the resource writes its gateways; nil while the provider is not
// configured.
func (r *deploymentResource) gatewayClient() gatewayClient {
	if r.data == nil {
		return nil
	}
	return r.data.Gateway
}

func (r *deploymentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan deploymentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, op := startOperation(ctx, plan.Timeouts, "create", defaultDeployTimeout, &resp.Diagnostics)
	defer cancel()
	ctx, record := revisionsContext(ctx, r.data.Gateway, nil, &resp.Diagnostics)
	defer record(resp.Private) // also after an error: a change that etcd took is this run's revision
	ctx, report := withConvergence(ctx)

	bp := r.apply(ctx, op, &plan, nil, nil, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		// Nothing is recorded in state, so take down what this apply started, with a context
		// of its own (the operation's may have run out).
		if bp != nil {
			undo, cancelUndo := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancelUndo()
			tflog.Info(ctx, "create failed: removing what it started", map[string]any{"deployment": bp.Name})
			r.teardown(undo, bp, deployplan.GatewayNames(bp), &resp.Diagnostics)
		}
		return
	}
	r.settleRollouts(ctx, &plan, &resp.Diagnostics)
	plan.Convergence = report.value(ctx, &resp.Diagnostics) // null through the admin API
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *deploymentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state deploymentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, op := startOperation(ctx, plan.Timeouts, "update", defaultDeployTimeout, &resp.Diagnostics)
	defer cancel()
	// In etcd, the gateways' writes compare the revisions the plan read (private state).
	ctx, record := revisionsContext(ctx, r.data.Gateway, req.Private, &resp.Diagnostics)
	defer record(resp.Private) // also after an error: a change that etcd took is this run's revision
	ctx, report := withConvergence(ctx)

	prior := stateBlueprint(ctx, &state, &resp.Diagnostics)
	var priorNames []string
	resp.Diagnostics.Append(state.GatewayNames.ElementsAs(ctx, &priorNames, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.apply(ctx, op, &plan, prior, priorNames, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return // the prior state stays, and apply removed the services it added: the runtime runs what state says
	}
	r.settleRollouts(ctx, &plan, &resp.Diagnostics)
	plan.Convergence = report.value(ctx, &resp.Diagnostics) // null through the admin API
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// apply makes the planned deployment real, in an order that never routes to what is not
// running: new and changed services (each waits until healthy), then the cluster gateways,
// then the blueprint gateways; after that it removes the gateways and services that left the
// configuration. It fills the computed values of plan and returns the applied blueprint.
//
// When it fails, the runtime is left running what prior says (the state Terraform keeps after a
// failed update): the driver undoes the change that failed (a new service is removed, a changed
// one goes back to its previous definition) and apply removes the services it added before
// that. Removing, rather than recording the failed variant in state, keeps the state a
// description of what serves traffic; the error says why the variant failed.
func (r *deploymentResource) apply(ctx context.Context, op operation, plan *deploymentModel, prior *blueprint.Blueprint, priorNames []string, diags *diag.Diagnostics) *blueprint.Blueprint {
	gateways, _ := decodeStringMap(ctx, plan.Gateways, diags)
	clusters, _ := decodeClusters(ctx, plan.Clusters, diags)
	eps, _ := decodeEndpoints(ctx, plan.Endpoints, diags)
	if diags.HasError() {
		return nil
	}
	bp := plannedBlueprint(plan.Name.ValueString(), withEndpointPorts(gateways, eps), clusters, prior)
	driver := r.data.Runtime

	slas := slaPolicies(bp.Name, clusters)
	var added []string // services this apply started that prior does not have
	defer func() {
		if diags.HasError() && prior != nil && len(added) > 0 {
			r.removeAdded(ctx, added, diags)
		}
	}()
	docs := deployplan.ClusterGateways(bp, driver.Name())
	for _, g := range deployplan.BlueprintGateways(bp) {
		for port, e := range eps {
			if g.Name == blueprint.DeploymentGatewayName(bp.Name, port) {
				g.Gateway = endpointGateway(bp.Name, port, e)
			}
		}
		docs = append(docs, g)
	}
	addRollouts(bp.Name, clusters, docs)
	addSLAs(bp.Name, clusters, docs)
	setGatewayProtocols(bp, docs)

	// A cluster port that a service's environment references gets a listening gateway before
	// any service starts, so that the reference has an address (see deployment_refs.go).
	refNames := refGatewayNames(bp)
	addrs, ok := r.listenReferenced(ctx, bp, refNames, docs, diags)
	if !ok {
		return bp
	}
	// Services in dependency order: a dependency is running before its dependants start.
	order, cycle := deployplan.ClusterOrder(bp)
	if cycle != nil { // the plan refuses it; a guard for a state edited by hand
		diags.AddError("Dependency cycle", "The clusters' environment variables reference each other in a cycle: "+strings.Join(cycle, " → ")+". Remove one of these references.")
		return bp
	}
	existing := deployplan.RuntimeServices(prior)
	toDeploy := deployplan.ServicesToDeploy(prior, bp)
	for _, cname := range order {
		for _, s := range toDeploy {
			if _, c, _, _ := runtime.SplitID(s.ID); c != cname {
				continue
			}
			env, known := deployplan.ResolveEnv(s.Environment, addrs)
			if !known { // cannot happen: listenReferenced gave every referenced port one
				diags.AddError("Service "+quote(s.ID)+" was not deployed", "A dependency reference in its environment variables names a cluster port whose gateway has no port.")
				return bp
			}
			s.Environment = env
			if p, ok := slas[s.ID]; ok {
				s.Instances = r.slaStartCount(ctx, s, p)
			}
			if _, ok := existing[s.ID]; !ok {
				added = append(added, s.ID)
			}
			tflog.Info(ctx, "deploying service", map[string]any{"service": s.ID, "runtime": driver.Name()})
			if _, err := driver.Apply(ctx, s); err != nil {
				addDeployError(diags, op, s.ID, err, ctx.Err())
				return bp
			}
		}
	}
	// The gateways change as one: one transaction in etcd, which every replica applies at
	// once; the admin API takes them in this order (cluster gateways, blueprint gateways, then
	// the deletions).
	var changes []gatewayChange
	for _, g := range docs {
		if key, ok := refNames[g.Name]; ok {
			g.Gateway.Port = addrs.Ports[key]
		}
		tflog.Debug(ctx, "writing gateway", map[string]any{"gateway": g.Name, "routes": len(g.Gateway.Routes)})
		changes = append(changes, gatewayChange{Name: g.Name, Gateway: &g.Gateway})
	}
	wanted := deployplan.GatewayNames(bp)
	for _, name := range priorNames { // blueprint gateways come first in priorNames
		if !slices.Contains(wanted, name) {
			changes = append(changes, gatewayChange{Name: name})
		}
	}
	if err := r.data.Gateway.Write(ctx, changes); err != nil {
		addWriteError(diags, err)
		return bp
	}
	for _, id := range deployplan.ServicesToRemove(prior, bp) {
		if err := driver.Delete(ctx, id); err != nil {
			diags.AddError("Service "+quote(id)+" was not removed", err.Error())
			return bp
		}
	}
	plan.GatewayNames = listOfStrings(ctx, wanted, diags)
	plan.ResolvedEnvironment = resolvedEnvValue(bp, addrs, diags)
	plan.GatewayName = stringMapValue(ctx, gatewayNameMap(bp), diags)
	plan.RouteNames = listOfStrings(ctx, deployplan.RouteNames(bp), diags)
	plan.Status = types.StringValue(statusDeployed)
	// A plan that deploys nothing already holds the instances (Read refreshes them later).
	if !fullyKnown(ctx, plan.Instances) {
		read, _ := r.instances(ctx, bp, diags)
		plan.Instances = keepKnown(plan.Instances, read, diags)
	}
	return bp
}

// cleanupTimeout bounds the clean-up after a failed apply: the operation's own context may have
// run out by then.
const cleanupTimeout = 2 * time.Minute

// removeAdded removes the services that a failed update started (they are not in the state it
// leaves), with a context of its own.
func (r *deploymentResource) removeAdded(ctx context.Context, ids []string, diags *diag.Diagnostics) {
	undo, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for _, id := range ids {
		tflog.Info(ctx, "update failed: removing a service it started", map[string]any{"service": id})
		if err := r.data.Runtime.Delete(undo, id); err != nil {
			diags.AddError("Service "+quote(id)+" was not removed after the failed apply",
				fmt.Sprintf("%v\n\nThe apply failed and the service it started is not in the state. Remove it with the runtime's API "+
					"(local: DELETE /v1/services/%s on the gateway's admin API), or apply again.", err, id))
		}
	}
}

// addDeployError reports a service that did not deploy with the runtime's reason and, when the
// operation's timeout ended the wait, which timeout that was and how to raise it.
func addDeployError(diags *diag.Diagnostics, op operation, id string, err, ctxErr error) {
	summary := "Service " + quote(id) + " did not deploy"
	advice := "The gateways still route as before, and the runtime runs what it ran before this apply. " +
		"Fix the service (its deployable, ports or health checks) and apply again."
	// A driver may not wrap the context's error (Marathon's reports its rollback instead): the
	// operation's own context says whether its deadline ended the wait.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded) {
		summary = fmt.Sprintf("Service %s is not healthy after timeouts.%s (%s)", quote(id), op.name, op.timeout)
		advice = "The gateways still route as before, and the runtime runs what it ran before this apply. " +
			"If the output above shows the service failing, fix it (its deployable, ports or health checks). " + op.ranOut("vamp_deployment")
	}
	diags.AddError(summary, fmt.Sprintf("%v\n\n%s", err, advice))
}

// instances reads every service's instances; running holds the status of each service the
// runtime has, by service id.
func (r *deploymentResource) instances(ctx context.Context, bp *blueprint.Blueprint, diags *diag.Diagnostics) (types.Map, map[string]runtime.Status) {
	out := map[string][]string{}
	running := map[string]runtime.Status{}
	for _, cname := range slices.Sorted(maps.Keys(bp.Clusters)) {
		for _, s := range bp.Clusters[cname].Services {
			id := deployplan.ServiceID(bp.Name, cname, s)
			st, found, err := r.data.Runtime.Get(ctx, id)
			if err != nil {
				diags.AddError("Cannot read service "+quote(id), err.Error())
				continue
			}
			if !found {
				continue
			}
			running[id] = st
			out[cname+"/"+s.Breed.Name] = st.Addresses()
		}
	}
	v, d := types.MapValueFrom(ctx, instancesType.ElemType, out)
	diags.Append(d...)
	return v, running
}

func (r *deploymentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state deploymentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	clusters, _ := decodeClusters(ctx, state.Clusters, &resp.Diagnostics)
	bp := stateBlueprint(ctx, &state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	name := bp.Name

	// Gateways: what is gone drops out of gateway_names (the plan puts it back); the live
	// routing of each cluster gateway replaces the recorded one (drift shows in the plan).
	var present []string
	live := map[string]gatewayapi.Gateway{}
	ctx, record := revisionsContext(ctx, r.data.Gateway, nil, &resp.Diagnostics)
	defer record(resp.Private)
	for _, gname := range deployplan.GatewayNames(bp) {
		gw, err := r.data.Gateway.Get(ctx, gname)
		if gatewayapi.IsNotFound(err) {
			continue
		}
		if err != nil {
			addAPIError(&resp.Diagnostics, "GET", "gateway "+quote(gname), err)
			return
		}
		present = append(present, gname)
		live[gname] = gw
	}
	instances, running := r.instances(ctx, bp, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	missing := len(deployplan.RuntimeServicesOrdered(bp)) - len(running)
	addrs := refAddresses(r.data.GatewayHost, bp, slices.Collect(maps.Values(live)))
	if len(present) == 0 && len(running) == 0 {
		resp.State.RemoveResource(ctx)
		return
	}
	for cname, c := range clusters {
		// A service the runtime lacks drops out (the plan deploys it again); a running one is
		// as the runtime reports it (drift shows in the plan as an update).
		var kept []serviceModel
		for _, s := range c.Services {
			if st, ok := running[runtime.ID(name, cname, s.Breed.Name.ValueString())]; ok {
				// The runtime runs the service with its dependency references resolved.
				st.Service.Environment = unresolvedEnv(s.Breed.EnvironmentVariables, st.Service.Environment, addrs)
				kept = append(kept, liveService(s, st.Service, slaOwnsInstances(s)))
			}
		}
		c.Services = kept
		for port, g := range c.Gateways {
			if gw, ok := live[blueprint.GatewayName(name, cname, port)]; ok {
				c.Gateways[port] = withLiveRollout(name, cname, port, g, liveRouting(g, gw), gw)
			}
		}
		clusters[cname] = c
	}
	state.Clusters = clustersValue(ctx, setSplits(clusters), &resp.Diagnostics)
	if eps, _ := decodeEndpoints(ctx, state.Endpoints, &resp.Diagnostics); eps != nil {
		for port := range eps {
			if gw, ok := live[blueprint.DeploymentGatewayName(name, port)]; ok {
				eps[port] = liveEndpoint(name, gw)
			}
		}
		state.Endpoints = endpointsValue(ctx, eps, &resp.Diagnostics)
	}
	state.GatewayName = stringMapValue(ctx, gatewayNameMap(bp), &resp.Diagnostics)
	state.GatewayNames = listOfStrings(ctx, present, &resp.Diagnostics)
	state.Instances = instances
	state.RolloutStatus = rolloutStatuses(ctx, live, &resp.Diagnostics)
	state.ResolvedEnvironment = liveResolvedEnv(bp, running, &resp.Diagnostics)
	state.Status = types.StringValue(statusDeployed)
	if len(present) < len(deployplan.GatewayNames(bp)) || missing > 0 {
		state.Status = types.StringValue(statusDegraded)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// liveRouting is recorded routing updated from the live gateway: sticky, and weight, condition
// and strength of each route. A live route the state does not list shows up only when it can
// take traffic (weight or condition): a route with weight 0 is what an unlisted service means.
func liveRouting(recorded clusterGatewayModel, gw gatewayapi.Gateway) clusterGatewayModel {
	out := clusterGatewayModel{Sticky: nullIfEmpty(gw.Sticky), Routes: map[string]routeModel{}}
	for _, rt := range gw.Routes {
		if rt.Service == nil {
			continue
		}
		_, _, svc, ok := runtime.SplitID(rt.Service.ID)
		if !ok {
			continue
		}
		_, listed := recorded.Routes[svc]
		if !listed && rt.Weight == 0 && rt.Condition == "" {
			continue
		}
		out.Routes[svc] = routeModel{
			Weight:            types.Int64Value(int64(rt.Weight)),
			Condition:         nullIfEmpty(rt.Condition),
			ConditionStrength: liveStrength(rt.Condition, rt.ConditionStrength),
		}
	}
	return out
}

func (r *deploymentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state deploymentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, _ := startOperation(ctx, state.Timeouts, "delete", defaultDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	ctx, _ = revisionsContext(ctx, r.data.Gateway, req.Private, &resp.Diagnostics)
	bp := stateBlueprint(ctx, &state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// Every gateway the deployment may have made, whether or not state still lists it.
	r.teardown(ctx, bp, deployplan.GatewayNames(bp), &resp.Diagnostics)
}

// teardown removes blueprint gateways, then cluster gateways, then services: traffic stops
// before the processes do.
func (r *deploymentResource) teardown(ctx context.Context, bp *blueprint.Blueprint, names []string, diags *diag.Diagnostics) {
	deletes := make([]gatewayChange, len(names))
	for i, name := range names {
		deletes[i] = gatewayChange{Name: name}
	}
	if err := r.data.Gateway.Write(ctx, deletes); err != nil {
		addWriteError(diags, err)
		return
	}
	for _, s := range deployplan.RuntimeServicesOrdered(bp) {
		tflog.Info(ctx, "removing service", map[string]any{"service": s.ID})
		if err := r.data.Runtime.Delete(ctx, s.ID); err != nil {
			diags.AddError("Service "+quote(s.ID)+" was not removed", err.Error())
		}
	}
	// Every service the deployment started goes, also one the state does not list (e.g. left
	// by a failed apply of an earlier provider version): service ids start with the name.
	left, err := r.data.Runtime.List(ctx, bp.Name+"/")
	if err != nil {
		diags.AddError("Cannot list the services of deployment "+quote(bp.Name), err.Error())
		return
	}
	for _, st := range left {
		tflog.Info(ctx, "removing a service the state does not list", map[string]any{"service": st.Service.ID})
		if err := r.data.Runtime.Delete(ctx, st.Service.ID); err != nil {
			diags.AddError("Service "+quote(st.Service.ID)+" was not removed", err.Error())
		}
	}
}

// ImportState rebuilds a deployment by name from the gateway's configuration and the runtime's
// services: `terraform import vamp_deployment.sava sava`.
func (r *deploymentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name := req.ID
	all, err := r.data.Gateway.List(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, "GET", "the gateway list", err)
		return
	}
	services, err := r.data.Runtime.List(ctx, name+"/")
	if err != nil {
		resp.Diagnostics.AddError("Cannot list services", err.Error())
		return
	}
	bp := deployplan.ImportedBlueprint(name, all, services)
	eps := map[string]endpointModel{}
	for _, gw := range all {
		port, ok := strings.CutPrefix(gw.Name, name+"/")
		if ok && !strings.Contains(port, "/") && len(bp.Clusters) > 0 && deployplan.IsEndpoint(gw) {
			eps[port] = liveEndpoint(name, gw)
		}
	}
	if len(eps) == 0 {
		eps = nil
	}
	if len(bp.Clusters) == 0 {
		resp.Diagnostics.AddError("No such deployment",
			fmt.Sprintf("Neither the gateway nor the %s runtime has anything of a deployment named %q. The import id is the deployment's name, e.g. \"sava\".",
				r.data.Runtime.Name(), name))
		return
	}
	state := deploymentModel{
		Name:          types.StringValue(name),
		Gateways:      types.MapNull(types.StringType),
		Clusters:      clustersValue(ctx, setSplits(importedRollouts(name, clustersModel(bp), all)), &resp.Diagnostics),
		RolloutStatus: rolloutStatuses(ctx, liveByName(all), &resp.Diagnostics),
		// The runtime runs resolved values: an imported configuration has no references.
		ResolvedEnvironment: types.MapValueMust(resolvedEnvType.ElemType, map[string]attr.Value{}),
		Convergence:         types.ObjectNull(convergenceAttrTypes), // no apply of this state yet
		Timeouts:            timeouts.Value{Object: types.ObjectNull(timeoutsAttrTypes(ctx))},
	}
	if len(bp.Gateways) > 0 {
		v, d := types.MapValueFrom(ctx, types.StringType, bp.Gateways)
		resp.Diagnostics.Append(d...)
		state.Gateways = v
	}
	state.Endpoints = endpointsValue(ctx, eps, &resp.Diagnostics)
	bp.Gateways = withEndpointPorts(bp.Gateways, eps)
	state.GatewayName = stringMapValue(ctx, gatewayNameMap(bp), &resp.Diagnostics)
	state.GatewayNames = listOfStrings(ctx, deployplan.GatewayNames(bp), &resp.Diagnostics)
	state.RouteNames = listOfStrings(ctx, deployplan.RouteNames(bp), &resp.Diagnostics)
	state.Status = types.StringValue(statusDeployed)
	state.Instances, _ = r.instances(ctx, bp, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
