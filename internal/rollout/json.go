package rollout

import (
	"encoding/json"
	"fmt"
	"time"
)

// Durations travel as Go duration strings ("1m0s"; "1m" and "500ms" are read too), so a
// policy reads the same in the admin API, the state file and HCL. Unset durations are omitted.

func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	return json.Marshal(struct {
		plain
		Interval string `json:"interval"`
	}{plain(p), p.Interval.String()})
}

func (p *Policy) UnmarshalJSON(b []byte) error {
	type plain Policy
	aux := struct {
		*plain
		Interval json.RawMessage `json:"interval"`
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	return parseDuration("interval", aux.Interval, &p.Interval)
}

func (c Checks) MarshalJSON() ([]byte, error) {
	type plain Checks
	return json.Marshal(struct {
		plain
		MaxP99 string `json:"max_p99,omitempty"`
	}{plain(c), durationString(c.MaxP99)})
}

func (c *Checks) UnmarshalJSON(b []byte) error {
	type plain Checks
	aux := struct {
		*plain
		MaxP99 json.RawMessage `json:"max_p99"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	return parseDuration("checks.max_p99", aux.MaxP99, &c.MaxP99)
}

func (h Webhook) MarshalJSON() ([]byte, error) {
	type plain Webhook
	return json.Marshal(struct {
		plain
		Timeout string `json:"timeout,omitempty"`
	}{plain(h), durationString(h.Timeout)})
}

func (h *Webhook) UnmarshalJSON(b []byte) error {
	type plain Webhook
	aux := struct {
		*plain
		Timeout json.RawMessage `json:"timeout"`
	}{plain: (*plain)(h)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	return parseDuration(fmt.Sprintf("webhooks[name=%q].timeout", h.Name), aux.Timeout, &h.Timeout)
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// parseDuration reads a duration string into *d; absent or null leaves 0.
func parseDuration(path string, raw json.RawMessage, d *time.Duration) error {
	*d = 0
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return &FieldError{Path: path, Msg: fmt.Sprintf("want a duration string such as \"30s\" or \"1m\", got %s", raw)}
	}
	if s == "" {
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &FieldError{Path: path, Msg: fmt.Sprintf("%q is not a duration; write it like \"30s\", \"1m\" or \"1h30m\"", s)}
	}
	*d = v
	return nil
}
