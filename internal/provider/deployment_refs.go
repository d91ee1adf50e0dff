package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/deployplan"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// Dependency references (${CLUSTER.host}, ${CLUSTER.ports.PORT}; see deployplan.ResolveValue)
// are resolved here, in the provider's apply, because only the apply knows both ends: the
// gateway's host (provider configuration) and the port each referenced cluster gateway listens
// on (the live gateway's, or one the apply gives it). The runtime drivers get services with
// plain values, so the local runtime and Marathon behave alike.

// Ports given to a referenced cluster gateway that does not listen yet: Vamp's default range for
// its internal gateways' ports (vamp.operation.gateway.port-range, 40000-45000).
const (
	refPortFirst = 40000
	refPortLast  = 44999
)

// refAddresses are the addresses of bp's referenced cluster ports whose gateways listen now,
// taken from gateways (the live ones, any order).
func refAddresses(host string, bp *blueprint.Blueprint, gateways []gatewayapi.Gateway) deployplan.Addresses {
	a := deployplan.Addresses{Host: host, Ports: map[string]int{}}
	names := refGatewayNames(bp)
	for _, gw := range gateways {
		if key, ok := names[gw.Name]; ok && gw.Port != 0 {
			a.Ports[key] = gw.Port
		}
	}
	return a
}

// refGatewayNames maps the name of each referenced cluster gateway to its cluster port key.
func refGatewayNames(bp *blueprint.Blueprint) map[string]string {
	out := map[string]string{}
	for _, key := range deployplan.ReferencedPorts(bp) {
		cname, port, _ := strings.Cut(key, "/") // cluster names have no "/"
		out[blueprint.GatewayName(bp.Name, cname, port)] = key
	}
	return out
}

// listenReferenced makes every referenced cluster gateway listen and returns the addresses of
// all of them. A gateway that listens keeps its port (its dependants were given it). One that
// does not gets the first port of Vamp's range that no gateway uses and the gateway can bind:
// an existing gateway is written back as it is with that port (its routing changes later, with
// the rest, after the services are up); a new one without routes (nothing reaches it before its
// dependants start, and the apply writes its routes after its services are up).
func (r *deploymentResource) listenReferenced(ctx context.Context, bp *blueprint.Blueprint, refNames map[string]string, docs []deployplan.NamedGateway, diags *diag.Diagnostics) (deployplan.Addresses, bool) {
	addrs := deployplan.Addresses{Host: r.data.GatewayHost, Ports: map[string]int{}}
	if len(refNames) == 0 {
		return addrs, true
	}
	all, err := r.data.Gateway.List(ctx)
	if err != nil {
		addAPIError(diags, "GET", "the gateway list", err)
		return addrs, false
	}
	addrs = refAddresses(r.data.GatewayHost, bp, all)
	used := map[int]bool{}
	live := map[string]gatewayapi.Gateway{}
	for _, gw := range all {
		used[gw.Port] = true
		live[gw.Name] = gw
	}
	for _, g := range docs {
		key, ok := refNames[g.Name]
		if !ok || addrs.Ports[key] != 0 {
			continue
		}
		if gw, ok := live[g.Name]; ok {
			g.Gateway = gw
		} else {
			// Its services are not running yet (the gateway refuses routes to them): it listens
			// without routes until the apply writes it whole, after them.
			g.Gateway = gatewayapi.Gateway{Protocol: g.Gateway.Protocol, Routes: []gatewayapi.Route{}}
		}
		port, err := r.putListening(ctx, g, used)
		if err != nil {
			addAPIError(diags, "PUT", "gateway "+quote(g.Name), err)
			return addrs, false
		}
		tflog.Info(ctx, "a referenced cluster gateway listens", map[string]any{"gateway": g.Name, "port": port})
		addrs.Ports[key] = port
	}
	return addrs, true
}

// putListening writes g on the first port of Vamp's range that is not used and the gateway can
// bind, and returns the port.
func (r *deploymentResource) putListening(ctx context.Context, g deployplan.NamedGateway, used map[int]bool) (int, error) {
	for p := refPortFirst; p <= refPortLast; p++ {
		if used[p] {
			continue
		}
		g.Gateway.Port = p
		_, err := r.data.Gateway.Put(ctx, g.Name, g.Gateway)
		var apiErr *gatewayapi.APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict && apiErr.Body.Path == "port" {
			used[p] = true // another process holds it: the next one
			continue
		}
		if err == nil {
			used[p] = true
		}
		return p, err
	}
	return 0, fmt.Errorf("no port of %d-%d is free on the gateway for %s, which a dependency reference needs; free one, or remove gateways that are no longer used",
		refPortFirst, refPortLast, g.Name)
}

// unresolvedEnv is the environment to record for a service that the runtime runs with live:
// recorded (with its references) when live is recorded resolved with a, else live (the plan
// then shows the difference and the apply defines the service again).
func unresolvedEnv(recorded, live map[string]string, a deployplan.Addresses) map[string]string {
	resolved, known := deployplan.ResolveEnv(recorded, a)
	if known && maps.Equal(resolved, live) {
		return recorded
	}
	return live
}

// resolvedEnvType is the type of resolved_environment: by `CLUSTER/BREED`, the variables that
// hold dependency references, as the runtime starts the service.
var resolvedEnvType = types.MapType{ElemType: types.MapType{ElemType: types.StringType}}

// referencingEnv are the environment variables of bp's services that hold dependency
// references, by `CLUSTER/BREED`.
func referencingEnv(bp *blueprint.Blueprint) map[string]map[string]string {
	out := map[string]map[string]string{}
	for cname, c := range bp.Clusters {
		for _, s := range c.Services {
			if s == nil {
				continue
			}
			for name, v := range s.Breed.Environment {
				if deployplan.HasRefs(v) {
					key := cname + "/" + s.Breed.Name
					if out[key] == nil {
						out[key] = map[string]string{}
					}
					out[key][name] = v
				}
			}
		}
	}
	return out
}

// resolvedEnvValue is resolved_environment with addrs: a service whose references are not all
// known yet (a cluster gateway that gets its port in the apply) is unknown.
func resolvedEnvValue(bp *blueprint.Blueprint, addrs deployplan.Addresses, diags *diag.Diagnostics) types.Map {
	elems := map[string]attr.Value{}
	for key, env := range referencingEnv(bp) {
		resolved, known := deployplan.ResolveEnv(env, addrs)
		if !known {
			elems[key] = types.MapUnknown(types.StringType)
			continue
		}
		v, d := types.MapValueFrom(context.Background(), types.StringType, resolved)
		diags.Append(d...)
		elems[key] = v
	}
	v, d := types.MapValue(resolvedEnvType.ElemType, elems)
	diags.Append(d...)
	return v
}

// plannedResolvedEnv is resolved_environment in a plan: the references resolved with the
// ports the referenced cluster gateways listen on now; the rest is known after apply.
func (r *deploymentResource) plannedResolvedEnv(ctx context.Context, bp *blueprint.Blueprint, diags *diag.Diagnostics) types.Map {
	addrs := deployplan.Addresses{Host: r.data.GatewayHost}
	if len(refGatewayNames(bp)) > 0 {
		all, err := r.data.Gateway.List(ctx)
		if err != nil {
			// The plan cannot see the gateway: every value is known after apply.
			tflog.Warn(ctx, "listing gateways for dependency references", map[string]any{"error": err.Error()})
			return types.MapUnknown(resolvedEnvType.ElemType)
		}
		addrs = refAddresses(r.data.GatewayHost, bp, all)
	}
	return resolvedEnvValue(bp, addrs, diags)
}

// liveResolvedEnv is resolved_environment as the runtime runs the services (running, by id):
// the live value of each variable that the configuration gives a reference.
func liveResolvedEnv(bp *blueprint.Blueprint, running map[string]runtime.Status, diags *diag.Diagnostics) types.Map {
	elems := map[string]attr.Value{}
	for key, env := range referencingEnv(bp) {
		cname, breed, _ := strings.Cut(key, "/")
		st, ok := running[runtime.ID(bp.Name, cname, breed)]
		if !ok {
			continue
		}
		live := map[string]string{}
		for name := range env {
			if v, ok := st.Service.Environment[name]; ok {
				live[name] = v
			}
		}
		v, d := types.MapValueFrom(context.Background(), types.StringType, live)
		diags.Append(d...)
		elems[key] = v
	}
	v, d := types.MapValue(resolvedEnvType.ElemType, elems)
	diags.Append(d...)
	return v
}
