package localrt

import (
	"context"
	"fmt"
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
	// PollInterval is how often WaitHealthy asks for the service's status; zero means
	// DefaultPollInterval.
	PollInterval time.Duration
}

// DefaultPollInterval is WaitHealthy's default interval between two status requests.
const DefaultPollInterval = 250 * time.Millisecond

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

// Define creates or replaces a service and returns at once, with the status it has now: the
// runtime starts (or rolls out) its instances in the background. WaitHealthy waits for them.
func (c *Client) Define(ctx context.Context, svc Service) (Status, error) {
	var out Status
	err := c.API.Do(ctx, http.MethodPut, ServicePath(svc.ID), svc, &out)
	return out, err
}

// NotHealthyError is WaitHealthy's answer when ctx ends before every instance of the service's
// latest definition is healthy. Status is the last status read: each unhealthy instance's
// last error and last lines of output say why.
type NotHealthyError struct {
	ID     string
	Status Status
	// Waited is how long WaitHealthy waited.
	Waited time.Duration
	// Err is the context's error (context.DeadlineExceeded or context.Canceled).
	Err error
}

func (e *NotHealthyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "local service %q is not healthy after %s", e.ID, e.Waited.Round(100*time.Millisecond))
	writeUnhealthy(&b, e.Status)
	return b.String()
}

func (e *NotHealthyError) Unwrap() error { return e.Err }

// Reason is the runtime's account of why the service is not healthy, one line per unhealthy
// instance with its last output, without the leading sentence of Error.
func (e *NotHealthyError) Reason() string {
	var b strings.Builder
	writeUnhealthy(&b, e.Status)
	return strings.TrimPrefix(b.String(), "\n")
}

// writeUnhealthy writes each unhealthy instance's state, last error and last output.
func writeUnhealthy(b *strings.Builder, st Status) {
	for _, in := range st.Instances {
		if in.Healthy {
			continue
		}
		state := "running, pid " + fmt.Sprint(in.PID)
		if in.PID == 0 {
			state = "not running (between restarts)"
		}
		fmt.Fprintf(b, "\ninstance %d (%s, ports %v, restarts %d): %s", in.Index, state, in.Ports, in.Restarts, orNone(in.LastError))
		if len(in.Output) > 0 {
			b.WriteString("\nlast output:")
			for _, line := range in.Output {
				b.WriteString("\n  " + line)
			}
		}
	}
}

// WaitHealthy polls the service's status every PollInterval until every instance of its latest
// definition is healthy, and returns that status. When ctx ends first the error is a
// *NotHealthyError with the last status read; a service that disappears is an error too. Each
// poll is logged through progress (nil: not logged).
func (c *Client) WaitHealthy(ctx context.Context, id string, progress func(Status)) (Status, error) {
	interval := c.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	start := time.Now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last Status
	for {
		st, err := c.Get(ctx, id)
		switch {
		case err == nil:
			last = st
			if st.Healthy && len(st.Replacing) == 0 {
				return st, nil
			}
			if progress != nil {
				progress(st)
			}
		case gatewayapi.IsNotFound(err):
			return Status{}, fmt.Errorf("local service %q was deleted while waiting for it to become healthy", id)
		case ctx.Err() == nil:
			return Status{}, err
		}
		select {
		case <-ctx.Done():
			return last, &NotHealthyError{ID: id, Status: last, Waited: time.Since(start), Err: ctx.Err()}
		case <-ticker.C:
		}
	}
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
