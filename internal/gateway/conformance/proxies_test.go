package conformance

// The two proxies under test, as processes: the vamp-gateway binary built once by TestMain, and
// HAProxy 2.6 (/usr/sbin/haproxy, installed by `make tools`), each with one front port per case,
// routed to that case's backend.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatewayBin is the vamp-gateway binary TestMain built.
var gatewayBin string

// haproxyBin is HAProxy's path.
const haproxyBin = "/usr/sbin/haproxy"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := exec.LookPath(haproxyBin); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: HAProxy 2.6 is missing (%s: %v): run `make tools`, which installs the Debian package haproxy\n", haproxyBin, err)
		return 1
	}
	out, err := exec.Command(haproxyBin, "-v").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("version 2.6")) {
		fmt.Fprintf(os.Stderr, "conformance: %s is not HAProxy 2.6 (%v): %s\nrun `make tools`, which installs Debian 12's haproxy (2.6)\n", haproxyBin, err, firstLine(out))
		return 1
	}
	dir, err := os.MkdirTemp("", "conformance-gateway-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gatewayBin = filepath.Join(dir, "vamp-gateway")
	goCmd := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goCmd = p
	}
	build := exec.Command(goCmd, "build", "-o", gatewayBin, "github.com/vamp-canary/terraform-provider-vamp/gatewayimage")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: building the gateway: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

// logTail keeps the last lines a process wrote, for failure messages.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if len(l.lines) > 50 {
		l.lines = l.lines[len(l.lines)-50:]
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startGateway runs vamp-gateway with its admin API on a free loopback port and returns the
// admin address (read from its "gateway serving" log line) and the token.
func startGateway(t testing.TB, extra ...string) (admin, token string, logs *logTail) {
	t.Helper()
	token = "conformance-token"
	args := []string{"serve", "--admin-listen", "127.0.0.1:0", "--bind-host", "127.0.0.1",
		"--drain-timeout", "1s", "--log-level", "info", "--log-format", "json"}
	args = append(args, extra...)
	cmd := exec.Command(gatewayBin, args...)
	cmd.Env = append(os.Environ(), "VAMP_GATEWAY_TOKEN="+token)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // fails only when it has exited already
		t.Logf("gateway stopped: %v", <-exited)
	})
	logs = &logTail{}
	adminc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			logs.add(sc.Text())
			var entry struct {
				Msg   string `json:"msg"`
				Admin string `json:"admin"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "gateway serving" {
				adminc <- entry.Admin
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // drained so the gateway never blocks on its log; ends with it
	}()
	select {
	case admin = <-adminc:
	case err := <-exited:
		t.Fatalf("the gateway exited before serving: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("the gateway did not log \"gateway serving\" within 30s:\n%s", logs)
	}
	return admin, token, logs
}

// programGateway PUTs a gateway named name with one route to 127.0.0.1:backendPort on a free
// port, and returns that port's address. A port taken meanwhile (409) is retried with another.
func programGateway(t testing.TB, admin, token, name string, backendPort int) string {
	return programGatewayOn(t, admin, token, name, 0, backendPort)
}

// programGatewayOn is programGateway on a given port (0: a free one).
func programGatewayOn(t testing.TB, admin, token, name string, port, backendPort int) string {
	t.Helper()
	fixed := port != 0
	for attempt := 0; attempt < 5; attempt++ {
		if !fixed {
			port = freePort(t)
		}
		doc := fmt.Sprintf(`{"port": %d, "routes": [{"name": "backend", "weight": 100, "instances": [{"host": "127.0.0.1", "port": %d}]}]}`, port, backendPort)
		req, err := http.NewRequest(http.MethodPut, "http://"+admin+"/v1/gateways/"+name, strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("PUT gateway %s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return fmt.Sprintf("127.0.0.1:%d", port)
		case http.StatusConflict:
			if fixed {
				t.Fatalf("PUT gateway %s: port %d is taken: %s", name, port, body)
			}
			continue
		default:
			t.Fatalf("PUT gateway %s: %s: %s", name, resp.Status, body)
		}
	}
	t.Fatalf("PUT gateway %s: every free port was taken before the gateway could open it", name)
	return ""
}

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

// haproxyConfig is HAProxy configured as the gateway is: HTTP mode, keep-alive on both sides,
// one frontend per case on a listening socket this test opened (fd@N), one server each.
const haproxyGlobal = `global
    nbthread 1
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 60s
    timeout http-request 30s
    timeout http-keep-alive 120s
    option http-keep-alive
`

// startHAProxy runs HAProxy with one frontend per backend port, and returns their addresses in
// the same order. The listening sockets are opened here and inherited: connections wait in their
// backlog until HAProxy accepts them, so there is no start-up to wait for.
func startHAProxy(t *testing.T, backendPorts []int) []string {
	t.Helper()
	var cfg strings.Builder
	cfg.WriteString(haproxyGlobal)
	addrs := make([]string, len(backendPorts))
	files := make([]*os.File, len(backendPorts))
	for i, port := range backendPorts {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		tl, ok := ln.(*net.TCPListener)
		if !ok {
			t.Fatalf("listener %T is not TCP", ln)
		}
		f, err := tl.File()
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		files[i] = f
		fmt.Fprintf(&cfg, "\nfrontend c%d\n    bind fd@%d\n    default_backend c%d\n\nbackend c%d\n    server s 127.0.0.1:%d\n", i, 3+i, i, i, port)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	check := exec.Command(haproxyBin, "-c", "-f", path)
	check.ExtraFiles = files
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("HAProxy refuses the configuration: %v\n%s\n%s", err, out, cfg.String())
	}
	cmd := exec.Command(haproxyBin, "-db", "-f", path)
	cmd.ExtraFiles = files
	logs := &logTail{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logs.add(sc.Text())
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting HAProxy: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		pw.CloseWithError(err)
		close(exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("HAProxy's output:\n%s", logs)
		}
		_ = cmd.Process.Kill() // fails only when it has exited already
		<-exited
	})
	return addrs
}
