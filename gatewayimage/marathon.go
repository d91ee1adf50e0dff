package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/escalation"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/taskwatch"
)

// Environment variables of Marathon discovery. Credentials come from the environment or a file
// (a DC/OS secret), not from flags, which every user of the machine can read in ps.
const (
	envMarathonURL      = "MARATHON_URL"
	envMarathonUser     = "MARATHON_USERNAME"
	envMarathonPassword = "MARATHON_PASSWORD"
	envDCOSToken        = "DCOS_TOKEN"
)

// marathonFlags are the gateway's settings for following Marathon tasks (routes with
// "service": {"runtime": "marathon", ...}).
type marathonFlags struct {
	url, user, passwordFile, tokenFile string
	pollInterval, requestTimeout       time.Duration
	events                             bool
}

// registerMarathonFlags adds the Marathon discovery flags to fs; call addSource after fs.Parse.
func registerMarathonFlags(fs *flag.FlagSet) *marathonFlags {
	m := &marathonFlags{}
	fs.StringVar(&m.url, "marathon-url", "", "Marathon's URL, e.g. http://marathon.mesos:8080, or https://<dcos-cluster> with a DC/OS token "+
		"(env "+envMarathonURL+"); set it to route to Marathon apps' tasks. Routes with a scale (SLA) policy also scale their apps, "+
		"which needs Marathon write access (PUT /v2/apps/{id}) for the credentials given")
	fs.StringVar(&m.user, "marathon-user", "", "HTTP basic auth user for Marathon (env "+envMarathonUser+"); the password comes from env "+
		envMarathonPassword+" or --marathon-password-file")
	fs.StringVar(&m.passwordFile, "marathon-password-file", "", "file holding Marathon's basic auth password")
	fs.StringVar(&m.tokenFile, "dcos-token-file", "", "file holding a DC/OS authentication token (or env "+envDCOSToken+")")
	fs.DurationVar(&m.pollInterval, "marathon-poll-interval", taskwatch.DefaultPollInterval,
		"how often Marathon's apps and tasks are listed; a moved task is followed within this interval (sooner with --marathon-events)")
	fs.DurationVar(&m.requestTimeout, "marathon-request-timeout", 10*time.Second, "timeout of each request to Marathon")
	fs.BoolVar(&m.events, "marathon-events", true, "also follow Marathon's event stream (/v2/events) to see task changes at once")
	return m
}

// addSource appends the Marathon source to cfg when a Marathon URL is set, and starts it. It
// also makes the gateway the SLA scaler of Marathon apps (routes with a "scale" policy): that
// needs Marathon write access (PUT /v2/apps/{id}) for the credentials given; with read-only
// credentials discovery works and a route's scaling reports Marathon's 401/403 in /stats.
func (m *marathonFlags) addSource(cfg *gateway.Config) error {
	src, client, err := m.source(cfg.Logger)
	if err != nil || src == nil {
		return err
	}
	cfg.Sources = append(cfg.Sources, src)
	if cfg.Scalers == nil {
		cfg.Scalers = map[string]escalation.Scaler{}
	}
	cfg.Scalers[marathon.Runtime] = taskwatch.Scaler{Source: src, Driver: marathon.New(client, marathon.Options{})}
	return nil
}

func (m *marathonFlags) source(logger *slog.Logger) (*taskwatch.Source, *marathon.Client, error) {
	if logger == nil {
		logger = slog.Default()
	}
	rawURL := firstSet(m.url, os.Getenv(envMarathonURL))
	if rawURL == "" {
		return nil, nil, nil
	}
	if m.pollInterval <= 0 {
		return nil, nil, fmt.Errorf("--marathon-poll-interval %s: use a positive duration such as 1s", m.pollInterval)
	}
	password, err := secret(m.passwordFile, envMarathonPassword, "--marathon-password-file")
	if err != nil {
		return nil, nil, err
	}
	token, err := secret(m.tokenFile, envDCOSToken, "--dcos-token-file")
	if err != nil {
		return nil, nil, err
	}
	user := firstSet(m.user, os.Getenv(envMarathonUser))
	if (user == "") != (password == "") {
		return nil, nil, errors.New("Marathon basic auth needs both a user (--marathon-user or " + envMarathonUser + ") and a password (" + //nolint:staticcheck // ST1005: "Marathon" is a proper noun, capitalised anywhere in a sentence
			envMarathonPassword + " or --marathon-password-file)")
	}
	conn := marathon.Connection{URL: rawURL, Username: user, Password: password, Token: token, Timeout: m.requestTimeout}
	client, err := marathon.Connect(conn)
	if err != nil {
		return nil, nil, err
	}
	src := taskwatch.New(client, taskwatch.Options{PollInterval: m.pollInterval, Logger: logger})
	if err := src.Start(); err != nil {
		// Keep going: the gateway serves its other routes, and the source retries every interval.
		logger.Warn("Marathon is not reachable yet; routes to its apps resolve once it is", "url", rawURL, "error", err)
	}
	if m.events {
		if err := followEvents(src, conn, m.requestTimeout); err != nil {
			logger.Warn("Marathon's event stream is not available; following tasks by polling only", "error", err)
		}
	}
	logger.Info("following Marathon tasks", "url", rawURL, "poll_interval", m.pollInterval.String(), "events", m.events)
	return src, client, nil
}

// followEvents opens Marathon's event stream with a client of its own: go-marathon reads the
// stream through its HTTP client, whose overall timeout would cut it.
func followEvents(src *taskwatch.Source, conn marathon.Connection, dialTimeout time.Duration) error {
	eventsURL := conn.URL
	if conn.Token != "" {
		// go-marathon v0.7.1 prefixes /marathon (DC/OS' admin router path) for API calls with a
		// DC/OS token, but not for the event stream; give that prefix here.
		eventsURL = strings.TrimSuffix(eventsURL, "/") + "/marathon"
	}
	client, err := gomarathon.NewClient(gomarathon.Config{
		URL: eventsURL, EventsTransport: gomarathon.EventsTransportSSE,
		HTTPBasicAuthUser: conn.Username, HTTPBasicPassword: conn.Password, DCOSToken: conn.Token,
		HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
			ResponseHeaderTimeout: dialTimeout,
			Proxy:                 http.ProxyFromEnvironment,
		}},
	})
	if err != nil {
		return err
	}
	return src.FollowEvents(client)
}

// secret reads a credential from a file or, without one, from the environment.
func secret(file, env, flagName string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", flagName, file)
	}
	return s, nil
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
