package localrt

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// Client speaks the local runtime's API through the gateway's admin listener (same URL, same
// token as the gateways).
type Client struct {
	API *gatewayapi.Client
	// Wait bounds how long Put waits for every instance to be healthy. Zero means: until the
	// context's deadline (less a second, to get the server's answer back), else DefaultPutWait.
	Wait time.Duration
}

// DefaultPutWait is Put's wait when neither Client.Wait nor a context deadline says otherwise.
const DefaultPutWait = 2 * time.Minute

// NewClient returns a client that sends its requests through api.
func NewClient(api *gatewayapi.Client) *Client { return &Client{API: api} }

// ServicePath is the URL path of a service; its id keeps its slashes, each segment escaped.
func ServicePath(id string) string {
	segments := strings.Split(id, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return "/v1/services/" + strings.Join(segments, "/")
}

// Put creates or replaces a service and waits until all its instances are healthy. When they are
// not healthy in time the service stays defined (and keeps trying) and the error is an
// *gatewayapi.APIError with status 504 whose message carries the processes' last output.
func (c *Client) Put(ctx context.Context, svc Service) (Status, error) {
	wait := c.Wait
	if wait <= 0 {
		wait = DefaultPutWait
		if deadline, ok := ctx.Deadline(); ok {
			wait = max(time.Until(deadline)-time.Second, 100*time.Millisecond)
		}
	}
	var out Status
	err := c.API.Do(ctx, http.MethodPut, ServicePath(svc.ID)+"?wait="+url.QueryEscape(wait.String()), svc, &out)
	return out, err
}

// Get returns a service's definition and status; gatewayapi.IsNotFound(err) when there is none.
func (c *Client) Get(ctx context.Context, id string) (Status, error) {
	var out Status
	err := c.API.Do(ctx, http.MethodGet, ServicePath(id), nil, &out)
	return out, err
}

// Delete stops every process of a service and forgets it. Deleting a missing service is not an
// error.
func (c *Client) Delete(ctx context.Context, id string) error {
	err := c.API.Do(ctx, http.MethodDelete, ServicePath(id), nil, nil)
	if gatewayapi.IsNotFound(err) {
		return nil
	}
	return err
}

// List returns every service, ordered by id.
func (c *Client) List(ctx context.Context) ([]Status, error) {
	var out ServiceList
	err := c.API.Do(ctx, http.MethodGet, "/v1/services", nil, &out)
	return out.Services, err
}
