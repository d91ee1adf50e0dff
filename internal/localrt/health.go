package localrt

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Before an instance's first pass its checks run every firstPassPoll (or their interval, if
// shorter), so a fresh instance joins the routes as soon as it listens. These early probes do
// not count as failures; only probes at the check's interval after its grace period do.
const firstPassPoll = 100 * time.Millisecond

// The check used when a service states none: a TCP connect to its first port, with a generous
// grace period for slow starters.
const (
	implicitInterval = 2 * time.Second
	implicitTimeout  = time.Second
	implicitGrace    = 30 * time.Second
)

// probe is one compiled health check of one instance.
type probe struct {
	name     string // for messages: `health_checks[0] (HTTP GET http://127.0.0.1:4000/health)`
	http     bool
	addr     string // host:port
	url      string
	grace    time.Duration
	interval time.Duration
	timeout  time.Duration
	failures int
}

// probeClient does not follow redirects (3xx passes) and keeps no connections to processes that
// may be killed at any time.
var probeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (p *probe) run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if !p.http {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "vamp-local-runtime/health-check")
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// probes compiles the service's health checks for this instance's ports.
func (in *instance) probes() []*probe {
	if len(in.def.HealthChecks) == 0 {
		if len(in.def.Ports) == 0 {
			return nil
		}
		addr := net.JoinHostPort(loopback, strconv.Itoa(in.ports[in.def.Ports[0].Name]))
		return []*probe{{
			name: "TCP connect to " + addr + " (the default check: port " + in.def.Ports[0].Name + ")",
			addr: addr, grace: implicitGrace, interval: implicitInterval, timeout: implicitTimeout, failures: DefaultFailures,
		}}
	}
	var out []*probe
	for i, hc := range in.def.HealthChecks {
		addr := net.JoinHostPort(loopback, strconv.Itoa(in.ports[hc.Port]))
		// Validated already: the durations parse.
		grace, _ := parseDuration(hc.InitialDelay, 0)
		interval, _ := parseDuration(hc.Interval, DefaultInterval)
		timeout, _ := parseDuration(hc.Timeout, DefaultTimeout)
		p := &probe{
			addr: addr, grace: grace, interval: max(interval, 10*time.Millisecond),
			timeout: max(timeout, 10*time.Millisecond), failures: hc.Failures,
		}
		if hc.Protocol == "HTTP" {
			p.http = true
			p.url = "http://" + addr + hc.Path
			p.name = fmt.Sprintf("health_checks[%d] (HTTP GET %s)", i, p.url)
		} else {
			p.name = fmt.Sprintf("health_checks[%d] (TCP connect to %s)", i, addr)
		}
		out = append(out, p)
	}
	return out
}

// watchHealth runs the instance's checks until stop is closed, keeps its healthy flag up to date,
// and sends a reason on failing (then returns) when a check fails `failures` times in a row.
// With no checks at all a running process is healthy.
func (in *instance) watchHealth(started time.Time, stop <-chan struct{}, failing chan<- string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()

	type state struct {
		p          *probe
		passing    bool
		passedOnce bool
		fails      int
		next       time.Time // next probe
		countFrom  time.Time // next probe whose failure counts
	}
	var states []*state
	for _, p := range in.probes() {
		states = append(states, &state{p: p, next: started, countFrom: started.Add(p.grace)})
	}
	healthy, lastErr := false, ""
	setHealth := func(ok bool, why string) {
		if ok == healthy && why == lastErr {
			return
		}
		if ok != healthy {
			in.r.log.Info("local instance health", "id", in.def.ID, "instance", in.index, "healthy", ok, "why", why)
		}
		healthy, lastErr = ok, why
		in.update(func() {
			in.healthy = ok
			if why != "" {
				in.lastError = why
			}
		})
	}
	if len(states) == 0 {
		setHealth(true, "")
		<-ctx.Done()
		return
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		allPass, why := true, ""
		next := now.Add(time.Hour)
		for _, st := range states {
			if !now.Before(st.next) {
				err := st.p.run(ctx)
				if ctx.Err() != nil {
					return
				}
				now = time.Now()
				counted := !now.Before(st.countFrom)
				switch {
				case err == nil:
					st.passing, st.passedOnce, st.fails = true, true, 0
				case counted:
					st.passing = false
					st.fails++
				default:
					st.passing = false
				}
				if counted || err == nil {
					st.countFrom = now.Add(st.p.interval)
				}
				if err != nil {
					why = fmt.Sprintf("%s failed: %v", st.p.name, err)
				}
				if st.fails >= st.p.failures {
					msg := fmt.Sprintf("%s failed %d times in a row: %v", st.p.name, st.fails, err)
					setHealth(false, msg)
					failing <- msg
					return
				}
				st.next = now.Add(st.p.interval)
				if !st.passedOnce {
					st.next = now.Add(min(st.p.interval, firstPassPoll))
				}
			}
			allPass = allPass && st.passing
			if st.next.Before(next) {
				next = st.next
			}
		}
		if !allPass && why == "" {
			why = lastErr
		}
		setHealth(allPass, why)
		timer.Reset(time.Until(next))
	}
}
