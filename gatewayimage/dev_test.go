package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/localrt"
)

// With DEV_TEST_SERVE set, the test binary is the service that `dev` runs: an HTTP server on
// 127.0.0.1:$PORT answering "served by <pid>".
func TestMain(m *testing.M) {
	if os.Getenv("DEV_TEST_SERVE") == "1" {
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "served by %d", os.Getpid()) })
		fmt.Fprintln(os.Stderr, http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// Without a token from flag, file or environment, dev generates one in the state directory,
// keeps it across runs, and tells how to export it without printing it.
func TestDevTokenIsGeneratedOnceAndNotPrinted(t *testing.T) {
	t.Setenv(gateway.EnvToken, "")
	dir := t.TempDir()
	var cfg gateway.Config
	hint, err := devToken(&cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "token")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(data))
	if len(token) < 32 || cfg.AdminTokenFile != path {
		t.Fatalf("token %d characters, AdminTokenFile %q", len(token), cfg.AdminTokenFile)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(hint, token) || !strings.Contains(hint, "export VAMP_GATEWAY_TOKEN=\"$(cat "+path+")\"") {
		t.Fatalf("hint %q: want the export command, never the token", hint)
	}
	var again gateway.Config
	if _, err := devToken(&again, dir); err != nil {
		t.Fatal(err)
	}
	if data2, _ := os.ReadFile(path); string(data2) != string(data) {
		t.Fatal("a second run changed the token")
	}

	t.Setenv(gateway.EnvToken, "from-env")
	var fromEnv gateway.Config
	other := t.TempDir()
	if _, err := devToken(&fromEnv, other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "token")); err == nil || fromEnv.AdminTokenFile != "" {
		t.Fatal("generated a token although VAMP_GATEWAY_TOKEN was set")
	}
}

// `vamp-gateway dev` end to end: its admin API takes a local service and a gateway routing to
// it; the gateway port answers from the process; SIGTERM stops the process and dev returns.
func TestDevRunsServicesBehindTheGatewayAndStopsThemOnSIGTERM(t *testing.T) {
	t.Setenv(gateway.EnvToken, "")
	adminPort, gwPort := freePort(t), freePort(t)
	stateDir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- runDev([]string{"-state-dir", stateDir, "-admin-listen", "127.0.0.1:" + adminPort, "-quiet", "-log-level", "warn", "-drain-timeout", "2s"})
	}()
	base := "http://127.0.0.1:" + adminPort
	waitFor(t, "the admin API", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	token, err := os.ReadFile(filepath.Join(stateDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	api := &gatewayapi.Client{BaseURL: base, Token: strings.TrimSpace(string(token))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	self, _ := os.Executable()
	st, err := localrt.NewClient(api).Put(ctx, localrt.Service{
		ID: "demo/c/v1", Deployable: "cmd:exec '" + self + "'", Instances: 1,
		Ports: []localrt.Port{{Name: "web", Protocol: "http"}}, Env: map[string]string{"DEV_TEST_SERVE": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := st.Instances[0].PID
	port, err := strconv.Atoi(gwPort)
	if err != nil {
		t.Fatalf("gateway port %q: %v", gwPort, err)
	}
	if _, err := api.Put(ctx, "demo/"+gwPort, gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{{
		Name: "demo/c/v1/web", Weight: 100, Service: &gatewayapi.ServiceRef{Runtime: "local", ID: "demo/c/v1", Port: "web"},
		// Accepted only because dev makes the local runtime the gateway's SLA scaler.
		Scale: &gatewayapi.ScalePolicy{Min: 1, Max: 2, Upper: "1s", Window: "1m"},
	}}}); err != nil {
		t.Fatal(err)
	}
	var body string
	waitFor(t, "the gateway to route to the process", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + gwPort + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b := make([]byte, 100)
		n, _ := resp.Body.Read(b)
		body = string(b[:n])
		return resp.StatusCode == http.StatusOK
	})
	if body != fmt.Sprintf("served by %d", pid) {
		t.Fatalf("gateway answered %q, want the process %d", body, pid)
	}
	_, err = localrt.NewClient(&gatewayapi.Client{BaseURL: base}).List(ctx)
	var apiErr *gatewayapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("the services API without the token: err = %v, want 401", err)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runDev: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("runDev did not return after SIGTERM")
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(stat), ") Z ") {
			t.Fatalf("process %d still runs after dev returned", pid)
		}
	}
	for _, f := range []string{"gateways.json", "services.json"} {
		if _, err := os.Stat(filepath.Join(stateDir, f)); err != nil {
			t.Errorf("state file %s: %v", f, err)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
