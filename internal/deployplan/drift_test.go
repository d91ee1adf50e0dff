package deployplan

import (
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

func TestHealthCheckEquivalent(t *testing.T) {
	stated := runtime.HealthCheck{Port: "webport", Path: "/health", Protocol: "http", Interval: "1m", Timeout: "500ms"}
	cases := []struct {
		name string
		live runtime.HealthCheck
		want bool
	}{
		{"Marathon's read-back forms", runtime.HealthCheck{Port: "webport", Path: "/health", Protocol: "HTTP", Interval: "60s", Timeout: "1s", Failures: 3}, true},
		{"another path", runtime.HealthCheck{Port: "webport", Path: "/", Protocol: "HTTP", Interval: "60s"}, false},
		{"another port", runtime.HealthCheck{Port: "admin", Path: "/health", Protocol: "HTTP"}, false},
		{"another interval", runtime.HealthCheck{Port: "webport", Path: "/health", Protocol: "HTTP", Interval: "30s"}, false},
		{"TCP instead of HTTP", runtime.HealthCheck{Port: "webport", Protocol: "TCP"}, false},
		{"failures changed", runtime.HealthCheck{Port: "webport", Path: "/health", Protocol: "HTTP", Failures: 5}, false},
	}
	for _, tc := range cases {
		if got := HealthCheckEquivalent(stated, tc.live); got != tc.want {
			t.Errorf("%s: HealthCheckEquivalent = %v, want %v", tc.name, got, tc.want)
		}
	}
	tcp := runtime.HealthCheck{Port: "webport", Protocol: "TCP"}
	if !HealthCheckEquivalent(tcp, runtime.HealthCheck{Port: "webport", Protocol: "tcp", Path: "/ignored"}) {
		t.Error("a TCP check's path is not drift")
	}
}

func TestDurationEquivalent(t *testing.T) {
	cases := []struct {
		recorded, live string
		want           bool
	}{
		{"1m", "60s", true}, {"1500ms", "2s", true}, {"", "10s", true}, {"10s", "", true},
		{"10s", "11s", false}, {"soon", "10s", false},
	}
	for _, tc := range cases {
		if got := DurationEquivalent(tc.recorded, tc.live); got != tc.want {
			t.Errorf("DurationEquivalent(%q, %q) = %v, want %v", tc.recorded, tc.live, got, tc.want)
		}
	}
}

func TestDialectKeys(t *testing.T) {
	got := DialectKeys(`{"cpus": 1, "container": {"type": "DOCKER"}}`)
	if len(got) != 2 || !got["cpus"] || !got["container"] {
		t.Errorf("DialectKeys = %v, want cpus and container", got)
	}
	if DialectKeys("") != nil || DialectKeys("not json") != nil {
		t.Error("no dialect, or one that is not JSON, has no keys")
	}
}
