package emulator

import "fmt"

// Marathon 1.5's networking API, as Marathon 1.5+ normalizes app definitions
// (docs/docs/networking.md, docs/docs/upgrade/network-api-migration.md, and
// api/v2/AppNormalization.scala / validation/NetworkValidation.scala of Marathon 1.5.0):
// an app joins one "host" network, one "container/bridge" network, or one or more named
// "container" networks; port mappings live in container.portMappings and only apply to
// container networks; port definitions only apply to host networking.

// Network modes of types/network.raml (NetworkMode).
const (
	modeHost      = "host"
	modeBridge    = "container/bridge"
	modeContainer = "container"
)

// translateDeprecated rewrites the 1.4 networking fields of a request body into the 1.5 ones,
// before the body is merged with the current definition: container.docker.network (and the
// deprecated ipAddress) become "networks", container.docker.portMappings moves to
// container.portMappings. A body that gives both the deprecated and the canonical field is
// refused, as Marathon does ("cannot mix deprecated and canonical network APIs"). Canonical
// bodies pass unchanged.
func translateDeprecated(body map[string]any) []fieldError {
	c, _ := body["container"].(map[string]any)
	d, _ := c["docker"].(map[string]any)
	legacyNet, hasLegacyNet := d["network"].(string)
	ip, hasIP := body["ipAddress"].(map[string]any)
	if _, hasNets := body["networks"]; hasNets && (hasLegacyNet || hasIP) {
		return []fieldError{{Path: "/networks", Errors: []string{"cannot mix deprecated and canonical network APIs"}}}
	}
	if hasLegacyNet || hasIP {
		net := map[string]any{}
		switch legacyNet {
		case "HOST":
			net["mode"] = modeHost
		case "BRIDGE":
			net["mode"] = modeBridge
		case "USER", "":
			net["mode"] = modeContainer
			if name, ok := ip["networkName"].(string); ok && name != "" {
				net["name"] = name
			}
		default:
			return []fieldError{{Path: "/container/docker/network", Errors: []string{"unsupported docker network type " + legacyNet + " (use BRIDGE, HOST or USER, or networks)"}}}
		}
		body["networks"] = []any{net}
		delete(d, "network")
		delete(body, "ipAddress")
	}
	if pm, ok := d["portMappings"]; ok {
		if existing, ok := c["portMappings"].([]any); ok && len(existing) > 0 {
			if legacy, _ := pm.([]any); len(legacy) > 0 {
				return []fieldError{{Path: "/container/portMappings", Errors: []string{"cannot specify both portMappings and docker.portMappings"}}}
			}
		} else if pm != nil {
			c["portMappings"] = pm
		}
		delete(d, "portMappings")
	}
	return nil
}

// networks checks the types and modes of "networks".
func (v *validation) networks(app map[string]any) {
	raw, ok := app["networks"]
	if !ok {
		return
	}
	arr, isArr := raw.([]any)
	if !isArr {
		v.typeErr("/networks", "error.expected.jsarray")
		return
	}
	for i, item := range arr {
		p := fmt.Sprintf("/networks(%d)", i)
		n, isObj := item.(map[string]any)
		if !isObj {
			v.typeErr(p, "error.expected.jsobject")
			continue
		}
		if m, ok := n["mode"]; ok {
			switch m {
			case modeHost, modeBridge, modeContainer:
			default:
				if _, isStr := m.(string); !isStr {
					v.typeErr(p+"/mode", "error.expected.jsstring")
				} else {
					v.valueErr(p+"/mode", "error.unknown.enum.literal: expected one of container, container/bridge, host")
				}
			}
		}
		if name, ok := n["name"]; ok {
			if _, isStr := name.(string); !isStr {
				v.typeErr(p+"/name", "error.expected.jsstring")
			}
		}
		v.labels(n, p)
	}
}

// canonicalNetworking brings a validated definition (deprecated fields already translated)
// into the form Marathon 1.5+ stores and answers: "networks" always present (host by
// default), port mappings only with container networks (a default one when none is given,
// hostPort 0 when missing on a bridge network), port definitions only with host networking,
// requirePorts only with host networking.
func canonicalNetworking(def map[string]any) []fieldError {
	if errs := translateDeprecated(def); len(errs) > 0 {
		return errs
	}
	nets := objects(asArray(def["networks"]))
	if len(nets) == 0 {
		nets = []map[string]any{{"mode": modeHost}}
	}
	counts := map[string]int{}
	names := map[string]bool{}
	var errs []fieldError
	fail := func(msg string) { errs = append(errs, fieldError{Path: "/networks", Errors: []string{msg}}) }
	for _, n := range nets {
		setDefault(n, "mode", modeContainer)
		mode := str(n["mode"])
		counts[mode]++
		name, _ := n["name"].(string)
		_, hasLabels := n["labels"]
		switch {
		case mode == modeHost && (name != "" || hasLabels):
			fail("Host networks may not have names or labels")
		case mode == modeBridge && name != "":
			fail("Bridge networks may not have names")
		case mode == modeContainer && name == "":
			// No --default_network_name: Marathon cannot resolve the name.
			fail("container network name is not defined")
		}
		if name != "" && names[name] {
			fail("Duplicate networks are not allowed")
		}
		names[name] = true
	}
	allowed := counts[modeHost] <= 1 && counts[modeBridge] == 0 && counts[modeContainer] == 0 ||
		counts[modeHost] == 0 && counts[modeBridge] <= 1 && counts[modeContainer] == 0 ||
		counts[modeHost] == 0 && counts[modeBridge] == 0 && counts[modeContainer] > 0
	if !allowed {
		fail("May specify a single host network, single bridge network, or else 1-to-n container networks")
	}
	if len(errs) > 0 {
		return errs
	}
	out := make([]any, len(nets))
	for i, n := range nets {
		out[i] = n
	}
	def["networks"] = out
	mode := str(nets[0]["mode"])
	c, hasContainer := def["container"].(map[string]any)
	if mode == modeHost {
		if hasContainer {
			delete(c, "portMappings")
		}
		return nil
	}
	if !hasContainer {
		c = map[string]any{"type": "MESOS"}
		def["container"] = c
	}
	mappings, given := c["portMappings"].([]any)
	if !given {
		mappings = []any{map[string]any{"containerPort": num("0"), "name": "default"}}
	}
	// A 1.4 definition may count its ports in portDefinitions: each becomes a mapping.
	for extra := len(portDefinitions(def)) - len(mappings); extra > 0; extra-- {
		mappings = append(mappings, map[string]any{"containerPort": num("0")})
	}
	if mode == modeBridge {
		for _, m := range objects(mappings) {
			setDefault(m, "hostPort", num("0"))
		}
	}
	c["portMappings"] = mappings
	delete(def, "portDefinitions")
	def["requirePorts"] = false
	return nil
}

func asArray(v any) []any {
	arr, _ := v.([]any)
	return arr
}
