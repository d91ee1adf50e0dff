package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gomarathon "github.com/gambol99/go-marathon"
)

// Client talks to Marathon: go-marathon v0.7.1 for deployments, scaling, deletion, /v2/info
// and the event stream, and requests of its own for app definitions, which go-marathon cannot
// read or write in Marathon 1.5's networking format (App). Both use the same HTTP client,
// URL and credentials, and the same errors (*gomarathon.APIError).
type Client struct {
	gomarathon.Marathon
	http    *http.Client
	members []string // Marathon's URL may list several, comma-separated, as for go-marathon
	conn    Connection
}

// Connect returns a client for c.
func Connect(c Connection) (*Client, error) {
	if c.URL == "" {
		return nil, errors.New("marathon: url is empty; set url in the marathon block or MARATHON_URL")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	httpClient := &http.Client{Timeout: timeout}
	client, err := gomarathon.NewClient(gomarathon.Config{
		URL: c.URL, HTTPBasicAuthUser: c.Username, HTTPBasicPassword: c.Password, DCOSToken: c.Token,
		HTTPClient: httpClient,
	})
	if err != nil {
		return nil, fmt.Errorf("marathon: url %q: %w", c.URL, err)
	}
	var members []string
	for _, m := range strings.Split(c.URL, ",") {
		m = strings.TrimSuffix(strings.TrimSpace(m), "/")
		if c.Token != "" {
			// DC/OS' admin router serves Marathon under /marathon, as go-marathon assumes
			// with a DC/OS token.
			m += "/marathon"
		}
		members = append(members, m)
	}
	return &Client{Marathon: client, http: httpClient, members: members, conn: c}, nil
}

// App reads an app (GET /v2/apps/{id}) with the given embeds, e.g. "app.tasks".
func (c *Client) App(id string, embed ...string) (*App, error) {
	var body struct {
		App *App `json:"app"`
	}
	if err := c.call(http.MethodGet, "/v2/apps/"+strings.TrimPrefix(id, "/"), url.Values{"embed": embed}, nil, &body); err != nil {
		return nil, err
	}
	if body.App == nil {
		return nil, fmt.Errorf("marathon: GET /v2/apps%s answered without an app", id)
	}
	return body.App, nil
}

// Apps lists apps (GET /v2/apps), e.g. with {"embed": {"apps.tasks"}, "label": {...}}.
func (c *Client) Apps(query url.Values) ([]*App, error) {
	var body struct {
		Apps []*App `json:"apps"`
	}
	if err := c.call(http.MethodGet, "/v2/apps", query, nil, &body); err != nil {
		return nil, err
	}
	return body.Apps, nil
}

// PutApp creates or updates an app (PUT /v2/apps/{id}); force overrides the lock of a
// running deployment.
func (c *Client) PutApp(app *App, force bool) (*gomarathon.DeploymentID, error) {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	var dep gomarathon.DeploymentID
	if err := c.call(http.MethodPut, "/v2/apps/"+strings.TrimPrefix(app.ID, "/"), q, app, &dep); err != nil {
		return nil, err
	}
	return &dep, nil
}

// call sends one request, trying the next Marathon of the URL list when one cannot be
// reached or answers 5xx (as go-marathon does). Errors are go-marathon's *APIError.
func (c *Client) call(method, path string, query url.Values, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("marathon: encoding %s %s: %w", method, path, err)
		}
	}
	var lastErr error
	for _, member := range c.members {
		u := member + path
		if q := query.Encode(); q != "" {
			u += "?" + q
		}
		req, err := http.NewRequest(method, u, bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("marathon: %s %s: %w", method, u, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if c.conn.Username != "" && c.conn.Password != "" {
			req.SetBasicAuth(c.conn.Username, c.conn.Password)
		}
		if c.conn.Token != "" {
			req.Header.Set("Authorization", "token="+c.conn.Token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("marathon: %s %s: %w", method, path, err)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = fmt.Errorf("marathon: %s %s: reading the answer: %w", method, path, err)
			continue
		}
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("marathon: %s %s: the answer is not the JSON expected: %w", method, path, err)
			}
			return nil
		case resp.StatusCode >= 500:
			lastErr = gomarathon.NewAPIError(resp.StatusCode, body)
			continue
		default:
			return gomarathon.NewAPIError(resp.StatusCode, body)
		}
	}
	return lastErr
}
