package spec_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

func TestCookieNameIsSafeAndPerGateway(t *testing.T) {
	for in, want := range map[string]string{
		"sava/9050":                 "vamp_sava_9050",
		"sava/sava_cluster/webport": "vamp_sava_sava_cluster_webport",
		"a.b:c d":                   "vamp_a_b_c_d",
	} {
		if got := spec.CookieName(in); got != want {
			t.Errorf("CookieName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"sava/9050", "sava/sava_cluster/webport", "sava/sava_cluster/sava:1.0.0/webport", "x"} {
		if err := spec.ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, says := range map[string]string{
		"":            "empty",
		"sava//9050":  "empty segment",
		"sava/":       "empty segment",
		"sava/../x":   `".."`,
		"sava/a b":    "space",
		"sava/stats":  "/stats",
		"sava/9050/.": `"."`,
	} {
		if err := spec.ValidateName(bad); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ValidateName(%q) = %v, want an error with %q", bad, err, says)
		}
	}
}

func TestCompileDefaultsAndTargets(t *testing.T) {
	next := new(atomic.Pointer[routing.Table])
	env := spec.Env{
		Pool: routing.NewPool(),
		Gateway: func(name string) *atomic.Pointer[routing.Table] {
			if name == "sava/sava_cluster/webport" {
				return next
			}
			return nil
		},
		Strict: true,
	}
	c, err := spec.Compile("sava/9050", gatewayapi.Gateway{Port: 9050, Sticky: "route", Routes: []gatewayapi.Route{
		{Name: "old", Weight: 0, Condition: "user-agent == Firefox", Instances: []gatewayapi.Instance{{Host: "127.0.0.1", Port: 8081}},
			HealthCheck: &gatewayapi.HealthCheck{Path: "/health"}},
		{Name: "cluster", Weight: 100, Gateway: "sava/sava_cluster/webport"},
	}}, env)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Spec.Routes
	if r[0].ConditionStrength != 100 || r[0].Condition == nil || r[0].Backends[0].Addr != "127.0.0.1:8081" || r[1].Next != next {
		t.Errorf("compiled routes: %+v", r)
	}
	if c.Spec.Sticky != routing.StickyRoute || c.Spec.CookieName != "vamp_sava_9050" || c.Table == nil {
		t.Errorf("compiled spec: %+v", c.Spec)
	}
	hc := c.HealthChecks[0]
	if hc.Interval != spec.DefaultInterval || hc.Timeout != spec.DefaultTimeout || hc.UnhealthyThreshold != 2 || hc.HealthyThreshold != 1 || len(hc.Backends) != 1 {
		t.Errorf("health check defaults: %+v", hc)
	}
}
