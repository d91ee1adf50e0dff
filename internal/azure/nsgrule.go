package azure

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

const (
	MinNSGPriority       = 100
	MaxNSGPriority       = 4096
	MaxNSGDescription    = 140
	DirectionInbound     = "Inbound"
	DirectionOutbound    = "Outbound"
	AccessAllow          = "Allow"
	AccessDeny           = "Deny"
	OpenToTheWorldAdvice = `write source_address_prefixes = ["*"] (or ["Internet"]) to open the port to the world, or list the networks that may connect, e.g. ["203.0.113.0/24"]`
)

var portRangeRE = regexp.MustCompile(`^(\d{1,5})(-(\d{1,5}))?$`)

// NSGRuleSpec is a security rule on a network security group.
type NSGRuleSpec struct {
	NSGID                    string
	Name                     string
	Priority                 int32
	Direction                string // "": Inbound; or Outbound
	Access                   string // "": Allow; or Deny
	Protocol                 string // Tcp, Udp, Icmp, Esp, Ah, *
	DestinationPortRanges    []string
	SourcePortRanges         []string // empty: ["*"]
	SourceAddressPrefixes    []string // required: no silent "open to the world"
	DestinationAddressPrefix string   // "": "*"
	Description              string
}

// NSGRule is a security rule as Azure has it.
type NSGRule struct {
	ID   string
	Spec NSGRuleSpec
}

// Normalized applies the defaults and checks every field, returning all problems at once.
func (s NSGRuleSpec) Normalized() (NSGRuleSpec, error) {
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, fieldErrorf(field, format, args...)) }
	if _, err := ParseNSGID("network_security_group_id", s.NSGID); err != nil {
		errs = append(errs, err)
	}
	if !azureNameRE.MatchString(s.Name) {
		bad("name", "%q is not a valid Azure rule name (%s)", s.Name, azureNameRuleHuman)
	}
	if s.Priority < MinNSGPriority || s.Priority > MaxNSGPriority {
		bad("priority", "%d is out of range; Azure accepts %d..%d (lower numbers are evaluated first)", s.Priority, MinNSGPriority, MaxNSGPriority)
	}
	var err error
	if s.Direction, err = oneOf("direction", s.Direction, NSGDirections, DirectionInbound); err != nil {
		errs = append(errs, err)
	}
	if s.Access, err = oneOf("access", s.Access, NSGAccesses, AccessAllow); err != nil {
		errs = append(errs, err)
	}
	if s.Protocol, err = oneOf("protocol", s.Protocol, NSGProtocols, ""); err != nil {
		errs = append(errs, err)
	}
	if err := CheckPortRanges("destination_port_ranges", s.DestinationPortRanges); err != nil {
		errs = append(errs, err)
	}
	if len(s.SourcePortRanges) == 0 {
		s.SourcePortRanges = []string{"*"}
	} else if err := CheckPortRanges("source_port_ranges", s.SourcePortRanges); err != nil {
		errs = append(errs, err)
	}
	if err := CheckSourcePrefixes("source_address_prefixes", s.SourceAddressPrefixes); err != nil {
		errs = append(errs, err)
	}
	if s.DestinationAddressPrefix == "" {
		s.DestinationAddressPrefix = "*"
	} else if err := checkPrefix(s.DestinationAddressPrefix, 1); err != nil {
		bad("destination_address_prefix", "%v", err)
	}
	if len(s.Description) > MaxNSGDescription {
		bad("description", "is %d characters; Azure accepts at most %d", len(s.Description), MaxNSGDescription)
	}
	return s, errors.Join(errs...)
}

// CheckPortRanges requires at least one destination port range and checks each one; problems are
// *FieldError values joined with errors.Join.
func CheckPortRanges(field string, ranges []string) error {
	if len(ranges) == 0 {
		return fieldErrorf(field, `is empty; give the ports to open, e.g. ["9050"] or ["8000-8100"]`)
	}
	var errs []error
	for i, r := range ranges {
		if err := checkPortRange(fmt.Sprintf("%s[%d]", field, i), r, len(ranges)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkPortRange reports whether r is a port ("9050"), a range ("8000-8100") or "*" (only when
// it is the rule's one range, n == 1).
func checkPortRange(field, r string, n int) error {
	if r == "*" {
		if n > 1 {
			return fieldErrorf(field, `"*" means every port and cannot be listed with other ranges`)
		}
		return nil
	}
	m := portRangeRE.FindStringSubmatch(r)
	if m == nil {
		return fieldErrorf(field, `%q is not a port or range; write "9050" or "8000-8100"`, r)
	}
	lo, _ := strconv.Atoi(m[1])
	hi := lo
	if m[3] != "" {
		hi, _ = strconv.Atoi(m[3])
	}
	if lo < MinPort || hi > MaxPort || lo > hi {
		return fieldErrorf(field, "%q is out of range; ports are %d..%d and a range goes low-high", r, MinPort, MaxPort)
	}
	return nil
}

// CheckSourcePrefixes requires at least one source prefix (no silent "open to the world") and
// checks each one; problems are *FieldError values joined with errors.Join.
func CheckSourcePrefixes(field string, prefixes []string) error {
	if len(prefixes) == 0 {
		return fieldErrorf(field, "is required and may not be empty: %s", OpenToTheWorldAdvice)
	}
	var errs []error
	for i, p := range prefixes {
		if err := checkPrefix(p, len(prefixes)); err != nil {
			errs = append(errs, fieldErrorf(fmt.Sprintf("%s[%d]", field, i), "%v", err))
		}
	}
	return errors.Join(errs...)
}

// checkPrefix accepts an IP, a CIDR, "*" or a service tag (Internet, VirtualNetwork, AzureLoadBalancer,
// Storage.WestEurope, ...). Azure only takes "*" or a tag as the single prefix of a rule.
func checkPrefix(p string, n int) error {
	if _, err := netip.ParsePrefix(p); err == nil {
		return nil
	}
	if _, err := netip.ParseAddr(p); err == nil {
		return nil
	}
	if p == "*" || serviceTagRE.MatchString(p) {
		if n > 1 {
			return fmt.Errorf("%q is \"*\" or a service tag, which Azure accepts only as the only prefix of a rule; make it a rule of its own", p)
		}
		return nil
	}
	return fmt.Errorf(`%q is not an IP address, CIDR prefix, "*" or service tag`, p)
}

var serviceTagRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)?$`)

func (s NSGRuleSpec) azureRule() armnetwork.SecurityRule {
	p := &armnetwork.SecurityRulePropertiesFormat{
		Access:                   to.Ptr(armnetwork.SecurityRuleAccess(s.Access)),
		Direction:                to.Ptr(armnetwork.SecurityRuleDirection(s.Direction)),
		Priority:                 to.Ptr(s.Priority),
		Protocol:                 to.Ptr(armnetwork.SecurityRuleProtocol(s.Protocol)),
		DestinationAddressPrefix: to.Ptr(s.DestinationAddressPrefix),
	}
	if len(s.SourcePortRanges) <= 1 {
		p.SourcePortRange = to.Ptr("*")
		if len(s.SourcePortRanges) == 1 {
			p.SourcePortRange = to.Ptr(s.SourcePortRanges[0])
		}
	} else {
		p.SourcePortRanges = to.SliceOfPtrs(s.SourcePortRanges...)
	}
	// Azure wants a single value in the singular field and several in the plural one.
	if len(s.SourceAddressPrefixes) == 1 {
		p.SourceAddressPrefix = to.Ptr(s.SourceAddressPrefixes[0])
	} else {
		p.SourceAddressPrefixes = to.SliceOfPtrs(s.SourceAddressPrefixes...)
	}
	if len(s.DestinationPortRanges) == 1 {
		p.DestinationPortRange = to.Ptr(s.DestinationPortRanges[0])
	} else {
		p.DestinationPortRanges = to.SliceOfPtrs(s.DestinationPortRanges...)
	}
	if s.Description != "" {
		p.Description = to.Ptr(s.Description)
	}
	return armnetwork.SecurityRule{Name: to.Ptr(s.Name), Properties: p}
}

func nsgRuleFromAzure(nsg NSGID, r *armnetwork.SecurityRule) *NSGRule {
	p := r.Properties
	if p == nil {
		p = &armnetwork.SecurityRulePropertiesFormat{}
	}
	out := &NSGRule{ID: deref(r.ID), Spec: NSGRuleSpec{
		NSGID:                    nsg.String(),
		Name:                     deref(r.Name),
		Priority:                 deref(p.Priority),
		Direction:                string(deref(p.Direction)),
		Access:                   string(deref(p.Access)),
		Protocol:                 string(deref(p.Protocol)),
		DestinationAddressPrefix: deref(p.DestinationAddressPrefix),
		Description:              deref(p.Description),
		SourceAddressPrefixes:    singleOrMany(p.SourceAddressPrefix, p.SourceAddressPrefixes),
		DestinationPortRanges:    singleOrMany(p.DestinationPortRange, p.DestinationPortRanges),
		SourcePortRanges:         singleOrMany(p.SourcePortRange, p.SourcePortRanges),
	}}
	if out.ID == "" {
		out.ID = nsg.Child("securityRules", out.Spec.Name)
	}
	return out
}

func singleOrMany(one *string, many []*string) []string {
	var out []string
	if v := deref(one); v != "" {
		out = append(out, v)
	}
	for _, v := range many {
		if v != nil && *v != "" {
			out = append(out, *v)
		}
	}
	return out
}

// CreateNSGRule adds the rule. Its name, or its priority in the same direction, already used by
// another rule is a *ConflictError naming that rule.
func (c *Client) CreateNSGRule(ctx context.Context, spec NSGRuleSpec) (*NSGRule, error) {
	return c.writeNSGRule(ctx, spec, true)
}

// EnsureNSGRule makes the named rule look like spec (the update path).
func (c *Client) EnsureNSGRule(ctx context.Context, spec NSGRuleSpec) (*NSGRule, error) {
	return c.writeNSGRule(ctx, spec, false)
}

// GetNSGRule returns nil, nil when the rule or its security group is gone.
func (c *Client) GetNSGRule(ctx context.Context, nsgID, name string) (*NSGRule, error) {
	id, err := ParseNSGID("network_security_group_id", nsgID)
	if err != nil {
		return nil, err
	}
	sc, err := c.clients("network_security_group_id", id.ResourceGroupID)
	if err != nil {
		return nil, err
	}
	got, err := sc.securityRules.Get(ctx, id.ResourceGroup, id.Name, name, nil)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading security rule %q of %s: %w", name, id.String(), err)
	}
	return nsgRuleFromAzure(id, &got.SecurityRule), nil
}

// DeleteNSGRule removes the rule; a missing rule or security group is not an error. The delete
// carries If-Match with the etag just read, so a rule another writer changed since is not removed:
// that is a *ConflictError describing the rule as it now is.
func (c *Client) DeleteNSGRule(ctx context.Context, nsgID, name string) error {
	id, err := ParseNSGID("network_security_group_id", nsgID)
	if err != nil {
		return err
	}
	sc, err := c.clients("network_security_group_id", id.ResourceGroupID)
	if err != nil {
		return err
	}
	unlock, err := c.lock(ctx, id.String())
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := sc.securityRules.Get(ctx, id.ResourceGroup, id.Name, name, nil)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading security rule %q of %s before deleting it: %w", name, id.String(), err)
	}
	etag := deref(cur.Etag)
	poller, err := sc.securityRules.BeginDelete(c.withConditions(ctx, etag, ""), id.ResourceGroup, id.Name, name, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, c.pollOptions())
	}
	if isPreconditionFailed(err) {
		return c.ruleChangedError(ctx, sc, id, name, etag, "deleted", err)
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting security rule %q of %s: %w", name, id.String(), err)
	}
	return nil
}

func (c *Client) writeNSGRule(ctx context.Context, spec NSGRuleSpec, mustBeNew bool) (*NSGRule, error) {
	spec, err := spec.Normalized()
	if err != nil {
		return nil, err
	}
	id, _ := ParseNSGID("network_security_group_id", spec.NSGID)
	sc, err := c.clients("network_security_group_id", id.ResourceGroupID)
	if err != nil {
		return nil, err
	}
	// The lock orders writers in this process; the conditional headers below are what protects the
	// rule from writers elsewhere (another Terraform run, the portal, azurerm).
	unlock, err := c.lock(ctx, id.String())
	if err != nil {
		return nil, err
	}
	defer unlock()
	etag, err := c.checkNSGConflicts(ctx, sc, id, spec, mustBeNew)
	if err != nil {
		return nil, err
	}
	// Create only if the name is still free (If-None-Match: *); update only the version just read
	// (If-Match). A rule removed out of band is written back as a create.
	wctx := c.withConditions(ctx, "", "*")
	if etag != "" {
		wctx = c.withConditions(ctx, etag, "")
	}
	poller, err := sc.securityRules.BeginCreateOrUpdate(wctx, id.ResourceGroup, id.Name, spec.Name, spec.azureRule(), nil)
	var res armnetwork.SecurityRulesClientCreateOrUpdateResponse
	if err == nil {
		res, err = poller.PollUntilDone(ctx, c.pollOptions())
	}
	if isPreconditionFailed(err) {
		verb := "updated"
		if etag == "" {
			verb = "created"
		}
		return nil, c.ruleChangedError(ctx, sc, id, spec.Name, etag, verb, err)
	}
	if err != nil {
		return nil, fmt.Errorf("writing security rule %q of %s: %w", spec.Name, id.String(), err)
	}
	return nsgRuleFromAzure(id, &res.SecurityRule), nil
}

// ruleChangedError turns Azure's 412 for a conditional rule write into a *ConflictError that says
// what the other writer left behind: Azure does not say who wrote it, so the rule's etag,
// priority, ports, sources and description are what the user can go by.
func (c *Client) ruleChangedError(ctx context.Context, sc *subscriptionClients, id NSGID, name, readEtag, verb string, cause error) error {
	var what string
	if readEtag == "" {
		what = fmt.Sprintf("another writer created security rule %q on network security group %s after this provider checked the name was free", name, id.Name)
	} else {
		what = fmt.Sprintf("another writer changed or removed security rule %q on network security group %s after this provider read it (etag %s)", name, id.Name, readEtag)
	}
	now := "it is now gone"
	if got, err := sc.securityRules.Get(ctx, id.ResourceGroup, id.Name, name, nil); err == nil {
		r := nsgRuleFromAzure(id, &got.SecurityRule).Spec
		now = fmt.Sprintf("it now has etag %s, priority %d, %s %s %s ports %v from %v, description %q",
			deref(got.Etag), r.Priority, r.Direction, r.Access, r.Protocol, r.DestinationPortRanges, r.SourceAddressPrefixes, r.Description)
	} else if !isNotFound(err) {
		now = fmt.Sprintf("re-reading it failed: %v", err)
	}
	fix := "run terraform plan to see the other writer's version, then apply again or remove one of the writers"
	if readEtag == "" {
		fix = fmt.Sprintf("choose another name, or import the rule (terraform import <address> %s) if it should be managed here", id.Child("securityRules", name))
	}
	return &ConflictError{Field: "name", Other: name, Cause: cause, Msg: fmt.Sprintf(
		"%s; Azure refused the conditional write (412 Precondition Failed), so nothing was %s or overwritten; %s (Azure does not say who wrote it); %s",
		what, verb, now, fix)}
}

// checkNSGConflicts lists the security group's rules and refuses a taken name (on create) or a
// priority used by another rule in the same direction. It returns the etag of the rule named
// spec.Name, or "" when there is none.
func (c *Client) checkNSGConflicts(ctx context.Context, sc *subscriptionClients, id NSGID, spec NSGRuleSpec, mustBeNew bool) (string, error) {
	etag := ""
	pager := sc.securityRules.NewListPager(id.ResourceGroup, id.Name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if isNotFound(err) {
			return "", fieldErrorf("network_security_group_id", "network security group %s was not found; check the id (e.g. the azurerm_network_security_group's id output) and that the credential can read it", id.String())
		}
		if err != nil {
			return "", fmt.Errorf("listing the security rules of %s: %w", id.String(), err)
		}
		for _, r := range page.Value {
			if r == nil || r.Properties == nil {
				continue
			}
			other := deref(r.Name)
			if strings.EqualFold(other, spec.Name) {
				if mustBeNew {
					return "", &ConflictError{Field: "name", Other: other, Msg: fmt.Sprintf(
						"network security group %s already has a rule named %q; import it (terraform import <address> %s) or choose another name",
						id.Name, other, id.Child("securityRules", other))}
				}
				etag = deref(r.Etag)
				continue
			}
			if deref(r.Properties.Priority) == spec.Priority && strings.EqualFold(string(deref(r.Properties.Direction)), spec.Direction) {
				return "", &ConflictError{Field: "priority", Other: other, Msg: fmt.Sprintf(
					"priority %d is already used by %s rule %q on network security group %s; priorities are unique per direction, choose a free one",
					spec.Priority, strings.ToLower(spec.Direction), other, id.Name)}
			}
		}
	}
	return etag, nil
}
