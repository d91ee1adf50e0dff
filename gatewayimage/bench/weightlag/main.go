// Command weightlag measures how soon a weight change made through the gateway's admin API
// applies to new requests. It starts two backends of its own (a and b), creates a gateway that
// routes to them, then flips the weights 100/0 <-> 0/100 n times. After each PUT's answer it sends
// requests until one lands on the route that now has weight 100, and records the time from the
// answer to that request's start (how long the old weights outlived the answer; ~0 when the first
// request already follows the new weights) and to its response (adds one round trip). Every
// request after the answer that lands on the old route counts as stale, and -after more requests
// per flip check that the new weights hold. Exit status 1 if any request was stale or a flip timed out.
//
//	VAMP_GATEWAY_TOKEN=... weightlag -admin http://127.0.0.1:19900 -port 19060 -n 200
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

func main() {
	admin := flag.String("admin", "http://127.0.0.1:19900", "the gateway's admin API")
	name := flag.String("gateway", "bench-weightlag", "name of the gateway this program creates")
	port := flag.Int("port", 19060, "port of the gateway this program creates")
	n := flag.Int("n", 200, "number of weight flips")
	after := flag.Int("after", 5, "requests per flip, after the first compliant one, that must follow the new weights too")
	timeout := flag.Duration("timeout", 2*time.Second, "give up on a flip that has not applied after this long")
	flag.Parse()
	if *n < 1 || *after < 0 {
		fail(fmt.Errorf("-n %d -after %d: give at least 1 flip and no negative count", *n, *after))
	}
	token := os.Getenv("VAMP_GATEWAY_TOKEN")
	if token == "" {
		fail(errors.New("set VAMP_GATEWAY_TOKEN to the gateway's admin token"))
	}
	if err := run(*admin, token, *name, *port, *n, *after, *timeout); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "weightlag:", err)
	os.Exit(1)
}

func run(admin, token, name string, port, n, after int, timeout time.Duration) (err error) {
	a, err := startBackend("a")
	if err != nil {
		return err
	}
	b, err := startBackend("b")
	if err != nil {
		return err
	}
	api := &adminClient{base: admin, token: token, name: name, port: port, a: a, b: b}
	if err := api.put(100); err != nil {
		return err
	}
	defer func() {
		if derr := api.delete(); derr != nil {
			err = errors.Join(err, fmt.Errorf("removing the gateway %s: %w", name, derr))
		}
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: timeout}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if err := waitServing(client, url, timeout); err != nil {
		return err
	}

	// lags: answer -> response of the first request served by the new route (includes its round
	// trip); sentLags: answer -> that request's start, which bounds the propagation itself.
	lags := make([]time.Duration, 0, n)
	sentLags := make([]time.Duration, 0, n)
	stale, timeouts := 0, 0
	for i := range n {
		weightA, want := 0, "b"
		if i%2 == 1 {
			weightA, want = 100, "a"
		}
		if err := api.put(weightA); err != nil {
			return fmt.Errorf("flip %d: %w", i, err)
		}
		answered := time.Now()
		applied := false
		for time.Since(answered) < timeout {
			sent := time.Now()
			got, err := backendOf(client, url)
			if err != nil {
				return fmt.Errorf("flip %d: %w", i, err)
			}
			if got == want {
				sentLags = append(sentLags, sent.Sub(answered))
				lags = append(lags, time.Since(answered))
				applied = true
				break
			}
			stale++
		}
		if !applied {
			timeouts++
			continue
		}
		for range after {
			got, err := backendOf(client, url)
			if err != nil {
				return fmt.Errorf("flip %d: %w", i, err)
			}
			if got != want {
				stale++
			}
		}
	}

	fmt.Printf("flips=%d applied=%d timed_out=%d stale_requests=%d checked_requests_per_flip=%d\n",
		n, len(lags), timeouts, stale, after+1)
	printPercentiles("answer_to_first_new_route_request_sent_ms", sentLags)
	printPercentiles("answer_to_first_new_route_response_ms", lags)
	if stale > 0 || timeouts > 0 {
		return fmt.Errorf("%d stale requests and %d flips that did not apply within %s", stale, timeouts, timeout)
	}
	return nil
}

func printPercentiles(name string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	fmt.Printf("%s p50=%.3f p99=%.3f max=%.3f\n", name, ms(percentile(d, 50)), ms(percentile(d, 99)), ms(d[len(d)-1]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

// startBackend serves "X-Backend: name" on a free loopback port.
func startBackend(name string) (*net.TCPAddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("backend %s: listening on %s, not TCP", name, ln.Addr())
	}
	// Serve returns only when the listener fails; the requests through the gateway then fail
	// and say so.
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Backend", name)
			_, _ = io.WriteString(w, name) // a client that went away: nothing to answer
		}))
	}()
	return addr, nil
}

func waitServing(client *http.Client, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := backendOf(client, url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway does not serve %s: %w", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func backendOf(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return resp.Header.Get("X-Backend"), nil
}

type adminClient struct {
	base, token, name string
	port              int
	a, b              *net.TCPAddr
	http              http.Client
}

func (c *adminClient) put(weightA int) error {
	doc := gatewayapi.Gateway{Port: c.port, Routes: []gatewayapi.Route{
		{Name: "a", Weight: weightA, Instances: []gatewayapi.Instance{{Host: "127.0.0.1", Port: c.a.Port}}},
		{Name: "b", Weight: 100 - weightA, Instances: []gatewayapi.Instance{{Host: "127.0.0.1", Port: c.b.Port}}},
	}}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return c.do(http.MethodPut, body)
}

func (c *adminClient) delete() error { return c.do(http.MethodDelete, nil) }

func (c *adminClient) do(method string, body []byte) error {
	req, err := http.NewRequest(method, c.base+"/v1/gateways/"+c.name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, req.URL, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
