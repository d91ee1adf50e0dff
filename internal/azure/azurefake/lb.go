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

const lbType = "loadBalancers"

// LoadBalancer builds a load balancer with the named frontend IP configurations and backend
// pools, the shape azurerm_lb and azurerm_lb_backend_address_pool give a cluster.
func LoadBalancer(id string, frontends, pools []string) *armnetwork.LoadBalancer {
	p := &armnetwork.LoadBalancerPropertiesFormat{}
	for _, n := range frontends {
		p.FrontendIPConfigurations = append(p.FrontendIPConfigurations, &armnetwork.FrontendIPConfiguration{
			Name: to.Ptr(n), ID: to.Ptr(id + "/frontendIPConfigurations/" + n),
		})
	}
	for _, n := range pools {
		p.BackendAddressPools = append(p.BackendAddressPools, &armnetwork.BackendAddressPool{
			Name: to.Ptr(n), ID: to.Ptr(id + "/backendAddressPools/" + n),
		})
	}
	return &armnetwork.LoadBalancer{
		ID: to.Ptr(id), Name: to.Ptr(id[strings.LastIndex(id, "/")+1:]), Location: to.Ptr("westeurope"),
		SKU:        &armnetwork.LoadBalancerSKU{Name: to.Ptr(armnetwork.LoadBalancerSKUNameStandard)},
		Properties: p,
	}
}

// SeedLoadBalancer stores lb (which must carry its id) as if someone else had created it; rules
// and probes in it are foreign to the provider.
func (f *Fake) SeedLoadBalancer(lb *armnetwork.LoadBalancer) {
	k := lbKeyFromID(*lb.ID)
	f.mu.Lock()
	defer f.mu.Unlock()
	stored := clone(lb)
	f.normalizeLB(stored)
	f.lbs[k] = stored
}

// GetLoadBalancer returns a copy of the stored load balancer, or nil.
func (f *Fake) GetLoadBalancer(id string) *armnetwork.LoadBalancer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if lb, ok := f.lbs[lbKeyFromID(id)]; ok {
		return clone(lb)
	}
	return nil
}

// EditLoadBalancer changes the stored load balancer out of band (a portal click, another tool),
// giving it a new etag as Azure would.
func (f *Fake) EditLoadBalancer(id string, edit func(*armnetwork.LoadBalancer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lb, ok := f.lbs[lbKeyFromID(id)]
	if !ok {
		panic("azurefake: EditLoadBalancer of unknown load balancer " + id)
	}
	edit(lb)
	f.normalizeLB(lb)
}

// RemoveLBRule deletes a load-balancing rule out of band (drift); its probe stays, as in the portal.
func (f *Fake) RemoveLBRule(lbID, name string) {
	f.EditLoadBalancer(lbID, func(lb *armnetwork.LoadBalancer) {
		rules := lb.Properties.LoadBalancingRules[:0]
		for _, r := range lb.Properties.LoadBalancingRules {
			if !strings.EqualFold(*r.Name, name) {
				rules = append(rules, r)
			}
		}
		lb.Properties.LoadBalancingRules = rules
	})
}

// AfterNextGet queues edit as an out-of-band write made right after a GET of the load balancer
// has been answered, so that the reader's etag is stale when it writes back. Each GET takes one
// queued edit: queue several to make several read-modify-write rounds lose.
func (f *Fake) AfterNextGet(lbID string, edit func(*armnetwork.LoadBalancer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := lbKeyFromID(lbID)
	f.afterGet[k] = append(f.afterGet[k], edit)
}

// HoldGets makes the next n GETs of the load balancer wait until all n have arrived and answers
// them all with the same state: n concurrent read-modify-writes that all start from one version.
// Waiting GETs give up when their request context ends.
func (f *Fake) HoldGets(lbID string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.barriers[lbKeyFromID(lbID)] = &barrier{n: n, release: make(chan struct{})}
}

type barrier struct {
	n, arrived int
	release    chan struct{}
	snapshot   *armnetwork.LoadBalancer
}

func lbKeyFromID(id string) string {
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		panic("azurefake: bad load balancer id " + id + ": " + err.Error())
	}
	return key(rid.ResourceGroupName, lbType, rid.Name)
}

func (f *Fake) getLB(ctx context.Context, rg, name string, _ *armnetwork.LoadBalancersClientGetOptions) (resp azfake.Responder[armnetwork.LoadBalancersClientGetResponse], errResp azfake.ErrorResponder) {
	k := key(rg, lbType, name)
	f.mu.Lock()
	stored, ok := f.lbs[k]
	if !ok {
		f.mu.Unlock()
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	answer := clone(stored)
	if b := f.barriers[k]; b != nil {
		b.arrived++
		if b.arrived == b.n {
			b.snapshot = answer
			delete(f.barriers, k)
			close(b.release)
		}
		f.mu.Unlock()
		select {
		case <-b.release:
		case <-ctx.Done():
			errResp.SetError(ctx.Err())
			return
		}
		f.mu.Lock()
		answer = clone(b.snapshot)
	}
	if q := f.afterGet[k]; len(q) > 0 {
		cur := f.lbs[k]
		q[0](cur)
		f.normalizeLB(cur)
		f.afterGet[k] = q[1:]
	}
	f.mu.Unlock()
	resp.SetResponse(http.StatusOK, armnetwork.LoadBalancersClientGetResponse{LoadBalancer: *answer}, nil)
	return
}

func (f *Fake) putLB(ctx context.Context, rg, name string, lb armnetwork.LoadBalancer, _ *armnetwork.LoadBalancersClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.LoadBalancersClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	k := key(rg, lbType, name)
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, exists := f.lbs[k]
	conds := requestConditions(ctx)
	if m := conds.ifMatch; m != "" {
		f.stats.IfMatchSent++
		if !exists || (m != "*" && m != *cur.Etag) {
			f.stats.PreconditionFailed++
			conds.preconditionFailed(fmt.Sprintf("Precondition failed: If-Match %s does not match the current etag of load balancer %s.", m, name))
			errResp.SetResponseError(http.StatusPreconditionFailed, "PreconditionFailed")
			return
		}
	}
	if code := validateLB(&lb); code != "" {
		errResp.SetResponseError(http.StatusBadRequest, code)
		return
	}
	stored := clone(&lb)
	if exists {
		stored.ID, stored.Name = cur.ID, cur.Name
	}
	f.normalizeLB(stored)
	f.lbs[k] = stored
	f.stats.LBWrites++
	f.addInProgress(&resp)
	resp.SetTerminalResponse(http.StatusOK, armnetwork.LoadBalancersClientCreateOrUpdateResponse{LoadBalancer: *clone(stored)}, nil)
	return
}

// addInProgress answers Created first, then OK, both "in progress", before the terminal answer.
func (f *Fake) addInProgress(resp interface {
	AddNonTerminalResponse(int, *azfake.AddNonTerminalResponseOptions)
}) {
	for i := 0; i < f.polls; i++ {
		status := http.StatusOK
		if i == 0 {
			status = http.StatusCreated
		}
		resp.AddNonTerminalResponse(status, nil)
	}
}

// validateLB returns the error code Azure would give for a load balancer whose sub-resources do
// not hang together, or "".
func validateLB(lb *armnetwork.LoadBalancer) string {
	p := lb.Properties
	if p == nil {
		return ""
	}
	has := func(ids map[string]bool, sr *armnetwork.SubResource) bool {
		return sr == nil || sr.ID == nil || ids[strings.ToLower(lastSegment(*sr.ID))]
	}
	frontends, pools, probes := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, x := range p.FrontendIPConfigurations {
		frontends[strings.ToLower(*x.Name)] = true
	}
	for _, x := range p.BackendAddressPools {
		pools[strings.ToLower(*x.Name)] = true
	}
	for _, x := range p.Probes {
		if probes[strings.ToLower(*x.Name)] {
			return "DuplicateResourceName"
		}
		probes[strings.ToLower(*x.Name)] = true
	}
	seenRule, seenPort := map[string]bool{}, map[string]bool{}
	for _, r := range p.LoadBalancingRules {
		n := strings.ToLower(*r.Name)
		if seenRule[n] {
			return "DuplicateResourceName"
		}
		seenRule[n] = true
		rp := r.Properties
		if rp == nil || rp.FrontendIPConfiguration == nil || rp.FrontendPort == nil || rp.Protocol == nil {
			return "InvalidRequestFormat"
		}
		if !has(frontends, rp.FrontendIPConfiguration) || !has(pools, rp.BackendAddressPool) || !has(probes, rp.Probe) {
			return "InvalidResourceReference"
		}
		for _, bp := range rp.BackendAddressPools {
			if !has(pools, bp) {
				return "InvalidResourceReference"
			}
		}
		port := fmt.Sprintf("%s/%d/%s", strings.ToLower(lastSegment(*rp.FrontendIPConfiguration.ID)), *rp.FrontendPort, *rp.Protocol)
		if seenPort[port] {
			return "LoadBalancingRulesWithSameFrontendPortAndProtocol"
		}
		seenPort[port] = true
	}
	return ""
}

// normalizeLB fills in what Azure computes: ids of sub-resources, provisioning state, the probes'
// back-references to their rules, and a fresh etag on the load balancer and everything in it.
func (f *Fake) normalizeLB(lb *armnetwork.LoadBalancer) {
	etag := f.nextEtag()
	lb.Etag = to.Ptr(etag)
	lb.Type = to.Ptr("Microsoft.Network/loadBalancers")
	if lb.Properties == nil {
		lb.Properties = &armnetwork.LoadBalancerPropertiesFormat{}
	}
	p := lb.Properties
	p.ProvisioningState = to.Ptr(armnetwork.ProvisioningStateSucceeded)
	id := *lb.ID
	for _, r := range p.LoadBalancingRules {
		r.ID, r.Etag = to.Ptr(id+"/loadBalancingRules/"+*r.Name), to.Ptr(etag)
		r.Type = to.Ptr("Microsoft.Network/loadBalancers/loadBalancingRules")
		if r.Properties != nil {
			r.Properties.ProvisioningState = to.Ptr(armnetwork.ProvisioningStateSucceeded)
		}
	}
	for _, pr := range p.Probes {
		pr.ID, pr.Etag = to.Ptr(id+"/probes/"+*pr.Name), to.Ptr(etag)
		pr.Type = to.Ptr("Microsoft.Network/loadBalancers/probes")
		if pr.Properties == nil {
			pr.Properties = &armnetwork.ProbePropertiesFormat{}
		}
		pr.Properties.ProvisioningState = to.Ptr(armnetwork.ProvisioningStateSucceeded)
		pr.Properties.LoadBalancingRules = nil
		for _, r := range p.LoadBalancingRules {
			if r.Properties != nil && r.Properties.Probe != nil && r.Properties.Probe.ID != nil &&
				strings.EqualFold(lastSegment(*r.Properties.Probe.ID), *pr.Name) {
				pr.Properties.LoadBalancingRules = append(pr.Properties.LoadBalancingRules, &armnetwork.SubResource{ID: r.ID})
			}
		}
	}
	for _, x := range p.FrontendIPConfigurations {
		x.Etag = to.Ptr(etag)
	}
	for _, x := range p.BackendAddressPools {
		x.Etag = to.Ptr(etag)
	}
}

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }
