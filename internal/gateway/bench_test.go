package gateway_test

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxyHTTP measures one GET end to end through a real gateway listener (keep-alive
// client → gateway → backend) on the scenario's gateway: a Firefox condition and a 50/50 split.
func BenchmarkProxyHTTP(b *testing.B) {
	h := startGateway(b, nil)
	v100, v110 := newBackend(b, "sava:1.0.0"), newBackend(b, "sava:1.1.0")
	port := freePort(b)
	gw := savaGateway(port, v100, v110, 50, 50)
	gw.Routes[0].Condition = "user-agent == Firefox"
	if _, err := h.admin.Put(b.Context(), "sava/9050", gw); err != nil {
		b.Fatal(err)
	}
	benchGET(b, gatewayURL(port))
}

// BenchmarkDirectHTTP is the same GET straight to a backend: the floor BenchmarkProxyHTTP is
// compared with.
func BenchmarkDirectHTTP(b *testing.B) {
	benchGET(b, newBackend(b, "direct").srv.URL+"/")
}

func benchGET(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("User-Agent", chromeUA)
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
