package marathon

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// DefaultGroup is the Marathon group that holds the apps of every deployment.
const DefaultGroup = "vamp"

// Labels the driver puts on every app; together they give back the
// provider's service id ("deployment/cluster/breed"), which the app id
// cannot carry exactly.
const (
	LabelDeployment = "io.vamp.deployment"
	LabelCluster    = "io.vamp.cluster"
	LabelService    = "io.vamp.service"
)

// marathonSegment is Marathon's rule for each segment of an app id
// (strings.PathId in Marathon's RAML).
var marathonSegment = regexp.MustCompile(`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`)

// AppID maps a service id "deployment/cluster/breed" to its Marathon app id
// "/<group>/<deployment>/<cluster>/<breed>": each part is lower-cased and
// every character Marathon does not allow ('_', ':', '/', ...) becomes '-',
// so "sava/sava_cluster/sava:1.0.0" is "/vamp/sava/sava-cluster/sava-1.0.0".
// The result must satisfy Marathon's id rules; otherwise the error names
// the part and how to fix it. Two service ids can map to the same app id
// ("a_b" and "a-b"); the driver detects that through the app's labels.
func AppID(group, serviceID string) (string, error) {
	if group == "" {
		group = DefaultGroup
	}
	deployment, cluster, breed, ok := runtime.SplitID(serviceID)
	if !ok {
		return "", fmt.Errorf("service id %q is not \"deployment/cluster/breed\"", serviceID)
	}
	parts := []struct {
		part  IDPart
		value string
	}{{PartGroup, group}, {PartDeployment, deployment}, {PartCluster, cluster}, {PartBreed, breed}}
	segments := make([]string, 0, len(parts))
	for _, p := range parts {
		seg := sanitizeSegment(p.value)
		if !marathonSegment.MatchString(seg) {
			return "", &IDError{Part: p.part, Value: p.value, Segment: seg, Suggestion: suggestSegment(seg)}
		}
		segments = append(segments, seg)
	}
	return "/" + strings.Join(segments, "/"), nil
}

// IDPart names the part of an app id that an IDError is about.
type IDPart string

// The parts of an app id, as IDError names them.
const (
	PartGroup      IDPart = "marathon group"
	PartDeployment IDPart = "deployment name"
	PartCluster    IDPart = "cluster name"
	PartBreed      IDPart = "breed name"
)

// IDError is a name that cannot become a segment of a Marathon app id. The
// provider maps Part to the attribute that holds Value.
type IDError struct {
	Part       IDPart
	Value      string // the name as written
	Segment    string // what it becomes in the app id
	Suggestion string // a valid segment close to it
}

func (e *IDError) Error() string {
	return fmt.Sprintf("%s %q becomes the Marathon id segment %q, which Marathon rejects: a segment must be "+
		"lowercase letters, digits, '-' and '.', start and end with a letter or digit, and not contain \"..\" or \".-\"; "+
		"rename it (e.g. %q)", e.Part, e.Value, e.Segment, e.Suggestion)
}

func sanitizeSegment(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// suggestSegment proposes a valid segment close to seg, for error messages.
func suggestSegment(seg string) string {
	s := strings.Trim(seg, "-.")
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	s = strings.NewReplacer(".-", ".", "-.", ".").Replace(s)
	if s == "" {
		return "app"
	}
	return s
}
