// Command rollout_sava is sava:1.1.0 of the seed's story for the roll-out acceptance test: it
// answers like examples/sava, except that a request from Firefox gets a 500.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	addr := net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT"))
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && strings.Contains(r.UserAgent(), "Firefox") {
			http.Error(w, "sava:1.1.0 is broken in Firefox", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "sava:1.1.0")
	})}
	log.Fatal(srv.ListenAndServe())
}
