// Command backend is the benchmark's instance: it answers every request with a small fixed body
// on a keep-alive connection and names itself in the X-Backend header, so that the harness can
// tell which route served a request. It is as cheap as net/http allows, so that the proxy under
// test, not the backend, is the bottleneck.
//
//	backend -listen 127.0.0.1:18081 -name b1
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18081", "address to listen on")
	name := flag.String("name", "b1", "name sent in the X-Backend header and the body")
	flag.Parse()

	body := []byte("hello from " + *name + "\n")
	length := []string{strconv.Itoa(len(body))}
	nameHeader := []string{*name}
	contentType := []string{"text/plain"}
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Assigning the prepared slices avoids the allocations of Header().Set.
		h := w.Header()
		h["Content-Length"] = length
		h["Content-Type"] = contentType
		h["X-Backend"] = nameHeader
		_, _ = w.Write(body) // a client that went away: nothing to answer
	})
	if err := http.ListenAndServe(*listen, handler); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}
