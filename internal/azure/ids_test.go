package azure_test

import (
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

func TestParseRuleIDs(t *testing.T) {
	lb, name, err := azure.ParseLBRuleID(lbID + "/loadBalancingRules/sava-9050")
	if err != nil || lb.String() != lbID || name != "sava-9050" || lb.ResourceGroup != "dcos-rg" {
		t.Errorf("ParseLBRuleID = %v %q %v", lb, name, err)
	}
	nsg, name, err := azure.ParseNSGRuleID(nsgID + "/securityRules/allow-9050")
	if err != nil || nsg.String() != nsgID || name != "allow-9050" {
		t.Errorf("ParseNSGRuleID = %v %q %v", nsg, name, err)
	}
	// Case differences are ARM's business, not an error.
	if _, _, err := azure.ParseLBRuleID("/SUBSCRIPTIONS/" + sub + "/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb/loadbalancingrules/r"); err != nil {
		t.Errorf("lower-case id refused: %v", err)
	}
	for _, bad := range []struct{ id, mention string }{
		{"", "is empty"},
		{"sava-9050", "not an Azure resource id"},
		{lbID, "loadBalancingRules"},
		{nsgID + "/securityRules/allow-9050", "Microsoft.Network/networkSecurityGroups/securityRules id"},
	} {
		_, _, err := azure.ParseLBRuleID(bad.id)
		wantFieldError(t, err, "id", bad.mention)
	}
	_, _, err = azure.ParseNSGRuleID(lbID + "/loadBalancingRules/x")
	wantFieldError(t, err, "id", "securityRules")
}
