package emulator

import (
	"encoding/json"
	"maps"
)

// readOnlyFields are parts of Marathon's app responses that a client may
// echo back (go-marathon sends whatever it read) but that Marathon computes.
var readOnlyFields = []string{
	"version", "versionInfo", "tasks", "deployments", "tasksRunning", "tasksStaged", "tasksHealthy",
	"tasksUnhealthy", "lastTaskFailure", "taskStats", "tasksStats", "readinessCheckResults",
}

// withoutNulls drops top-level null values: go-marathon always sends
// "ports": null and "dependencies": null, which Marathon reads as absent.
func withoutNulls(body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// mergePatch implements PUT's default partialUpdate=true: top-level fields in
// the body replace those of the current definition, the rest is kept.
func mergePatch(current, body map[string]any) map[string]any {
	merged := deepCopy(current)
	for _, k := range readOnlyFields {
		delete(merged, k)
	}
	maps.Copy(merged, body)
	return merged
}

func num(s string) json.Number { return json.Number(s) }

// applyDefaults fills in the defaults Marathon reports back for fields the
// client left out (types/app.raml, healthCheck.raml, appContainer.raml).
// canonical: the definition is in the 1.5 networking form (canonicalNetworking),
// where port definitions exist only with host networking.
func applyDefaults(def map[string]any, canonical bool) {
	for _, k := range readOnlyFields {
		delete(def, k)
	}
	if ports, ok := def["ports"].([]any); ok {
		if _, hasDefs := def["portDefinitions"]; !hasDefs && (!canonical || networkMode(def) == "host") {
			defs := make([]any, 0, len(ports))
			for _, p := range ports {
				defs = append(defs, map[string]any{"port": p})
			}
			def["portDefinitions"] = defs
		}
	}
	delete(def, "ports")
	setDefault(def, "instances", num("1"))
	setDefault(def, "cpus", num("1"))
	setDefault(def, "mem", num("128"))
	setDefault(def, "disk", num("0"))
	setDefault(def, "gpus", num("0"))
	setDefault(def, "backoffSeconds", num("1"))
	setDefault(def, "backoffFactor", num("1.15"))
	setDefault(def, "maxLaunchDelaySeconds", num("300"))
	setDefault(def, "executor", "")
	setDefault(def, "requirePorts", false)
	setDefault(def, "killSelection", "YOUNGEST_FIRST")
	for _, k := range []string{"constraints", "dependencies", "fetch", "healthChecks", "acceptedResourceRoles"} {
		setDefault(def, k, []any{})
	}
	for _, k := range []string{"labels", "env", "secrets"} {
		setDefault(def, k, map[string]any{})
	}
	us, _ := def["upgradeStrategy"].(map[string]any)
	if us == nil {
		us = map[string]any{}
		def["upgradeStrategy"] = us
	}
	setDefault(us, "minimumHealthCapacity", num("1"))
	setDefault(us, "maximumOverCapacity", num("1"))
	setDefault(def, "unreachableStrategy", map[string]any{"inactiveAfterSeconds": num("0"), "expungeAfterSeconds": num("0")})

	if c, ok := def["container"].(map[string]any); ok {
		setDefault(c, "type", "DOCKER")
		setDefault(c, "volumes", []any{})
		if d, ok := c["docker"].(map[string]any); ok {
			setDefault(d, "forcePullImage", false)
			setDefault(d, "privileged", false)
			setDefault(d, "parameters", []any{})
		}
		for _, m := range portMappings(def) {
			setDefault(m, "containerPort", num("0"))
			setDefault(m, "servicePort", num("0"))
			setDefault(m, "protocol", "tcp")
			if networkMode(def) == "bridge" {
				setDefault(m, "hostPort", num("0"))
			}
		}
	}
	if _, ok := def["portDefinitions"]; !ok && (!canonical || networkMode(def) == "host") {
		if len(portMappings(def)) > 0 && networkMode(def) != "host" {
			def["portDefinitions"] = []any{}
		} else {
			def["portDefinitions"] = []any{map[string]any{"port": num("0"), "protocol": "tcp", "name": "default"}}
		}
	}
	for _, p := range portDefinitions(def) {
		setDefault(p, "protocol", "tcp")
		setDefault(p, "port", num("0"))
	}
	hcs, _ := def["healthChecks"].([]any)
	for _, hc := range objects(hcs) {
		setDefault(hc, "protocol", "HTTP")
		setDefault(hc, "gracePeriodSeconds", num("300"))
		setDefault(hc, "intervalSeconds", num("60"))
		setDefault(hc, "timeoutSeconds", num("20"))
		setDefault(hc, "maxConsecutiveFailures", num("3"))
		setDefault(hc, "delaySeconds", num("15"))
		setDefault(hc, "ipProtocol", "IPv4")
		if _, hasPort := hc["port"]; !hasPort && hc["protocol"] != "COMMAND" {
			setDefault(hc, "portIndex", num("0"))
		}
		if hc["protocol"] == "HTTP" || hc["protocol"] == "HTTPS" || hc["protocol"] == "MESOS_HTTP" || hc["protocol"] == "MESOS_HTTPS" {
			setDefault(hc, "path", "/")
		}
	}
}

func setDefault(m map[string]any, key string, value any) {
	if _, ok := m[key]; !ok {
		m[key] = value
	}
}
