package azure

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// Options tune a Client. The zero value is right for production.
type Options struct {
	// Environment selects the cloud (public when empty).
	Environment Environment
	// Transport replaces the HTTP transport; tests pass azurefake's.
	Transport policy.Transporter
	// Retry configures azcore's retry policy, which retries throttling (429) and transient server
	// errors with exponential backoff and honours Retry-After. Zero value: DefaultRetry().
	Retry policy.RetryOptions
	// PollFrequency is the interval between polls of a long-running operation when Azure sends no
	// Retry-After. Zero: 5s. azcore refuses less than one second outside tests.
	PollFrequency time.Duration
	// MaxConflictRetries bounds how often a write that lost an etag race (412) is re-read and
	// retried. Zero: 8.
	MaxConflictRetries int

	// DisableProcessLock turns off the per-load-balancer lock. Tests only: it lets a test show
	// that the etag alone prevents lost updates.
	DisableProcessLock bool
	// DisableIfMatch stops sending If-Match and If-None-Match. Tests only: it lets a test show
	// that the lost update happens without them.
	DisableIfMatch bool
}

// DefaultRetry is the retry policy used when Options.Retry is zero: up to 6 retries of 408, 429
// and 5xx gateway/availability errors, starting at 2s, capped at 60s (Retry-After wins).
func DefaultRetry() policy.RetryOptions {
	return policy.RetryOptions{
		MaxRetries:    6,
		RetryDelay:    2 * time.Second,
		MaxRetryDelay: 60 * time.Second,
		StatusCodes: []int{
			http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		},
	}
}

// Client writes load-balancing rules, probes and security rules. It is safe for concurrent use.
type Client struct {
	subscriptionID string
	cred           azcore.TokenCredential
	armOpts        *arm.ClientOptions
	pollFrequency  time.Duration
	maxConflicts   int
	locks          *keyedLocks // nil when disabled
	ifMatch        bool

	mu   sync.Mutex
	subs map[string]*subscriptionClients
}

type subscriptionClients struct {
	loadBalancers *armnetwork.LoadBalancersClient
	securityRules *armnetwork.SecurityRulesClient
}

// NewClient builds a Client. subscriptionID, when set, is the only subscription whose resources
// it will write: an id from another subscription is refused rather than silently followed.
func NewClient(subscriptionID string, cred azcore.TokenCredential, opts Options) (*Client, error) {
	if cred == nil {
		return nil, fmt.Errorf("azure: no credential")
	}
	retry := opts.Retry
	if retry.MaxRetries == 0 && retry.RetryDelay == 0 && retry.StatusCodes == nil {
		retry = DefaultRetry()
	}
	c := &Client{
		subscriptionID: strings.TrimSpace(subscriptionID),
		cred:           cred,
		armOpts: &arm.ClientOptions{ClientOptions: policy.ClientOptions{
			Cloud:     opts.Environment.Cloud(),
			Retry:     retry,
			Transport: opts.Transport,
			Telemetry: policy.TelemetryOptions{ApplicationID: "terraform-provider-vamp"},
		}},
		pollFrequency: opts.PollFrequency,
		maxConflicts:  opts.MaxConflictRetries,
		locks:         processLocks,
		ifMatch:       !opts.DisableIfMatch,
		subs:          map[string]*subscriptionClients{},
	}
	if c.pollFrequency == 0 {
		c.pollFrequency = 5 * time.Second
	}
	if c.maxConflicts == 0 {
		c.maxConflicts = 8
	}
	if opts.DisableProcessLock {
		c.locks = nil
	}
	return c, nil
}

// clients returns the armnetwork clients for the subscription of a resource id.
func (c *Client) clients(field string, id ResourceGroupID) (*subscriptionClients, error) {
	if c.subscriptionID != "" && !strings.EqualFold(c.subscriptionID, id.SubscriptionID) {
		return nil, fieldErrorf(field, "%s is in subscription %s, but the provider's azure block is configured for subscription %s; use an id from that subscription or configure the provider for %s",
			id.String(), id.SubscriptionID, c.subscriptionID, id.SubscriptionID)
	}
	key := strings.ToLower(id.SubscriptionID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if sc, ok := c.subs[key]; ok {
		return sc, nil
	}
	lbs, err := armnetwork.NewLoadBalancersClient(id.SubscriptionID, c.cred, c.armOpts)
	if err != nil {
		return nil, fmt.Errorf("azure: load balancers client: %w", err)
	}
	rules, err := armnetwork.NewSecurityRulesClient(id.SubscriptionID, c.cred, c.armOpts)
	if err != nil {
		return nil, fmt.Errorf("azure: security rules client: %w", err)
	}
	sc := &subscriptionClients{loadBalancers: lbs, securityRules: rules}
	c.subs[key] = sc
	return sc, nil
}

// lock takes the in-process lock for a parent resource (load balancer or NSG).
func (c *Client) lock(ctx context.Context, id string) (func(), error) {
	if c.locks == nil {
		return func() {}, nil
	}
	return c.locks.lock(ctx, id)
}

func (c *Client) pollOptions() *runtime.PollUntilDoneOptions {
	return &runtime.PollUntilDoneOptions{Frequency: c.pollFrequency}
}

// withIfMatch makes the request conditional on the etag the caller read.
func (c *Client) withIfMatch(ctx context.Context, etag *string) context.Context {
	if !c.ifMatch || etag == nil || *etag == "" {
		return ctx
	}
	return policy.WithHTTPHeader(ctx, http.Header{"If-Match": []string{*etag}})
}

// withConditions makes a write conditional: ifMatch on the etag the caller read, ifNoneMatch
// ("*") on the resource not existing yet. Empty values are not sent. armnetwork v7's options
// structs have no fields for these headers, so they ride on the context for azcore's header policy.
func (c *Client) withConditions(ctx context.Context, ifMatch, ifNoneMatch string) context.Context {
	if !c.ifMatch || (ifMatch == "" && ifNoneMatch == "") {
		return ctx
	}
	h := http.Header{}
	if ifMatch != "" {
		h.Set("If-Match", ifMatch)
	}
	if ifNoneMatch != "" {
		h.Set("If-None-Match", ifNoneMatch)
	}
	return policy.WithHTTPHeader(ctx, h)
}
