// Command sava is the demo service of the quickstart, standing in for the magneticio/sava image
// of Vamp's tutorials: an HTTP server that answers every request with its version, so that a
// canary release shows where each request went.
//
//	sava --version 1.0.0              listens on $PORT (default 8080)
//	curl localhost:$PORT/             sava:1.0.0
//	curl localhost:$PORT/health       ok
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	version := flag.String("version", "1.0.0", "the version this instance reports")
	listen := flag.String("listen", "", "address to listen on (default: :$PORT, or :8080 without PORT)")
	flag.Parse()
	if *listen == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "8080"
		}
		*listen = net.JoinHostPort(os.Getenv("HOST"), port)
	}
	if err := run(*listen, *version); err != nil {
		log.Fatal(err)
	}
}

func run(addr, version string) error {
	srv := &http.Server{Addr: addr, Handler: handler(version), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("sava:%s listening on %s", version, addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Finish the requests in flight, as a well-behaved service does on SIGTERM.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Printf("sava:%s stopped", version)
	return nil
}

func handler(version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Sava-Version", version)
		fmt.Fprintf(w, "sava:%s\n", version)
	})
	return mux
}
