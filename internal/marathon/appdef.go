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

	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// LabelPort is put on each port mapping / port definition with the breed's
// port spec ("8080/http"), so that reading an app back gives the spec back.
const LabelPort = "io.vamp.port"

// LabelDialect holds the marathon dialect the app was built with, so that an
// import gives it back.
const LabelDialect = "io.vamp.marathon-dialect"

const cmdPrefix = "cmd:"

// BuildApp is the Marathon app definition of a service variant, in Marathon 1.5's networking
// format: the docker image on Docker's bridge network ("networks": [{"mode":
// "container/bridge"}], one container.portMappings entry per named port, in name order) or,
// for "cmd:<command>", a command on the host network with one port definition per named
// port; cpus, mem and instances from the scale; env; health checks; the io.vamp.* labels;
// then the marathon dialect deep-merged over it (objects merge key by key, anything else
// replaces). A dialect that chooses another network ("networks": [{"mode": "host"}], or the
// deprecated container.docker.network "HOST") gets the ports where that network wants them
// (port definitions on the host network, port mappings on container networks). Fields that
// the driver cannot carry are an error rather than being dropped silently. A Marathon before
// 1.5 gets the same app in its own format (the driver converts it).
func BuildApp(group string, s runtime.Service) (*App, error) {
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
	var app App
	if err := dec.Decode(&app); err != nil {
		return nil, fmt.Errorf("service %s: the marathon dialect does not fit the app definition the Marathon client can send: %v; "+
			"remove or correct that field (supported fields: id, cmd, args, constraints, container{type, docker{image, parameters, privileged, forcePullImage}, portMappings, volumes}, "+
			"networks[{mode, name, labels}], cpus, disk, env (strings only), executor, healthChecks, instances, mem, portDefinitions, requirePorts, backoffSeconds, backoffFactor, "+
			"maxLaunchDelaySeconds, taskKillGracePeriodSeconds, dependencies, user, upgradeStrategy, uris, labels, acceptedResourceRoles, fetch)", s.ID, err)
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
	var dialect map[string]any
	if s.Marathon != "" {
		if dialect, err = parseDialect(s.Marathon); err != nil {
			return nil, fmt.Errorf("service %s: %w", s.ID, err)
		}
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
	if !isCmd && s.Deployable == "" {
		return nil, fmt.Errorf("service %s: the breed has no deployable (a docker image or \"cmd:<command>\")", s.ID)
	}
	mode := ModeBridge
	if isCmd {
		mode = ModeHost
	}
	if m, ok, err := dialectNetworkMode(dialect); err != nil {
		return nil, fmt.Errorf("service %s: %w", s.ID, err)
	} else if ok {
		mode = m
	}
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
		switch mode {
		case ModeHost:
			ports = append(ports, map[string]any{"port": 0, "protocol": "tcp", "name": name, "labels": portLabels})
		case ModeBridge:
			ports = append(ports, map[string]any{"containerPort": p, "hostPort": 0, "protocol": "tcp", "name": name, "labels": portLabels})
		default: // a named container network: the task's own IP, no host port
			ports = append(ports, map[string]any{"containerPort": p, "protocol": "tcp", "name": name, "labels": portLabels})
		}
	}
	def["networks"] = []any{map[string]any{"mode": mode}}
	container := map[string]any{}
	if isCmd {
		def["cmd"] = cmd
	} else {
		container["type"] = "DOCKER"
		container["docker"] = map[string]any{"image": s.Deployable}
	}
	if mode == ModeHost {
		def["portDefinitions"] = nonNil(ports)
	} else {
		// Sent empty so that a PUT replaces the port definitions of an earlier version.
		def["portDefinitions"] = []any{}
		if isCmd {
			container["type"] = "MESOS"
		}
		container["portMappings"] = nonNil(ports)
	}
	if len(container) > 0 {
		def["container"] = container
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
	if dialect != nil {
		deepMerge(def, dialect)
	}
	return def, nil
}

// dialectNetworkMode is the network a marathon dialect chooses: its "networks" or its
// deprecated container.docker.network (which is translated into "networks", as Marathon 1.5+
// does, and removed: Marathon refuses the two together). Its deprecated
// container.docker.portMappings move to container.portMappings likewise.
func dialectNetworkMode(dialect map[string]any) (string, bool, error) {
	c, _ := dialect["container"].(map[string]any)
	d, _ := c["docker"].(map[string]any)
	if pm, ok := d["portMappings"]; ok {
		c["portMappings"] = pm
		delete(d, "portMappings")
	}
	if legacy, ok := d["network"]; ok {
		if _, hasNets := dialect["networks"]; hasNets {
			return "", false, errors.New("the marathon dialect gives both networks and container.docker.network, which Marathon refuses; keep networks (Marathon 1.5+), e.g. {\"networks\": [{\"mode\": \"host\"}]}")
		}
		mode := map[any]string{"HOST": ModeHost, "BRIDGE": ModeBridge, "USER": ModeContainer}[legacy]
		if mode == "" {
			return "", false, fmt.Errorf("the marathon dialect's container.docker.network %v is not one Marathon translates: use HOST, BRIDGE or USER, or better networks, e.g. {\"networks\": [{\"mode\": \"host\"}]}", legacy)
		}
		delete(d, "network")
		dialect["networks"] = []any{map[string]any{"mode": mode}}
	}
	nets, _ := dialect["networks"].([]any)
	if len(nets) == 0 {
		return "", false, nil
	}
	first, _ := nets[0].(map[string]any)
	mode, _ := first["mode"].(string)
	switch mode {
	case "":
		mode = ModeContainer
	case ModeHost, ModeBridge, ModeContainer:
	default:
		return "", false, fmt.Errorf("the marathon dialect's networks[0].mode %q is not a Marathon network mode: use %q, %q or %q", mode, ModeHost, ModeBridge, ModeContainer)
	}
	return mode, true, nil
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
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
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
