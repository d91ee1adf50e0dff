package marathon

import (
	"fmt"
	"strconv"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// ServiceIDOf reads the provider's service id from the app's labels; "" for
// apps the provider did not create.
func ServiceIDOf(app *gomarathon.Application) string {
	if app.Labels == nil {
		return ""
	}
	l := *app.Labels
	if l[LabelDeployment] == "" || l[LabelCluster] == "" || l[LabelService] == "" {
		return ""
	}
	return runtime.ID(l[LabelDeployment], l[LabelCluster], l[LabelService])
}

// namedPort is one of the app's ports with the breed's name and spec.
type namedPort struct{ name, spec string }

// appPorts lists the app's ports in index order: the docker port mappings,
// or the port definitions of a command app.
func appPorts(app *gomarathon.Application) []namedPort {
	var out []namedPort
	if app.Container != nil && app.Container.Docker != nil && app.Container.Docker.PortMappings != nil {
		for _, pm := range *app.Container.Docker.PortMappings {
			spec := strconv.Itoa(pm.ContainerPort) + "/" + pm.Protocol
			if pm.Labels != nil && (*pm.Labels)[LabelPort] != "" {
				spec = (*pm.Labels)[LabelPort]
			}
			out = append(out, namedPort{pm.Name, spec})
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
			out = append(out, namedPort{pd.Name, spec})
		}
	}
	return out
}

// toStatus reads an app (with embedded tasks) back as the provider's
// service and its instances, so that drift (scale, image, env changed in
// Marathon) shows in a plan.
func toStatus(app *gomarathon.Application) runtime.Status {
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
		for i, p := range ports {
			if i < len(t.Ports) {
				inst.Ports[p.name] = t.Ports[i]
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
func PortNames(app *gomarathon.Application) []string {
	ports := appPorts(app)
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = p.name
	}
	return out
}
