package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Payload is the JSON body POSTed to a webhook. It follows Flagger's (name, phase, type,
// metadata) and adds what a Vamp roll-out knows: routes, step and weights.
type Payload struct {
	// Name is the webhook's name; Type its type, which is the event: "pre-rollout", "step",
	// "rollback" or "promotion".
	Name    string   `json:"name"`
	Type    HookType `json:"type"`
	Gateway string   `json:"gateway"`
	Canary  string   `json:"canary"`
	Stable  []string `json:"stable"`
	Phase   Phase    `json:"phase"`
	// Step is the 1-based step (0 before the start) of Steps; Weight the canary's weight.
	Step    int            `json:"step"`
	Steps   int            `json:"steps"`
	Weight  int            `json:"weight"`
	Weights map[string]int `json:"weights"`
	Reason  string         `json:"reason,omitempty"`
	// Checksum is the policy's Fingerprint, so a receiver can tell roll-outs apart.
	Checksum  string            `json:"checksum"`
	Timestamp time.Time         `json:"timestamp"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

func (e *Engine) payload(h Webhook, at time.Time) Payload {
	return Payload{
		Name:      h.Name,
		Type:      h.Type,
		Gateway:   e.st.Policy.Gateway,
		Canary:    e.st.Policy.Canary,
		Stable:    slices.Clone(e.st.Policy.Stable),
		Phase:     e.st.Phase,
		Step:      e.st.Step,
		Steps:     len(e.schedule),
		Weight:    e.st.Weights[e.st.Policy.Canary],
		Weights:   maps.Clone(e.st.Weights),
		Reason:    e.st.Reason,
		Checksum:  e.st.Policy.Fingerprint(),
		Timestamp: at.UTC(),
		Metadata:  h.Metadata,
	}
}

// Notifier calls webhooks: a POST of the JSON payload, within the hook's timeout; any 2xx
// answer is success.
type Notifier struct {
	// Client defaults to http.DefaultClient (the hook's timeout bounds each call).
	Client *http.Client
}

// Call makes one webhook call. The error names the hook and its URL without credentials or
// query string (they may hold tokens).
func (n *Notifier) Call(ctx context.Context, c WebhookCall) error {
	client := http.DefaultClient
	if n != nil && n.Client != nil {
		client = n.Client
	}
	timeout := c.Hook.Timeout
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	body, err := json.Marshal(c.Payload)
	if err != nil {
		return fmt.Errorf("webhook %q: encoding the payload: %w", c.Hook.Name, err)
	}
	where := redactURL(c.Hook.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Hook.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %q (%s): %w", c.Hook.Name, where, unwrapURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("webhook %q (%s) did not answer within %v", c.Hook.Name, where, timeout)
		}
		return fmt.Errorf("webhook %q (%s): %w", c.Hook.Name, where, unwrapURLError(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %q (%s) answered %s: %q", c.Hook.Name, where, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
