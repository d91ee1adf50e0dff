package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/escalation"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/localrt"
)

// EnvDevStateDir overrides the dev state directory's default.
const EnvDevStateDir = "VAMP_DEV_STATE_DIR"

// defaultDevStateDir is relative to the current directory: like .terraform/, the dev state
// belongs to the project whose `cmd:` deployables (relative paths such as ./bin/sava) it runs.
const defaultDevStateDir = ".vamp-dev"

// runDev runs the gateway together with the local dev runtime (`vamp-gateway dev`): one process
// that serves the gateway admin API on 127.0.0.1:9900, runs "cmd:..." deployables as local
// processes (API under /v1/services/) and routes the gateways to them. Everything it keeps goes
// to the state directory: gateways.json, services.json and the admin token (when none is given).
// On SIGINT or SIGTERM it drains the gateway and stops every process it started.
func runDev(args []string) error {
	flags := flag.NewFlagSet("vamp-gateway dev", flag.ContinueOnError)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), `usage: vamp-gateway dev [flags]

Runs the gateway and the local dev runtime in one process: "cmd:..." deployables run as local
processes in -dir, on free ports of 127.0.0.1, health-checked and restarted when they die.
State (gateways, services, the generated admin token) lives in -state-dir.

flags:
`)
		flags.PrintDefaults()
	}
	var cfg gateway.Config
	cfg.RegisterFlags(flags)
	stateDir := flags.String("state-dir", envOr(EnvDevStateDir, defaultDevStateDir), "directory for gateways.json, services.json and the generated token (env "+EnvDevStateDir+")")
	workDir := flags.String("dir", "", "working directory of the local processes, which relative cmd: paths start from (default: the current directory)")
	quiet := flags.Bool("quiet", false, "do not copy the local processes' output to stderr")
	stopGrace := flags.Duration("stop-grace", 10*time.Second, "time between SIGTERM and SIGKILL when stopping a local process")
	logLevel := flags.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := flags.String("log-format", "text", "log format: json or text")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see vamp-gateway dev -help", flags.Arg(0))
	}
	setFlags := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })

	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*stateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if *workDir == "" {
		if *workDir, err = os.Getwd(); err != nil {
			return err
		}
	}
	if cfg.StateFile == "" && os.Getenv(gateway.EnvStateFile) == "" {
		cfg.StateFile = filepath.Join(dir, "gateways.json")
	}
	if !setFlags["bind-host"] {
		cfg.BindHost = "127.0.0.1" // a dev machine: gateway ports stay on loopback unless asked
	}
	tokenHint, err := devToken(&cfg, dir)
	if err != nil {
		return err
	}

	var output io.Writer
	if !*quiet {
		output = os.Stderr
	}
	runner := localrt.New(localrt.Options{
		Dir:        *workDir,
		Logger:     logger,
		Output:     output,
		StopGrace:  *stopGrace,
		StateFile:  filepath.Join(dir, "services.json"),
		DrainDelay: time.Second,
	})
	// Whatever happens from here on, the processes this command started stop with it.
	defer runner.Close()
	if err := runner.Restore(); err != nil {
		return err
	}

	cfg.Logger = logger
	cfg.Sources = append(cfg.Sources, runner)
	if cfg.Scalers == nil {
		cfg.Scalers = map[string]escalation.Scaler{}
	}
	cfg.Scalers[localrt.Runtime] = runner // SLA scaling of routes with a "scale" policy
	if cfg.AdminHandlers == nil {
		cfg.AdminHandlers = map[string]http.Handler{}
	}
	cfg.AdminHandlers["/v1/services"] = runner.Handler()
	cfg.AdminHandlers["/v1/services/"] = runner.Handler()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-srv.Ready():
			printDevBanner(os.Stderr, srv.AdminAddr().String(), dir, *workDir, tokenHint)
		case <-ctx.Done():
		}
	}()
	err = srv.Run(ctx)
	logger.Info("stopping the local processes")
	return err
}

// devToken makes sure the admin API has a token. One given by flag, file or VAMP_GATEWAY_TOKEN
// is used as it is; otherwise the token in the state directory (generated on first use) is. The
// token itself is never printed: the hint says how to export it from its file.
func devToken(cfg *gateway.Config, dir string) (hint string, err error) {
	switch {
	case cfg.AdminInsecureNoToken:
		return "none: the admin API runs WITHOUT a token (--admin-insecure-no-token)", nil
	case cfg.AdminToken != "" || os.Getenv(gateway.EnvToken) != "":
		return "the one you gave (flag or " + gateway.EnvToken + ")", nil
	case cfg.AdminTokenFile != "":
		return fmt.Sprintf("export %s=\"$(cat %s)\"", gateway.EnvToken, shellQuote(cfg.AdminTokenFile)), nil
	}
	path := filepath.Join(dir, "token")
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		b := make([]byte, 24)
		rand.Read(b)
		if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("writing the dev admin token: %w", err)
		}
	case err != nil:
		return "", fmt.Errorf("reading the dev admin token: %w", err)
	case strings.TrimSpace(string(data)) == "":
		return "", fmt.Errorf("the dev admin token file %s is empty; delete it to get a new token", path)
	}
	cfg.AdminTokenFile = path
	return fmt.Sprintf("export %s=\"$(cat %s)\"", gateway.EnvToken, shellQuote(path)), nil
}

func printDevBanner(w io.Writer, adminAddr, stateDir, workDir, tokenHint string) {
	fmt.Fprintf(w, `
vamp-gateway dev is running: the gateway and the local dev runtime ("cmd:..." deployables).
  admin API    http://%[1]s   (gateways: /v1/gateways, local services: /v1/services)
  processes    run in %[2]s
  state        %[3]s
  For Terraform and curl, in another shell:
    export VAMP_GATEWAY_URL=http://%[1]s
    %[4]s
  Ctrl-C stops the gateway and every process it started.

`, adminAddr, workDir, stateDir, tokenHint)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune("/._-+:@", r)
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
