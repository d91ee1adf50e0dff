package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// Real browsers' User-Agent strings.
const (
	firefoxUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	chromeUA  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	edgeUA    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)

const testToken = "test-token-0123456789"

// harness is one in-process gateway Server with its admin API on a free loopback port.
type harness struct {
	t      testing.TB
	srv    *gateway.Server
	admin  *gatewayapi.Client
	base   string
	cancel context.CancelFunc
	done   chan error
	state  string
}

// startGateway runs a Server; edit adjusts the config (state file, proxy options) first.
func startGateway(t testing.TB, edit func(*gateway.Config)) *harness {
	t.Helper()
	cfg := gateway.Config{
		AdminListen:  "127.0.0.1:0",
		AdminToken:   testToken,
		StateFile:    filepath.Join(t.TempDir(), "state.json"),
		BindHost:     "127.0.0.1",
		DrainTimeout: 10 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := gateway.New(cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	return runGateway(t, srv, cfg.StateFile)
}

func runGateway(t testing.TB, srv *gateway.Server, stateFile string) *harness {
	t.Helper()
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, srv: srv, cancel: cancel, done: make(chan error, 1), state: stateFile}
	go func() { h.done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-h.done:
		t.Fatalf("Run ended before it was ready: %v", err)
	}
	h.base = "http://" + srv.AdminAddr().String()
	h.admin = &gatewayapi.Client{BaseURL: h.base, Token: testToken}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// stop cancels Run and returns its result (once; later calls return nil).
func (h *harness) stop() error {
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(20 * time.Second):
		h.t.Fatal("Run did not return within 20s of its context ending")
		return nil
	}
}

func (h *harness) put(name string, gw gatewayapi.Gateway) gatewayapi.Gateway {
	h.t.Helper()
	out, err := h.admin.Put(context.Background(), name, gw)
	if err != nil {
		h.t.Fatalf("PUT %s: %v", name, err)
	}
	return out
}

// putErr PUTs and expects the admin API to refuse with status.
func (h *harness) putErr(name string, gw gatewayapi.Gateway, status int) *gatewayapi.APIError {
	h.t.Helper()
	_, err := h.admin.Put(context.Background(), name, gw)
	apiErr, ok := err.(*gatewayapi.APIError)
	if !ok {
		h.t.Fatalf("PUT %s: want a %d refusal, got %v", name, status, err)
	}
	if apiErr.Status != status {
		h.t.Fatalf("PUT %s: want status %d, got %d: %s (path %q)", name, status, apiErr.Status, apiErr.Body.Error, apiErr.Body.Path)
	}
	return apiErr
}

func (h *harness) stats(name string) gatewayapi.Stats {
	h.t.Helper()
	st, err := h.admin.Stats(context.Background(), name)
	if err != nil {
		h.t.Fatalf("stats %s: %v", name, err)
	}
	return st
}

// statsWhen polls the stats of a gateway until ok accepts them: a client has its whole answer
// a moment before the gateway has recorded it.
func (h *harness) statsWhen(name, what string, ok func(gatewayapi.Stats) bool) gatewayapi.Stats {
	h.t.Helper()
	var st gatewayapi.Stats
	eventually(h.t, what, func() bool {
		st = h.stats(name)
		return ok(st)
	})
	return st
}

// settled waits until no instance of gateway name has a request in progress. The gateway counts
// a request once its answer is written, so a client can read its answer before the request is
// counted; once the test's clients are done and the gateway has settled, every request they sent
// is counted (proxy.finish counts before it gives the instance back), and a roll-out's tick judges
// them all.
func (h *harness) settled(name string) {
	h.t.Helper()
	h.statsWhen(name, "every request sent to "+name+" is counted", func(s gatewayapi.Stats) bool {
		for _, r := range s.Routes {
			for _, in := range r.Instances {
				if in.Active != 0 {
					return false
				}
			}
		}
		return true
	})
}

// backend is a real HTTP server that answers with its name.
type backend struct {
	name string
	srv  *httptest.Server
	hits atomic.Int64
}

func newBackend(t testing.TB, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) instance() gatewayapi.Instance { return instanceOf(b.srv.Listener.Addr().String()) }

func instanceOf(addr string) gatewayapi.Instance {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return gatewayapi.Instance{Host: host, Port: p}
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is not TCP", ln.Addr())
	}
	return addr.Port
}

// browser is a keep-alive HTTP client with one User-Agent.
type browser struct {
	ua     string
	client *http.Client
}

func newBrowser(ua string) *browser {
	return &browser{ua: ua, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		Timeout:   10 * time.Second,
	}}
}

// get returns status and body of GET url.
func (b *browser) get(url string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", b.ua)
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// count sends n GETs and counts the 200 bodies; anything else fails the test.
func (b *browser) count(t testing.TB, url string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		status, body, err := b.get(url)
		if err != nil || status != http.StatusOK {
			t.Fatalf("request %d to %s: status %d, body %q, error %v", i, url, status, body, err)
		}
		seen[body]++
	}
	return seen
}

func gatewayURL(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/", port) }

func intp(v int) *int { return &v }

// savaGateway is the scenario's cluster gateway with its two variants.
func savaGateway(port int, v100, v110 *backend, w100, w110 int) gatewayapi.Gateway {
	return gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
		{Name: "sava:1.0.0", Weight: w100, Instances: []gatewayapi.Instance{v100.instance()}},
		{Name: "sava:1.1.0", Weight: w110, Instances: []gatewayapi.Instance{v110.instance()}},
	}}
}

// eventually polls cond until it holds or 10s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawUpgrade sends a websocket handshake over conn and returns the status line and a reader
// positioned after the response headers.
func rawUpgrade(conn net.Conn, host string) (string, *bufio.Reader, error) {
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: %s\r\n\r\n", host, firefoxUA)
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil {
		return "", nil, err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		if strings.TrimSpace(line) == "" {
			break
		}
	}
	return strings.TrimSpace(status), r, nil
}

var errConnRefused = syscall.ECONNREFUSED
