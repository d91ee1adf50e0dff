package gateway

import (
	"flag"
	"log/slog"
	"net/http"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/escalation"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/proxy"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/tcpproxy"
)

// Environment variables read when the matching setting is empty.
const (
	EnvToken       = "VAMP_GATEWAY_TOKEN"
	EnvAdminListen = "VAMP_GATEWAY_ADMIN_LISTEN"
	EnvStateFile   = "VAMP_GATEWAY_STATE_FILE"
)

// Config is everything a gateway Server is started with.
type Config struct {
	// AdminListen is the admin API's address (default 127.0.0.1:9900; ":0" picks a free port).
	AdminListen string
	// AdminToken is the bearer token of the admin API. Empty: AdminTokenFile, then the
	// VAMP_GATEWAY_TOKEN environment variable. The token is never logged.
	AdminToken     string
	AdminTokenFile string
	// AdminInsecureNoToken must be set to run the admin API without a token; otherwise New
	// refuses to start without one.
	AdminInsecureNoToken bool
	// StateFile keeps accepted gateways across restarts. Empty: nothing is kept (a warning says so).
	StateFile string
	// BindHost is the address gateway ports listen on; empty means every interface.
	BindHost string
	// DrainTimeout bounds how long Run waits for in-flight requests when its context ends
	// (default 30s).
	DrainTimeout time.Duration
	// Proxy tunes forwarding to instances (timeouts, keep-alive pools, passive ejection).
	Proxy proxy.Options
	// TCP tunes TCP gateways (protocol "tcp"); its dial timeout and ejection default to Proxy's
	// (--dial-timeout, --eject-after, --eject-for).
	TCP tcpproxy.Options
	// MaxConns is the limit on open client connections of the whole process, HTTP and TCP
	// gateways together (HAProxy's global maxconn): at the limit the listeners stop accepting
	// and new clients wait in the kernel's listen backlog until a connection closes. 0 (the
	// default): derived from the open-files limit as HAProxy does, (RLIMIT_NOFILE - reserve) / 2,
	// since every proxied connection holds two descriptors (connlimit.DefaultFor). Negative: an
	// error.
	MaxConns int
	// NetHTTPOnly serves every connection through net/http and ReverseProxy instead of the
	// gateway's own HTTP/1.1 front end: slower, and a way back should a client trip on it.
	NetHTTPOnly bool
	// Sources are the runtimes that routes with "service" can use.
	Sources []discovery.Source
	// AdminHandlers are extra admin routes (ServeMux patterns, e.g. "/v1/services/"), behind the
	// same token check.
	AdminHandlers map[string]http.Handler
	Logger        *slog.Logger
	// RolloutTick is how often each roll-out is judged (default DefaultRolloutTick, 1s). Negative:
	// never by itself, only through Server.TickRollouts (tests that drive time).
	RolloutTick time.Duration
	// Clock is the time of roll-out ticks and of route counters' start (default time.Now).
	Clock func() time.Time
	// RoutingSeed, when not 0, makes the random order within each weighted cycle reproducible
	// (tests): the k-th routing table this server builds is seeded from RoutingSeed and k. 0 (the
	// default): every table draws its own seed from crypto/rand.
	RoutingSeed uint64
	// Scalers scale services by runtime name ("local", "marathon") for routes with a scale
	// policy (SLA scaling); a runtime without one refuses such routes.
	Scalers map[string]escalation.Scaler
	// Etcd is store mode (store_etcd.go); empty Endpoints: no store.
	Etcd EtcdConfig
	// AdminTLSCert and AdminTLSKey are PEM files: set, the admin API serves HTTPS only.
	AdminTLSCert, AdminTLSKey string
}

// DefaultAdminListen is the admin API's default address: loopback only.
const DefaultAdminListen = "127.0.0.1:9900"

// RegisterFlags binds the configuration to command-line flags. Settings left empty fall back to
// the environment in New (VAMP_GATEWAY_TOKEN, VAMP_GATEWAY_ADMIN_LISTEN, VAMP_GATEWAY_STATE_FILE),
// so the token never shows up as a flag default in -help.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.AdminListen, "admin-listen", "", "admin API address (env "+EnvAdminListen+", default "+DefaultAdminListen+")")
	fs.StringVar(&c.AdminToken, "admin-token", "", "admin API bearer token (prefer env "+EnvToken+" or --admin-token-file: flags are visible in ps)")
	fs.StringVar(&c.AdminTokenFile, "admin-token-file", "", "file holding the admin API bearer token (e.g. a mounted secret)")
	fs.BoolVar(&c.AdminInsecureNoToken, "admin-insecure-no-token", false, "run the admin API WITHOUT authentication (only on a trusted loopback)")
	fs.StringVar(&c.StateFile, "state-file", "", "JSON file that keeps accepted gateways across restarts (env "+EnvStateFile+"; empty: not kept)")
	fs.StringVar(&c.BindHost, "bind-host", "", "address the gateway ports listen on (empty: all interfaces)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long in-flight requests may take to finish")
	fs.BoolVar(&c.NetHTTPOnly, "net-http-only", false, "serve every request through net/http and httputil.ReverseProxy, not the gateway's own HTTP/1.1 front end (slower; a fallback)")
	fs.DurationVar(&c.Proxy.DialTimeout, "dial-timeout", 2*time.Second, "timeout to connect to an instance")
	fs.DurationVar(&c.Proxy.ResponseHeaderTimeout, "response-header-timeout", 60*time.Second, "timeout for an instance's response headers, and for an instance that takes no byte of a request being sent to it")
	fs.DurationVar(&c.Proxy.IdleConnTimeout, "idle-conn-timeout", 90*time.Second, "close keep-alive connections to instances idle this long")
	fs.IntVar(&c.Proxy.MaxIdleConnsPerHost, "max-idle-conns-per-host", 0, "idle keep-alive connections kept per instance (0: no bound per instance; the connections kept open to all instances together, in use and idle, are at most --max-conns, so the gateway at its client limit dials none)")
	fs.IntVar(&c.Proxy.EjectAfter, "eject-after", 3, "consecutive connection failures that eject an instance (never a gateway's last available one)")
	fs.IntVar(&c.MaxConns, "max-conns", 0, "limit on open client connections of the process, HTTP and TCP gateways together; at the limit new clients wait in the listen backlog (0: derived from the open-files limit, (ulimit -n - reserve) / 2, as each proxied connection needs two descriptors)")
	c.Etcd.registerFlags(fs)
	registerAdminTLSFlags(fs, c)
	fs.DurationVar(&c.Proxy.EjectFor, "eject-for", 10*time.Second, "how long an ejected instance gets no traffic")
	fs.DurationVar(&c.TCP.IdleTimeout, "tcp-idle-timeout", tcpproxy.DefaultIdleTimeout, "close a TCP gateway's connection that carried no byte either way this long (checked in windows of this length)")
}
