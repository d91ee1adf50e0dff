package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkForwardPost4K: one keep-alive POST with a 4 KB body (Content-Length, and chunked)
// through each path: client → proxy → instance on loopback in this process (the client and the
// instance are counted too, so allocs/op is the whole exchange's).
func BenchmarkForwardPost4K(b *testing.B) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, strconv.FormatInt(n, 10)) // a gateway that went away reads no answer: the client sees it
	}))
	b.Cleanup(inst.Close)
	body := bytes.Repeat([]byte("x"), 4096)
	for _, framing := range []string{"length", "chunked"} {
		for _, path := range paths {
			b.Run(framing+"/"+path.name, func(b *testing.B) {
				url, _ := gatewayFor(b, path.netHTTPOnly, Options{}, inst.Listener.Addr().String())
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
				b.Cleanup(client.CloseIdleConnections)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						var rd io.Reader = bytes.NewReader(body)
						if framing == "chunked" {
							rd = io.MultiReader(rd) // no length known: net/http sends it chunked
						}
						req, _ := http.NewRequest(http.MethodPost, url+"/", rd)
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						got, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || string(got) != "4096" {
							b.Errorf("the instance got %q of the body (%v)", got, err)
							return
						}
					}
				})
			})
		}
	}
}
