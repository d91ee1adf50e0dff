package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

const nsgType = "networkSecurityGroups"

// SecurityRule builds an inbound allow rule, for seeding rules the provider does not own.
func SecurityRule(name string, priority int32, port string) *armnetwork.SecurityRule {
	return &armnetwork.SecurityRule{Name: to.Ptr(name), Properties: &armnetwork.SecurityRulePropertiesFormat{
		Access: to.Ptr(armnetwork.SecurityRuleAccessAllow), Direction: to.Ptr(armnetwork.SecurityRuleDirectionInbound),
		Priority: to.Ptr(priority), Protocol: to.Ptr(armnetwork.SecurityRuleProtocolTCP),
		SourceAddressPrefix: to.Ptr("*"), SourcePortRange: to.Ptr("*"),
		DestinationAddressPrefix: to.Ptr("*"), DestinationPortRange: to.Ptr(port),
	}}
}

// SeedNSG stores a network security group with the given rules.
func (f *Fake) SeedNSG(id string, rules ...*armnetwork.SecurityRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := &nsg{id: id}
	for _, r := range rules {
		g.rules = append(g.rules, f.normalizeRule(g, clone(r)))
	}
	g.etag = f.nextEtag()
	f.nsgs[nsgKeyFromID(id)] = g
}

// SecurityRules returns copies of the rules stored on the security group.
func (f *Fake) SecurityRules(nsgID string) []*armnetwork.SecurityRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.nsgs[nsgKeyFromID(nsgID)]
	if !ok {
		return nil
	}
	var out []*armnetwork.SecurityRule
	for _, r := range g.rules {
		out = append(out, clone(r))
	}
	return out
}

// RemoveNSGRule deletes a security rule out of band (drift).
func (f *Fake) RemoveNSGRule(nsgID, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.nsgs[nsgKeyFromID(nsgID)]; ok {
		g.remove(name)
		g.etag = f.nextEtag()
	}
}

func nsgKeyFromID(id string) string {
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		panic("azurefake: bad network security group id " + id + ": " + err.Error())
	}
	return key(rid.ResourceGroupName, nsgType, rid.Name)
}

func (g *nsg) find(name string) (int, *armnetwork.SecurityRule) {
	for i, r := range g.rules {
		if strings.EqualFold(*r.Name, name) {
			return i, r
		}
	}
	return -1, nil
}

func (g *nsg) remove(name string) bool {
	if i, _ := g.find(name); i >= 0 {
		g.rules = append(g.rules[:i], g.rules[i+1:]...)
		return true
	}
	return false
}

func (f *Fake) normalizeRule(g *nsg, r *armnetwork.SecurityRule) *armnetwork.SecurityRule {
	r.ID = to.Ptr(g.id + "/securityRules/" + *r.Name)
	r.Type = to.Ptr("Microsoft.Network/networkSecurityGroups/securityRules")
	r.Etag = to.Ptr(f.nextEtag())
	if r.Properties == nil {
		r.Properties = &armnetwork.SecurityRulePropertiesFormat{}
	}
	r.Properties.ProvisioningState = to.Ptr(armnetwork.ProvisioningStateSucceeded)
	return r
}

func (f *Fake) getRule(_ context.Context, rg, nsgName, name string, _ *armnetwork.SecurityRulesClientGetOptions) (resp azfake.Responder[armnetwork.SecurityRulesClientGetResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.nsgs[key(rg, nsgType, nsgName)]
	if !ok {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	_, r := g.find(name)
	if r == nil {
		errResp.SetResponseError(http.StatusNotFound, "NotFound")
		return
	}
	resp.SetResponse(http.StatusOK, armnetwork.SecurityRulesClientGetResponse{SecurityRule: *clone(r)}, nil)
	return
}

func (f *Fake) putRule(ctx context.Context, rg, nsgName, name string, rule armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.nsgs[key(rg, nsgType, nsgName)]
	if !ok {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	if f.ruleConditionFailed(requestConditions(ctx), g, name) {
		errResp.SetResponseError(http.StatusPreconditionFailed, "PreconditionFailed")
		return
	}
	p := rule.Properties
	if p == nil || p.Priority == nil || p.Direction == nil || p.Access == nil || p.Protocol == nil {
		errResp.SetResponseError(http.StatusBadRequest, "InvalidRequestFormat")
		return
	}
	if *p.Priority < 100 || *p.Priority > 4096 {
		errResp.SetResponseError(http.StatusBadRequest, "SecurityRuleInvalidPriority")
		return
	}
	for _, other := range g.rules {
		if !strings.EqualFold(*other.Name, name) && *other.Properties.Priority == *p.Priority &&
			strings.EqualFold(string(*other.Properties.Direction), string(*p.Direction)) {
			errResp.SetResponseError(http.StatusBadRequest, "SecurityRuleConflict")
			return
		}
	}
	rule.Name = to.Ptr(name)
	stored := f.normalizeRule(g, clone(&rule))
	if i, _ := g.find(name); i >= 0 {
		g.rules[i] = stored
	} else {
		g.rules = append(g.rules, stored)
	}
	g.etag = f.nextEtag()
	f.addInProgress(&resp)
	resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{SecurityRule: *clone(stored)}, nil)
	return
}

func (f *Fake) deleteRule(ctx context.Context, rg, nsgName, name string, _ *armnetwork.SecurityRulesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientDeleteResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.nsgs[key(rg, nsgType, nsgName)]
	if !ok {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	if f.ruleConditionFailed(requestConditions(ctx), g, name) {
		errResp.SetResponseError(http.StatusPreconditionFailed, "PreconditionFailed")
		return
	}
	if !g.remove(name) {
		resp.SetTerminalResponse(http.StatusNoContent, armnetwork.SecurityRulesClientDeleteResponse{}, nil)
		return
	}
	g.etag = f.nextEtag()
	resp.AddNonTerminalResponse(http.StatusAccepted, nil)
	resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientDeleteResponse{}, nil)
	return
}

func (f *Fake) listRules(rg, nsgName string, _ *armnetwork.SecurityRulesClientListOptions) (resp azfake.PagerResponder[armnetwork.SecurityRulesClientListResponse]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.nsgs[key(rg, nsgType, nsgName)]
	if !ok {
		resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	page := armnetwork.SecurityRulesClientListResponse{}
	for _, r := range g.rules {
		page.Value = append(page.Value, clone(r))
	}
	resp.AddPage(http.StatusOK, page, nil)
	return
}

// ruleConditionFailed applies If-Match and If-None-Match to the named rule as HTTP (RFC 9110
// section 13) and ARM define them: If-None-Match: * fails when the rule exists, If-Match fails
// when it does not or carries another etag ("*" matches any existing rule). On failure it records
// ARM's 412 in conds. The caller holds f.mu.
func (f *Fake) ruleConditionFailed(conds *conditions, g *nsg, name string) bool {
	_, cur := g.find(name)
	var msg string
	if conds.ifNoneMatch != "" {
		f.stats.RuleIfNoneMatch++
		if cur != nil && (conds.ifNoneMatch == "*" || conds.ifNoneMatch == deref(cur.Etag)) {
			msg = fmt.Sprintf("Precondition failed: If-None-Match %s, but security rule %s already exists with etag %s.", conds.ifNoneMatch, name, deref(cur.Etag))
		}
	}
	if m := conds.ifMatch; m != "" && msg == "" {
		f.stats.RuleIfMatch++
		switch {
		case cur == nil:
			msg = fmt.Sprintf("Precondition failed: If-Match %s, but security rule %s does not exist.", m, name)
		case m != "*" && m != deref(cur.Etag):
			msg = fmt.Sprintf("Precondition failed: If-Match %s does not match the current etag %s of security rule %s.", m, deref(cur.Etag), name)
		}
	}
	if msg == "" {
		return false
	}
	f.stats.PreconditionFailed++
	conds.preconditionFailed(msg)
	return true
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
