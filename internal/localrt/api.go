// Package localrt is the local dev runtime: it runs the service variants of a deployment as local
// processes ("cmd:..." deployables), assigns their ports on 127.0.0.1, health-checks them,
// restarts them when they die and stops them on delete. It is a discovery.Source for the gateway
// (runtime name "local") and serves its own small admin API under /v1/services/.
//
// This file is the wire contract of that API: the JSON documents of
// `PUT/GET/DELETE /v1/services/{id}` and `GET /v1/services`, and their validation.
package localrt

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// CmdPrefix marks a deployable that the local runtime runs: the rest is a /bin/sh command line.
const CmdPrefix = "cmd:"

// Service is the body of `PUT /v1/services/{id}`: one service variant of a deployment.
type Service struct {
	// ID is the variant's id, "deployment/cluster/breed" (e.g. "sava/sava_cluster/sava:1.0.0").
	// The server takes it from the URL; a PUT body may omit it.
	ID string `json:"id,omitempty"`
	// Deployable is "cmd:<shell command>"; anything else is a Docker image, which needs Marathon.
	Deployable string `json:"deployable"`
	// Ports are the breed's named ports. Each instance gets a free port on 127.0.0.1 per name.
	Ports []Port `json:"ports,omitempty"`
	// Env is added to the process environment (the assigned ports win over it).
	Env map[string]string `json:"env,omitempty"`
	// Instances is how many processes run, 1..MaxInstances.
	Instances int `json:"instances"`
	// HealthChecks decide when an instance is healthy; with none, a TCP connect to the first
	// port (or, without ports, a running process) is the check.
	HealthChecks []HealthCheck `json:"health_checks,omitempty"`
}

// Port is one named port of a breed, from "8080/http".
type Port struct {
	Name string `json:"name"`
	// Protocol is "http" or "tcp".
	Protocol string `json:"protocol"`
	// ContainerPort is the breed's port number: informational on the local runtime, where every
	// instance gets a free port instead.
	ContainerPort int `json:"container_port,omitempty"`
}

// HealthCheck is one check of every instance, with Vamp's (and Marathon's) fields.
type HealthCheck struct {
	// Port names one of the service's ports.
	Port string `json:"port"`
	// Path is the HTTP path (default "/"); ignored for TCP.
	Path string `json:"path,omitempty"`
	// Protocol is "HTTP" (GET, 2xx or 3xx passes) or "TCP" (a connect passes); default HTTP.
	Protocol string `json:"protocol,omitempty"`
	// InitialDelay is a grace period after each start in which failures do not count (a pass
	// counts at once). Go durations: "10s". Defaults: 0s, interval 10s, timeout 5s.
	InitialDelay string `json:"initial_delay,omitempty"`
	Interval     string `json:"interval,omitempty"`
	Timeout      string `json:"timeout,omitempty"`
	// Failures in a row (after the grace period) make the runtime restart the process; default 3.
	Failures int `json:"failures,omitempty"`
}

// Status is the body of `GET /v1/services/{id}` and of a PUT's answer.
type Status struct {
	Service Service `json:"service"`
	// Healthy is true when every instance of Service is healthy.
	Healthy bool `json:"healthy"`
	// Instances run Service.
	Instances []InstanceStatus `json:"instances"`
	// Replacing lists the instances of the previous definition while an update is under way:
	// they keep serving until every instance of the new one is healthy.
	Replacing []InstanceStatus `json:"replacing,omitempty"`
}

// InstanceStatus is one process of a service.
type InstanceStatus struct {
	Index int    `json:"index"`
	Host  string `json:"host"`
	// Ports are the assigned ports by port name; they stay the same across restarts.
	Ports   map[string]int `json:"ports"`
	Healthy bool           `json:"healthy"`
	// PID is the process id while it runs, 0 between restarts.
	PID      int `json:"pid"`
	Restarts int `json:"restarts"`
	// LastError says why the instance is not healthy (exit status, failed check).
	LastError string `json:"last_error,omitempty"`
	// Output holds the last lines of the process's stdout and stderr while it is not healthy.
	Output []string `json:"output,omitempty"`
}

// ServiceList is the body of `GET /v1/services`.
type ServiceList struct {
	Services []Status `json:"services"`
}

// MaxInstances bounds Instances: a dev machine, not a cluster.
const MaxInstances = 64

// Health-check defaults (Vamp's).
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 5 * time.Second
	DefaultFailures = 3
)

// FieldError is a bad field of a Service; Path is its JSON path, as the gateway reports them.
type FieldError struct {
	Path    string
	Message string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// APIError is the admin API's JSON error body for this error.
func (e *FieldError) APIError() gatewayapi.Error {
	return gatewayapi.Error{Error: e.Message, Path: e.Path}
}

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Message: fmt.Sprintf(format, args...)}
}

// ValidateID checks a service id: slash-separated segments of printable characters without
// spaces, none of them empty, "." or "..".
func ValidateID(id string) *FieldError {
	if id == "" {
		return fieldErr("id", "a service id is required, e.g. \"sava/sava_cluster/sava:1.0.0\"")
	}
	for _, seg := range strings.Split(id, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fieldErr("id", "%q: every /-separated segment must be a non-empty name other than \".\" and \"..\"", id)
		}
		for _, c := range seg {
			if c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '%' {
				return fieldErr("id", "%q: %q is not allowed in a service id; use letters, digits and . _ : -", id, c)
			}
		}
	}
	return nil
}

// Normalize fills defaults and canonical spellings in place (lower-case port protocols,
// upper-case health-check protocols, "/" paths, nil for empty collections), so that two
// definitions that mean the same compare equal.
func (s *Service) Normalize() {
	for i := range s.Ports {
		s.Ports[i].Protocol = strings.ToLower(strings.TrimSpace(s.Ports[i].Protocol))
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = "http"
		}
	}
	if len(s.Ports) == 0 {
		s.Ports = nil
	}
	if len(s.Env) == 0 {
		s.Env = nil
	}
	for i := range s.HealthChecks {
		hc := &s.HealthChecks[i]
		hc.Protocol = strings.ToUpper(strings.TrimSpace(hc.Protocol))
		if hc.Protocol == "" {
			hc.Protocol = "HTTP"
		}
		if hc.Protocol == "HTTP" && hc.Path == "" {
			hc.Path = "/"
		}
		if hc.Protocol == "TCP" {
			hc.Path = ""
		}
		if hc.Failures == 0 {
			hc.Failures = DefaultFailures
		}
	}
	if len(s.HealthChecks) == 0 {
		s.HealthChecks = nil
	}
}

// Validate reports the first bad field of a normalized Service, with the fix in the message.
func (s *Service) Validate() *FieldError {
	if err := ValidateID(s.ID); err != nil {
		return err
	}
	if err := validateDeployable(s.Deployable); err != nil {
		return err
	}
	if s.Instances < 1 || s.Instances > MaxInstances {
		return fieldErr("instances", "%d: must be between 1 and %d", s.Instances, MaxInstances)
	}
	seen := map[string]int{}
	for i, p := range s.Ports {
		path := fmt.Sprintf("ports[%d]", i)
		if p.Name == "" {
			return fieldErr(path+".name", "a port needs a name, e.g. \"webport\"")
		}
		if j, dup := seen[p.Name]; dup {
			return fieldErr(path+".name", "%q is also the name of ports[%d]; port names must be unique", p.Name, j)
		}
		seen[p.Name] = i
		if p.Protocol != "http" && p.Protocol != "tcp" {
			return fieldErr(path+".protocol", "%q: must be \"http\" or \"tcp\"", p.Protocol)
		}
		if p.ContainerPort < 0 || p.ContainerPort > 65535 {
			return fieldErr(path+".container_port", "%d: must be between 1 and 65535 (or omitted)", p.ContainerPort)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fieldErr(fmt.Sprintf("env[%q]", k), "not a valid environment variable name: use letters, digits and _")
		}
		if strings.ContainsRune(s.Env[k], 0) {
			return fieldErr(fmt.Sprintf("env[%q]", k), "the value contains a NUL byte")
		}
	}
	for i, hc := range s.HealthChecks {
		path := fmt.Sprintf("health_checks[%d]", i)
		if _, ok := seen[hc.Port]; !ok {
			return fieldErr(path+".port", "%q is not a port of this service; use one of %s", hc.Port, portNames(s.Ports))
		}
		if hc.Protocol != "HTTP" && hc.Protocol != "TCP" {
			return fieldErr(path+".protocol", "%q: must be \"HTTP\" or \"TCP\"", hc.Protocol)
		}
		if hc.Protocol == "HTTP" && !strings.HasPrefix(hc.Path, "/") {
			return fieldErr(path+".path", "%q: an HTTP health-check path starts with \"/\"", hc.Path)
		}
		for _, d := range []struct{ name, value string }{{"initial_delay", hc.InitialDelay}, {"interval", hc.Interval}, {"timeout", hc.Timeout}} {
			if _, err := parseDuration(d.value, 0); err != nil {
				return fieldErr(path+"."+d.name, "%q: %v", d.value, err)
			}
		}
		if hc.Failures < 1 {
			return fieldErr(path+".failures", "%d: must be at least 1", hc.Failures)
		}
	}
	return nil
}

func validateDeployable(d string) *FieldError {
	if strings.TrimSpace(d) == "" {
		return fieldErr("deployable", "a deployable is required: \"cmd:<shell command>\" on the local dev runtime")
	}
	if !strings.HasPrefix(d, CmdPrefix) {
		return fieldErr("deployable", "deployable %q is a Docker image; the local dev runtime runs only \"cmd:...\" deployables — use the Marathon runtime for images, or a cmd: deployable locally", d)
	}
	if strings.TrimSpace(strings.TrimPrefix(d, CmdPrefix)) == "" {
		return fieldErr("deployable", "%q: the command after \"cmd:\" is empty", d)
	}
	return nil
}

// parseDuration reads a Go duration ("10s"); empty means def. Negative durations are refused.
func parseDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration; write it like \"10s\" or \"500ms\"")
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return d, nil
}

func portNames(ports []Port) string {
	if len(ports) == 0 {
		return "(none: declare the port under ports first)"
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = fmt.Sprintf("%q", p.Name)
	}
	return strings.Join(names, ", ")
}
