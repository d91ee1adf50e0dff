package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// CreateLBRule adds the rule and its probe to the load balancer. A rule of the same name that is
// already there is an error that suggests importing it; nothing else on the load balancer changes.
func (c *Client) CreateLBRule(ctx context.Context, spec LBRuleSpec) (*LBRule, error) {
	return c.writeLBRule(ctx, spec, true)
}

// EnsureLBRule makes the rule and its probe look like spec, replacing them by name (the update
// path). A probe the rule used before and no longer uses is removed if no other rule uses it.
func (c *Client) EnsureLBRule(ctx context.Context, spec LBRuleSpec) (*LBRule, error) {
	return c.writeLBRule(ctx, spec, false)
}

// GetLBRule reads the rule and the probe it references. It returns nil, nil when the rule or its
// load balancer is gone, which the caller treats as drift.
func (c *Client) GetLBRule(ctx context.Context, loadBalancerID, name string) (*LBRule, error) {
	lbID, err := ParseLoadBalancerID("load_balancer_id", loadBalancerID)
	if err != nil {
		return nil, err
	}
	lb, err := c.getLB(ctx, lbID)
	if err != nil || lb == nil {
		return nil, err
	}
	props := lbProps(lb)
	r := findByName(props.LoadBalancingRules, name, ruleName)
	if r == nil {
		return nil, nil
	}
	return ruleFromAzure(lbID, r, props.Probes), nil
}

// DeleteLBRule removes the rule and the probe it owns (probeName, "" when it owns none; the probe
// may be left over when the rule was removed out of band). A probe still used by another rule is kept. A missing rule or
// load balancer is not an error.
func (c *Client) DeleteLBRule(ctx context.Context, loadBalancerID, name, probeName string) error {
	lbID, err := ParseLoadBalancerID("load_balancer_id", loadBalancerID)
	if err != nil {
		return err
	}
	_, err = c.modifyLB(ctx, lbID, func(lb *armnetwork.LoadBalancer) (bool, error) {
		props := lbProps(lb)
		changed := false
		owned := probeName // only the probe the rule owns; a probe it merely uses (probe_id) stays
		if r := findByName(props.LoadBalancingRules, name, ruleName); r != nil {
			props.LoadBalancingRules = removeByName(props.LoadBalancingRules, name, ruleName)
			changed = true
		}
		if owned != "" && findByName(props.Probes, owned, probeNameOf) != nil && len(probeUsers(props, owned, "")) == 0 {
			props.Probes = removeByName(props.Probes, owned, probeNameOf)
			changed = true
		}
		return changed, nil
	})
	if isNotFound(err) {
		return nil
	}
	return err
}

func probeNameOf(p *armnetwork.Probe) string { return probeName(p) }

func (c *Client) writeLBRule(ctx context.Context, spec LBRuleSpec, mustBeNew bool) (*LBRule, error) {
	spec, err := spec.Normalized()
	if err != nil {
		return nil, err
	}
	lbID, _ := ParseLoadBalancerID("load_balancer_id", spec.LoadBalancerID)
	lb, err := c.modifyLB(ctx, lbID, func(lb *armnetwork.LoadBalancer) (bool, error) {
		return true, splice(lb, lbID, spec, mustBeNew)
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fieldErrorf("load_balancer_id", "load balancer %s was not found; check the id (e.g. the azurerm_lb's id output) and that the credential can read it", lbID.String())
		}
		return nil, err
	}
	props := lbProps(lb)
	r := findByName(props.LoadBalancingRules, spec.Name, ruleName)
	if r == nil {
		return nil, fmt.Errorf("azure: load balancer %s accepted the write but does not show rule %q", lbID.String(), spec.Name)
	}
	return ruleFromAzure(lbID, r, props.Probes), nil
}

// modifyLB is the read-modify-write loop every load balancer change goes through: under the
// per-load-balancer lock, read the load balancer, let edit change it, write it back conditional on
// the etag read, poll the operation to completion, and start over (bounded) when someone else
// wrote in between (412). edit returns false when there is nothing to write.
func (c *Client) modifyLB(ctx context.Context, lbID LoadBalancerID, edit func(*armnetwork.LoadBalancer) (bool, error)) (*armnetwork.LoadBalancer, error) {
	sc, err := c.clients("load_balancer_id", lbID.ResourceGroupID)
	if err != nil {
		return nil, err
	}
	unlock, err := c.lock(ctx, lbID.String())
	if err != nil {
		return nil, err
	}
	defer unlock()
	for attempt := 1; ; attempt++ {
		got, err := sc.loadBalancers.Get(ctx, lbID.ResourceGroup, lbID.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("reading load balancer %s: %w", lbID.String(), err)
		}
		lb := got.LoadBalancer
		changed, err := edit(&lb)
		if err != nil || !changed {
			return &lb, err
		}
		poller, err := sc.loadBalancers.BeginCreateOrUpdate(c.withIfMatch(ctx, lb.Etag), lbID.ResourceGroup, lbID.Name, lb, nil)
		if err == nil {
			var res armnetwork.LoadBalancersClientCreateOrUpdateResponse
			res, err = poller.PollUntilDone(ctx, c.pollOptions())
			if err == nil {
				return &res.LoadBalancer, nil
			}
		}
		if isPreconditionFailed(err) && attempt <= c.maxConflicts {
			continue // someone else wrote the load balancer after we read it: read it again
		}
		if isPreconditionFailed(err) {
			return nil, fmt.Errorf("load balancer %s changed under us %d times in a row (etag mismatch); another writer is busy on it, run the apply again: %w", lbID.String(), attempt, err)
		}
		return nil, fmt.Errorf("writing load balancer %s: %w", lbID.String(), err)
	}
}

func (c *Client) getLB(ctx context.Context, lbID LoadBalancerID) (*armnetwork.LoadBalancer, error) {
	sc, err := c.clients("load_balancer_id", lbID.ResourceGroupID)
	if err != nil {
		return nil, err
	}
	got, err := sc.loadBalancers.Get(ctx, lbID.ResourceGroup, lbID.Name, nil)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading load balancer %s: %w", lbID.String(), err)
	}
	return &got.LoadBalancer, nil
}

func lbProps(lb *armnetwork.LoadBalancer) *armnetwork.LoadBalancerPropertiesFormat {
	if lb.Properties == nil {
		lb.Properties = &armnetwork.LoadBalancerPropertiesFormat{}
	}
	return lb.Properties
}

// splice puts our rule and probe into lb, replacing them by name, and refuses to take a name,
// probe or frontend port that belongs to a rule we do not own.
func splice(lb *armnetwork.LoadBalancer, lbID LoadBalancerID, spec LBRuleSpec, mustBeNew bool) error {
	props := lbProps(lb)
	if err := checkReferences(props, lbID, spec); err != nil {
		return err
	}
	existing := findByName(props.LoadBalancingRules, spec.Name, ruleName)
	if existing != nil && mustBeNew {
		return &ConflictError{Field: "name", Other: spec.Name, Msg: fmt.Sprintf(
			"load balancer %s already has a load-balancing rule named %q; import it (terraform import <address> %s) or choose another name",
			lbID.Name, spec.Name, lbID.Child(lbRuleCollection, spec.Name))}
	}
	oldProbe := ""
	if existing != nil && existing.Properties != nil {
		oldProbe = lastSegment(subID(existing.Properties.Probe))
	}
	for _, other := range props.LoadBalancingRules {
		if other == nil || strings.EqualFold(ruleName(other), spec.Name) || other.Properties == nil {
			continue
		}
		op := other.Properties
		sameFrontend := strings.EqualFold(lastSegment(subID(op.FrontendIPConfiguration)), spec.FrontendIPConfigurationName)
		proto := string(deref(op.Protocol))
		overlap := strings.EqualFold(proto, spec.Protocol) || proto == "All" || spec.Protocol == "All"
		if sameFrontend && overlap && deref(op.FrontendPort) == spec.FrontendPort {
			return &ConflictError{Field: "frontend_port", Other: ruleName(other), Msg: fmt.Sprintf(
				"port %d/%s on frontend %q is already used by load-balancing rule %q on load balancer %s; choose another frontend port",
				spec.FrontendPort, spec.Protocol, spec.FrontendIPConfigurationName, ruleName(other), lbID.Name)}
		}
	}

	probeID := ""
	if spec.ProbeRefID != "" {
		name := lastSegment(spec.ProbeRefID)
		pr := findByName(props.Probes, name, probeNameOf)
		if pr == nil {
			return fieldErrorf("probe_id", "load balancer %s has no probe %q; it has: %s", lbID.Name, name, namesOf(props.Probes, probeNameOf))
		}
		probeID = lbID.Child(probeCollection, deref(pr.Name))
	}
	if spec.Probe != nil {
		if users := probeUsers(props, spec.Probe.Name, spec.Name); len(users) > 0 {
			return &ConflictError{Field: "probe.name", Other: users[0], Msg: fmt.Sprintf(
				"probe %q on load balancer %s is used by load-balancing rule %q, which this resource does not own; choose another probe name",
				spec.Probe.Name, lbID.Name, users[0])}
		}
		// A probe of this name that no rule uses is adopted: it is ours, left behind when our
		// rule was removed out of band, and nothing else can depend on it.
		probeID = lbID.Child(probeCollection, spec.Probe.Name)
		props.Probes = replaceByName(props.Probes, spec.Probe.azureProbe(lbID), probeNameOf)
	}
	props.LoadBalancingRules = replaceByName(props.LoadBalancingRules, spec.azureRule(lbID, probeID), ruleName)
	// A probe the rule used before is removed when nothing uses it any more, unless the rule now
	// uses an existing probe (the old one may be someone else's too) or used one before
	// (PriorProbeNotOwned): then it stays.
	if oldProbe != "" && spec.ProbeRefID == "" && !spec.PriorProbeNotOwned && (spec.Probe == nil || !strings.EqualFold(oldProbe, spec.Probe.Name)) && len(probeUsers(props, oldProbe, "")) == 0 {
		props.Probes = removeByName(props.Probes, oldProbe, probeNameOf)
	}
	return nil
}

// checkReferences gives a clear error for a frontend or pool the load balancer does not have,
// instead of Azure's InvalidResourceReference.
func checkReferences(props *armnetwork.LoadBalancerPropertiesFormat, lbID LoadBalancerID, spec LBRuleSpec) error {
	if findByName(props.FrontendIPConfigurations, spec.FrontendIPConfigurationName, func(f *armnetwork.FrontendIPConfiguration) string { return deref(f.Name) }) == nil {
		return fieldErrorf("frontend_ip_configuration_name", "load balancer %s has no frontend IP configuration %q; it has: %s",
			lbID.Name, spec.FrontendIPConfigurationName, namesOf(props.FrontendIPConfigurations, func(f *armnetwork.FrontendIPConfiguration) string { return deref(f.Name) }))
	}
	for i, id := range spec.BackendPoolIDs {
		pool := lastSegment(id)
		if findByName(props.BackendAddressPools, pool, func(p *armnetwork.BackendAddressPool) string { return deref(p.Name) }) == nil {
			return fieldErrorf(fmt.Sprintf("backend_address_pool_ids[%d]", i), "load balancer %s has no backend address pool %q; it has: %s",
				lbID.Name, pool, namesOf(props.BackendAddressPools, func(p *armnetwork.BackendAddressPool) string { return deref(p.Name) }))
		}
	}
	return nil
}

// probeUsers lists the rules other than except that reference the named probe.
func probeUsers(props *armnetwork.LoadBalancerPropertiesFormat, probe, except string) []string {
	var users []string
	for _, r := range props.LoadBalancingRules {
		if r == nil || r.Properties == nil || strings.EqualFold(ruleName(r), except) {
			continue
		}
		if id := subID(r.Properties.Probe); id != "" && strings.EqualFold(lastSegment(id), probe) {
			users = append(users, ruleName(r))
		}
	}
	return users
}

func replaceByName[T any](items []*T, item *T, nameOf func(*T) string) []*T {
	for i, it := range items {
		if it != nil && strings.EqualFold(nameOf(it), nameOf(item)) {
			items[i] = item
			return items
		}
	}
	return append(items, item)
}

func removeByName[T any](items []*T, name string, nameOf func(*T) string) []*T {
	return slices.DeleteFunc(items, func(it *T) bool { return it != nil && strings.EqualFold(nameOf(it), name) })
}

func namesOf[T any](items []*T, nameOf func(*T) string) string {
	var names []string
	for _, it := range items {
		if it != nil {
			names = append(names, fmt.Sprintf("%q", nameOf(it)))
		}
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
