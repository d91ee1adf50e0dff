package azure_test

import (
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
	"github.com/vamp-canary/terraform-provider-vamp/internal/azure/azurefake"
)

func gatewayNSGRule() azure.NSGRuleSpec {
	return azure.NSGRuleSpec{NSGID: nsgID, Name: "allow-sava-9050", Priority: 200, Protocol: "Tcp",
		DestinationPortRanges: []string{"9050"}, SourceAddressPrefixes: []string{"Internet"}, Description: "sava/9050"}
}

func nsgRuleNames(f *azurefake.Fake) []string {
	var names []string
	for _, r := range f.SecurityRules(nsgID) {
		names = append(names, *r.Name)
	}
	return names
}

func TestNSGRuleCreateGetUpdateDelete(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	got, err := c.CreateNSGRule(ctx(t), gatewayNSGRule())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != nsgID+"/securityRules/allow-sava-9050" || got.Spec.Direction != "Inbound" || got.Spec.Access != "Allow" ||
		got.Spec.DestinationAddressPrefix != "*" || !slices.Equal(got.Spec.SourceAddressPrefixes, []string{"Internet"}) {
		t.Errorf("created: %+v", got)
	}
	stored := f.SecurityRules(nsgID)[1].Properties
	if *stored.SourceAddressPrefix != "Internet" || stored.SourceAddressPrefixes != nil || *stored.DestinationPortRange != "9050" {
		t.Errorf("a single prefix/port belongs in Azure's singular fields: %+v", stored)
	}

	upd := gatewayNSGRule()
	upd.SourceAddressPrefixes = []string{"203.0.113.0/24", "198.51.100.7"}
	upd.DestinationPortRanges = []string{"9050", "9100-9110"}
	got, err = c.EnsureNSGRule(ctx(t), upd)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Spec.SourceAddressPrefixes, upd.SourceAddressPrefixes) ||
		!slices.Equal(got.Spec.DestinationPortRanges, upd.DestinationPortRanges) {
		t.Errorf("EnsureNSGRule returned %+v, want the updated prefixes and ports", got.Spec)
	}
	read, err := c.GetNSGRule(ctx(t), nsgID, "allow-sava-9050")
	if err != nil || read == nil || !slices.Equal(read.Spec.SourceAddressPrefixes, upd.SourceAddressPrefixes) ||
		!slices.Equal(read.Spec.DestinationPortRanges, upd.DestinationPortRanges) || read.Spec.Priority != 200 {
		t.Fatalf("GetNSGRule = %+v, %v", read, err)
	}
	if !slices.Equal(nsgRuleNames(f), []string{"allow-ssh", "allow-sava-9050"}) {
		t.Errorf("rules: %v", nsgRuleNames(f))
	}

	if err := c.DeleteNSGRule(ctx(t), nsgID, "allow-sava-9050"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nsgRuleNames(f), []string{"allow-ssh"}) {
		t.Errorf("after delete: %v", nsgRuleNames(f))
	}
	if r, err := c.GetNSGRule(ctx(t), nsgID, "allow-sava-9050"); r != nil || err != nil {
		t.Errorf("GetNSGRule after delete = %+v, %v", r, err)
	}
	if err := c.DeleteNSGRule(ctx(t), nsgID, "allow-sava-9050"); err != nil {
		t.Errorf("deleting a deleted rule: %v", err)
	}
	if f.Stats().Polls == 0 {
		t.Errorf("the writes were not polled as long-running operations")
	}
}

func TestNSGRuleDrift(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	if _, err := c.CreateNSGRule(ctx(t), gatewayNSGRule()); err != nil {
		t.Fatal(err)
	}
	f.RemoveNSGRule(nsgID, "allow-sava-9050")
	if r, err := c.GetNSGRule(ctx(t), nsgID, "allow-sava-9050"); r != nil || err != nil {
		t.Fatalf("after out-of-band removal GetNSGRule = %+v, %v; want nil, nil", r, err)
	}
	if _, err := c.CreateNSGRule(ctx(t), gatewayNSGRule()); err != nil {
		t.Fatalf("recreate: %v", err)
	}
}

func TestNSGRuleConflictsNameTheOtherRule(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	prio := gatewayNSGRule()
	prio.Priority = 100
	_, err := c.CreateNSGRule(ctx(t), prio)
	wantFieldError(t, err, "priority", `"allow-ssh"`, "100")

	name := gatewayNSGRule()
	name.Name = "ALLOW-SSH"
	_, err = c.CreateNSGRule(ctx(t), name)
	wantFieldError(t, err, "name", `"allow-ssh"`, "terraform import")

	if !slices.Equal(nsgRuleNames(f), []string{"allow-ssh"}) {
		t.Errorf("refused rules changed the NSG: %v", nsgRuleNames(f))
	}
	if _, err := c.CreateNSGRule(ctx(t), gatewayNSGRule()); err != nil {
		t.Fatal(err)
	}
	// Updating our own rule keeps its own priority without tripping over itself.
	if _, err := c.EnsureNSGRule(ctx(t), gatewayNSGRule()); err != nil {
		t.Errorf("update in place: %v", err)
	}
}

func TestNSGRuleMissingGroup(t *testing.T) {
	c := newClient(t, azurefake.New())
	_, err := c.CreateNSGRule(ctx(t), gatewayNSGRule())
	wantFieldError(t, err, "network_security_group_id", "not found")
	if r, err := c.GetNSGRule(ctx(t), nsgID, "x"); r != nil || err != nil {
		t.Errorf("GetNSGRule on a missing NSG = %+v, %v", r, err)
	}
	if err := c.DeleteNSGRule(ctx(t), nsgID, "x"); err != nil {
		t.Errorf("DeleteNSGRule on a missing NSG: %v", err)
	}
}

func TestNSGRuleSpecValidation(t *testing.T) {
	cases := []struct {
		field string
		parts []string
		edit  func(*azure.NSGRuleSpec)
	}{
		{"source_address_prefixes", []string{`"*"`, `"Internet"`}, func(s *azure.NSGRuleSpec) { s.SourceAddressPrefixes = nil }},
		{"source_address_prefixes[1]", []string{"only prefix"}, func(s *azure.NSGRuleSpec) { s.SourceAddressPrefixes = []string{"10.0.0.0/8", "Internet"} }},
		{"source_address_prefixes[0]", nil, func(s *azure.NSGRuleSpec) { s.SourceAddressPrefixes = []string{"10.0.0.0/33"} }},
		{"priority", []string{"100..4096"}, func(s *azure.NSGRuleSpec) { s.Priority = 99 }},
		{"priority", nil, func(s *azure.NSGRuleSpec) { s.Priority = 4097 }},
		{"destination_port_ranges", nil, func(s *azure.NSGRuleSpec) { s.DestinationPortRanges = nil }},
		{"destination_port_ranges[0]", nil, func(s *azure.NSGRuleSpec) { s.DestinationPortRanges = []string{"70000"} }},
		{"destination_port_ranges[0]", nil, func(s *azure.NSGRuleSpec) { s.DestinationPortRanges = []string{"9100-9000"} }},
		{"destination_port_ranges[1]", nil, func(s *azure.NSGRuleSpec) { s.DestinationPortRanges = []string{"80", "*"} }},
		{"protocol", []string{`"Icmp"`, `"Ah"`}, func(s *azure.NSGRuleSpec) { s.Protocol = "Gre" }},
		{"direction", []string{`"Outbound"`}, func(s *azure.NSGRuleSpec) { s.Direction = "Sideways" }},
		{"access", []string{`"Deny"`}, func(s *azure.NSGRuleSpec) { s.Access = "Reject" }},
		{"source_port_ranges[0]", nil, func(s *azure.NSGRuleSpec) { s.SourcePortRanges = []string{"0"} }},
		{"network_security_group_id", nil, func(s *azure.NSGRuleSpec) { s.NSGID = lbID }},
		{"name", nil, func(s *azure.NSGRuleSpec) { s.Name = "" }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			s := gatewayNSGRule()
			tc.edit(&s)
			_, err := s.Normalized()
			wantFieldError(t, err, tc.field, tc.parts...)
		})
	}
	f := seededFake()
	c := newClient(t, f)
	noSource := gatewayNSGRule()
	noSource.SourceAddressPrefixes = nil
	if _, err := c.CreateNSGRule(ctx(t), noSource); err == nil {
		t.Fatal("a rule without source prefixes was created")
	}
	if len(f.Stats().Requests) != 0 {
		t.Errorf("a refused spec reached Azure: %v", f.Stats().Requests)
	}
}

// Deny and Outbound rules, Icmp, several source port ranges: written in Azure's shape and read back.
func TestNSGRuleDenyOutbound(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	spec := gatewayNSGRule()
	spec.Name, spec.Direction, spec.Access, spec.Protocol = "deny-out-icmp", "outbound", "deny", "icmp"
	spec.Priority = 100 // free: the seeded rule at 100 is inbound
	spec.SourcePortRanges = []string{"1024-2047", "4000"}
	got, err := c.CreateNSGRule(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Direction != "Outbound" || got.Spec.Access != "Deny" || got.Spec.Protocol != "Icmp" ||
		!slices.Equal(got.Spec.SourcePortRanges, []string{"1024-2047", "4000"}) {
		t.Errorf("read back: %+v", got.Spec)
	}
	var stored *armnetwork.SecurityRule
	for _, r := range f.SecurityRules(nsgID) {
		if *r.Name == "deny-out-icmp" {
			stored = r
		}
	}
	if stored == nil || stored.Properties.SourcePortRange != nil || len(stored.Properties.SourcePortRanges) != 2 ||
		*stored.Properties.Direction != armnetwork.SecurityRuleDirectionOutbound || *stored.Properties.Access != armnetwork.SecurityRuleAccessDeny {
		t.Fatalf("stored: %+v", stored)
	}
	plain, err := c.CreateNSGRule(ctx(t), gatewayNSGRule())
	if err != nil || !slices.Equal(plain.Spec.SourcePortRanges, []string{"*"}) {
		t.Errorf("default source ports: %+v, %v", plain, err)
	}
	// Priorities are unique per direction: an outbound rule at the outbound rule's priority is refused.
	clash := gatewayNSGRule()
	clash.Name, clash.Direction, clash.Priority = "other-out", "Outbound", 100
	_, err = c.CreateNSGRule(ctx(t), clash)
	wantFieldError(t, err, "priority", `"deny-out-icmp"`, "outbound")
}
