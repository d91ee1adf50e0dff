// Command vamp-gateway is the gateway that terraform-provider-vamp ships as a container image.
//
//	vamp-gateway [serve] [flags]   run the gateway (see -help and README.md)
//	vamp-gateway dev [flags]       run the gateway with the local dev runtime
//	vamp-gateway --version         print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3" (make gateway, make image).
var version = "dev"

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) > 0 && args[0] == "dev":
		err = runDev(args[1:])
	case len(args) > 0 && args[0] == "serve":
		err = runServe(args[1:])
	default:
		err = runServe(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vamp-gateway:", err)
		os.Exit(1)
	}
}

// runServe runs the gateway until SIGTERM or SIGINT, then drains in-flight requests and returns.
func runServe(args []string) error {
	fs := flag.NewFlagSet("vamp-gateway", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vamp-gateway [serve] [flags]\n       vamp-gateway dev [flags]\n       vamp-gateway --version\n\nflags:")
		fs.PrintDefaults()
	}
	var cfg gateway.Config
	cfg.RegisterFlags(fs)
	marathonFlags := registerMarathonFlags(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *showVersion {
		fmt.Println("vamp-gateway", version)
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see vamp-gateway -help", fs.Arg(0))
	}
	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	if err := marathonFlags.addSource(&cfg); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: use json or text", format)
}
