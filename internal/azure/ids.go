package azure

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
)

const (
	loadBalancerType  = "Microsoft.Network/loadBalancers"
	lbRuleType        = "Microsoft.Network/loadBalancers/loadBalancingRules"
	backendPoolType   = "Microsoft.Network/loadBalancers/backendAddressPools"
	nsgType           = "Microsoft.Network/networkSecurityGroups"
	nsgRuleType       = "Microsoft.Network/networkSecurityGroups/securityRules"
	idExamplePrefix   = "/subscriptions/<subscription>/resourceGroups/<group>/providers/"
	idExampleLB       = idExamplePrefix + "Microsoft.Network/loadBalancers/<lb>"
	idExampleNSG      = idExamplePrefix + "Microsoft.Network/networkSecurityGroups/<nsg>"
	idExampleLBRule   = idExampleLB + "/loadBalancingRules/<rule>"
	idExamplePool     = idExampleLB + "/backendAddressPools/<pool>"
	idExampleNSGRule  = idExampleNSG + "/securityRules/<rule>"
	lbRuleCollection  = "loadBalancingRules"
	probeCollection   = "probes"
	frontendIPConfigs = "frontendIPConfigurations"
)

// ResourceGroupID locates a top-level resource (load balancer or network security group).
type ResourceGroupID struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
	typ            string
}

// LoadBalancerID identifies a load balancer.
type LoadBalancerID struct{ ResourceGroupID }

// NSGID identifies a network security group.
type NSGID struct{ ResourceGroupID }

// String renders the canonical ARM id.
func (id ResourceGroupID) String() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", id.SubscriptionID, id.ResourceGroup, id.typ, id.Name)
}

// Child renders the id of a sub-resource, e.g. Child("probes", "web").
func (id ResourceGroupID) Child(collection, name string) string {
	return id.String() + "/" + collection + "/" + name
}

// ParseLoadBalancerID parses a load balancer id; field names the input in the error.
func ParseLoadBalancerID(field, s string) (LoadBalancerID, error) {
	rid, err := parseTyped(field, s, loadBalancerType, idExampleLB)
	if err != nil {
		return LoadBalancerID{}, err
	}
	return LoadBalancerID{fromARM(rid, loadBalancerType)}, nil
}

// ParseNSGID parses a network security group id; field names the input in the error.
func ParseNSGID(field, s string) (NSGID, error) {
	rid, err := parseTyped(field, s, nsgType, idExampleNSG)
	if err != nil {
		return NSGID{}, err
	}
	return NSGID{fromARM(rid, nsgType)}, nil
}

// ParseLBRuleID parses a load-balancing rule id (what `terraform import` is given).
func ParseLBRuleID(s string) (LoadBalancerID, string, error) {
	rid, err := parseTyped("id", s, lbRuleType, idExampleLBRule)
	if err != nil {
		return LoadBalancerID{}, "", err
	}
	return LoadBalancerID{fromARM(rid.Parent, loadBalancerType)}, rid.Name, nil
}

// ParseNSGRuleID parses a security rule id (what `terraform import` is given).
func ParseNSGRuleID(s string) (NSGID, string, error) {
	rid, err := parseTyped("id", s, nsgRuleType, idExampleNSGRule)
	if err != nil {
		return NSGID{}, "", err
	}
	return NSGID{fromARM(rid.Parent, nsgType)}, rid.Name, nil
}

// parseBackendPoolID parses a backend address pool id and returns its load balancer.
func parseBackendPoolID(field, s string) (LoadBalancerID, error) {
	rid, err := parseTyped(field, s, backendPoolType, idExamplePool)
	if err != nil {
		return LoadBalancerID{}, err
	}
	return LoadBalancerID{fromARM(rid.Parent, loadBalancerType)}, nil
}

func parseTyped(field, s, wantType, example string) (*arm.ResourceID, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fieldErrorf(field, "is empty; expected an Azure resource id like %s", example)
	}
	rid, err := arm.ParseResourceID(s)
	if err != nil {
		return nil, fieldErrorf(field, "%q is not an Azure resource id (%v); expected %s", s, err, example)
	}
	if !strings.EqualFold(rid.ResourceType.String(), wantType) {
		return nil, fieldErrorf(field, "%q is a %s id; expected a %s id like %s", s, rid.ResourceType.String(), wantType, example)
	}
	if rid.SubscriptionID == "" || rid.ResourceGroupName == "" {
		return nil, fieldErrorf(field, "%q lacks a subscription or resource group; expected %s", s, example)
	}
	return rid, nil
}

func fromARM(rid *arm.ResourceID, typ string) ResourceGroupID {
	return ResourceGroupID{SubscriptionID: rid.SubscriptionID, ResourceGroup: rid.ResourceGroupName, Name: rid.Name, typ: typ}
}

// sameID compares ARM ids the way ARM does: case-insensitively.
func sameID(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}
