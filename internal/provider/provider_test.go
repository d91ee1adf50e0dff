package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/localrt"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// The acceptance tests run against a real gateway with the local dev runtime, in this test
// process (what `vamp-gateway dev` runs), and the real Terraform CLI (TF_ACC_TERRAFORM_PATH).
var (
	testGateway *gatewayapi.Client
	testRuntime runtime.Driver
	testDir     string
	// testRunner is the local dev runtime's runner: a discovery source for more gateways (the
	// etcd tests' replicas).
	testRunner *localrt.Runner
)

var testProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"vamp": providerserver.NewProtocol6WithError(New("test")()),
}

func TestMain(m *testing.M) {
	code, err := runWithGateway(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test set-up:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func runWithGateway(m *testing.M) (code int, err error) {
	dir, err := os.MkdirTemp("", "vamp-provider-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	testDir = dir

	runner := localrt.New(localrt.Options{Dir: dir, StopGrace: 2 * time.Second, DrainDelay: 50 * time.Millisecond})
	defer runner.Close()
	testRunner = runner
	token := randomToken()
	srv, stop, err := startGateway(gateway.Config{
		AdminListen: "127.0.0.1:0",
		AdminToken:  token,
		StateFile:   filepath.Join(dir, "gateways.json"),
		BindHost:    "127.0.0.1",
		Sources:     []discovery.Source{runner},
		AdminHandlers: map[string]http.Handler{
			"/v1/services":  runner.Handler(),
			"/v1/services/": runner.Handler(),
		},
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		// Run returns nil after a clean drain; anything else fails the run.
		if stopErr := stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stopping the gateway: %w", stopErr)
		}
	}()

	url := "http://" + srv.AdminAddr().String()
	os.Setenv(EnvGatewayURL, url)
	os.Setenv(EnvGatewayToken, token)
	testGateway = &gatewayapi.Client{BaseURL: url, Token: token}
	testRuntime = runtime.NewLocal(testGateway)
	return m.Run(), nil
}

// startGateway runs an in-process gateway until stop is called; it returns once the admin API
// listens, so tests never wait on a timer.
func startGateway(cfg gateway.Config) (srv *gateway.Server, stop func() error, err error) {
	srv, err = gateway.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := srv.Listen(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
		return srv, func() error { cancel(); return <-done }, nil
	case err := <-done:
		cancel()
		return nil, nil, fmt.Errorf("gateway stopped: %v", err)
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort is a TCP port on 127.0.0.1 that nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener on 127.0.0.1 has address %T, want *net.TCPAddr", ln.Addr())
	}
	return addr.Port
}

// countVersions sends n requests with the given User-Agent to the gateway port and counts the
// answers by the version they name (the demo service answers with its version).
func countVersions(port, n int, userAgent string) (map[string]int, error) {
	counts := map[string]int{}
	client := &http.Client{Timeout: 10 * time.Second}
	for range n {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", userAgent)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /: %s: %s", resp.Status, body)
		}
		counts[versionIn(string(body))]++
	}
	return counts, nil
}

var versionPattern = regexp.MustCompile(`\b\d+\.\d+\.\d+\b`)

func versionIn(body string) string {
	if v := versionPattern.FindString(body); v != "" {
		return v
	}
	return strings.TrimSpace(body)
}

const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	chromeUA  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)

// sava is the demo service examples/sava, built once per test run.
func sava(t *testing.T) string {
	return testBinary(t, "github.com/vamp-canary/terraform-provider-vamp/examples/sava")
}

var testBinaries sync.Map // package path -> func() (string, error)

// testBinary builds the command pkg into the test directory, once per test run.
func testBinary(t *testing.T, pkg string) string {
	t.Helper()
	build, _ := testBinaries.LoadOrStore(pkg, sync.OnceValues(func() (string, error) {
		bin := filepath.Join(testDir, path.Base(pkg))
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("building %s: %v\n%s", pkg, err, out)
		}
		return bin, nil
	}))
	buildOnce, ok := build.(func() (string, error))
	if !ok {
		t.Fatalf("testBinaries[%s] is %T, want func() (string, error)", pkg, build)
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
