// Package metricsource says where the numbers that judge a canary come from: how many requests a
// gateway route served in a window of time, how many of them were answered 5xx, and the 99th
// percentile of their latency.
//
// Two sources implement the same interface:
//
//   - InProcess reads the gateway's own per-route counters. The gateway hands it cumulative
//     snapshots (requests, 5xx, a histogram with fixed buckets); a window is the difference
//     between the snapshot now and the one taken at the window's start. Nothing leaves the
//     process, so a roll-out works without any monitoring system.
//   - Prometheus runs one PromQL query per number through Prometheus's HTTP API
//     (/api/v1/query), from templates that name the gateway, the route and the window.
//
// The roll-out engine (internal/rollout) and the escalations (internal/escalation) take a Window
// and never ask where it came from.
package metricsource

import (
	"context"
	"time"
)

// Source gives the numbers of one gateway route from since until now.
type Source interface {
	Window(ctx context.Context, gateway, route string, since time.Time) (Window, error)
}

// Window is what a route served in [From, To]. Counts are float64 because Prometheus's
// increase() extrapolates; the in-process source gives whole numbers.
type Window struct {
	// From and To are the interval the numbers cover. From can be later than the since that was
	// asked for when the source has no data that old (e.g. the gateway restarted since then).
	From, To time.Time
	// Requests is the number of answered requests.
	Requests float64
	// Errors5xx is how many of them were answered with a 5xx status.
	Errors5xx float64
	// P99 is the 99th percentile of the requests' latency; 0 when there were no requests.
	P99 time.Duration
}

// ErrorRate is the fraction of requests answered 5xx, 0 when there were no requests.
func (w Window) ErrorRate() float64 {
	if w.Requests <= 0 {
		return 0
	}
	return w.Errors5xx / w.Requests
}
