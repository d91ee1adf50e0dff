package deployplan

import (
	"cmp"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// HealthCheckEquivalent is the drift rule of a health check: recorded (as the state has it, ""
// and 0 for unset) and live (as the runtime reads it back) are the same check in the runtime's
// terms: protocol case, the default path and failures, and durations in another form ("60s"
// for "1m") or rounded up to whole seconds (Marathon) are not drift.
func HealthCheckEquivalent(recorded, live runtime.HealthCheck) bool {
	protocol := strings.ToUpper(cmp.Or(recorded.Protocol, blueprint.DefaultHealthCheckProtocol))
	if !strings.EqualFold(protocol, cmp.Or(live.Protocol, blueprint.DefaultHealthCheckProtocol)) ||
		recorded.Port != live.Port {
		return false
	}
	if protocol != "TCP" && cmp.Or(recorded.Path, blueprint.DefaultHealthCheckPath) != cmp.Or(live.Path, blueprint.DefaultHealthCheckPath) {
		return false
	}
	failures := recorded.Failures
	if failures != live.Failures && (failures != 0 || live.Failures != blueprint.DefaultHealthCheckFailures) {
		return false
	}
	return DurationEquivalent(recorded.InitialDelay, live.InitialDelay) &&
		DurationEquivalent(recorded.Interval, live.Interval) &&
		DurationEquivalent(recorded.Timeout, live.Timeout)
}

// DurationEquivalent: the same duration, or the same whole seconds once rounded up (Marathon
// keeps seconds). A side that is empty is the runtime's default and matches anything.
func DurationEquivalent(recorded, live string) bool {
	if recorded == live || recorded == "" || live == "" {
		return true
	}
	a, errA := time.ParseDuration(recorded)
	b, errB := time.ParseDuration(live)
	if errA != nil || errB != nil {
		return false
	}
	return a == b || math.Ceil(a.Seconds()) == math.Ceil(b.Seconds())
}

// FloatsEqual compares CPU shares as Marathon stores them (JSON numbers, no arithmetic).
func FloatsEqual(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// DialectKeys are the top-level fields of a service's marathon dialect ("" has none).
func DialectKeys(raw string) map[string]bool {
	var doc map[string]json.RawMessage
	if raw == "" || json.Unmarshal([]byte(raw), &doc) != nil {
		return nil
	}
	out := map[string]bool{}
	for k := range doc {
		out[k] = true
	}
	return out
}
