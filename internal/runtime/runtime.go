// Package runtime is the seam between the provider and whatever runs service variants: the
// local dev runtime today, Marathon later. The provider speaks only Driver; each runtime
// translates Service into its own definition and keeps runtime-specific knobs to itself.
package runtime

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Service is one service variant of a deployment as the provider wants it to run.
type Service struct {
	// ID is "deployment/cluster/breed", e.g. "sava/sava_cluster/sava:1.0.0".
	ID string
	// Deployable is "cmd:<command>" (a local process) or a Docker image.
	Deployable string
	// Ports are the breed's named ports: "webport" -> "8080/http".
	Ports map[string]string
	// Environment is added to each instance's environment.
	Environment map[string]string
	// CPU (cores), MemoryMB and Instances are the scale.
	CPU       float64
	MemoryMB  int64
	Instances int64
	// HealthChecks decide when an instance is healthy.
	HealthChecks []HealthCheck
	// Marathon is a JSON document that a Marathon driver deep-merges into its app definition;
	// other runtimes keep it only so that an import gives it back.
	Marathon string
}

// HealthCheck is one check of every instance, with Vamp's fields.
type HealthCheck struct {
	Port, Path, Protocol, InitialDelay, Interval, Timeout string
	Failures                                              int64
}

// Status is what a runtime reports about a Service.
type Status struct {
	// Service is the definition the runtime holds, read back well enough for an import.
	Service Service
	// Healthy is true when every instance is healthy.
	Healthy   bool
	Instances []Instance
}

// Instance is one running copy of a service variant.
type Instance struct {
	Host string
	// Ports are the addresses' ports by port name.
	Ports   map[string]int
	Healthy bool
	// Restarts counts how often the runtime restarted this instance.
	Restarts int
}

// Addresses lists "host:port" of every instance for every port, ports in name order.
func (s Status) Addresses() []string {
	out := []string{}
	for _, inst := range s.Instances {
		for _, name := range slices.Sorted(maps.Keys(inst.Ports)) {
			out = append(out, joinHostPort(inst.Host, inst.Ports[name]))
		}
	}
	return out
}

// Driver runs service variants.
type Driver interface {
	// Name is the runtime's name as gateway routes use it: "local" or "marathon".
	Name() string
	// Apply creates or updates a service and returns once every instance is healthy, or fails
	// with the runtime's reason when ctx ends first. How long it waits is ctx's deadline alone.
	Apply(ctx context.Context, s Service) (Status, error)
	// Get returns a service's status; false when the runtime has no such service.
	Get(ctx context.Context, id string) (Status, bool, error)
	// Delete stops and removes a service; a missing one is not an error.
	Delete(ctx context.Context, id string) error
	// List returns every service whose id starts with prefix (e.g. "sava/").
	List(ctx context.Context, prefix string) ([]Status, error)
}

// NotHealthyError is a Driver's Apply that ended (its context's deadline) before every instance
// was healthy. errors.Is(err, context.DeadlineExceeded) holds when the deadline was the cause.
type NotHealthyError struct {
	ID string
	// Runtime is the runtime's name, "local" or "marathon".
	Runtime string
	// Reason is the runtime's account: per unhealthy instance its state, last error and last
	// lines of output.
	Reason string
	// Waited is how long the driver waited.
	Waited time.Duration
	// Undo says what the driver did about the failed change (removed the new service, went
	// back to the previous definition).
	Undo string
	// Err is the context's error.
	Err error
}

func (e *NotHealthyError) Error() string {
	msg := fmt.Sprintf("%s runtime: service %s is not healthy after %s", e.Runtime, e.ID, e.Waited.Round(100*time.Millisecond))
	if e.Reason != "" {
		msg += ":\n" + e.Reason
	}
	if e.Undo != "" {
		msg += "\n" + e.Undo + "."
	}
	return msg
}

func (e *NotHealthyError) Unwrap() error { return e.Err }

// ID is the runtime id of a service variant: "deployment/cluster/breed".
func ID(deployment, cluster, breed string) string {
	return deployment + "/" + cluster + "/" + breed
}

// SplitID is the inverse of ID; ok is false when id does not have three parts.
func SplitID(id string) (deployment, cluster, breed string, ok bool) {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
