package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/localrt"
)

// The local runtime has no place for scale it does not use; the driver keeps CPU and memory in
// these environment variables (like Marathon's MARATHON_APP_RESOURCE_*), so an import gets them
// back and the process may read them.
const (
	envCPU      = "VAMP_SCALE_CPU"
	envMemoryMB = "VAMP_SCALE_MEMORY_MB"
)

// Local drives the local dev runtime through its admin API (/v1/services/ on the gateway's
// admin listener, same token).
type Local struct {
	API *localrt.Client
}

// NewLocal returns the driver of the local dev runtime behind api.
func NewLocal(api *gatewayapi.Client) *Local { return &Local{API: localrt.NewClient(api)} }

// Name implements Driver.
func (l *Local) Name() string { return localrt.Runtime }

// Apply implements Driver. It defines the service (the runtime starts its instances in the
// background, or rolls a new definition out beside the running one), then polls its status with
// ctx until every instance is healthy: how long it may take is ctx's deadline alone (the
// resource's `timeouts`), not an HTTP timeout. When ctx ends first, Apply leaves the runtime as
// it was: a new service is removed, a changed one goes back to its previous definition (the
// runtime drops the roll-out; the old instances never stopped). The error is then a
// *NotHealthyError carrying the runtime's reason and each instance's last output.
func (l *Local) Apply(ctx context.Context, s Service) (Status, error) {
	def, err := toLocal(s)
	if err != nil {
		return Status{}, err
	}
	before, err := l.API.Get(ctx, s.ID)
	existed := err == nil
	if err != nil && !gatewayapi.IsNotFound(err) {
		return Status{}, fmt.Errorf("local runtime: reading %s: %w", s.ID, err)
	}
	tflog.Debug(ctx, "local runtime: defining service", map[string]any{"service": s.ID, "instances": s.Instances, "update": existed})
	if _, err := l.API.Define(ctx, def); err != nil {
		return Status{}, fmt.Errorf("local runtime: deploying %s: %w", s.ID, err)
	}
	st, err := l.API.WaitHealthy(ctx, s.ID, func(st localrt.Status) {
		healthy := 0
		for _, in := range st.Instances {
			if in.Healthy {
				healthy++
			}
		}
		tflog.Debug(ctx, "local runtime: waiting for service to become healthy", map[string]any{
			"service": s.ID, "healthy_instances": healthy, "instances": len(st.Instances),
		})
	})
	if err == nil {
		tflog.Info(ctx, "local runtime: service healthy", map[string]any{"service": s.ID})
		return fromLocal(st), nil
	}
	var notHealthy *localrt.NotHealthyError
	if !errors.As(err, &notHealthy) {
		return Status{}, fmt.Errorf("local runtime: deploying %s: %w", s.ID, err)
	}
	// Put the runtime back as it was, with a context of its own: ctx has ended.
	undo, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	out := &NotHealthyError{ID: s.ID, Runtime: localrt.Runtime, Reason: notHealthy.Reason(), Waited: notHealthy.Waited, Err: notHealthy.Err}
	if existed {
		_, undoErr := l.API.Define(undo, before.Service)
		out.Undo = "the runtime went back to the service's previous definition (its instances kept serving)"
		if undoErr != nil {
			out.Undo = "going back to the previous definition failed: " + undoErr.Error()
		}
	} else {
		undoErr := l.API.Delete(undo, s.ID)
		out.Undo = "the new service was removed"
		if undoErr != nil {
			out.Undo = "removing the new service failed: " + undoErr.Error()
		}
	}
	tflog.Warn(ctx, "local runtime: service did not become healthy", map[string]any{"service": s.ID, "undo": out.Undo})
	return Status{}, out
}

// undoTimeout bounds putting the runtime back after a failed Apply.
const undoTimeout = 30 * time.Second

// Get implements Driver.
func (l *Local) Get(ctx context.Context, id string) (Status, bool, error) {
	st, err := l.API.Get(ctx, id)
	if gatewayapi.IsNotFound(err) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, fmt.Errorf("local runtime: reading %s: %w", id, err)
	}
	return fromLocal(st), true, nil
}

// Delete implements Driver.
func (l *Local) Delete(ctx context.Context, id string) error {
	if err := l.API.Delete(ctx, id); err != nil {
		return fmt.Errorf("local runtime: deleting %s: %w", id, err)
	}
	return nil
}

// List implements Driver.
func (l *Local) List(ctx context.Context, prefix string) ([]Status, error) {
	all, err := l.API.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("local runtime: listing services: %w", err)
	}
	var out []Status
	for _, st := range all {
		if strings.HasPrefix(st.Service.ID, prefix) {
			out = append(out, fromLocal(st))
		}
	}
	return out, nil
}

func toLocal(s Service) (localrt.Service, error) {
	def := localrt.Service{
		ID:         s.ID,
		Deployable: s.Deployable,
		Instances:  int(s.Instances),
		Env:        maps.Clone(s.Environment),
	}
	for _, name := range slices.Sorted(maps.Keys(s.Ports)) {
		// The provider validated "8080/http" at plan time; only the split is left to do.
		number, protocol, _ := strings.Cut(s.Ports[name], "/")
		port, err := strconv.Atoi(number)
		if err != nil {
			return localrt.Service{}, fmt.Errorf("service %s: port %s: %q is not \"<number>/<protocol>\"", s.ID, name, s.Ports[name])
		}
		def.Ports = append(def.Ports, localrt.Port{Name: name, Protocol: protocol, ContainerPort: port})
	}
	if def.Env == nil {
		def.Env = map[string]string{}
	}
	for _, k := range []string{envCPU, envMemoryMB} {
		if _, taken := def.Env[k]; taken {
			return localrt.Service{}, errors.New("environment variable " + k + " is reserved by the local runtime for the service's scale; rename it")
		}
	}
	def.Env[envCPU] = strconv.FormatFloat(s.CPU, 'f', -1, 64)
	def.Env[envMemoryMB] = strconv.FormatInt(s.MemoryMB, 10)
	for _, hc := range s.HealthChecks {
		def.HealthChecks = append(def.HealthChecks, localrt.HealthCheck{
			Port: hc.Port, Path: hc.Path, Protocol: hc.Protocol,
			InitialDelay: hc.InitialDelay, Interval: hc.Interval, Timeout: hc.Timeout,
			Failures: int(hc.Failures),
		})
	}
	return def, nil
}

func fromLocal(st localrt.Status) Status {
	d := st.Service
	s := Service{ID: d.ID, Deployable: d.Deployable, Instances: int64(d.Instances)}
	for _, p := range d.Ports {
		if s.Ports == nil {
			s.Ports = map[string]string{}
		}
		s.Ports[p.Name] = strconv.Itoa(p.ContainerPort) + "/" + p.Protocol
	}
	for k, v := range d.Env {
		switch k {
		case envCPU:
			s.CPU, _ = strconv.ParseFloat(v, 64)
		case envMemoryMB:
			s.MemoryMB, _ = strconv.ParseInt(v, 10, 64)
		default:
			if s.Environment == nil {
				s.Environment = map[string]string{}
			}
			s.Environment[k] = v
		}
	}
	for _, hc := range d.HealthChecks {
		s.HealthChecks = append(s.HealthChecks, HealthCheck{
			Port: hc.Port, Path: hc.Path, Protocol: hc.Protocol,
			InitialDelay: hc.InitialDelay, Interval: hc.Interval, Timeout: hc.Timeout,
			Failures: int64(hc.Failures),
		})
	}
	out := Status{Service: s, Healthy: st.Healthy}
	for _, inst := range st.Instances {
		out.Instances = append(out.Instances, Instance{Host: inst.Host, Ports: inst.Ports, Healthy: inst.Healthy, Restarts: inst.Restarts})
	}
	return out
}
