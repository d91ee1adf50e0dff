package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// LabelPort is put on each port mapping / port definition with the breed's
// port spec ("8080/http"), so that reading an app back gives the spec back.
const LabelPort = "io.vamp.port"

// LabelDialect holds the marathon dialect the app was built with, so that an
// import gives it back.
const LabelDialect = "io.vamp.marathon-dialect"

const cmdPrefix = "cmd:"

// BuildApp is the Marathon app definition of a service variant: the docker
// image (bridge networking, one port mapping per named port, in name order)
// or, for "cmd:<command>", a command with one port definition per named
// port; cpus, mem and instances from the scale; env; health checks; the
// io.vamp.* labels; then the marathon dialect deep-merged over it (objects
// merge key by key, anything else replaces). Fields that go-marathon v0.7.1
// cannot carry are an error rather than being dropped silently.
func BuildApp(group string, s runtime.Service) (*gomarathon.Application, error) {
	def, err := appDefinition(group, s)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("service %s: encoding the app definition: %w", s.ID, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var app gomarathon.Application
	if err := dec.Decode(&app); err != nil {
		return nil, fmt.Errorf("service %s: the marathon dialect does not fit the app definition the Marathon client (go-marathon v0.7.1) can send: %v; "+
			"remove or correct that field (supported fields: id, cmd, args, constraints, container{type, docker{image, network, parameters, portMappings, privileged, forcePullImage}, volumes}, "+
			"cpus, disk, env (strings only), executor, healthChecks, instances, mem, portDefinitions, requirePorts, backoffSeconds, backoffFactor, maxLaunchDelaySeconds, "+
			"taskKillGracePeriodSeconds, dependencies, user, upgradeStrategy, uris, labels, acceptedResourceRoles, fetch, ipAddress)", s.ID, err)
	}
	// Send empty collections rather than omitting them: Marathon's PUT
	// keeps fields that are absent, so a removed env var would survive.
	if app.Env == nil {
		app.EmptyEnvs()
	}
	if app.HealthChecks == nil {
		app.EmptyHealthChecks()
	}
	if app.Constraints == nil {
		app.EmptyConstraints()
	}
	if app.Dependencies == nil {
		app.Dependencies = []string{}
	}
	return &app, nil
}

func appDefinition(group string, s runtime.Service) (map[string]any, error) {
	id, err := AppID(group, s.ID)
	if err != nil {
		return nil, err
	}
	deployment, cluster, breed, _ := runtime.SplitID(s.ID)
	if s.Instances < 0 || s.CPU < 0 || s.MemoryMB < 0 {
		return nil, fmt.Errorf("service %s: scale must not be negative (cpu %v, memory %d MB, instances %d)", s.ID, s.CPU, s.MemoryMB, s.Instances)
	}
	labels := map[string]any{LabelDeployment: deployment, LabelCluster: cluster, LabelService: breed}
	if s.Marathon != "" {
		labels[LabelDialect] = s.Marathon
	}
	env := map[string]any{}
	for k, v := range s.Environment {
		env[k] = v
	}
	def := map[string]any{
		"id": id, "instances": s.Instances, "cpus": s.CPU, "mem": s.MemoryMB, "env": env, "labels": labels,
		// Marathon's default, stated so that a dialect can see what it changes:
		// new tasks start before old ones stop, so traffic never lacks a backend.
		"upgradeStrategy": map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
	}
	cmd, isCmd := strings.CutPrefix(s.Deployable, cmdPrefix)
	names := slices.Sorted(maps.Keys(s.Ports))
	var ports []any
	for _, name := range names {
		number, _, _ := strings.Cut(s.Ports[name], "/")
		p, err := strconv.Atoi(number)
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("service %s: port %s: %q is not \"<number>/<protocol>\" with a number from 1 to 65535", s.ID, name, s.Ports[name])
		}
		if !legacyName(name) {
			return nil, fmt.Errorf("service %s: port name %q is not a valid Marathon port name (lowercase letters, digits and '-', starting and ending with a letter or digit); rename the port", s.ID, name)
		}
		portLabels := map[string]any{LabelPort: s.Ports[name]}
		if isCmd {
			ports = append(ports, map[string]any{"port": 0, "protocol": "tcp", "name": name, "labels": portLabels})
		} else {
			ports = append(ports, map[string]any{"containerPort": p, "hostPort": 0, "protocol": "tcp", "name": name, "labels": portLabels})
		}
	}
	if isCmd {
		def["cmd"] = cmd
		def["portDefinitions"] = nonNil(ports)
	} else {
		if s.Deployable == "" {
			return nil, fmt.Errorf("service %s: the breed has no deployable (a docker image or \"cmd:<command>\")", s.ID)
		}
		def["portDefinitions"] = []any{}
		def["container"] = map[string]any{
			"type":   "DOCKER",
			"docker": map[string]any{"image": s.Deployable, "network": "BRIDGE", "portMappings": nonNil(ports)},
		}
	}
	checks := []any{}
	for i, hc := range s.HealthChecks {
		check, err := healthCheck(hc, names)
		if err != nil {
			return nil, fmt.Errorf("service %s: health check %d: %w", s.ID, i+1, err)
		}
		checks = append(checks, check)
	}
	def["healthChecks"] = checks
	if s.Marathon != "" {
		dialect, err := parseDialect(s.Marathon)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.ID, err)
		}
		deepMerge(def, dialect)
	}
	return def, nil
}

func healthCheck(hc runtime.HealthCheck, portNames []string) (map[string]any, error) {
	protocol := strings.ToUpper(hc.Protocol)
	if protocol == "" {
		protocol = "HTTP"
	}
	switch protocol {
	case "HTTP", "HTTPS", "TCP":
	default:
		return nil, fmt.Errorf("protocol %q is not one Marathon checks for a port: use HTTP, HTTPS or TCP", hc.Protocol)
	}
	out := map[string]any{"protocol": protocol}
	if len(portNames) == 0 {
		return nil, errors.New("the breed has no ports to check; add a port or remove the health check")
	}
	idx := 0
	if hc.Port != "" {
		idx = slices.Index(portNames, hc.Port)
		if idx < 0 {
			return nil, fmt.Errorf("port %q is not one of the breed's ports %v", hc.Port, portNames)
		}
	}
	out["portIndex"] = idx
	if protocol != "TCP" {
		path := hc.Path
		if path == "" {
			path = "/"
		}
		out["path"] = path
	}
	for _, d := range []struct{ key, field, value string }{
		{"gracePeriodSeconds", "initial_delay", hc.InitialDelay},
		{"intervalSeconds", "interval", hc.Interval},
		{"timeoutSeconds", "timeout", hc.Timeout},
	} {
		if d.value == "" {
			continue
		}
		dur, err := time.ParseDuration(d.value)
		if err != nil || dur < 0 {
			return nil, fmt.Errorf("%s %q is not a duration such as \"10s\"", d.field, d.value)
		}
		out[d.key] = int(math.Ceil(dur.Seconds()))
	}
	if hc.Failures > 0 {
		out["maxConsecutiveFailures"] = hc.Failures
	}
	return out, nil
}

func parseDialect(raw string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the marathon dialect is not valid JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the marathon dialect must be a JSON object, e.g. {\"constraints\": [[\"hostname\", \"UNIQUE\"]]}")
	}
	if _, ok := obj["id"]; ok {
		return nil, errors.New("the marathon dialect must not set \"id\": the provider derives the app id from the deployment, cluster and breed names")
	}
	return obj, nil
}

// deepMerge merges src into dst: objects key by key, anything else (arrays
// included) replaces.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if existing, ok := dst[k].(map[string]any); ok {
				deepMerge(existing, sub)
				continue
			}
		}
		dst[k] = v
	}
}

func legacyName(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}
