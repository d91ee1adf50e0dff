package azure_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
)

func TestConfigEnvDefaultsExplicitWins(t *testing.T) {
	env := map[string]string{
		"ARM_SUBSCRIPTION_ID": "env-sub", "ARM_TENANT_ID": "env-tenant", "ARM_CLIENT_ID": "env-client",
		"ARM_CLIENT_SECRET": "env-secret", "ARM_ENVIRONMENT": "USGovernment",
	}
	got, err := azure.Config{SubscriptionID: "hcl-sub"}.WithEnvDefaults(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := azure.Config{SubscriptionID: "hcl-sub", TenantID: "env-tenant", ClientID: "env-client", ClientSecret: "env-secret", Environment: azure.EnvironmentUSGovernment}
	if got != want {
		t.Errorf("got %#v want %#v", got, want)
	}
	if got.Environment.Cloud().ActiveDirectoryAuthorityHost != cloud.AzureGovernment.ActiveDirectoryAuthorityHost {
		t.Errorf("usgovernment does not map to the US Gov cloud")
	}
	_, err = azure.Config{}.WithEnvDefaults(func(k string) string { return map[string]string{"ARM_ENVIRONMENT": "german"}[k] })
	wantFieldError(t, err, "environment", `"german"`, "public", "china", "usgovernment")
}

func TestConfigNeverPrintsTheSecret(t *testing.T) {
	c := azure.Config{ClientID: "app", ClientSecret: "s3cr3t-value"}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestNewCredentialFollowsTheConfig(t *testing.T) {
	cred, err := azure.NewCredential(azure.Config{TenantID: "00000000-0000-0000-0000-000000000001", ClientID: "app", ClientSecret: "s"})
	if _, ok := cred.(*azidentity.ClientSecretCredential); err != nil || !ok {
		t.Errorf("with a secret: %T %v; want a client secret credential", cred, err)
	}
	cred, err = azure.NewCredential(azure.Config{ClientID: "user-assigned"})
	if _, ok := cred.(*azidentity.ChainedTokenCredential); err != nil || !ok {
		t.Errorf("with only a client id: %T %v; want the managed/workload identity chain", cred, err)
	}
	cred, err = azure.NewCredential(azure.Config{})
	if _, ok := cred.(*azidentity.DefaultAzureCredential); err != nil || !ok {
		t.Errorf("with nothing: %T %v; want DefaultAzureCredential", cred, err)
	}
	_, err = azure.NewCredential(azure.Config{ClientID: "app", ClientSecret: "s"})
	wantFieldError(t, err, "tenant_id", "ARM_TENANT_ID")
	_, err = azure.NewCredential(azure.Config{TenantID: "t", ClientSecret: "s"})
	wantFieldError(t, err, "client_id", "ARM_CLIENT_ID")
}
