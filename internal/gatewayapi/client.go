package gatewayapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client speaks the admin API. Token is sent as `Authorization: Bearer`; it is never logged.
//
// A request lasts as long as its context allows: the operation that sends it (e.g. a Terraform
// apply with its `timeouts`) bounds it, so HTTP must not carry a fixed Timeout of its own that
// could be shorter. Only a request whose context has no deadline (a refresh, an import) is bounded
// by RequestTimeout, so that an admin API that never answers does not hang Terraform.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
	// RequestTimeout bounds a request whose context has no deadline; zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// DefaultRequestTimeout is Client.RequestTimeout's default.
const DefaultRequestTimeout = 30 * time.Second

// APIError is a non-2xx answer of the admin API.
type APIError struct {
	Status int
	Body   Error
}

func (e *APIError) Error() string {
	if e.Body.Path != "" {
		return fmt.Sprintf("gateway admin API: %d: %s (at %s)", e.Status, e.Body.Error, e.Body.Path)
	}
	return fmt.Sprintf("gateway admin API: %d: %s", e.Status, e.Body.Error)
}

// IsNotFound reports whether err is the admin API's 404.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// GatewayPath is the URL path of a gateway; its name keeps its slashes, each segment escaped.
func GatewayPath(name string) string {
	segments := strings.Split(name, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return "/v1/gateways/" + strings.Join(segments, "/")
}

// Put stores a gateway whole and returns what the server kept (with its version).
func (c *Client) Put(ctx context.Context, name string, gw Gateway) (Gateway, error) {
	var out Gateway
	err := c.do(ctx, http.MethodPut, GatewayPath(name), gw, &out)
	return out, err
}

// Get returns a gateway; IsNotFound(err) when there is none.
func (c *Client) Get(ctx context.Context, name string) (Gateway, error) {
	var out Gateway
	err := c.do(ctx, http.MethodGet, GatewayPath(name), nil, &out)
	return out, err
}

// Delete removes a gateway and closes its listener. Deleting a missing gateway is not an error.
func (c *Client) Delete(ctx context.Context, name string) error {
	err := c.do(ctx, http.MethodDelete, GatewayPath(name), nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// List returns every gateway.
func (c *Client) List(ctx context.Context) ([]Gateway, error) {
	var out GatewayList
	err := c.do(ctx, http.MethodGet, "/v1/gateways", nil, &out)
	return out.Gateways, err
}

// Stats returns the per-route counters of a gateway.
func (c *Client) Stats(ctx context.Context, name string) (Stats, error) {
	var out Stats
	err := c.do(ctx, http.MethodGet, GatewayPath(name)+"/stats", nil, &out)
	return out, err
}

// Do sends one JSON request to the admin API at path (which starts with "/"): in is encoded as
// the body when not nil, a 2xx answer is decoded into out when not nil, anything else is an
// *APIError. Other parts of the admin API (the dev runtime's services) use it too.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, out)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		timeout := c.RequestTimeout
		if timeout <= 0 {
			timeout = DefaultRequestTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("gateway admin API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		apiErr := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, &apiErr.Body) != nil || apiErr.Body.Error == "" {
			apiErr.Body.Error = strings.TrimSpace(string(data))
		}
		return apiErr
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}
