// Package health runs the active health checks of routes: one goroutine per checked instance
// that GETs its path (on a TCP gateway: connects) every interval and marks the instance down after UnhealthyThreshold failures
// in a row, up again after HealthyThreshold successes in a row.
package health

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/connlimit"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/logevery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// Skips counts the health checks of a process (every gateway's) that the gateway could not make
// because it was out of a local resource (vamp_gateway_health_checks_skipped_total), and logs
// them at most once per logevery.Interval: while the gateway is out of descriptors every check
// of every instance is skipped at each tick. The zero value is ready.
type Skips struct {
	skipped atomic.Uint64
	line    logevery.Line
}

// Skipped is how many checks were not made (0 for a nil *Skips).
func (s *Skips) Skipped() uint64 {
	if s == nil {
		return 0
	}
	return s.skipped.Load()
}

// skip counts a check not made at now for err (a *connlimit.ResourceError) and logs it, with
// the instance's attributes (logger's), if the line is due. A nil *Skips counts nothing and
// logs every one.
func (s *Skips) skip(logger *slog.Logger, now time.Time, err error) {
	due, unlogged := true, uint64(0)
	if s != nil {
		s.skipped.Add(1)
		due, unlogged = s.line.Due(now)
	}
	if due {
		logger.Warn("health check not made: the gateway is out of a local resource; the instance keeps its state",
			"error", err, "not_made_since_last_line", unlogged)
	}
}

// Start runs checks until the returned stop is called; stop waits for the goroutines to end.
// A 2xx or 3xx answer within the timeout is a success; anything else is a failure, except a
// check the gateway could not make because it is out of a local resource (EMFILE and the like:
// connlimit.Classify), which says nothing about the instance and is not counted either way:
// it is counted and logged in skips, the process's (nil: not counted, each logged).
func Start(gateway string, checks []spec.HealthCheck, client *http.Client, logger *slog.Logger, skips *Skips) (stop func()) {
	if len(checks) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, hc := range checks {
		for _, b := range hc.Backends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(ctx, hc, b, client, logger.With("gateway", gateway, "route", hc.Route, "instance", b.Addr), skips)
			}()
		}
	}
	return func() { cancel(); wg.Wait() }
}

func run(ctx context.Context, hc spec.HealthCheck, b *routing.Backend, client *http.Client, logger *slog.Logger, skips *Skips) {
	ticker := time.NewTicker(hc.Interval)
	defer ticker.Stop()
	var okInRow, failInRow int
	for {
		if v, err := probe(ctx, hc, b.Addr, client); ctx.Err() != nil {
			return
		} else if v == notJudged {
			skips.skip(logger, time.Now(), err)
		} else if v == passed {
			okInRow, failInRow = okInRow+1, 0
			if !b.Healthy() && okInRow >= hc.HealthyThreshold {
				b.SetHealthy(true)
				logger.Info("instance is healthy again")
			}
		} else {
			okInRow, failInRow = 0, failInRow+1
			if b.Healthy() && failInRow >= hc.UnhealthyThreshold {
				b.SetHealthy(false)
				logger.Warn("instance failed its health check; no traffic until it passes", "failures", failInRow)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// verdict is one check's outcome.
type verdict uint8

const (
	failed    verdict = iota
	passed            // 2xx or 3xx (HTTP), or a connect (TCP)
	notJudged         // the gateway could not make the check: out of a local resource
)

// failure is the verdict of a check that failed with err: not the instance's failure when the
// gateway itself is out of a local resource (the rule of the forwarding path: connlimit.Classify),
// and then that *connlimit.ResourceError.
func failure(addr string, err error) (verdict, error) {
	if res := connlimit.Classify(connlimit.OpDial, addr, err); res != nil {
		return notJudged, res
	}
	return failed, nil
}

// probe makes one check of the instance at addr; err is the *connlimit.ResourceError of a check
// not made (notJudged), nil otherwise.
func probe(ctx context.Context, hc spec.HealthCheck, addr string, client *http.Client) (verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	if hc.TCP { // a TCP gateway's check: the instance accepts a connection
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return failure(addr, err)
		}
		c.Close()
		return passed, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+hc.Path, nil)
	if err != nil {
		return failed, nil
	}
	req.Header.Set("User-Agent", "vamp-gateway-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return failure(addr, err)
	}
	// The body is drained so the connection can be reused; the status alone is the verdict, so
	// a body that fails to read (the instance closed after its headers) does not change it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return passed, nil
	}
	return failed, nil
}
