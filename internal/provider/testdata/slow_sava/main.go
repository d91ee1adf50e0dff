// Command slow_sava is an artificially slow variant for the SLA scaling acceptance test: it
// answers like examples/sava after the delay written in the file $SLOW_DELAY_FILE (a Go duration;
// no file or an empty one: no delay). The file is read at every request, so a test makes every
// running instance slow or fast again without restarting any.
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
	delayFile := os.Getenv("SLOW_DELAY_FILE")
	addr := net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT"))
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			time.Sleep(delay(delayFile))
		}
		fmt.Fprintln(w, "sava:1.0.0")
	})}
	log.Fatal(srv.ListenAndServe())
}

func delay(file string) time.Duration {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	d, _ := time.ParseDuration(strings.TrimSpace(string(b)))
	return d
}
