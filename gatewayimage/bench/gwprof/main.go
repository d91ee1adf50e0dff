// Command gwprof is vamp-gateway with net/http/pprof on its own loopback address: the same
// library and flags as the real binary, for profiling it under the benchmark's load
// (`gatewayimage/bench/run.sh profile`). The real binary keeps pprof out of its attack surface.
//
//	VAMP_GATEWAY_TOKEN=... gwprof -pprof-listen 127.0.0.1:19990 [vamp-gateway flags]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
)

func main() {
	fs := flag.NewFlagSet("gwprof", flag.ExitOnError)
	var cfg gateway.Config
	cfg.RegisterFlags(fs)
	pprofListen := fs.String("pprof-listen", "127.0.0.1:19990", "address of the pprof endpoints (/debug/pprof/)")
	_ = fs.Parse(os.Args[1:]) // flag.ExitOnError: a bad flag exits, Parse returns no error
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	go func() {
		err := http.ListenAndServe(*pprofListen, nil)
		fmt.Fprintln(os.Stderr, "gwprof: pprof:", err)
		os.Exit(1)
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := gateway.New(cfg)
	if err == nil {
		err = srv.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gwprof:", err)
		os.Exit(1)
	}
}
