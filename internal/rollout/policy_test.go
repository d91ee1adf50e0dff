package rollout

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want []int
	}{
		{Policy{Steps: []int{10, 25, 50, 100}}, []int{10, 25, 50, 100}},
		{Policy{StepWeight: 25}, []int{25, 50, 75, 100}},
		{Policy{StepWeight: 30, MaxWeight: 80}, []int{30, 60, 80}},
		{Policy{StepWeight: 50, MaxWeight: 50}, []int{50}},
		{Policy{StepWeight: 100}, []int{100}},
	} {
		if got := tc.p.Schedule(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestValidationNamesTheFieldAndTheFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Policy)
		path string
		msg  string
	}{
		{"no gateway", func(p *Policy) { p.Gateway = "" }, "gateway", "name the cluster gateway"},
		{"no canary", func(p *Policy) { p.Canary = "" }, "canary", "name the route of the new variant"},
		{"no stable", func(p *Policy) { p.Stable = nil }, "stable", "at least one stable route"},
		{"canary is stable", func(p *Policy) { p.Stable = []string{stable, canary} }, "stable[1]", "cannot be canary and stable"},
		{"stable twice", func(p *Policy) { p.Stable = []string{stable, stable} }, "stable[1]", "already stable[0]"},
		{"decreasing steps", func(p *Policy) { p.Steps = []int{10, 50, 40} }, "steps[2]", "40 is not greater than steps[1] (50); list the weights in increasing order"},
		{"step above 100", func(p *Policy) { p.Steps = []int{10, 150} }, "steps[1]", "outside 1..100"},
		{"step zero", func(p *Policy) { p.Steps = []int{0, 50} }, "steps[0]", "outside 1..100"},
		{"no steps", func(p *Policy) { p.Steps = nil }, "steps", "declare the canary weights"},
		{"both forms", func(p *Policy) { p.StepWeight = 10 }, "steps", "either steps or step_weight"},
		{"max below step", func(p *Policy) { p.Steps, p.StepWeight, p.MaxWeight = nil, 40, 30 }, "max_weight", "below step_weight 40"},
		{"step weight too big", func(p *Policy) { p.Steps, p.StepWeight = nil, 120 }, "step_weight", "outside 1..100"},
		{"no interval", func(p *Policy) { p.Interval = 0 }, "interval", "positive interval"},
		{"rate as percent", func(p *Policy) { p.Checks.Max5xxRate = 5 }, "checks.max_5xx_rate", "write 1% as 0.01"},
		{"negative p99", func(p *Policy) { p.Checks.MaxP99 = -time.Second }, "checks.max_p99", "negative"},
		{"no min requests", func(p *Policy) { p.Checks.MinRequests = 0 }, "checks.min_requests", "set e.g. 20"},
		{"negative wait", func(p *Policy) { p.MaxWaitIntervals = -1 }, "max_wait_intervals", "negative"},
		{"hook without name", func(p *Policy) { p.Webhooks = []Webhook{{Type: HookStep, URL: "http://x"}} }, "webhooks[0].name", "needs a name"},
		{"hook type", func(p *Policy) { p.Webhooks = []Webhook{{Name: "a", Type: "post-rollout", URL: "http://x"}} }, "webhooks[0].type", `use "pre-rollout", "step", "rollback" or "promotion"`},
		{"hook url", func(p *Policy) { p.Webhooks = []Webhook{{Name: "a", Type: HookStep, URL: "ci.example.com/hook"}} }, "webhooks[0].url", "absolute http(s) URL"},
		{"hook names", func(p *Policy) {
			p.Webhooks = []Webhook{{Name: "a", Type: HookStep, URL: "http://x"}, {Name: "a", Type: HookRollback, URL: "http://x"}}
		}, "webhooks[1].name", "already webhooks[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := basePolicy()
			tc.edit(&p)
			err := p.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			for _, f := range ve.Faults {
				if f.Path == tc.path && strings.Contains(f.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("no fault at %s containing %q in: %v", tc.path, tc.msg, err)
		})
	}
	if err := basePolicy().Validate(); err != nil {
		t.Errorf("the base policy is valid: %v", err)
	}
}

func TestCheckRoutesAgainstTheGateway(t *testing.T) {
	p := basePolicy()
	err := p.CheckRoutes(map[string]int{stable: 80, "sava/sava_cluster/sava:0.9.0/webport": 20})
	for _, want := range []string{
		`canary: gateway "sava/sava_cluster/webport" has no route "sava/sava_cluster/sava:1.1.0/webport"`,
		`routes: route "sava/sava_cluster/sava:0.9.0/webport" has weight 20 but is neither the canary nor stable; add it to stable or set its weight to 0`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if err := p.CheckRoutes(map[string]int{stable: 100, canary: 0, "old": 0}); err != nil {
		t.Errorf("routes at 0 outside the policy are fine: %v", err)
	}
	if _, err := New(p, map[string]int{stable: 100}); err == nil {
		t.Error("New accepted a canary the gateway does not have")
	}
}

func TestPolicyJSONUsesDurationStrings(t *testing.T) {
	p := basePolicy()
	p.Webhooks = []Webhook{{Name: "gate", Type: HookPreRollout, URL: "http://ci/gate", Timeout: 5 * time.Second}}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"interval":"1m0s"`, `"max_p99":"500ms"`, `"timeout":"5s"`, `"max_5xx_rate":0.01`, `"steps":[10,25,50,100]`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("%s lacks %s", raw, want)
		}
	}
	var back Policy
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip:\n%+v\n%+v", back, p)
	}
	for doc, want := range map[string]string{
		`{"interval":"a minute"}`:                      `interval: "a minute" is not a duration; write it like "30s"`,
		`{"interval":60}`:                              `interval: want a duration string such as "30s" or "1m", got 60`,
		`{"checks":{"max_p99":"fast"}}`:                `checks.max_p99: "fast" is not a duration`,
		`{"webhooks":[{"name":"a","timeout":"soon"}]}`: `webhooks[name="a"].timeout: "soon" is not a duration`,
	} {
		var p Policy
		if err := json.Unmarshal([]byte(doc), &p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", doc, err, want)
		}
	}
}
