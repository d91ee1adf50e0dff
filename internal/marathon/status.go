package marathon

import (
	"fmt"
	"strconv"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// ServiceIDOf reads the provider's service id from the app's labels; "" for
// apps the provider did not create.
func ServiceIDOf(app *App) string {
	if app.Labels == nil {
		return ""
	}
	l := *app.Labels
	if l[LabelDeployment] == "" || l[LabelCluster] == "" || l[LabelService] == "" {
		return ""
	}
	return runtime.ID(l[LabelDeployment], l[LabelCluster], l[LabelService])
}

// namedPort is one of the app's ports with the breed's name and spec, and the container port
// of a port mapping (0 for a port definition).
type namedPort struct {
	name, spec    string
	containerPort int
}

// appPorts lists the app's ports in index order: the port mappings with container
// networking (container/bridge or a named container network), the port definitions with host
// networking (Marathon ignores the other kind; networking.md, "Ports for Marathon Apps").
func appPorts(app *App) []namedPort {
	var out []namedPort
	if NetworkMode(app) != ModeHost {
		for _, pm := range portMappings(app) {
			spec := strconv.Itoa(pm.ContainerPort) + "/" + pm.Protocol
			if pm.Labels != nil && (*pm.Labels)[LabelPort] != "" {
				spec = (*pm.Labels)[LabelPort]
			}
			out = append(out, namedPort{name: pm.Name, spec: spec, containerPort: pm.ContainerPort})
		}
		return out
	}
	if app.PortDefinitions != nil {
		for _, pd := range *app.PortDefinitions {
			spec := ""
			if pd.Port != nil {
				spec = strconv.Itoa(*pd.Port) + "/" + pd.Protocol
			}
			if pd.Labels != nil && (*pd.Labels)[LabelPort] != "" {
				spec = (*pd.Labels)[LabelPort]
			}
			out = append(out, namedPort{name: pd.Name, spec: spec})
		}
	}
	return out
}

// Endpoint is where one of an app's ports is reached on a task.
type Endpoint struct {
	Host string
	Port int // 0: not known (yet)
}

// TaskEndpoints are where a task answers on each of the app's ports, in PortNames order. With
// host and container/bridge networking that is the agent (task.host) and the task's host
// ports (task.ports: one per port definition or port mapping, in order); with a named
// container network, the task's own IP address (task.ipAddresses) and the mapping's container
// port (not known for a mapping with containerPort 0).
func TaskEndpoints(app *App, t *gomarathon.Task) []Endpoint {
	ports := appPorts(app)
	out := make([]Endpoint, len(ports))
	if NetworkMode(app) != ModeContainer {
		for i := range ports {
			out[i].Host = t.Host
			if i < len(t.Ports) {
				out[i].Port = t.Ports[i]
			}
		}
		return out
	}
	ip := ""
	for _, a := range t.IPAddresses {
		if a != nil && a.IPAddress != "" {
			ip = a.IPAddress
			break
		}
	}
	for i, p := range ports {
		out[i] = Endpoint{Host: ip, Port: p.containerPort}
	}
	return out
}

// toStatus reads an app (with embedded tasks) back as the provider's
// service and its instances, so that drift (scale, image, env changed in
// Marathon) shows in a plan.
func toStatus(app *App) runtime.Status {
	s := runtime.Service{ID: ServiceIDOf(app), CPU: app.CPUs}
	if app.Container != nil && app.Container.Docker != nil && app.Container.Docker.Image != "" {
		s.Deployable = app.Container.Docker.Image
	} else if app.Cmd != nil {
		s.Deployable = cmdPrefix + *app.Cmd
	}
	if app.Mem != nil {
		s.MemoryMB = int64(*app.Mem)
	}
	if app.Instances != nil {
		s.Instances = int64(*app.Instances)
	}
	if app.Env != nil && len(*app.Env) > 0 {
		s.Environment = map[string]string{}
		for k, v := range *app.Env {
			s.Environment[k] = v
		}
	}
	if app.Labels != nil {
		s.Marathon = (*app.Labels)[LabelDialect]
	}
	ports := appPorts(app)
	for _, p := range ports {
		if s.Ports == nil {
			s.Ports = map[string]string{}
		}
		s.Ports[p.name] = p.spec
	}
	if app.HealthChecks != nil {
		for _, hc := range *app.HealthChecks {
			out := runtime.HealthCheck{Protocol: hc.Protocol}
			if hc.PortIndex != nil && *hc.PortIndex < len(ports) {
				out.Port = ports[*hc.PortIndex].name
			}
			if hc.Path != nil {
				out.Path = *hc.Path
			}
			out.InitialDelay = seconds(hc.GracePeriodSeconds)
			out.Interval = seconds(hc.IntervalSeconds)
			out.Timeout = seconds(hc.TimeoutSeconds)
			if hc.MaxConsecutiveFailures != nil {
				out.Failures = int64(*hc.MaxConsecutiveFailures)
			}
			s.HealthChecks = append(s.HealthChecks, out)
		}
	}
	st := runtime.Status{Service: s}
	for _, t := range app.Tasks {
		if t.State != "TASK_RUNNING" {
			continue
		}
		inst := runtime.Instance{Host: t.Host, Ports: map[string]int{}, Healthy: TaskHealthy(app, t)}
		for i, ep := range TaskEndpoints(app, t) {
			if ep.Port > 0 {
				inst.Host = ep.Host
				inst.Ports[ports[i].name] = ep.Port
			}
		}
		st.Instances = append(st.Instances, inst)
	}
	st.Healthy = converged(app)
	return st
}

func seconds(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%ds", n)
}

// PortNames are the names of the app's ports in index order (the order of
// a task's host ports): the docker port mappings, or the port definitions.
func PortNames(app *App) []string {
	ports := appPorts(app)
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = p.name
	}
	return out
}
