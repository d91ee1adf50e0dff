package marathon

import (
	gomarathon "github.com/gambol99/go-marathon"
)

// Network modes of Marathon 1.5's networking API (types/network.raml, NetworkMode).
const (
	// ModeHost: the task shares the agent's network; ports are port definitions, reached at
	// the agent and the task's host ports.
	ModeHost = "host"
	// ModeBridge: Docker's default bridge; ports are port mappings, reached at the agent and
	// the host port each mapping gets.
	ModeBridge = "container/bridge"
	// ModeContainer: a named virtual network (e.g. DC/OS' "dcos" overlay) with an IP per task;
	// ports are port mappings, reached at the task's IP address and the container port.
	ModeContainer = "container"
)

// App is a Marathon app as Marathon 1.5 and later read and write it: go-marathon v0.7.1's
// Application for every field it knows, plus the two it cannot decode or send, "networks" and
// "container.portMappings" (Marathon's docs/docs/networking.md: "As of version 1.5, Marathon
// will only produce responses in the new 1.5 networking API format"). It decodes the legacy
// format of Marathon 1.4 too (container.docker.network, container.docker.portMappings).
type App struct {
	gomarathon.Application
	// Container shadows Application.Container: encoding/json uses the shallower field for
	// "container", so the embedded one stays nil.
	Container *Container `json:"container,omitempty"`
	Networks  []Network  `json:"networks,omitempty"`
}

// Container is go-marathon's Container with the 1.5 field container.portMappings.
type Container struct {
	gomarathon.Container
	PortMappings *[]PortMapping `json:"portMappings,omitempty"`
}

// PortMapping is one of container.portMappings (types/appContainer.raml, ContainerPortMapping).
// Unlike go-marathon's, its hostPort can be absent: on a named container network a mapping
// without hostPort gets no host port, while hostPort 0 asks for a dynamic one.
type PortMapping struct {
	ContainerPort int                `json:"containerPort,omitempty"`
	HostPort      *int               `json:"hostPort,omitempty"`
	ServicePort   int                `json:"servicePort,omitempty"`
	Protocol      string             `json:"protocol,omitempty"`
	Name          string             `json:"name,omitempty"`
	Labels        *map[string]string `json:"labels,omitempty"`
	NetworkNames  []string           `json:"networkNames,omitempty"`
}

// Network is one of the networks an app joins (types/network.raml, Network).
type Network struct {
	Name   string            `json:"name,omitempty"`
	Mode   string            `json:"mode,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// NetworkMode is how the app is networked: ModeHost, ModeBridge or ModeContainer, from
// "networks" (1.5+) or, for an app in the legacy format, container.docker.network.
func NetworkMode(app *App) string {
	if len(app.Networks) > 0 {
		if app.Networks[0].Mode == "" {
			return ModeContainer // the RAML's default mode
		}
		return app.Networks[0].Mode
	}
	if app.Container != nil && app.Container.Docker != nil {
		switch app.Container.Docker.Network {
		case "BRIDGE":
			return ModeBridge
		case "USER":
			return ModeContainer
		}
	}
	return ModeHost
}

// portMappings are container.portMappings (1.5+) or container.docker.portMappings (legacy).
func portMappings(app *App) []PortMapping {
	if app.Container == nil {
		return nil
	}
	if app.Container.PortMappings != nil {
		return *app.Container.PortMappings
	}
	var out []PortMapping
	if app.Container.Docker != nil && app.Container.Docker.PortMappings != nil {
		for _, pm := range *app.Container.Docker.PortMappings {
			out = append(out, PortMapping{ContainerPort: pm.ContainerPort, HostPort: &pm.HostPort, ServicePort: pm.ServicePort,
				Protocol: pm.Protocol, Name: pm.Name, Labels: pm.Labels})
		}
	}
	return out
}

// legacyApp is app in Marathon 1.4's format, for a Marathon before 1.5, which does not know
// "networks" and "container.portMappings" and would ignore them (its JSON reader,
// api/v2/json/Formats.scala of 1.4, reads container{type, volumes, docker, appc} only).
func legacyApp(app *App) *App {
	out := *app
	mode := NetworkMode(app)
	out.Networks = nil
	if app.Container == nil {
		return &out
	}
	c := *app.Container
	out.Container = &c
	if c.Docker != nil {
		d := *c.Docker
		c.Docker = &d
		d.Network = map[string]string{ModeHost: "HOST", ModeBridge: "BRIDGE", ModeContainer: "USER"}[mode]
		if mode != ModeHost && c.PortMappings != nil {
			legacy := []gomarathon.PortMapping{}
			for _, pm := range *c.PortMappings {
				hostPort := 0
				if pm.HostPort != nil {
					hostPort = *pm.HostPort
				}
				legacy = append(legacy, gomarathon.PortMapping{ContainerPort: pm.ContainerPort, HostPort: hostPort, ServicePort: pm.ServicePort,
					Protocol: pm.Protocol, Name: pm.Name, Labels: pm.Labels})
			}
			d.PortMappings = &legacy
		}
	}
	if mode == ModeContainer && len(app.Networks) > 0 && app.Networks[0].Name != "" {
		out.IPAddressPerTask = &gomarathon.IPAddressPerTask{NetworkName: app.Networks[0].Name}
	}
	c.PortMappings = nil
	return &out
}
