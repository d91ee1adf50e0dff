package azure

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// Accepted values, in Azure's spelling (also what Read returns, so plans stay empty).
var (
	LBProtocols        = []string{"Tcp", "Udp", "All"}
	ProbeProtocols     = []string{"Tcp", "Http", "Https"}
	LoadDistributions  = []string{"Default", "SourceIP", "SourceIPProtocol"}
	NSGProtocols       = []string{"Tcp", "Udp", "Icmp", "Esp", "Ah", "*"}
	NSGDirections      = []string{DirectionInbound, DirectionOutbound}
	NSGAccesses        = []string{AccessAllow, AccessDeny}
	azureNameRE        = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$`)
	azureNameRuleHuman = "1-80 characters: letters, digits, '_', '.', '-'; starting with a letter or digit and ending with a letter, digit or '_'"
)

// Limits Azure enforces, checked here so that a bad value fails at plan time with a clear message.
const (
	MinFrontendPort   = 0 // 0 only for HA ports: protocol All, backend port 0
	MaxFrontendPort   = 65534
	MinPort           = 1
	MaxPort           = 65535
	MinIdleTimeout    = 4
	MaxIdleTimeout    = 100
	DefaultIdle       = 4
	MinProbeInterval  = 5
	MaxProbeInterval  = 3600
	DefaultInterval   = 15
	MinProbeThreshold = 1
	MaxProbeThreshold = 100
	DefaultThreshold  = 1
	MinProbeCount     = 1
	DefaultProbeCount = 2 // azurerm's default for number_of_probes
)

// CheckName reports whether name is a valid name for a rule or probe; field names the input.
func CheckName(field, name string) error {
	if !azureNameRE.MatchString(name) {
		return fieldErrorf(field, "%q is not a valid Azure name (%s)", name, azureNameRuleHuman)
	}
	return nil
}

// CheckBackendPoolID reports whether id is a backend address pool id; field names the input.
func CheckBackendPoolID(field, id string) error {
	_, err := parseBackendPoolID(field, id)
	return err
}

// LBRuleSpec is a load-balancing rule plus the health probe it owns.
type LBRuleSpec struct {
	LoadBalancerID              string
	Name                        string
	FrontendIPConfigurationName string
	BackendPoolIDs              []string
	Protocol                    string // Tcp, Udp, All
	FrontendPort                int32
	BackendPort                 int32 // 0: same as FrontendPort
	IdleTimeoutMinutes          int32 // 0: 4
	FloatingIP                  bool
	LoadDistribution            string // "": Default
	DisableOutboundSNAT         bool
	TCPReset                    bool       // send TCP RST on idle timeout
	Probe                       *ProbeSpec // the probe the rule owns; nil: none
	ProbeRefID                  string     // an existing probe the rule uses and does not own (exclusive with Probe)
	PriorProbeNotOwned          bool       // the probe the rule has now is not its own: never remove it
}

// ProbeSpec is the health probe a rule owns.
type ProbeSpec struct {
	Name            string // "": the rule's name
	Protocol        string // Tcp, Http, Https
	Port            int32
	RequestPath     string // required for Http/Https, refused for Tcp
	IntervalSeconds int32  // 0: 15
	Threshold       int32  // consecutive results that flip the endpoint's health; 0: 1
	NumberOfProbes  int32  // Azure's numberOfProbes; 0: 2
}

// LBRule is a rule as Azure has it.
type LBRule struct {
	ID      string
	ProbeID string // "" when the rule has no probe
	Spec    LBRuleSpec
}

// Normalized applies the defaults and checks every field, returning all problems at once as
// *FieldError values joined with errors.Join.
func (s LBRuleSpec) Normalized() (LBRuleSpec, error) {
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, fieldErrorf(field, format, args...)) }

	lbID, err := ParseLoadBalancerID("load_balancer_id", s.LoadBalancerID)
	if err != nil {
		errs = append(errs, err)
	}
	if !azureNameRE.MatchString(s.Name) {
		bad("name", "%q is not a valid Azure rule name (%s)", s.Name, azureNameRuleHuman)
	}
	if strings.TrimSpace(s.FrontendIPConfigurationName) == "" {
		bad("frontend_ip_configuration_name", "is empty; name one of the load balancer's frontend IP configurations")
	}
	if len(s.BackendPoolIDs) == 0 {
		bad("backend_address_pool_ids", "is empty; give the id of the backend address pool that holds the agents")
	}
	for i, p := range s.BackendPoolIDs {
		field := fmt.Sprintf("backend_address_pool_ids[%d]", i)
		poolLB, err := parseBackendPoolID(field, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if lbID.Name != "" && !sameID(poolLB.String(), lbID.String()) {
			bad(field, "pool %s belongs to load balancer %s, not to %s", p, poolLB.String(), lbID.String())
		}
	}
	if s.Protocol, err = oneOf("protocol", s.Protocol, LBProtocols, ""); err != nil {
		errs = append(errs, err)
	}
	if s.FrontendPort < MinFrontendPort || s.FrontendPort > MaxFrontendPort {
		bad("frontend_port", "%d is out of range; Azure accepts %d..%d (0 for an HA-ports rule)", s.FrontendPort, MinFrontendPort, MaxFrontendPort)
	}
	haPorts := s.FrontendPort == 0
	if s.BackendPort == 0 {
		s.BackendPort = s.FrontendPort
	} else if s.BackendPort < MinPort || s.BackendPort > MaxPort {
		bad("backend_port", "%d is out of range; Azure accepts %d..%d", s.BackendPort, MinPort, MaxPort)
	}
	if haPorts && s.Protocol != "" && s.Protocol != "All" {
		bad("protocol", "is %q, but frontend_port 0 is an HA-ports rule, which needs protocol \"All\"; set protocol = \"All\" or give a frontend port", s.Protocol)
	}
	if haPorts && s.BackendPort != 0 {
		bad("backend_port", "is %d, but an HA-ports rule (frontend_port 0) forwards every port unchanged; set backend_port = 0 or leave it out", s.BackendPort)
	}
	if s.IdleTimeoutMinutes == 0 {
		s.IdleTimeoutMinutes = DefaultIdle
	} else if s.IdleTimeoutMinutes < MinIdleTimeout || s.IdleTimeoutMinutes > MaxIdleTimeout {
		bad("idle_timeout_in_minutes", "%d is out of range; Azure accepts %d..%d minutes", s.IdleTimeoutMinutes, MinIdleTimeout, MaxIdleTimeout)
	}
	if s.LoadDistribution, err = oneOf("load_distribution", s.LoadDistribution, LoadDistributions, "Default"); err != nil {
		errs = append(errs, err)
	}
	if s.ProbeRefID != "" {
		if s.Probe != nil {
			bad("probe_id", "is set together with a probe block; either own a probe (probe { ... }) or use an existing one (probe_id), not both")
		} else if lbID.Name != "" && !strings.HasPrefix(strings.ToLower(s.ProbeRefID), strings.ToLower(lbID.String())+"/probes/") {
			bad("probe_id", "%q is not a probe of load balancer %s; a rule can only use probes of its own load balancer (e.g. azurerm_lb_probe.<name>.id)", s.ProbeRefID, lbID.String())
		}
	}
	if s.Probe != nil {
		p := *s.Probe
		if p.Name == "" {
			p.Name = s.Name
		} else if !azureNameRE.MatchString(p.Name) {
			bad("probe.name", "%q is not a valid Azure probe name (%s)", p.Name, azureNameRuleHuman)
		}
		if p.Protocol, err = oneOf("probe.protocol", p.Protocol, ProbeProtocols, ""); err != nil {
			errs = append(errs, err)
		}
		if p.Port == 0 && haPorts {
			bad("probe.port", "is required for an HA-ports rule, which has no port of its own to probe; set it to a port every backend answers on")
		} else if p.Port < MinPort || p.Port > MaxPort {
			bad("probe.port", "%d is out of range; Azure accepts %d..%d", p.Port, MinPort, MaxPort)
		}
		switch {
		case p.Protocol == "Tcp" && p.RequestPath != "":
			bad("probe.request_path", "is only for Http and Https probes; remove it or set protocol to \"Http\"")
		case (p.Protocol == "Http" || p.Protocol == "Https") && !strings.HasPrefix(p.RequestPath, "/"):
			bad("probe.request_path", "%q: an %s probe needs a path starting with \"/\", e.g. \"/health\"", p.RequestPath, p.Protocol)
		}
		if p.IntervalSeconds == 0 {
			p.IntervalSeconds = DefaultInterval
		} else if p.IntervalSeconds < MinProbeInterval || p.IntervalSeconds > MaxProbeInterval {
			bad("probe.interval_in_seconds", "%d is out of range; Azure accepts %d..%d seconds", p.IntervalSeconds, MinProbeInterval, MaxProbeInterval)
		}
		if p.Threshold == 0 {
			p.Threshold = DefaultThreshold
		} else if p.Threshold < MinProbeThreshold || p.Threshold > MaxProbeThreshold {
			bad("probe.threshold", "%d is out of range; accepted %d..%d", p.Threshold, MinProbeThreshold, MaxProbeThreshold)
		}
		if p.NumberOfProbes == 0 {
			p.NumberOfProbes = DefaultProbeCount
		} else if p.NumberOfProbes < MinProbeCount {
			bad("probe.number_of_probes", "%d is out of range; it must be at least %d", p.NumberOfProbes, MinProbeCount)
		}
		s.Probe = &p
	}
	return s, errors.Join(errs...)
}

// oneOf accepts v in any case and returns Azure's spelling; empty gives def (an error when def is empty).
func oneOf(field, v string, allowed []string, def string) (string, error) {
	if v == "" && def != "" {
		return def, nil
	}
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return a, nil
		}
	}
	return "", fieldErrorf(field, "%q is not accepted; use one of %s", v, quoteAll(allowed))
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// azureRule renders the rule's writable properties.
func (s LBRuleSpec) azureRule(lb LoadBalancerID, probeID string) *armnetwork.LoadBalancingRule {
	props := &armnetwork.LoadBalancingRulePropertiesFormat{
		FrontendIPConfiguration: &armnetwork.SubResource{ID: to.Ptr(lb.Child(frontendIPConfigs, s.FrontendIPConfigurationName))},
		Protocol:                to.Ptr(armnetwork.TransportProtocol(s.Protocol)),
		FrontendPort:            to.Ptr(s.FrontendPort),
		BackendPort:             to.Ptr(s.BackendPort),
		IdleTimeoutInMinutes:    to.Ptr(s.IdleTimeoutMinutes),
		EnableFloatingIP:        to.Ptr(s.FloatingIP),
		LoadDistribution:        to.Ptr(armnetwork.LoadDistribution(s.LoadDistribution)),
		DisableOutboundSnat:     to.Ptr(s.DisableOutboundSNAT),
		EnableTCPReset:          to.Ptr(s.TCPReset),
	}
	// As azurerm does: one pool goes in backendAddressPool, several (gateway load balancers) in
	// backendAddressPools.
	if len(s.BackendPoolIDs) == 1 {
		props.BackendAddressPool = &armnetwork.SubResource{ID: to.Ptr(s.BackendPoolIDs[0])}
	} else {
		for _, id := range s.BackendPoolIDs {
			props.BackendAddressPools = append(props.BackendAddressPools, &armnetwork.SubResource{ID: to.Ptr(id)})
		}
	}
	if probeID != "" {
		props.Probe = &armnetwork.SubResource{ID: to.Ptr(probeID)}
	}
	return &armnetwork.LoadBalancingRule{Name: to.Ptr(s.Name), ID: to.Ptr(lb.Child(lbRuleCollection, s.Name)), Properties: props}
}

func (p ProbeSpec) azureProbe(lb LoadBalancerID) *armnetwork.Probe {
	props := &armnetwork.ProbePropertiesFormat{
		Protocol:          to.Ptr(armnetwork.ProbeProtocol(p.Protocol)),
		Port:              to.Ptr(p.Port),
		IntervalInSeconds: to.Ptr(p.IntervalSeconds),
		ProbeThreshold:    to.Ptr(p.Threshold),
		NumberOfProbes:    to.Ptr(p.NumberOfProbes),
	}
	if p.RequestPath != "" {
		props.RequestPath = to.Ptr(p.RequestPath)
	}
	return &armnetwork.Probe{Name: to.Ptr(p.Name), ID: to.Ptr(lb.Child(probeCollection, p.Name)), Properties: props}
}

// ruleFromAzure reads a rule (and the probe it references) back into a spec.
func ruleFromAzure(lb LoadBalancerID, r *armnetwork.LoadBalancingRule, probes []*armnetwork.Probe) *LBRule {
	p := r.Properties
	if p == nil {
		p = &armnetwork.LoadBalancingRulePropertiesFormat{}
	}
	out := &LBRule{ID: deref(r.ID), Spec: LBRuleSpec{
		LoadBalancerID:              lb.String(),
		Name:                        deref(r.Name),
		FrontendIPConfigurationName: lastSegment(subID(p.FrontendIPConfiguration)),
		Protocol:                    string(deref(p.Protocol)),
		FrontendPort:                deref(p.FrontendPort),
		BackendPort:                 deref(p.BackendPort),
		IdleTimeoutMinutes:          deref(p.IdleTimeoutInMinutes),
		FloatingIP:                  deref(p.EnableFloatingIP),
		LoadDistribution:            string(deref(p.LoadDistribution)),
		DisableOutboundSNAT:         deref(p.DisableOutboundSnat),
		TCPReset:                    deref(p.EnableTCPReset),
	}}
	if out.ID == "" {
		out.ID = lb.Child(lbRuleCollection, out.Spec.Name)
	}
	if id := subID(p.BackendAddressPool); id != "" {
		out.Spec.BackendPoolIDs = append(out.Spec.BackendPoolIDs, id)
	}
	for _, sr := range p.BackendAddressPools {
		if id := subID(sr); id != "" && !slices.ContainsFunc(out.Spec.BackendPoolIDs, func(x string) bool { return sameID(x, id) }) {
			out.Spec.BackendPoolIDs = append(out.Spec.BackendPoolIDs, id)
		}
	}
	if probeID := subID(p.Probe); probeID != "" {
		out.ProbeID = probeID
		if pr := findByName(probes, lastSegment(probeID), probeName); pr != nil && pr.Properties != nil {
			pp := pr.Properties
			out.Spec.Probe = &ProbeSpec{
				Name:            deref(pr.Name),
				Protocol:        string(deref(pp.Protocol)),
				Port:            deref(pp.Port),
				RequestPath:     deref(pp.RequestPath),
				IntervalSeconds: deref(pp.IntervalInSeconds),
				Threshold:       deref(pp.ProbeThreshold),
				NumberOfProbes:  deref(pp.NumberOfProbes),
			}
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func subID(s *armnetwork.SubResource) string {
	if s == nil {
		return ""
	}
	return deref(s.ID)
}

func lastSegment(id string) string {
	id = strings.TrimSuffix(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}

func ruleName(r *armnetwork.LoadBalancingRule) string { return deref(r.Name) }
func probeName(p *armnetwork.Probe) string            { return deref(p.Name) }

// findByName finds a sub-resource by name, case-insensitively as ARM does.
func findByName[T any](items []*T, name string, nameOf func(*T) string) *T {
	for _, it := range items {
		if it != nil && strings.EqualFold(nameOf(it), name) {
			return it
		}
	}
	return nil
}
