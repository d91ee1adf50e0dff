package azure_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
	"github.com/vamp-canary/terraform-provider-vamp/internal/azure/azurefake"
)

func TestLBRuleCreateGetDeleteLeavesForeignRulesAlone(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	before := foreignJSON(t, f.GetLoadBalancer(lbID))

	spec := gatewayRule("sava-9050", 9050)
	spec.Probe = &azure.ProbeSpec{Protocol: "Http", Port: 9050, RequestPath: "/health"}
	got, err := c.CreateLBRule(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	wantSpec, _ := spec.Normalized()
	if !specEqual(got.Spec, wantSpec) {
		t.Errorf("created rule reads back as\n%+v\nwant\n%+v", got.Spec, wantSpec)
	}
	if got.ID != lbID+"/loadBalancingRules/sava-9050" || got.ProbeID != lbID+"/probes/sava-9050" {
		t.Errorf("ids: rule %s probe %s", got.ID, got.ProbeID)
	}
	if got.Spec.BackendPort != 9050 || got.Spec.IdleTimeoutMinutes != 4 || got.Spec.LoadDistribution != "Default" || got.Spec.Probe.IntervalSeconds != 15 {
		t.Errorf("defaults not applied: %+v probe %+v", got.Spec, got.Spec.Probe)
	}
	stats := f.Stats()
	if stats.Polls == 0 || stats.IfMatchSent != 1 {
		t.Errorf("want the write polled to completion and sent with If-Match, stats %+v", stats)
	}

	stored := f.GetLoadBalancer(lbID)
	if !slices.Equal(ruleNames(stored), []string{"ssh", "sava-9050"}) || !slices.Equal(probeNames(stored), []string{"ssh-probe", "sava-9050"}) {
		t.Fatalf("stored rules %v probes %v", ruleNames(stored), probeNames(stored))
	}
	if after := foreignJSON(t, stored); after != before {
		t.Errorf("foreign rule/probe changed:\n%s\n->\n%s", before, after)
	}

	read, err := c.GetLBRule(ctx(t), lbID, "SAVA-9050") // ARM names are case-insensitive
	if err != nil || read == nil || !specEqual(read.Spec, got.Spec) {
		t.Fatalf("GetLBRule = %+v, %v; want %+v", read, err, got.Spec)
	}

	if err := c.DeleteLBRule(ctx(t), lbID, "sava-9050", "sava-9050"); err != nil {
		t.Fatal(err)
	}
	stored = f.GetLoadBalancer(lbID)
	if !slices.Equal(ruleNames(stored), []string{"ssh"}) || !slices.Equal(probeNames(stored), []string{"ssh-probe"}) {
		t.Fatalf("after delete: rules %v probes %v", ruleNames(stored), probeNames(stored))
	}
	if after := foreignJSON(t, stored); after != before {
		t.Errorf("foreign rule/probe changed by delete")
	}
	if r, err := c.GetLBRule(ctx(t), lbID, "sava-9050"); r != nil || err != nil {
		t.Errorf("GetLBRule after delete = %+v, %v; want nil, nil", r, err)
	}
	writes := f.Stats().LBWrites
	if err := c.DeleteLBRule(ctx(t), lbID, "sava-9050", "sava-9050"); err != nil {
		t.Errorf("deleting a deleted rule: %v", err)
	}
	if f.Stats().LBWrites != writes {
		t.Errorf("deleting a deleted rule wrote the load balancer")
	}
}

func specEqual(a, b azure.LBRuleSpec) bool {
	pa, pb := a.Probe, b.Probe
	a.Probe, b.Probe = nil, nil
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		return false
	}
	return (pa == nil && pb == nil) || (pa != nil && pb != nil && *pa == *pb)
}

func TestLBRuleUpdateChangesPortAndDropsTheProbeItNoLongerUses(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	if _, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9050)); err != nil {
		t.Fatal(err)
	}
	spec := gatewayRule("sava", 9060)
	spec.BackendPort = 8080
	spec.Probe.Name = "sava-http"
	spec.Probe.Protocol, spec.Probe.RequestPath = "Http", "/"
	got, err := c.EnsureLBRule(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.FrontendPort != 9060 || got.Spec.BackendPort != 8080 || got.Spec.Probe.Name != "sava-http" {
		t.Errorf("updated rule: %+v", got.Spec)
	}
	stored := f.GetLoadBalancer(lbID)
	if !slices.Equal(probeNames(stored), []string{"ssh-probe", "sava-http"}) {
		t.Errorf("probes after rename: %v (the old probe must go, the foreign one stay)", probeNames(stored))
	}
	if _, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9070)); err == nil {
		t.Errorf("CreateLBRule over an existing rule succeeded; want a name conflict")
	}
}

func TestLBRuleDriftIsSeenAndRecreated(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	if _, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9050)); err != nil {
		t.Fatal(err)
	}
	f.RemoveLBRule(lbID, "sava") // a portal click: the probe stays behind
	if r, err := c.GetLBRule(ctx(t), lbID, "sava"); r != nil || err != nil {
		t.Fatalf("after out-of-band removal GetLBRule = %+v, %v; want nil, nil", r, err)
	}
	if _, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9050)); err != nil {
		t.Fatalf("recreating after drift (the orphaned probe is ours to adopt): %v", err)
	}
	stored := f.GetLoadBalancer(lbID)
	if !slices.Equal(ruleNames(stored), []string{"ssh", "sava"}) || !slices.Equal(probeNames(stored), []string{"ssh-probe", "sava-probe"}) {
		t.Errorf("after recreate: rules %v probes %v", ruleNames(stored), probeNames(stored))
	}
	// The orphaned probe is also cleaned up by a delete that finds no rule.
	f.RemoveLBRule(lbID, "sava")
	if err := c.DeleteLBRule(ctx(t), lbID, "sava", "sava-probe"); err != nil {
		t.Fatal(err)
	}
	if got := probeNames(f.GetLoadBalancer(lbID)); !slices.Equal(got, []string{"ssh-probe"}) {
		t.Errorf("orphaned probe not removed: %v", got)
	}
}

func TestLBRuleTenConcurrentWritersAllLand(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	createConcurrently(t, c, 10)
	got := ruleNames(f.GetLoadBalancer(lbID))
	if len(got) != 11 {
		t.Fatalf("want the foreign rule and 10 of ours, got %d: %v", len(got), got)
	}
	if s := f.Stats(); s.PreconditionFailed != 0 {
		t.Errorf("the in-process lock should have serialised the writers, yet %d writes lost an etag race", s.PreconditionFailed)
	}
}

func createConcurrently(t *testing.T, c *azure.Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CreateLBRule(ctx(t), gatewayRule(fmt.Sprintf("gw-%d", 9050+i), int32(9050+i)))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The etag test: with the in-process lock off, someone writes the load balancer between our read
// and our write. With If-Match our write is refused (412), re-read and retried, and their rule
// survives. Without If-Match their rule is lost: the case that shows the protection matters.
func TestLBRuleEtagPreventsLostUpdate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ifMatch     bool
		wantSurvive bool
	}{{"with If-Match", true, true}, {"without If-Match", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := seededFake()
			c := newClient(t, f, func(o *azure.Options) { o.DisableProcessLock, o.DisableIfMatch = true, !tc.ifMatch })
			f.AfterNextGet(lbID, addForeignRule("out-of-band", 8443))
			if _, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9050)); err != nil {
				t.Fatal(err)
			}
			got := ruleNames(f.GetLoadBalancer(lbID))
			if !slices.Contains(got, "sava") {
				t.Fatalf("our rule is missing: %v", got)
			}
			if survived := slices.Contains(got, "out-of-band"); survived != tc.wantSurvive {
				t.Fatalf("out-of-band rule survived=%v, want %v (rules %v)", survived, tc.wantSurvive, got)
			}
			if tc.ifMatch && f.Stats().PreconditionFailed != 1 {
				t.Errorf("want exactly one 412 and a retry, stats %+v", f.Stats())
			}
		})
	}
}

func addForeignRule(name string, port int32) func(*armnetwork.LoadBalancer) {
	return func(lb *armnetwork.LoadBalancer) {
		lb.Properties.LoadBalancingRules = append(lb.Properties.LoadBalancingRules, &armnetwork.LoadBalancingRule{
			Name: to.Ptr(name), Properties: &armnetwork.LoadBalancingRulePropertiesFormat{
				FrontendIPConfiguration: &armnetwork.SubResource{ID: to.Ptr(lbID + "/frontendIPConfigurations/" + frontend)},
				Protocol:                to.Ptr(armnetwork.TransportProtocolTCP), FrontendPort: to.Ptr(port), BackendPort: to.Ptr(port),
			}})
	}
}

// Ten writers without the process lock, all reading the same version before anyone writes (the
// fake holds the reads at a barrier). If-Match alone must keep all ten rules; without it nine
// are lost.
func TestLBRuleTenWritersWithoutLockRelyOnEtag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ifMatch bool
		want    int
	}{{"with If-Match", true, 10}, {"without If-Match", false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			f := seededFake()
			c := newClient(t, f, func(o *azure.Options) {
				o.DisableProcessLock, o.DisableIfMatch, o.MaxConflictRetries = true, !tc.ifMatch, 20
				o.Retry.MaxRetries = 50 // writes collide on the fake's one-operation-at-a-time rule (429)
			})
			f.HoldGets(lbID, 10)
			createConcurrently(t, c, 10)
			ours := 0
			for _, n := range ruleNames(f.GetLoadBalancer(lbID)) {
				if strings.HasPrefix(n, "gw-") {
					ours++
				}
			}
			if ours != tc.want {
				t.Fatalf("%d of our 10 rules present, want %d", ours, tc.want)
			}
			if tc.ifMatch && f.Stats().PreconditionFailed < 9 {
				t.Errorf("all ten read one version, so at least nine writes must have been refused; stats %+v", f.Stats())
			}
		})
	}
}

func TestLBRuleGivesUpAfterBoundedConflicts(t *testing.T) {
	f := seededFake()
	c := newClient(t, f, func(o *azure.Options) { o.MaxConflictRetries = 2 })
	for i := range 3 {
		f.AfterNextGet(lbID, addForeignRule(fmt.Sprintf("busy-%d", i), int32(7000+i)))
	}
	_, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9050))
	if err == nil || !strings.Contains(err.Error(), "changed under us 3 times") {
		t.Fatalf("want a bounded-retry error after 3 lost races, got %v", err)
	}
	if got := f.Stats().PreconditionFailed; got != 3 {
		t.Errorf("412s = %d, want 3", got)
	}
}

func TestThrottlingIsRetriedByAzcore(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	f.InjectThrottles("LoadBalancersClient.Get", 3)
	f.InjectThrottles("LoadBalancersClient.BeginCreateOrUpdate", 2)
	if _, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9050)); err != nil {
		t.Fatal(err)
	}
	s := f.Stats()
	if s.Throttled != 5 || s.Requests["LoadBalancersClient.Get"] != 4 {
		t.Errorf("want 3 throttled GETs + 1 good, 2 throttled PUTs: stats %+v", s)
	}
	if !slices.Contains(ruleNames(f.GetLoadBalancer(lbID)), "sava") {
		t.Errorf("rule missing after throttled write")
	}

	// More throttling than the policy allows surfaces as a 429.
	f2 := seededFake()
	c2 := newClient(t, f2, func(o *azure.Options) { o.Retry.MaxRetries = 2 })
	f2.InjectThrottles("", 3)
	_, err := c2.GetLBRule(ctx(t), lbID, "sava")
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("want a 429 after retries ran out, got %v", err)
	}
	if got := f2.Stats().Requests["LoadBalancersClient.Get"]; got != 3 {
		t.Errorf("GET attempts = %d, want 1 + 2 retries", got)
	}
}

func TestLBRuleConflictsNameTheOtherRule(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	cases := []struct {
		name  string
		spec  func() azure.LBRuleSpec
		field string
		parts []string
	}{
		{"rule name taken", func() azure.LBRuleSpec { return gatewayRule("ssh", 2222) }, "name", []string{`"ssh"`, "terraform import"}},
		{"frontend port taken", func() azure.LBRuleSpec { return gatewayRule("sava", 22) }, "frontend_port", []string{`"ssh"`, "22"}},
		{"probe used by another rule", func() azure.LBRuleSpec {
			s := gatewayRule("sava", 9050)
			s.Probe.Name = "ssh-probe"
			return s
		}, "probe.name", []string{`"ssh"`}},
		{"unknown frontend", func() azure.LBRuleSpec {
			s := gatewayRule("sava", 9050)
			s.FrontendIPConfigurationName = "nope"
			return s
		}, "frontend_ip_configuration_name", []string{`"nope"`, `"` + frontend + `"`}},
		{"unknown pool", func() azure.LBRuleSpec {
			s := gatewayRule("sava", 9050)
			s.BackendPoolIDs = []string{lbID + "/backendAddressPools/masters"}
			return s
		}, "backend_address_pool_ids[0]", []string{`"masters"`, `"dcos-agent-pool"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateLBRule(ctx(t), tc.spec())
			wantFieldError(t, err, tc.field, tc.parts...)
		})
	}
	if n := f.Stats().LBWrites; n != 0 {
		t.Errorf("refused specs wrote the load balancer %d times", n)
	}
}

func TestLBRuleMissingLoadBalancer(t *testing.T) {
	c := newClient(t, azurefake.New())
	_, err := c.CreateLBRule(ctx(t), gatewayRule("sava", 9050))
	wantFieldError(t, err, "load_balancer_id", "not found")
	if r, err := c.GetLBRule(ctx(t), lbID, "sava"); r != nil || err != nil {
		t.Errorf("GetLBRule on a missing load balancer = %+v, %v; want nil, nil (drift)", r, err)
	}
	if err := c.DeleteLBRule(ctx(t), lbID, "sava", "sava"); err != nil {
		t.Errorf("DeleteLBRule on a missing load balancer: %v", err)
	}
}

func TestLBRuleSpecValidation(t *testing.T) {
	base := gatewayRule("sava", 9050)
	cases := []struct {
		field string
		edit  func(*azure.LBRuleSpec)
	}{
		{"load_balancer_id", func(s *azure.LBRuleSpec) { s.LoadBalancerID = nsgID }},
		{"load_balancer_id", func(s *azure.LBRuleSpec) { s.LoadBalancerID = "dcos-agent-lb" }},
		{"name", func(s *azure.LBRuleSpec) { s.Name = "-bad" }},
		{"frontend_ip_configuration_name", func(s *azure.LBRuleSpec) { s.FrontendIPConfigurationName = "" }},
		{"backend_address_pool_ids", func(s *azure.LBRuleSpec) { s.BackendPoolIDs = nil }},
		{"backend_address_pool_ids[0]", func(s *azure.LBRuleSpec) {
			s.BackendPoolIDs = []string{strings.Replace(poolID, "dcos-agent-lb-1234", "other-lb", 1)}
		}},
		{"protocol", func(s *azure.LBRuleSpec) { s.Protocol = "Icmp" }},
		{"frontend_port", func(s *azure.LBRuleSpec) { s.FrontendPort = 65535 }},
		{"backend_port", func(s *azure.LBRuleSpec) { s.BackendPort = 70000 }},
		{"idle_timeout_in_minutes", func(s *azure.LBRuleSpec) { s.IdleTimeoutMinutes = 2 }},
		{"load_distribution", func(s *azure.LBRuleSpec) { s.LoadDistribution = "RoundRobin" }},
		{"probe.protocol", func(s *azure.LBRuleSpec) { s.Probe.Protocol = "Udp" }},
		{"probe.port", func(s *azure.LBRuleSpec) { s.Probe.Port = 0 }},
		{"probe.request_path", func(s *azure.LBRuleSpec) { s.Probe.RequestPath = "/health" }},
		{"probe.request_path", func(s *azure.LBRuleSpec) { s.Probe.Protocol = "Https" }},
		{"probe.interval_in_seconds", func(s *azure.LBRuleSpec) { s.Probe.IntervalSeconds = 1 }},
		{"probe.threshold", func(s *azure.LBRuleSpec) { s.Probe.Threshold = -1 }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			s := base
			p := *base.Probe
			s.Probe = &p
			tc.edit(&s)
			_, err := s.Normalized()
			wantFieldError(t, err, tc.field)
		})
	}
	got, err := azure.LBRuleSpec{LoadBalancerID: lbID, Name: "x", FrontendIPConfigurationName: "f", BackendPoolIDs: []string{poolID},
		Protocol: "tcp", FrontendPort: 80, LoadDistribution: "sourceip"}.Normalized()
	if err != nil || got.Protocol != "Tcp" || got.LoadDistribution != "SourceIP" {
		t.Errorf("case-insensitive values should be accepted in Azure's spelling: %+v %v", got, err)
	}
	var many interface{ Unwrap() []error }
	_, err = azure.LBRuleSpec{}.Normalized()
	if !errors.As(err, &many) || len(many.Unwrap()) < 5 {
		t.Errorf("an empty spec should report every missing field at once, got %v", err)
	}
}

func TestSubscriptionMismatchIsRefused(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	other := strings.Replace(gatewayRule("sava", 9050).LoadBalancerID, sub, "11111111-1111-1111-1111-111111111111", 1)
	spec := gatewayRule("sava", 9050)
	spec.LoadBalancerID = other
	spec.BackendPoolIDs = []string{other + "/backendAddressPools/dcos-agent-pool"}
	_, err := c.CreateLBRule(ctx(t), spec)
	wantFieldError(t, err, "load_balancer_id", "11111111-1111-1111-1111-111111111111", sub)
	if n := len(f.Stats().Requests); n != 0 {
		t.Errorf("a refused id still sent requests: %v", f.Stats().Requests)
	}
}

// HA ports: frontend 0 needs protocol All, backend 0 and an explicit probe port; tcp reset and
// number_of_probes reach Azure.
func TestLBRuleHAPortsSpec(t *testing.T) {
	ha := gatewayRule("ha", 0)
	ha.Protocol, ha.TCPReset = "All", true
	ha.Probe.Port, ha.Probe.NumberOfProbes = 9050, 3
	n, err := ha.Normalized()
	if err != nil || n.BackendPort != 0 || n.Probe.NumberOfProbes != 3 {
		t.Fatalf("HA ports refused or changed: %+v, %v", n, err)
	}
	tcp := gatewayRule("ha", 0)
	tcp.Probe.Port = 9050
	_, err = tcp.Normalized()
	wantFieldError(t, err, "protocol", `"All"`, "HA-ports")
	back := ha
	back.BackendPort = 80
	_, err = back.Normalized()
	wantFieldError(t, err, "backend_port", "backend_port = 0")
	noProbePort := ha
	noProbePort.Probe = &azure.ProbeSpec{Protocol: "Tcp"}
	_, err = noProbePort.Normalized()
	wantFieldError(t, err, "probe.port", "HA-ports")
	if p, _ := gatewayRule("x", 9050).Normalized(); p.Probe.NumberOfProbes != 2 || p.TCPReset {
		t.Errorf("defaults: number_of_probes %d tcp reset %v", p.Probe.NumberOfProbes, p.TCPReset)
	}

	f := seededFake()
	c := newClient(t, f)
	if _, err := c.CreateLBRule(ctx(t), ha); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetLBRule(ctx(t), lbID, "ha")
	if err != nil || got == nil || got.Spec.Protocol != "All" || got.Spec.FrontendPort != 0 || !got.Spec.TCPReset || got.Spec.Probe.NumberOfProbes != 3 {
		t.Fatalf("read back: %+v, %v", got, err)
	}
}

// A rule that uses an existing probe (probe_id) leaves it alone: not changed on write, not removed
// on delete even when no other rule uses it; a probe the load balancer lacks is named.
func TestLBRuleExistingProbe(t *testing.T) {
	f := seededFake()
	f.EditLoadBalancer(lbID, func(lb *armnetwork.LoadBalancer) {
		lb.Properties.Probes = append(lb.Properties.Probes, &armnetwork.Probe{Name: to.Ptr("shared-http"), Properties: &armnetwork.ProbePropertiesFormat{
			Protocol: to.Ptr(armnetwork.ProbeProtocolHTTP), Port: to.Ptr[int32](8080), RequestPath: to.Ptr("/health"),
			IntervalInSeconds: to.Ptr[int32](5), NumberOfProbes: to.Ptr[int32](2)}})
	})
	c := newClient(t, f)
	spec := gatewayRule("uses-shared", 9080)
	spec.Probe, spec.ProbeRefID = nil, lbID+"/probes/shared-http"
	got, err := c.CreateLBRule(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got.ProbeID != lbID+"/probes/shared-http" {
		t.Errorf("probe id %q", got.ProbeID)
	}
	// Switching from the used probe to an owned one keeps the used probe when the caller says it
	// was not the rule's (the provider knows from its state)...
	owned := gatewayRule("uses-shared", 9080)
	owned.PriorProbeNotOwned = true
	if _, err := c.EnsureLBRule(ctx(t), owned); err != nil {
		t.Fatal(err)
	}
	if names := probeNames(f.GetLoadBalancer(lbID)); !slices.Contains(names, "shared-http") || !slices.Contains(names, "uses-shared-probe") {
		t.Fatalf("switching to an owned probe: probes %v", names)
	}
	// ...and back again.
	if _, err := c.EnsureLBRule(ctx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteLBRule(ctx(t), lbID, "uses-shared", ""); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(probeNames(f.GetLoadBalancer(lbID)), "shared-http") {
		t.Errorf("the used probe was deleted with the rule: %v", probeNames(f.GetLoadBalancer(lbID)))
	}
	missing := spec
	missing.ProbeRefID = lbID + "/probes/nope"
	_, err = c.CreateLBRule(ctx(t), missing)
	wantFieldError(t, err, "probe_id", `"nope"`, "shared-http")
	both := gatewayRule("both", 9081)
	both.ProbeRefID = lbID + "/probes/shared-http"
	_, err = both.Normalized()
	wantFieldError(t, err, "probe_id", "not both")
	other := gatewayRule("other", 9082)
	other.Probe, other.ProbeRefID = nil, "/subscriptions/"+sub+"/resourceGroups/dcos-rg/providers/Microsoft.Network/loadBalancers/other/probes/p"
	_, err = other.Normalized()
	wantFieldError(t, err, "probe_id", "its own load balancer")
}
