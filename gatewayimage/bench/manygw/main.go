// Command manygw measures the gateway with many gateways configured.
//
//	manygw put  -n 1000 -first-port 20000   PUT n gateways through the admin API, print the time
//	manygw wait -n 1000 -since UNIX_NANOS   poll the admin API until it lists n gateways, print the
//	                                        time since the given start (the gateway's exec)
//
// Each gateway has two routes to -backends, 50/50, the first with a user-agent condition, like
// the canary scenario. The admin token comes from VAMP_GATEWAY_TOKEN.
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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "put" && os.Args[1] != "wait") {
		fmt.Fprintln(os.Stderr, "usage: manygw put|wait [flags]; see the package comment")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("manygw "+os.Args[1], flag.ExitOnError)
	adminURL := fs.String("admin", "http://127.0.0.1:19900", "the gateway's admin API")
	n := fs.Int("n", 1000, "number of gateways")
	firstPort := fs.Int("first-port", 20000, "port of the first gateway, the others follow; 0: internal gateways without a port")
	backends := fs.String("backends", "127.0.0.1:18081,127.0.0.1:18082", "the two instances, host:port,host:port")
	parallel := fs.Int("parallel", 1, "PUTs in flight at a time")
	since := fs.Int64("since", 0, "wait: start time in Unix nanoseconds (default: now)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	_ = fs.Parse(os.Args[2:]) // flag.ExitOnError: a bad flag exits, Parse returns no error
	if *n < 1 {
		fail(fmt.Errorf("-n %d: give at least 1 gateway", *n))
	}
	api := &adminClient{base: *adminURL, token: os.Getenv("VAMP_GATEWAY_TOKEN"), http: &http.Client{Timeout: *timeout}}
	if api.token == "" {
		fail(errors.New("set VAMP_GATEWAY_TOKEN to the gateway's admin token"))
	}

	var err error
	switch os.Args[1] {
	case "put":
		err = putAll(api, *n, *firstPort, *backends, *parallel)
	case "wait":
		start := time.Now()
		if *since != 0 {
			start = time.Unix(0, *since)
		}
		err = waitFor(api, *n, start, *timeout)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "manygw:", err)
	os.Exit(1)
}

func putAll(api *adminClient, n, firstPort int, backends string, parallel int) error {
	a, b, err := parseBackends(backends)
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, max(parallel, 1))
	took := make([]time.Duration, n)
	for i := range n {
		port := 0
		if firstPort != 0 {
			port = firstPort + i
		}
		strength := 100
		doc := gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{
			{Name: "sava:1.0.0", Weight: 50, Condition: "user-agent == Firefox", ConditionStrength: &strength, Instances: []gatewayapi.Instance{a}},
			{Name: "sava:1.1.0", Weight: 50, Instances: []gatewayapi.Instance{b}},
		}}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			began := time.Now()
			err := api.put(fmt.Sprintf("many-%05d", i), doc)
			took[i] = time.Since(began)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	elapsed := time.Since(start)
	tenth := max(n/10, 1)
	fmt.Printf("put %d gateways in %.3f s (%.1f PUT/s, %d in flight; a PUT took %.1f ms on average among the first %d, %.1f ms among the last %d)\n",
		n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), parallel, avgMS(took[:tenth]), tenth, avgMS(took[n-tenth:]), tenth)
	return nil
}

func avgMS(d []time.Duration) float64 {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return float64(sum.Microseconds()) / 1000 / float64(len(d))
}

func waitFor(api *adminClient, n int, start time.Time, timeout time.Duration) error {
	deadline := start.Add(timeout)
	for {
		count, err := api.count()
		if err == nil && count >= n {
			fmt.Printf("ready with %d gateways %.3f s after start\n", count, time.Since(start).Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready with %d gateways after %s (last: %d gateways, error %v)", n, timeout, count, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func parseBackends(s string) (a, b gatewayapi.Instance, err error) {
	var parts [2]gatewayapi.Instance
	rest := s
	for i := range parts {
		var addr string
		addr, rest, _ = strings.Cut(rest, ",")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return a, b, fmt.Errorf("-backends %q: %v; use host:port,host:port", s, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return a, b, fmt.Errorf("-backends %q: port %q is not a number", s, port)
		}
		parts[i] = gatewayapi.Instance{Host: host, Port: p}
	}
	return parts[0], parts[1], nil
}

type adminClient struct {
	base, token string
	http        *http.Client
}

func (c *adminClient) put(name string, doc gatewayapi.Gateway) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = c.do(http.MethodPut, "/v1/gateways/"+name, body)
	return err
}

func (c *adminClient) count() (int, error) {
	body, err := c.do(http.MethodGet, "/v1/gateways", nil)
	if err != nil {
		return 0, err
	}
	var list gatewayapi.GatewayList
	if err := json.Unmarshal(body, &list); err != nil {
		return 0, err
	}
	return len(list.Gateways), nil
}

func (c *adminClient) do(method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return msg, nil
}
