package blueprint

import "go.yaml.in/yaml/v3"

// This file is the model of Vamp's artifacts as Vamp's own readers read them (ReadBlueprint,
// ReadBreed, ReadSLA, ReadGateway): references left as references, every form expanded to one
// shape. Resolve turns a VampBlueprint and the artifacts it references into a Blueprint.

// ErrorKind names the problem a reader found. The Vamp kinds carry the name of the notification
// Vamp's reader gives for the same problem (io.vamp.model.notification), so that a fault can be
// compared with Vamp's expectation without reading its message.
type ErrorKind string

// Vamp's reader notifications.
const (
	ErrYamlParsing                        ErrorKind = "YamlParsingError"
	ErrUnexpectedElement                  ErrorKind = "UnexpectedElement"
	ErrUnexpectedType                     ErrorKind = "UnexpectedTypeError"
	ErrMissingPathValue                   ErrorKind = "MissingPathValueError"
	ErrEitherReferenceOrAnonymous         ErrorKind = "EitherReferenceOrAnonymous"
	ErrNotAnonymous                       ErrorKind = "NotAnonymousError"
	ErrIllegalName                        ErrorKind = "IllegalName"
	ErrIllegalStrictName                  ErrorKind = "IllegalStrictName"
	ErrInconsistentArtifactKind           ErrorKind = "InconsistentArtifactKind"
	ErrUnsupportedMetadata                ErrorKind = "UnsupportedMetadata"
	ErrParser                             ErrorKind = "ParserError"
	ErrMalformedTrait                     ErrorKind = "MalformedTraitError"
	ErrMissingPortValue                   ErrorKind = "MissingPortValueError"
	ErrMissingConstantValue               ErrorKind = "MissingConstantValueError"
	ErrRecursiveDependencies              ErrorKind = "RecursiveDependenciesError"
	ErrUnresolvedDependencyInTraitValue   ErrorKind = "UnresolvedDependencyInTraitValueError"
	ErrInvalidArgument                    ErrorKind = "InvalidArgumentError"
	ErrInvalidArgumentValue               ErrorKind = "InvalidArgumentValueError"
	ErrUnresolvedGatewayPort              ErrorKind = "UnresolvedGatewayPortError"
	ErrUnresolvedEnvironmentVariable      ErrorKind = "UnresolvedEnvironmentVariableError"
	ErrNonUniqueBlueprintBreedReference   ErrorKind = "NonUniqueBlueprintBreedReferenceError"
	ErrUnresolvedBreedDependency          ErrorKind = "UnresolvedBreedDependencyError"
	ErrUnresolvedServiceRoute             ErrorKind = "UnresolvedServiceRouteError"
	ErrRouteWeight                        ErrorKind = "RouteWeightError"
	ErrRouteConditionStrength             ErrorKind = "RouteConditionStrengthError"
	ErrGatewayRouteWeight                 ErrorKind = "GatewayRouteWeightError"
	ErrGatewayRouteConditionStrength      ErrorKind = "GatewayRouteConditionStrengthError"
	ErrUnresolvedScaleEscalationTarget    ErrorKind = "UnresolvedScaleEscalationTargetCluster"
	ErrMissingEnvironmentVariable         ErrorKind = "MissingEnvironmentVariableError"
	ErrNoService                          ErrorKind = "NoServiceError"
	ErrIllegalGatewayStickyValue          ErrorKind = "IllegalGatewayStickyValue"
	ErrIllegalGatewayVirtualHosts         ErrorKind = "IllegalGatewayVirtualHosts"
	ErrStickyPortType                     ErrorKind = "StickyPortTypeError"
	ErrConditionPortType                  ErrorKind = "ConditionPortTypeError"
	ErrDuplicateGatewayPort               ErrorKind = "DuplicateGatewayPortError"
	ErrIllegalAnonymousRoutingPortMapping ErrorKind = "IllegalAnonymousRoutingPortMappingError"
	ErrUnsupportedGatewayName             ErrorKind = "UnsupportedGatewayNameError"
	ErrUnsupportedRoutePath               ErrorKind = "UnsupportedRoutePathError"
	ErrInvalidGatewayPort                 ErrorKind = "InvalidGatewayPortError"
	ErrUnsupportedPathRewrite             ErrorKind = "UnsupportedPathRewriteError"
	ErrUnresolvedPortReference            ErrorKind = "UnresolvedPortReferenceError"
	ErrNegativeFailuresNumber             ErrorKind = "NegativeFailuresNumberError"
	ErrInvalidSelector                    ErrorKind = "InvalidSelectorError"
	ErrRouteSelectorOnlyRoute             ErrorKind = "RouteSelectorOnlyRouteError"
	ErrUnsupportedProtocol                ErrorKind = "UnsupportedProtocolError"
	ErrUnresolvedDependency               ErrorKind = "UnresolvedDependencyError"
	ErrInconsistentArtifactName           ErrorKind = "InconsistentArtifactName"
	ErrUnexpectedInnerElement             ErrorKind = "UnexpectedInnerElementError"
	ErrRouteSelectorExternalTarget        ErrorKind = "RouteSelectorExternalTargetError"
)

// This project's own kinds, for what Vamp's reader does not check or leaves to its artifact store.
const (
	// ErrDuplicateKey: a key is given twice in one mapping (Vamp keeps the last one silently).
	ErrDuplicateKey ErrorKind = "DuplicateKey"
	// ErrMissingArtifact: a reference to a breed, scale, SLA, ... that no document supplies.
	ErrMissingArtifact ErrorKind = "MissingArtifact"
	// ErrNotSupported: a form Vamp accepts that this provider cannot carry out (named in the docs).
	ErrNotSupported ErrorKind = "NotSupported"
	// ErrInvalidValue: a value the deployment model refuses (a port, a condition, a duration).
	ErrInvalidValue ErrorKind = "InvalidValue"
)

// Vamp tells whether k is the name of a notification of Vamp's reader (not one of this
// project's own kinds, nor "").
func (k ErrorKind) Vamp() bool {
	switch k {
	case "", ErrDuplicateKey, ErrMissingArtifact, ErrNotSupported, ErrInvalidValue:
		return false
	}
	return true
}

// VampBlueprint is a blueprint as Vamp reads it.
type VampBlueprint struct {
	Name     string
	Metadata map[string]any
	Clusters []*VampCluster
	// Gateways are the blueprint (deployment) gateways, in document order.
	Gateways []*VampGateway
	// Environment is the blueprint-level environment_variables (or env): "CLUSTER.NAME" → value.
	Environment []Trait
	Dialects    map[string]any
}

// VampCluster is one cluster of a VampBlueprint.
type VampCluster struct {
	Name         string
	Metadata     map[string]any
	Services     []*VampService
	Gateways     []*VampGateway // internal gateways; Port "" is the anonymous one
	HealthChecks []HealthCheck
	Network      string
	SLA          *VampSLA
	Dialects     map[string]any
	path         Path
	node         *yaml.Node
}

// VampService is one service of a cluster.
type VampService struct {
	Breed        *VampBreed
	Environment  []Trait // overrides of the breed's variables (aliases dropped, as Vamp does)
	Scale        *VampScale
	Arguments    []Argument
	HealthChecks []HealthCheck
	Network      string
	Dialects     map[string]any
	path         Path
	node         *yaml.Node
}

// VampBreed is a breed written out, or a reference to one by name (Ref).
type VampBreed struct {
	Ref          string
	Name         string
	Metadata     map[string]any
	Deployable   Deployable
	Ports        []Trait
	Environment  []Trait
	Constants    []Trait
	Arguments    []Argument
	Dependencies []Dependency
	HealthChecks []HealthCheck
	path         Path
	node         *yaml.Node
}

// BreedName is the breed's name, written out or referenced.
func (b *VampBreed) BreedName() string {
	if b.Ref != "" {
		return b.Ref
	}
	return b.Name
}

// Deployable is what a breed runs: Type "" is Vamp's default (a docker image).
type Deployable struct {
	Type       string
	Definition string
}

// Dependency is a breed a breed depends on, under the alias its references use ($ALIAS.host).
type Dependency struct {
	Alias string
	Breed *VampBreed
}

// Trait is a port, environment variable or constant: NAME[ALIAS]: value (Value nil for ~).
type Trait struct {
	Name  string
	Alias string
	Value *string
	node  *yaml.Node
	path  Path
}

// Argument is one Docker argument (`privileged: true`, or a docker run parameter).
type Argument struct {
	Key, Value string
}

// VampScale is a scale written out, or a reference to one by name (Ref).
type VampScale struct {
	Ref   string
	Scale Scale
}

// VampGateway is a blueprint gateway (Port is its key: "8080", "8080/tcp" or a name with a port
// field) or a cluster's internal gateway (Port is the breed port name, "" for the anonymous one).
type VampGateway struct {
	Port         string
	Number       int    // 0 when Port is a name
	Type         string // "http" or "tcp"
	Sticky       string
	VirtualHosts []string
	Routes       []*VampRoute
	Metadata     map[string]any
	path         Path
	node         *yaml.Node
}

// VampRoute is one route of a gateway: to a service (cluster gateway) or to CLUSTER/PORT
// (blueprint gateway).
type VampRoute struct {
	Path string
	// Ref is a reference to a route artifact by name (a route Vamp stores on its own).
	Ref               string
	Weight            *int64
	Condition         string
	ConditionRef      string
	ConditionStrength *int64
	Rewrites          []string
	Balance           string
}

// VampSLA is a cluster's SLA, written out or referenced (Ref).
type VampSLA struct {
	Ref         string
	Name        string
	Type        string
	Parameters  map[string]any
	Escalations []*VampEscalation
	// Upper, Lower (ms), Interval, Cooldown (s): response_time_sliding_window's settings.
	Upper, Lower, Interval, Cooldown int64
}

// VampEscalation is one escalation of an SLA.
type VampEscalation struct {
	Ref         string
	Type        string
	Escalations []*VampEscalation // to_all, to_one
	Minimum     float64
	Maximum     float64
	ScaleBy     float64
	Target      string
	Parameters  map[string]any
}
