package localrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the services the runner runs: with LOCALRT_TEST_HELPER set (in the
// Service's env) it becomes one of the helper processes below instead of running the tests.
const helperEnv = "LOCALRT_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "serve":
		helperServe()
	case "block":
		helperBlock()
	case "crash":
		helperCrash()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperServe is an HTTP server on 127.0.0.1:$PORT:
//
//	/          "helper:$VERSION"
//	/health    200, or 503 while $HEALTH_GATE names a file that does not exist
//	/env       the process environment as a JSON object
//	/pid       the pid; /child the pid of a blocking child when $SPAWN_CHILD=1
func helperServe() {
	childPID := 0
	if os.Getenv("SPAWN_CHILD") == "1" {
		self, _ := os.Executable()
		child := exec.Command(self)
		child.Env = append(os.Environ(), helperEnv+"=block")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "spawn child:", err)
			os.Exit(1)
		}
		childPID = child.Process.Pid
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "helper:"+os.Getenv("VERSION"))
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		if gate := os.Getenv("HEALTH_GATE"); gate != "" {
			if _, err := os.Stat(gate); err != nil {
				http.Error(w, "gate closed", http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		if err := json.NewEncoder(w).Encode(env); err != nil {
			fmt.Fprintln(os.Stderr, "helper: writing /env:", err)
		}
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, os.Getpid()) })
	mux.HandleFunc("/child", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, childPID) })
	fmt.Fprintln(os.Stderr, "helper listening on port", os.Getenv("PORT"))
	srv := &http.Server{Addr: net.JoinHostPort("127.0.0.1", os.Getenv("PORT")), Handler: mux}
	go func() {
		// Like a well-behaved service: finish the requests in flight on SIGTERM.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		if err := srv.Shutdown(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "helper: shutdown:", err)
		}
	}()
	err := srv.ListenAndServe()
	if errors.Is(err, http.ErrServerClosed) {
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "helper:", err)
	os.Exit(1)
}

// helperBlock ignores SIGTERM and waits forever: only SIGKILL to its group ends it.
func helperBlock() {
	signal.Ignore(syscall.SIGTERM)
	select {}
}

// helperCrash prints a few lines and exits 3: a service that cannot start.
func helperCrash() {
	fmt.Println("starting up")
	fmt.Fprintln(os.Stderr, "fatal: config file /etc/sava.conf not found")
	os.Exit(3)
}

// helperService is a service whose processes are this test binary in the given helper mode.
func helperService(t *testing.T, id, mode string, env map[string]string) Service {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{helperEnv: mode}
	for k, v := range env {
		all[k] = v
	}
	return Service{
		ID:         id,
		Deployable: "cmd:exec '" + strings.ReplaceAll(self, "'", `'\''`) + "'",
		Ports:      []Port{{Name: "webport", Protocol: "http", ContainerPort: 8080}},
		Env:        all,
		Instances:  1,
	}
}

func newTestRunner(t *testing.T) *Runner {
	t.Helper()
	r := New(Options{StopGrace: 2 * time.Second, DrainDelay: 300 * time.Millisecond})
	t.Cleanup(r.Close)
	return r
}

func mustPut(t *testing.T, r *Runner, svc Service) Status {
	t.Helper()
	st, err := r.Put(svc)
	if err != nil {
		t.Fatalf("Put(%s): %v", svc.ID, err)
	}
	return st
}

func waitHealthy(t *testing.T, r *Runner, id string) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.WaitHealthy(ctx, id); err != nil {
		st, _ := r.Get(id)
		t.Fatalf("%s not healthy: %v; status %+v", id, err, st)
	}
	st, _ := r.Get(id)
	return st
}

// eventually polls cond until it holds or 20 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpGet(port int, path string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	return string(b), err
}

// processGone reports whether pid no longer runs (a zombie that nobody reaps counts as gone).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
