package azure

import (
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Environment names an Azure cloud the way azurerm's ARM_ENVIRONMENT does.
type Environment string

const (
	EnvironmentPublic       Environment = "public"
	EnvironmentChina        Environment = "china"
	EnvironmentUSGovernment Environment = "usgovernment"
)

// Environments lists the accepted values, for validators and docs.
var Environments = []string{string(EnvironmentPublic), string(EnvironmentChina), string(EnvironmentUSGovernment)}

// ParseEnvironment accepts "public", "china" or "usgovernment" (any case); empty means public.
func ParseEnvironment(s string) (Environment, error) {
	switch e := Environment(strings.ToLower(strings.TrimSpace(s))); e {
	case "":
		return EnvironmentPublic, nil
	case EnvironmentPublic, EnvironmentChina, EnvironmentUSGovernment:
		return e, nil
	}
	return "", fieldErrorf("environment", "%q is not an Azure cloud; use one of %s", s, strings.Join(Environments, ", "))
}

// Cloud returns azcore's endpoints for the environment.
func (e Environment) Cloud() cloud.Configuration {
	switch e {
	case EnvironmentChina:
		return cloud.AzureChina
	case EnvironmentUSGovernment:
		return cloud.AzureGovernment
	}
	return cloud.AzurePublic
}

// Config is what the provider's azure block (or the ARM_* environment) says.
type Config struct {
	SubscriptionID string
	Environment    Environment
	TenantID       string
	ClientID       string
	ClientSecret   string
}

// String never shows the secret: configs end up in logs and panics.
func (c Config) String() string {
	secret := ""
	if c.ClientSecret != "" {
		secret = "(set)"
	}
	return fmt.Sprintf("azure.Config{subscription_id=%q environment=%q tenant_id=%q client_id=%q client_secret=%s}",
		c.SubscriptionID, c.Environment, c.TenantID, c.ClientID, secret)
}

// GoString keeps %#v from printing the secret too.
func (c Config) GoString() string { return c.String() }

// The environment variables azurerm users already set.
const (
	EnvSubscriptionID = "ARM_SUBSCRIPTION_ID"
	EnvTenantID       = "ARM_TENANT_ID"
	EnvClientID       = "ARM_CLIENT_ID"
	EnvClientSecret   = "ARM_CLIENT_SECRET"
	EnvEnvironment    = "ARM_ENVIRONMENT"
)

// WithEnvDefaults fills every empty field from the ARM_* variables returned by getenv
// (os.Getenv when nil). Explicit configuration always wins.
func (c Config) WithEnvDefaults(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fill := func(v *string, env string) {
		if *v == "" {
			*v = strings.TrimSpace(getenv(env))
		}
	}
	fill(&c.SubscriptionID, EnvSubscriptionID)
	fill(&c.TenantID, EnvTenantID)
	fill(&c.ClientID, EnvClientID)
	fill(&c.ClientSecret, EnvClientSecret)
	env := string(c.Environment)
	fill(&env, EnvEnvironment)
	e, err := ParseEnvironment(env)
	if err != nil {
		return c, err
	}
	c.Environment = e
	return c, nil
}

// NewCredential picks the credential the configuration asks for:
//   - client_secret set: a service principal secret (tenant_id and client_id required);
//   - client_id set without a secret: that user-assigned identity, through workload identity
//     (when AZURE_FEDERATED_TOKEN_FILE is present, as on AKS) or managed identity;
//   - nothing set: azidentity's DefaultAzureCredential (environment, workload identity, managed
//     identity, Azure CLI), restricted to tenant_id when one is given.
func NewCredential(c Config) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{Cloud: c.Environment.Cloud()}
	switch {
	case c.ClientSecret != "":
		if c.TenantID == "" {
			return nil, fieldErrorf("tenant_id", "is required with client_secret; set tenant_id or %s", EnvTenantID)
		}
		if c.ClientID == "" {
			return nil, fieldErrorf("client_id", "is required with client_secret; set client_id or %s", EnvClientID)
		}
		cred, err := azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
		if err != nil {
			return nil, fmt.Errorf("client_secret credential: %w", err)
		}
		return cred, nil
	case c.ClientID != "":
		var sources []azcore.TokenCredential
		if os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "" {
			wi, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions: opts, ClientID: c.ClientID, TenantID: c.TenantID})
			if err != nil {
				return nil, fmt.Errorf("workload identity credential for client_id %q: %w", c.ClientID, err)
			}
			sources = append(sources, wi)
		}
		mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ClientOptions: policy.ClientOptions{Cloud: opts.Cloud}, ID: azidentity.ClientID(c.ClientID)})
		if err != nil {
			return nil, fmt.Errorf("managed identity credential for client_id %q: %w", c.ClientID, err)
		}
		sources = append(sources, mi)
		return azidentity.NewChainedTokenCredential(sources, nil)
	default:
		cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: opts, TenantID: c.TenantID})
		if err != nil {
			return nil, fmt.Errorf("default Azure credential (environment, workload identity, managed identity, Azure CLI): %w", err)
		}
		return cred, nil
	}
}
