package blueprint

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/condition"
)

// idPattern is what Vamp accepts as a name of a deployment, cluster, breed or port: names are
// joined with "/" into gateway and route names, so they cannot contain "/" or spaces.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

const idRule = `start with a letter or digit and use only letters, digits and _ . : - (no "/" or spaces), e.g. %q`

// Validate reports every fault of the blueprint, in a deterministic order (map keys sorted). It
// checks the blueprint as Normalize would complete it, without changing b.
func (b *Blueprint) Validate() []*FieldError {
	v := &validator{}
	if b == nil {
		v.add(nil, "Blueprint is missing", "give a blueprint with a name and at least one cluster")
		return v.errs
	}
	n := b.Clone()
	n.Normalize()
	v.id(Path{}.Attr("name"), n.Name, "deployment name", "sava")
	if len(n.Clusters) == 0 {
		v.add(Path{}.Attr("clusters"), "No clusters",
			"a deployment needs at least one cluster, e.g. clusters = { sava_cluster = { services = [...] } }")
	}
	for _, name := range sortedKeys(n.Clusters) {
		v.cluster(Path{}.Attr("clusters").Key(name), name, n.Clusters[name])
	}
	v.blueprintGateways(n)
	return v.errs
}

type validator struct{ errs []*FieldError }

func (v *validator) add(p Path, summary, detail string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: p, Summary: summary, Detail: fmt.Sprintf(detail, args...)})
}

// id checks a name that becomes part of gateway and route names.
func (v *validator) id(p Path, name, what, example string) {
	switch {
	case name == "":
		v.add(p, "Missing "+what, "set the "+what+", e.g. %q", example)
	case !idPattern.MatchString(name):
		v.add(p, "Invalid "+what, "%q: a "+what+" must "+idRule, name, example)
	}
}

func (v *validator) blueprintGateways(b *Blueprint) {
	seen := map[int]string{}
	for _, key := range sortedKeys(b.Gateways) {
		p := Path{}.Attr("gateways").Key(key)
		port, err := parsePortNumber(key)
		if err != nil || strings.TrimSpace(key) != key {
			v.add(p, "Invalid gateway port", "%q: %s; write the port as a number, e.g. \"9050\" (the protocol comes from the cluster port)",
				key, "a blueprint gateway key is a port number from 1 to 65535")
			continue
		}
		if first, dup := seen[port]; dup {
			v.add(p, "Gateway port used twice", "%q and %q are both port %d; keep one of them", first, key, port)
			continue
		}
		seen[port] = key
		target := b.Gateways[key]
		cluster, cport, err := ParseTarget(target)
		if err != nil {
			v.add(p, "Invalid gateway target", "%v", err)
			continue
		}
		c := b.Clusters[cluster]
		if c == nil {
			v.add(p, "Gateway target cluster not found", "%q: there is no cluster %q; the clusters are %s. Name one of them, or add the cluster",
				target, cluster, list(sortedKeys(b.Clusters)))
			continue
		}
		if ports := c.PortNames(); !slices.Contains(ports, cport) {
			v.add(p, "Gateway target port not found", "%q: no breed in cluster %q has a port %q; its ports are %s. Name one of them, or add the port to the breeds",
				target, cluster, cport, list(ports))
		}
	}
}

func (v *validator) cluster(p Path, name string, c *Cluster) {
	if !idPattern.MatchString(name) {
		v.add(p, "Invalid cluster name", "%q: a cluster name must "+idRule, name, "sava_cluster")
	}
	if c == nil || len(c.Services) == 0 {
		v.add(p.Attr("services"), "No services", "a cluster needs at least one service, e.g. services = [{ breed = { name = \"sava:1.0.0\", deployable = \"...\", ports = { webport = \"8080/http\" } } }]")
		if c == nil {
			return
		}
	}
	firstIndex := map[string]int{}
	for i, s := range c.Services {
		sp := p.Attr("services").Index(i)
		if s == nil {
			v.add(sp, "Empty service", "remove the empty entry or give it a breed")
			continue
		}
		if first, dup := firstIndex[s.Breed.Name]; dup && s.Breed.Name != "" {
			v.add(sp.Attr("breed").Attr("name"), "Duplicate service name",
				"%q is already the name of services[%d] in cluster %q; give each variant its own breed name, e.g. with its version (sava:1.1.0)",
				s.Breed.Name, first, name)
		} else {
			firstIndex[s.Breed.Name] = i
		}
		v.service(sp, s)
	}
	v.portProtocols(p, c)
	ports := c.PortNames()
	for _, port := range sortedKeys(c.Gateways) {
		gp := p.Attr("gateways").Key(port)
		if !slices.Contains(ports, port) {
			v.add(gp, "Gateway for an unknown port",
				"%q is not a port of any breed in cluster %q; cluster gateways are keyed by breed port name (%s). Rename it or add the port to a breed",
				port, name, list(ports))
		}
		v.clusterGateway(gp, c, port, c.Gateways[port])
	}
}

// portProtocols checks that the breeds of a cluster agree on each port's protocol: one internal
// gateway serves the port of every variant.
func (v *validator) portProtocols(p Path, c *Cluster) {
	type first struct{ protocol, service string }
	seen := map[string]first{}
	for i, s := range c.Services {
		if s == nil {
			continue
		}
		for _, port := range sortedKeys(s.Breed.Ports) {
			_, protocol, err := ParsePort(s.Breed.Ports[port])
			if err != nil {
				continue
			}
			f, ok := seen[port]
			if !ok {
				seen[port] = first{protocol, s.Breed.Name}
				continue
			}
			if f.protocol != protocol {
				v.add(p.Attr("services").Index(i).Attr("breed").Attr("ports").Key(port), "Port protocols differ",
					"%q is %s here but %s in %q; one gateway serves this port for every variant, so give it the same protocol in every breed",
					port, protocol, f.protocol, f.service)
			}
		}
	}
}

func (v *validator) service(p Path, s *Service) {
	bp := p.Attr("breed")
	v.id(bp.Attr("name"), s.Breed.Name, "breed name", "sava:1.0.0")
	if strings.TrimSpace(s.Breed.Deployable) == "" {
		v.add(bp.Attr("deployable"), "Missing deployable",
			"set the breed's deployable: \"cmd:COMMAND\" for a local process, or a docker image such as magneticio/sava:1.0.0 (Marathon runtime); a breed named only by reference must be written out in full, there is no breed store")
	}
	for _, port := range sortedKeys(s.Breed.Ports) {
		pp := bp.Attr("ports").Key(port)
		if !idPattern.MatchString(port) {
			v.add(pp, "Invalid port name", "%q: a port name must "+idRule, port, "webport")
		}
		if _, _, err := ParsePort(s.Breed.Ports[port]); err != nil {
			v.add(pp, "Invalid port", "%v", err)
		}
	}
	if sc := s.Scale; sc != nil {
		if !(sc.CPU > 0) || math.IsInf(sc.CPU, 0) {
			v.add(p.Attr("scale").Attr("cpu"), "Invalid cpu", "%v: cpu must be a positive number of cores, e.g. 0.2", sc.CPU)
		}
		if sc.MemoryMB <= 0 {
			v.add(p.Attr("scale").Attr("memory"), "Invalid memory", "%d: memory must be a positive number of megabytes, e.g. 256", sc.MemoryMB)
		}
		if sc.Instances <= 0 {
			v.add(p.Attr("scale").Attr("instances"), "Invalid instances", "%d: instances must be at least 1", sc.Instances)
		}
	}
	for i, hc := range s.HealthChecks {
		v.healthCheck(p.Attr("health_checks").Index(i), s, hc)
	}
	if s.Marathon != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(s.Marathon), &obj); err != nil {
			v.add(p.Attr("marathon"), "Invalid marathon", "marathon must be a JSON object to merge into the Marathon app, e.g. jsonencode({ labels = { team = \"a\" } }): %v", err)
		}
	}
}

func (v *validator) healthCheck(p Path, s *Service, hc HealthCheck) {
	ports := sortedKeys(s.Breed.Ports)
	switch {
	case hc.Port == "":
		v.add(p.Attr("port"), "Missing health check port", "name the breed port to check, one of %s", list(ports))
	case !slices.Contains(ports, hc.Port):
		v.add(p.Attr("port"), "Unknown health check port", "%q is not a port of breed %q; use one of %s", hc.Port, s.Breed.Name, list(ports))
	}
	if !slices.Contains([]string{"HTTP", "HTTPS", "TCP"}, strings.ToUpper(hc.Protocol)) {
		v.add(p.Attr("protocol"), "Invalid health check protocol", "%q: protocol must be HTTP, HTTPS or TCP", hc.Protocol)
	}
	if strings.ToUpper(hc.Protocol) != "TCP" && !strings.HasPrefix(hc.Path, "/") {
		v.add(p.Attr("path"), "Invalid health check path", "%q: an HTTP health check path starts with /, e.g. \"/health\"", hc.Path)
	}
	for _, f := range []struct{ attr, value string }{
		{"initial_delay", hc.InitialDelay}, {"interval", hc.Interval}, {"timeout", hc.Timeout},
	} {
		if d, err := time.ParseDuration(f.value); err != nil || d < 0 {
			v.add(p.Attr(f.attr), "Invalid duration", "%q: %s is a duration such as \"10s\" or \"1m\"", f.value, f.attr)
		}
	}
	if hc.Failures < 0 {
		v.add(p.Attr("failures"), "Invalid failures", "%d: failures is the number of failed checks before a restart, 0 or more, e.g. 3", hc.Failures)
	}
}

func (v *validator) clusterGateway(p Path, c *Cluster, port string, g *ClusterGateway) {
	if g == nil {
		return
	}
	if g.Sticky != "" && g.Sticky != StickyRoute && g.Sticky != StickyInstance {
		v.add(p.Attr("sticky"), "Invalid sticky", "%q: sticky is \"route\", \"instance\" or unset", g.Sticky)
	}
	services := c.ServicesWithPort(port)
	weightsOK := true
	var sum int64
	var parts []string
	for _, name := range sortedKeys(g.Routes) {
		rp := p.Attr("routes").Key(name)
		r := g.Routes[name]
		switch {
		case c.Service(name) == nil:
			var names []string
			for _, s := range c.Services {
				if s != nil {
					names = append(names, s.Breed.Name)
				}
			}
			v.add(rp, "Route to an unknown service",
				"the cluster has no service %q; its services are %s. Rename the route or add the service", name, list(names))
		case !slices.Contains(services, name):
			v.add(rp, "Route to a service without this port",
				"breed %q has no port %q; add the port to the breed or remove the route", name, port)
		}
		if r == nil || r.Weight == nil {
			continue
		}
		if w := *r.Weight; w < 0 || w > 100 {
			v.add(rp.Attr("weight"), "Weight out of range", "%d: a weight is a whole percentage from 0 to 100", w)
			weightsOK = false
		}
		sum += *r.Weight
		parts = append(parts, fmt.Sprintf("%s=%d", name, *r.Weight))
		if r.Condition != "" {
			if _, err := condition.Parse(r.Condition); err != nil {
				v.add(rp.Attr("condition"), "Invalid condition",
					"%q: %v. Write a condition such as \"user-agent == Firefox\" or \"has cookie vamp\"", r.Condition, err)
			}
		}
		if s := r.ConditionStrength; s != nil && (*s < 0 || *s > 100) {
			v.add(rp.Attr("condition_strength"), "Condition strength out of range",
				"%d: condition_strength is the percentage (0 to 100) of matching requests this route takes", *s)
		}
	}
	if weightsOK && sum != 100 && sum != 0 {
		v.add(p.Attr("routes"), "Weights do not sum to 100",
			"the weights are %s (sum %d); make them sum to 100, or set all to 0 to serve only requests that match a condition",
			strings.Join(parts, ", "), sum)
	}
}

// RemovedWithWeight reports each service that old has and next removes from a cluster that next
// keeps, while old still sends it traffic by weight. Vamp refuses that: the weight must go to 0
// in an earlier apply. Removing a whole cluster is not refused here.
func RemovedWithWeight(old, next *Blueprint) []*FieldError {
	if old == nil || next == nil {
		return nil
	}
	o := old.Clone()
	o.Normalize()
	var errs []*FieldError
	for _, cname := range sortedKeys(o.Clusters) {
		oc, nc := o.Clusters[cname], next.Clusters[cname]
		if oc == nil || nc == nil {
			continue
		}
		for _, s := range oc.Services {
			if s == nil || nc.Service(s.Breed.Name) != nil {
				continue
			}
			var traffic []string
			for _, port := range sortedKeys(oc.Gateways) {
				if g := oc.Gateways[port]; g != nil {
					if r := g.Routes[s.Breed.Name]; r != nil && r.Weight != nil && *r.Weight > 0 {
						traffic = append(traffic, fmt.Sprintf("%d%% in gateway %q", *r.Weight, port))
					}
				}
			}
			if len(traffic) > 0 {
				errs = append(errs, &FieldError{
					Path:    Path{}.Attr("clusters").Key(cname).Attr("services"),
					Summary: "Service removed while it still has traffic",
					Detail: fmt.Sprintf("service %q still has weight %s. Set its weight to 0 in an earlier apply first "+
						"(give the traffic to the other services), then remove it (Vamp's rule)",
						s.Breed.Name, strings.Join(traffic, ", ")),
				})
			}
		}
	}
	return errs
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}
