// Package eject applies passive ejection for the HTTP proxy and the TCP gateways of one process
// (routing.Table.Eject is the rule: never the last available instance of any gateway that routes
// to it), and counts
// and logs what it did. The process has one Ejections, shared by both.
package eject

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/logevery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// LogEvery is the shortest interval between two log lines about withheld ejections: under an
// outage of every instance they come with every few failed requests (logevery's rule).
const LogEvery = logevery.Interval

// Ejections counts the passive ejections of a process and the ones withheld. The zero value is
// ready; a nil *Ejections ejects without counting.
type Ejections struct {
	ejected, withheld atomic.Uint64
	// withheldLine is the line about a withheld ejection, written at most once per LogEvery.
	withheldLine logevery.Line
}

// Ejected is how many instances were ejected (vamp_gateway_ejections_total).
func (e *Ejections) Ejected() uint64 {
	if e == nil {
		return 0
	}
	return e.ejected.Load()
}

// Withheld is how many ejections were withheld because they would have left a table without an
// available instance (vamp_gateway_ejections_withheld_total).
func (e *Ejections) Withheld() uint64 {
	if e == nil {
		return 0
	}
	return e.withheld.Load()
}

// Eject is called after failures connection failures in a row of b, an instance of a request
// (or TCP connection) routed by t: it ejects b for d by routing's rule, then counts and logs the
// outcome (a withheld ejection at most once per LogEvery).
func (e *Ejections) Eject(log *slog.Logger, t *routing.Table, b *routing.Backend, now time.Time, d time.Duration, failures int) routing.EjectOutcome {
	out := t.Eject(b, now, d)
	switch out {
	case routing.Ejected:
		if e != nil {
			e.ejected.Add(1)
		}
		log.Warn("instance ejected after connection failures", "instance", b.Addr, "failures", failures, "for", d)
	case routing.Withheld:
		if e == nil {
			break
		}
		e.withheld.Add(1)
		due, unlogged := e.withheldLine.Due(now)
		if !due {
			break
		}
		log.Warn("instance not ejected after connection failures: it is the last available instance of a gateway that routes to it (passive ejection never takes out a gateway's last one; active health checks still do)",
			"instance", b.Addr, "failures", failures, "withheld_since_last_line", unlogged)
	}
	return out
}
