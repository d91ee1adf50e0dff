package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// podmanRun are the options every container of the test gets. crun, Debian's default, cannot set
// rlimits or use the hybrid cgroups of this sandbox; runc with explicit limits can. Host
// networking, and every address the test gives the gateway is on loopback.
var podmanRun = []string{"run", "--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", "--network", "host"}

// podman runs podman and returns its standard output; the error carries its standard error.
func podman(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "podman", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is not TCP", l.Addr())
	}
	return addr.Port
}

// TestImageRuns loads the image `make image` builds (for this machine's platform) into podman and
// runs it: /healthz answers, the admin API refuses a request without the token, a gateway PUT is
// accepted and proxies to a backend on loopback, a new container on the same volume has the
// gateway back, and the process runs as uid 65532. Podman and runc come from `make tools`.
func TestImageRuns(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, tool := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run make tools (it installs podman and runc from Debian)", tool)
		}
	}

	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	id := "vamp-gateway-test-" + hex.EncodeToString(suffix[:])
	ref := "localhost/" + id + ":v0.0.0-test"
	volume := id + "-state"
	archive := filepath.Join(t.TempDir(), "image.oci.tar")
	o := testOptions(t, archive, v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	o.RefName = ref
	if _, err := build(o); err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %s", time.Since(start).Round(time.Millisecond))

	// Whatever happens below, the containers, the volume and the image go (in a fresh context:
	// ctx may be the one that ran out).
	var containers []string
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		for _, c := range containers {
			if _, err := podman(cctx, "rm", "-f", "-v", "-t", "2", c); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if _, err := podman(cctx, "volume", "rm", "-f", volume); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if _, err := podman(cctx, "rmi", "-f", ref); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	out, err := podman(ctx, "load", "-i", archive)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, ref) {
		t.Fatalf("podman load: %q does not name %s", out, ref)
	}

	// The version stamped into the binary, through the image's entrypoint.
	containers = append(containers, id+"-version")
	out, err = podman(ctx, append(podmanRun, "--name", id+"-version", ref, "--version")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "vamp-gateway v0.0.0-test" {
		t.Errorf("--version printed %q", out)
	}

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend saw %s", r.URL.Path)
	}))
	defer backend.Close()
	backendAddr, ok := backend.Listener.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("backend address %v is not TCP", backend.Listener.Addr())
	}
	backendPort := backendAddr.Port
	adminPort, gatewayPort := freePort(t), freePort(t)
	admin := "http://127.0.0.1:" + strconv.Itoa(adminPort)
	const token = "image-test-token"
	client := &http.Client{Timeout: 5 * time.Second}

	startGateway := func(name string) {
		t.Helper()
		containers = append(containers, name)
		args := append(podmanRun, "-d", "--name", name,
			"-e", "VAMP_GATEWAY_TOKEN="+token,
			"-e", "VAMP_GATEWAY_ADMIN_LISTEN=127.0.0.1:"+strconv.Itoa(adminPort),
			"-v", volume+":/var/lib/vamp-gateway",
			ref, "--bind-host", "127.0.0.1", "--log-format", "text")
		if _, err := podman(ctx, args...); err != nil {
			t.Fatal(err)
		}
		waitHealthy(ctx, t, client, admin+"/healthz", name)
	}
	stopGateway := func(name string) {
		t.Helper()
		if _, err := podman(ctx, "stop", "-t", "10", name); err != nil {
			t.Fatal(err)
		}
	}
	get := func(url string, header http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	auth := http.Header{"Authorization": {"Bearer " + token}}

	first := id + "-1"
	startGateway(first)
	t.Logf("first container healthy after %s", time.Since(start).Round(time.Millisecond))

	// Runs as 65532: the container's main process, seen from the host.
	pid, err := podman(ctx, "inspect", "-f", "{{.State.Pid}}", first)
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strings.TrimSpace(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if uid := statusField(string(status), "Uid:"); uid != "65532 65532 65532 65532" {
		t.Errorf("the gateway runs as uid %q, want 65532 (real, effective, saved, fs)", uid)
	}

	if code, body := get(admin+"/v1/gateways", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/gateways without the token: %d %s, want 401", code, body)
	}
	doc := fmt.Sprintf(`{"port": %d, "routes": [{"name": "backend", "weight": 100, "instances": [{"host": "127.0.0.1", "port": %d}]}]}`, gatewayPort, backendPort)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, admin+"/v1/gateways/image-test/web", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = auth
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT the gateway: %d %s (a state directory the user cannot write refuses every PUT)", resp.StatusCode, b)
	}
	front := "http://127.0.0.1:" + strconv.Itoa(gatewayPort)
	if code, body := get(front+"/through/the/gateway", nil); code != http.StatusOK || body != "backend saw /through/the/gateway" {
		t.Fatalf("through the gateway: %d %q", code, body)
	}

	// A new container on the same volume serves the gateway it was given before.
	stopGateway(first)
	second := id + "-2"
	startGateway(second)
	if code, body := get(admin+"/v1/gateways/image-test/web", auth); code != http.StatusOK || !strings.Contains(body, fmt.Sprint(gatewayPort)) {
		t.Fatalf("after the restart, GET the gateway: %d %s", code, body)
	}
	if code, body := get(front+"/again", nil); code != http.StatusOK || body != "backend saw /again" {
		t.Fatalf("after the restart, through the gateway: %d %q", code, body)
	}
	stopGateway(second)
	t.Logf("image test done in %s", time.Since(start).Round(time.Millisecond))
}

// waitHealthy polls url until it answers 200, the container stops, or a deadline of 30 s passes.
func waitHealthy(ctx context.Context, t *testing.T, client *http.Client, url, container string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Errorf("status %d", resp.StatusCode)
		} else {
			last = err
		}
		if state, err := podman(ctx, "inspect", "-f", "{{.State.Status}}", container); err == nil && strings.TrimSpace(state) == "exited" {
			logs, _ := podman(ctx, "logs", container)
			t.Fatalf("container %s exited before %s answered:\n%s", container, url, logs)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v (last: %v)", url, ctx.Err(), last)
		case <-tick.C:
		}
	}
	logs, _ := podman(ctx, "logs", container)
	t.Fatalf("%s did not answer 200 within 30 s (last: %v); logs of %s:\n%s", url, last, container, logs)
}

// statusField returns the value of a /proc/PID/status line, fields separated by one blank.
func statusField(status, key string) string {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			return strings.Join(strings.Fields(rest), " ")
		}
	}
	return ""
}
