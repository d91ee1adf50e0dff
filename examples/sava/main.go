// Command sava is the demo service of the quickstart, standing in for the magneticio/sava image
// of Vamp's tutorials: an HTTP server that answers every request with its version, so that a
// canary release shows where each request went.
//
//	sava --version 1.0.0              listens on $PORT (default 8080)
//	curl localhost:$PORT/             sava:1.0.0
//	curl localhost:$PORT/health       ok
//
// With BACKEND set (a URL, or HOST:PORT as Vamp's $backend.host:$backend.ports.webport gives it),
// it is a frontend: GET / asks the backend and answers with its own name and the backend's
// answer, "sava:1.0.0 -> sava-backend:1.0.0 (via 127.0.0.1:40000)".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
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
	if err := run(*listen, *version, os.Getenv("BACKEND")); err != nil {
		log.Fatal(err)
	}
}

func run(addr, version, backend string) error {
	srv := &http.Server{Addr: addr, Handler: handler(version, backend), ReadHeaderTimeout: 10 * time.Second}
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

func handler(version, backend string) http.Handler {
	mux := http.NewServeMux()
	if backend != "" {
		target := backend
		if !strings.Contains(target, "://") {
			target = "http://" + target + "/"
		}
		client := &http.Client{Timeout: 10 * time.Second}
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			resp, err := client.Get(target)
			if err != nil {
				http.Error(w, fmt.Sprintf("sava:%s: backend %s: %v", version, backend, err), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				http.Error(w, fmt.Sprintf("sava:%s: backend %s: %s %v %s", version, backend, resp.Status, err, body), http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "sava:%s -> %s (via %s)\n", version, strings.TrimSpace(string(body)), backend)
		})
		mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		return mux
	}
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
