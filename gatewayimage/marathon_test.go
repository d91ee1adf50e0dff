package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

func parseMarathonFlags(t *testing.T, args ...string) *marathonFlags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	m := registerMarathonFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return m
}

// A gateway started with --marathon-url and a DC/OS token in a file resolves a Marathon app's
// task, over the API and the event stream (both need the token).
func TestMarathonFlagsAddAWorkingSource(t *testing.T) {
	t.Setenv(envMarathonURL, "")
	t.Setenv(envDCOSToken, "")
	e := emulator.New(emulator.Options{Token: "s3cret"})
	url, err := e.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	client, err := marathon.Connect(marathon.Connection{URL: url, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = marathon.New(client, marathon.Options{PollInterval: 5 * time.Millisecond}).Apply(ctx, runtime.Service{
		ID: "sava/sava_cluster/sava:1.0.0", Deployable: "magneticio/sava:1.0.0", Ports: map[string]string{"webport": "8080/http"},
		CPU: 0.1, MemoryMB: 64, Instances: 1,
	})
	if err != nil {
		t.Fatal(err)
	}

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg gateway.Config
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m := parseMarathonFlags(t, "--marathon-url", url, "--dcos-token-file", tokenFile, "--marathon-poll-interval", "1h")
	if err := m.addSource(&cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 1 || cfg.Sources[0].Runtime() != "marathon" {
		t.Fatalf("sources %v, want the marathon source", cfg.Sources)
	}
	got, err := cfg.Sources[0].Resolve("/vamp/sava/sava-cluster/sava-1.0.0", "webport")
	if err != nil || len(got) != 1 || !got[0].Healthy || got[0].Port < 31000 {
		t.Fatalf("Resolve = %+v, %v; want the app's healthy task", got, err)
	}
	// The event stream is open with the token: a killed task is followed with a 1h poll interval.
	changed := make(chan struct{}, 1)
	defer cfg.Sources[0].Subscribe(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})()
	app, _ := e.App("/vamp/sava/sava-cluster/sava-1.0.0")
	if err := e.KillTask(app.ID, app.Tasks[0].ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("the killed task was not followed through the event stream")
	}
	// The gateway scales Marathon apps for routes with an SLA, with the same credentials.
	scaler := cfg.Scalers["marathon"]
	if scaler == nil {
		t.Fatal("no SLA scaler for the marathon runtime")
	}
	if err := scaler.Scale(ctx, "sava/sava_cluster/sava:1.0.0", 2); err != nil {
		t.Fatal(err)
	}
	if app, _ := e.App("/vamp/sava/sava-cluster/sava-1.0.0"); app.Instances != 2 {
		t.Fatalf("after the scaler's Scale(2) the app has %d instances", app.Instances)
	}
	if err := e.WaitDeploymentsDone(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMarathonFlagsErrors(t *testing.T) {
	t.Setenv(envMarathonURL, "")
	t.Setenv(envMarathonPassword, "")
	var cfg gateway.Config
	if err := parseMarathonFlags(t).addSource(&cfg); err != nil || len(cfg.Sources) != 0 {
		t.Fatalf("without a URL: %v, %v; want no source and no error", cfg.Sources, err)
	}
	err := parseMarathonFlags(t, "--marathon-url", "http://127.0.0.1:1", "--marathon-user", "ops").addSource(&cfg)
	if err == nil || !strings.Contains(err.Error(), "MARATHON_PASSWORD") {
		t.Fatalf("user without password: %v", err)
	}
	err = parseMarathonFlags(t, "--marathon-url", "http://127.0.0.1:1", "--dcos-token-file", filepath.Join(t.TempDir(), "missing")).addSource(&cfg)
	if err == nil || !strings.Contains(err.Error(), "--dcos-token-file") {
		t.Fatalf("missing token file: %v", err)
	}
}
