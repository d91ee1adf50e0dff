package emulator

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// fieldError is one entry of Marathon's error "details": the JSON path of the
// offending value and what is wrong with it.
type fieldError struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// segmentPattern is the rule Marathon applies to each segment of an app id
// (strings.PathId in types/stringTypes.raml, per segment).
const segmentPattern = `^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`

var (
	segmentRE    = regexp.MustCompile(segmentPattern)
	legacyNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// validation collects errors while walking a decoded app definition. Type
// errors (a string where a number belongs) are what Marathon's JSON reader
// rejects with 400 "Invalid JSON"; everything else is a 422 "Object is not
// valid", the same split Marathon makes.
type validation struct {
	typeErrs  []fieldError
	valueErrs []fieldError
}

func (v *validation) typeErr(path, msg string) {
	v.typeErrs = append(v.typeErrs, fieldError{Path: path, Errors: []string{msg}})
}

func (v *validation) valueErr(path, format string, args ...any) {
	v.valueErrs = append(v.valueErrs, fieldError{Path: path, Errors: []string{fmt.Sprintf(format, args...)}})
}

// canonicalAppID turns an id as given by a client into Marathon's absolute
// form ("foo" and "/foo/" both become "/foo") and reports what is wrong with
// it, if anything.
func canonicalAppID(raw string) (string, []string) {
	if raw == "" {
		return "", []string{"must not be empty"}
	}
	id := "/" + strings.Trim(raw, "/")
	if id == "/" {
		return "", []string{"path must contain at least one segment, e.g. /my-app"}
	}
	var errs []string
	for _, seg := range strings.Split(id[1:], "/") {
		switch {
		case seg == "":
			errs = append(errs, "must not contain empty segments (//)")
		case seg == "..":
			errs = append(errs, "must be an absolute path without '..' segments")
		case !segmentRE.MatchString(seg):
			errs = append(errs, fmt.Sprintf("must fully match regular expression '%s' (segment %q: lowercase letters, digits, '-' and '.', not starting or ending with '-')", segmentPattern, seg))
		}
	}
	return id, errs
}

// validateApp checks a decoded app definition against the RAML types in
// types/app.raml, appContainer.raml, healthCheck.raml and network.raml. The
// id has already been canonicalised by the caller.
func validateApp(app map[string]any) *validation {
	v := &validation{}
	if raw, ok := app["id"]; ok {
		s, isStr := raw.(string)
		if !isStr {
			v.typeErr("/id", "error.expected.jsstring")
		} else if _, errs := canonicalAppID(s); len(errs) > 0 {
			v.valueErrs = append(v.valueErrs, fieldError{Path: "/id", Errors: errs})
		}
	} else {
		v.valueErr("/id", "error.path.missing")
	}

	v.number(app, "cpus", "", 0.001, false)
	v.number(app, "mem", "", 0, false)
	v.number(app, "disk", "", 0, false)
	v.number(app, "instances", "", 0, true)
	v.number(app, "gpus", "", 0, true)
	v.number(app, "backoffSeconds", "", 0, true)
	v.number(app, "backoffFactor", "", 1, false)
	v.number(app, "maxLaunchDelaySeconds", "", 0, true)
	v.number(app, "taskKillGracePeriodSeconds", "", 0, true)

	if cmd, ok := app["cmd"]; ok {
		if s, isStr := cmd.(string); !isStr {
			v.typeErr("/cmd", "error.expected.jsstring")
		} else if s == "" {
			v.valueErr("/cmd", "must not be empty")
		}
	}
	v.stringArray(app, "args", "")
	v.stringArray(app, "acceptedResourceRoles", "")
	v.stringArray(app, "dependencies", "")
	v.labels(app, "")
	v.env(app)
	v.constraints(app)
	v.upgradeStrategy(app)

	v.networks(app)
	// Marathon's rule (AppValidation.containsCmdArgsOrContainer, the same in 1.4's
	// AppDefinition): one of cmd or args, or a container without both; an empty cmd or args
	// counts as absent. Marathon's own example app.json gives both and is refused.
	cmd, _ := app["cmd"].(string)
	args, _ := app["args"].([]any)
	hasCmd, hasArgs := cmd != "", len(args) > 0
	c, _ := app["container"].(map[string]any)
	_, hasDocker := c["docker"]
	if allowed := hasCmd != hasArgs || (!hasCmd || !hasArgs) && hasDocker; !allowed {
		v.valueErr("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
	}

	mappings := v.container(app)
	defs := v.portDefinitions(app)
	if _, given := app["portDefinitions"]; !given && mappings == nil {
		defs = 1 // Marathon's default: one port definition with a dynamic port
	}
	v.healthChecks(app, max(len(mappings), defs))
	return v
}

// number checks an optional numeric field: its type, integrality and minimum.
func (v *validation) number(obj map[string]any, key, prefix string, minimum float64, integer bool) {
	raw, ok := obj[key]
	if !ok {
		return
	}
	path := prefix + "/" + key
	n, isNum := raw.(json.Number)
	if !isNum {
		v.typeErr(path, "error.expected.jsnumber")
		return
	}
	f, err := n.Float64()
	if err != nil {
		v.typeErr(path, "error.expected.jsnumber")
		return
	}
	if integer {
		if _, err := n.Int64(); err != nil {
			v.typeErr(path, "error.expected.int")
			return
		}
	}
	if f < minimum {
		v.valueErr(path, "got %s, expected %v or more", n.String(), minimum)
	}
}

func (v *validation) port(obj map[string]any, key, prefix string) {
	v.number(obj, key, prefix, 0, true)
	if n, ok := obj[key].(json.Number); ok {
		if i, err := n.Int64(); err == nil && i > 65535 {
			v.valueErr(prefix+"/"+key, "got %d, expected 65535 or less", i)
		}
	}
}

func (v *validation) stringArray(obj map[string]any, key, prefix string) {
	raw, ok := obj[key]
	if !ok {
		return
	}
	arr, isArr := raw.([]any)
	if !isArr {
		v.typeErr(prefix+"/"+key, "error.expected.jsarray")
		return
	}
	for i, item := range arr {
		if _, isStr := item.(string); !isStr {
			v.typeErr(fmt.Sprintf("%s/%s(%d)", prefix, key, i), "error.expected.jsstring")
		}
	}
}

// labels checks obj's "labels": an object of strings (apps, networks and volumes have them).
func (v *validation) labels(obj map[string]any, prefix string) {
	const key = "labels"
	raw, ok := obj[key]
	if !ok {
		return
	}
	m, isObj := raw.(map[string]any)
	if !isObj {
		v.typeErr(prefix+"/"+key, "error.expected.jsobject")
		return
	}
	for _, k := range sortedKeys(m) {
		if _, isStr := m[k].(string); !isStr {
			v.typeErr(prefix+"/"+key+"/"+k, "error.expected.jsstring")
		}
	}
}

// env accepts plain strings and secret references ({"secret": "name"}), as
// env.LegacyEnvVars does.
func (v *validation) env(app map[string]any) {
	raw, ok := app["env"]
	if !ok {
		return
	}
	m, isObj := raw.(map[string]any)
	if !isObj {
		v.typeErr("/env", "error.expected.jsobject")
		return
	}
	for _, k := range sortedKeys(m) {
		switch val := m[k].(type) {
		case string:
		case map[string]any:
			if _, isStr := val["secret"].(string); !isStr {
				v.typeErr("/env/"+k, "error.expected.jsstring (or an object {\"secret\": \"<name>\"})")
			}
		default:
			v.typeErr("/env/"+k, "error.expected.jsstring")
		}
	}
}

func (v *validation) constraints(app map[string]any) {
	raw, ok := app["constraints"]
	if !ok {
		return
	}
	arr, isArr := raw.([]any)
	if !isArr {
		v.typeErr("/constraints", "error.expected.jsarray")
		return
	}
	for i, c := range arr {
		path := fmt.Sprintf("/constraints(%d)", i)
		parts, isArr := c.([]any)
		if !isArr {
			v.typeErr(path, "error.expected.jsarray")
			continue
		}
		if len(parts) < 2 || len(parts) > 3 {
			v.valueErr(path, "Each constraint must have either 2 or 3 fields: [field, operator] or [field, operator, value]")
		}
		for j, p := range parts {
			if _, isStr := p.(string); !isStr {
				v.typeErr(fmt.Sprintf("%s(%d)", path, j), "error.expected.jsstring")
			}
		}
		if len(parts) >= 2 {
			op, _ := parts[1].(string)
			switch op {
			case "UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS":
			default:
				v.valueErr(path, "Constraint operator must be one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER or IS")
			}
		}
	}
}

func (v *validation) upgradeStrategy(app map[string]any) {
	raw, ok := app["upgradeStrategy"]
	if !ok {
		return
	}
	us, isObj := raw.(map[string]any)
	if !isObj {
		v.typeErr("/upgradeStrategy", "error.expected.jsobject")
		return
	}
	for _, key := range []string{"minimumHealthCapacity", "maximumOverCapacity"} {
		v.number(us, key, "/upgradeStrategy", 0, false)
		if n, ok := us[key].(json.Number); ok {
			if f, err := n.Float64(); err == nil && f > 1 {
				v.valueErr("/upgradeStrategy/"+key, "is greater than 1")
			}
		}
	}
}

// container validates the container object and returns its port mappings
// (container.portMappings or the deprecated container.docker.portMappings).
func (v *validation) container(app map[string]any) []any {
	raw, ok := app["container"]
	if !ok {
		return nil
	}
	c, isObj := raw.(map[string]any)
	if !isObj {
		v.typeErr("/container", "error.expected.jsobject")
		return nil
	}
	engine := "DOCKER"
	if t, ok := c["type"]; ok {
		s, isStr := t.(string)
		if !isStr {
			v.typeErr("/container/type", "error.expected.jsstring")
		} else if s != "DOCKER" && s != "MESOS" {
			v.valueErr("/container/type", "error.unknown.enum.literal: expected DOCKER or MESOS, got %q", s)
		}
		engine = s
	}
	var mappings []any
	var mappingsPath string
	if d, ok := c["docker"]; ok {
		docker, isObj := d.(map[string]any)
		if !isObj {
			v.typeErr("/container/docker", "error.expected.jsobject")
		} else {
			img, hasImg := docker["image"]
			if !hasImg {
				v.valueErr("/container/docker/image", "error.path.missing")
			} else if s, isStr := img.(string); !isStr {
				v.typeErr("/container/docker/image", "error.expected.jsstring")
			} else if s == "" {
				v.valueErr("/container/docker/image", "must not be empty")
			}
			if n, ok := docker["network"]; ok {
				switch n {
				case "BRIDGE", "HOST", "NONE", "USER":
				default:
					v.valueErr("/container/docker/network", "error.unknown.enum.literal: expected one of BRIDGE, HOST, NONE, USER")
				}
			}
			if pm, ok := docker["portMappings"]; ok && pm != nil {
				mappings = v.portMappings(pm, "/container/docker/portMappings")
				mappingsPath = "/container/docker/portMappings"
			}
		}
	} else if engine == "DOCKER" {
		v.valueErr("/container/docker", "must not be empty: a DOCKER container needs docker.image")
	}
	if pm, ok := c["portMappings"]; ok && pm != nil {
		if mappingsPath != "" {
			v.valueErr("/container/portMappings", "must not be given together with %s (deprecated)", mappingsPath)
		}
		mappings = v.portMappings(pm, "/container/portMappings")
	}
	return mappings
}

func (v *validation) portMappings(raw any, path string) []any {
	arr, isArr := raw.([]any)
	if !isArr {
		v.typeErr(path, "error.expected.jsarray")
		return nil
	}
	names := map[string]bool{}
	for i, item := range arr {
		p := fmt.Sprintf("%s(%d)", path, i)
		m, isObj := item.(map[string]any)
		if !isObj {
			v.typeErr(p, "error.expected.jsobject")
			continue
		}
		for _, key := range []string{"containerPort", "hostPort", "servicePort"} {
			v.port(m, key, p)
		}
		v.protocol(m, p)
		v.portName(m, p, names)
		v.labels(m, p)
	}
	return arr
}

// portDefinitions validates portDefinitions and returns how many there are.
func (v *validation) portDefinitions(app map[string]any) int {
	raw, ok := app["portDefinitions"]
	if !ok || raw == nil {
		return 0
	}
	arr, isArr := raw.([]any)
	if !isArr {
		v.typeErr("/portDefinitions", "error.expected.jsarray")
		return 0
	}
	names := map[string]bool{}
	for i, item := range arr {
		p := fmt.Sprintf("/portDefinitions(%d)", i)
		m, isObj := item.(map[string]any)
		if !isObj {
			v.typeErr(p, "error.expected.jsobject")
			continue
		}
		v.port(m, "port", p)
		v.protocol(m, p)
		v.portName(m, p, names)
		v.labels(m, p)
	}
	return len(arr)
}

func (v *validation) protocol(m map[string]any, prefix string) {
	raw, ok := m["protocol"]
	if !ok {
		return
	}
	switch raw {
	case "tcp", "udp", "udp,tcp":
	default:
		v.valueErr(prefix+"/protocol", "error.unknown.enum.literal: expected one of tcp, udp, udp,tcp")
	}
}

func (v *validation) portName(m map[string]any, prefix string, seen map[string]bool) {
	raw, ok := m["name"]
	if !ok {
		return
	}
	s, isStr := raw.(string)
	if !isStr {
		v.typeErr(prefix+"/name", "error.expected.jsstring")
		return
	}
	if !legacyNameRE.MatchString(s) {
		v.valueErr(prefix+"/name", "must fully match regular expression '%s'", legacyNameRE.String())
	}
	if seen[s] {
		v.valueErr(prefix+"/name", "Port names must be unique.")
	}
	seen[s] = true
}

// healthChecks validates healthChecks; portCount is the number of ports a
// portIndex may address.
func (v *validation) healthChecks(app map[string]any, portCount int) {
	raw, ok := app["healthChecks"]
	if !ok || raw == nil {
		return
	}
	arr, isArr := raw.([]any)
	if !isArr {
		v.typeErr("/healthChecks", "error.expected.jsarray")
		return
	}
	for i, item := range arr {
		p := fmt.Sprintf("/healthChecks(%d)", i)
		hc, isObj := item.(map[string]any)
		if !isObj {
			v.typeErr(p, "error.expected.jsobject")
			continue
		}
		for _, key := range []string{"gracePeriodSeconds", "intervalSeconds", "maxConsecutiveFailures", "timeoutSeconds", "delaySeconds"} {
			v.number(hc, key, p, 0, true)
		}
		v.port(hc, "port", p)
		v.port(hc, "portIndex", p)
		protocol := "HTTP"
		if raw, ok := hc["protocol"]; ok {
			s, _ := raw.(string)
			switch s {
			case "HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_TCP", "MESOS_HTTP", "MESOS_HTTPS":
				protocol = s
			default:
				v.valueErr(p+"/protocol", "error.unknown.enum.literal: expected one of HTTP, HTTPS, TCP, COMMAND, MESOS_TCP, MESOS_HTTP, MESOS_HTTPS")
			}
		}
		if path, ok := hc["path"]; ok {
			if _, isStr := path.(string); !isStr {
				v.typeErr(p+"/path", "error.expected.jsstring")
			}
		}
		if protocol == "COMMAND" {
			cmd, _ := hc["command"].(map[string]any)
			if _, isStr := cmd["value"].(string); !isStr {
				v.valueErr(p+"/command", "A COMMAND health check needs command.value")
			}
			continue
		}
		_, hasPort := hc["port"]
		if idx, ok := hc["portIndex"].(json.Number); ok {
			if hasPort {
				v.valueErr(p, "Health check must specify either portIndex or port, not both")
			}
			if i, err := idx.Int64(); err == nil && int(i) >= portCount {
				v.valueErr(p+"/portIndex", "Health check port indices must address an element of the ports array or container port mappings (got %d, the app has %d ports).", i, portCount)
			}
		} else if !hasPort && portCount == 0 {
			v.valueErr(p, "Health check port indices must address an element of the ports array or container port mappings (the app has no ports; add portDefinitions or set port).")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
