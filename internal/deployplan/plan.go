package deployplan

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// Merge completes bp, a configuration's blueprint, into the deployment an apply makes given
// prior, the running one (nil for none): Vamp's merge rule keeps prior's routing of every
// cluster port whose routing bp leaves unstated (so a variant added there gets weight 0), then
// Normalize fills Vamp's defaults. It changes and returns bp.
func Merge(bp, prior *blueprint.Blueprint) *blueprint.Blueprint {
	keepRunningRouting(bp, prior)
	bp.Normalize()
	return bp
}

// LiveStrength is the strength of a live route as a configuration states it: the gateway's,
// else 100 with a condition (the HCL default), else none.
func LiveStrength(condition string, strength *int) *int64 {
	switch {
	case strength != nil:
		return blueprint.Int64(int64(*strength))
	case strings.TrimSpace(condition) != "":
		return blueprint.Int64(100)
	default:
		return nil
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func intFrom64(v *int64) *int {
	if v == nil {
		return nil
	}
	i := int(*v)
	return &i
}

// keepRunningRouting applies Vamp's merge rule against the running deployment: a cluster port
// whose routing the configuration leaves unstated keeps prior's routing (sticky and weights),
// so a variant added to it gets weight 0 from Normalize instead of an even split.
func keepRunningRouting(bp, prior *blueprint.Blueprint) {
	if prior == nil {
		return
	}
	for cname, c := range bp.Clusters {
		pc := prior.Clusters[cname]
		if pc == nil {
			continue
		}
		for port, pg := range pc.Gateways {
			if pg == nil {
				continue
			}
			g := c.Gateways[port]
			if g != nil && g.Routes != nil {
				continue
			}
			if g == nil {
				g = &blueprint.ClusterGateway{Sticky: pg.Sticky}
				if c.Gateways == nil {
					c.Gateways = map[string]*blueprint.ClusterGateway{}
				}
				c.Gateways[port] = g
			}
			g.Routes = map[string]*blueprint.Route{}
			for svc, r := range pg.Routes {
				if c.Service(svc) != nil {
					g.Routes[svc] = r.Clone()
				}
			}
		}
	}
}

// ServiceID is the runtime id of a service variant.
func ServiceID(deployment, cluster string, s *blueprint.Service) string {
	return runtime.ID(deployment, cluster, s.Breed.Name)
}

// RuntimeService is what the runtime runs for one service of a normalized blueprint.
func RuntimeService(deployment, cluster string, s *blueprint.Service) runtime.Service {
	out := runtime.Service{
		ID:          ServiceID(deployment, cluster, s),
		Deployable:  s.Breed.Deployable,
		Ports:       maps.Clone(s.Breed.Ports),
		Environment: maps.Clone(s.Breed.Environment),
		CPU:         s.Scale.CPU,
		MemoryMB:    s.Scale.MemoryMB,
		Instances:   s.Scale.Instances,
		Marathon:    s.Marathon,
	}
	for _, hc := range s.HealthChecks {
		out.HealthChecks = append(out.HealthChecks, runtime.HealthCheck(hc))
	}
	return out
}

// NamedGateway is a gateway document with its name.
type NamedGateway struct {
	Name    string
	Gateway gatewayapi.Gateway
}

// ClusterGateways are the internal gateways of a normalized blueprint, sorted by name: one per
// cluster port, a route per service that has the port, in service order.
func ClusterGateways(bp *blueprint.Blueprint, runtimeName string) []NamedGateway {
	var out []NamedGateway
	for _, cname := range slices.Sorted(maps.Keys(bp.Clusters)) {
		c := bp.Clusters[cname]
		for _, port := range slices.Sorted(maps.Keys(c.Gateways)) {
			g := c.Gateways[port]
			gw := gatewayapi.Gateway{Port: 0, Sticky: g.Sticky, Routes: []gatewayapi.Route{}}
			for _, svc := range c.ServicesWithPort(port) {
				r := g.Routes[svc]
				if r == nil {
					continue
				}
				gw.Routes = append(gw.Routes, gatewayapi.Route{
					Name:              blueprint.RouteName(bp.Name, cname, svc, port),
					Weight:            int(*r.Weight),
					Condition:         r.Condition,
					ConditionStrength: intFrom64(r.ConditionStrength),
					Service:           &gatewayapi.ServiceRef{Runtime: runtimeName, ID: runtime.ID(bp.Name, cname, svc), Port: port},
				})
			}
			out = append(out, NamedGateway{Name: blueprint.GatewayName(bp.Name, cname, port), Gateway: gw})
		}
	}
	return out
}

// BlueprintGateways are the gateways on the blueprint's ports, sorted by port number, each with
// one route to its cluster gateway.
func BlueprintGateways(bp *blueprint.Blueprint) []NamedGateway {
	ports := slices.Collect(maps.Keys(bp.Gateways))
	slices.SortFunc(ports, func(a, b string) int { return atoi(a) - atoi(b) })
	var out []NamedGateway
	for _, port := range ports {
		target := bp.Gateways[port]
		out = append(out, NamedGateway{
			Name: blueprint.DeploymentGatewayName(bp.Name, port),
			Gateway: gatewayapi.Gateway{Port: atoi(port), Routes: []gatewayapi.Route{{
				Name: target, Weight: 100, Gateway: bp.Name + "/" + target,
			}}},
		})
	}
	return out
}

// GatewayNames lists the blueprint gateways, then the cluster gateways.
func GatewayNames(bp *blueprint.Blueprint) []string {
	var out []string
	for _, g := range BlueprintGateways(bp) {
		out = append(out, g.Name)
	}
	for _, g := range ClusterGateways(bp, "") {
		out = append(out, g.Name)
	}
	return out
}

func RouteNames(bp *blueprint.Blueprint) []string {
	var out []string
	for _, g := range ClusterGateways(bp, "") {
		for _, r := range g.Gateway.Routes {
			out = append(out, r.Name)
		}
	}
	return out
}

// ServicesToDeploy are the services of next that prior does not run as next wants them.
func ServicesToDeploy(prior, next *blueprint.Blueprint) []runtime.Service {
	running := RuntimeServices(prior)
	var out []runtime.Service
	for _, s := range RuntimeServicesOrdered(next) {
		if old, ok := running[s.ID]; !ok || !reflect.DeepEqual(old, s) {
			out = append(out, s)
		}
	}
	return out
}

// ServicesToRemove are the ids of prior's services that next no longer has.
func ServicesToRemove(prior, next *blueprint.Blueprint) []string {
	wanted := RuntimeServices(next)
	var out []string
	for _, s := range RuntimeServicesOrdered(prior) {
		if _, ok := wanted[s.ID]; !ok {
			out = append(out, s.ID)
		}
	}
	return out
}

func RuntimeServices(bp *blueprint.Blueprint) map[string]runtime.Service {
	out := map[string]runtime.Service{}
	if bp == nil {
		return out
	}
	for _, s := range RuntimeServicesOrdered(bp) {
		out[s.ID] = s
	}
	return out
}

// RuntimeServicesOrdered lists the services by cluster name, then in service order.
func RuntimeServicesOrdered(bp *blueprint.Blueprint) []runtime.Service {
	if bp == nil {
		return nil
	}
	var out []runtime.Service
	for _, cname := range slices.Sorted(maps.Keys(bp.Clusters)) {
		for _, s := range bp.Clusters[cname].Services {
			out = append(out, RuntimeService(bp.Name, cname, s))
		}
	}
	return out
}

// ImportedBlueprint is the deployment that the gateways and services named name/... make up.
// A cluster's services are in the route order of its gateways, then by name.
func ImportedBlueprint(name string, gateways []gatewayapi.Gateway, services []runtime.Status) *blueprint.Blueprint {
	bp := &blueprint.Blueprint{Name: name, Gateways: map[string]string{}, Clusters: map[string]*blueprint.Cluster{}}
	order := map[string]int{}
	slices.SortFunc(gateways, func(a, b gatewayapi.Gateway) int { return strings.Compare(a.Name, b.Name) })
	for _, gw := range gateways {
		rest, ok := strings.CutPrefix(gw.Name, name+"/")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "/")
		switch {
		case len(parts) == 1 && len(gw.Routes) == 1 && strings.HasPrefix(gw.Routes[0].Gateway, name+"/") && !IsEndpoint(gw):
			bp.Gateways[parts[0]] = strings.TrimPrefix(gw.Routes[0].Gateway, name+"/")
		case len(parts) == 2:
			c := importedCluster(bp, parts[0])
			g := &blueprint.ClusterGateway{Sticky: gw.Sticky, Routes: map[string]*blueprint.Route{}}
			for _, rt := range gw.Routes {
				if rt.Service == nil {
					continue
				}
				_, _, svc, ok := runtime.SplitID(rt.Service.ID)
				if !ok {
					continue
				}
				if _, seen := order[rt.Service.ID]; !seen {
					order[rt.Service.ID] = len(order)
				}
				r := &blueprint.Route{Weight: blueprint.Int64(int64(rt.Weight)), Condition: rt.Condition}
				if s := LiveStrength(rt.Condition, rt.ConditionStrength); s != nil {
					r.ConditionStrength = s
				}
				g.Routes[svc] = r
			}
			c.Gateways[parts[1]] = g
		}
	}
	slices.SortFunc(services, func(a, b runtime.Status) int {
		oa, aok := order[a.Service.ID]
		ob, bok := order[b.Service.ID]
		switch {
		case aok && bok:
			return oa - ob
		case aok != bok:
			if aok {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Service.ID, b.Service.ID)
	})
	for _, st := range services {
		_, cname, breed, ok := runtime.SplitID(st.Service.ID)
		if !ok {
			continue
		}
		s := st.Service
		bs := &blueprint.Service{
			Breed:    blueprint.Breed{Name: breed, Deployable: s.Deployable, Ports: s.Ports, Environment: s.Environment},
			Scale:    &blueprint.Scale{CPU: s.CPU, MemoryMB: s.MemoryMB, Instances: s.Instances},
			Marathon: s.Marathon,
		}
		for _, hc := range s.HealthChecks {
			bs.HealthChecks = append(bs.HealthChecks, blueprint.HealthCheck(hc))
		}
		c := importedCluster(bp, cname)
		c.Services = append(c.Services, bs)
	}
	for cname, c := range bp.Clusters {
		if len(c.Services) == 0 {
			delete(bp.Clusters, cname) // gateways without services are not a deployment's
		}
	}
	if len(bp.Clusters) == 0 {
		bp.Gateways = nil
	}
	return bp
}

func importedCluster(bp *blueprint.Blueprint, name string) *blueprint.Cluster {
	c := bp.Clusters[name]
	if c == nil {
		c = &blueprint.Cluster{Gateways: map[string]*blueprint.ClusterGateway{}}
		bp.Clusters[name] = c
	}
	return c
}

// IsEndpoint reports whether a deployment's gateway on a port needs `endpoints` to be described:
// anything but one route of weight 100 without condition, sticky or virtual hosts.
func IsEndpoint(gw gatewayapi.Gateway) bool {
	return len(gw.Routes) != 1 || gw.Sticky != "" || len(gw.VirtualHosts) > 0 ||
		gw.Routes[0].Weight != 100 || gw.Routes[0].Condition != ""
}
