// Command idleconns opens n keep-alive client connections to a proxy, sends one request on each,
// and holds them idle so that the harness can read the proxy's memory. It prints "holding N" once
// every connection has had its answer, waits -hold (or until SIGTERM/SIGINT), then sends a second
// request on each connection and prints how many were still alive: a proxy that dropped idle
// connections to save memory shows up there.
//
//	idleconns -addr 127.0.0.1:19050 -n 10000 -hold 20s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const request = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\r\n"

type conn struct {
	c net.Conn
	r *bufio.Reader
}

func main() {
	addr := flag.String("addr", "127.0.0.1:19050", "proxy address")
	n := flag.Int("n", 10000, "connections to open")
	parallel := flag.Int("parallel", 64, "connections opened at a time")
	hold := flag.Duration("hold", 20*time.Second, "how long to hold the connections idle at most")
	flag.Parse()
	if *n < 1 || *parallel < 1 {
		fmt.Fprintf(os.Stderr, "idleconns: -n %d -parallel %d: both must be at least 1\n", *n, *parallel)
		os.Exit(2)
	}

	conns, err := open(*addr, *n, *parallel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
	fmt.Printf("holding %d\n", len(conns))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(*hold):
	}

	var alive atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	for _, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if roundTrip(c) == nil {
				alive.Add(1)
			}
			c.c.Close()
		}()
	}
	wg.Wait()
	fmt.Printf("alive_after_hold %d of %d\n", alive.Load(), len(conns))
}

// open dials n connections, parallel at a time, each answering one request.
func open(addr string, n, parallel int) ([]*conn, error) {
	conns := make([]*conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
				return
			}
			cc := &conn{c: c, r: bufio.NewReaderSize(c, 512)}
			if err := roundTrip(cc); err != nil {
				c.Close()
				errs <- fmt.Errorf("connection %d: %w", i, err)
				return
			}
			conns[i] = cc
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) > 0 {
		for _, c := range conns {
			if c != nil {
				c.c.Close()
			}
		}
		return nil, fmt.Errorf("%d of %d connections failed, first: %w", len(all), n, all[0])
	}
	return conns, nil
}

func roundTrip(c *conn) (err error) {
	if err := c.c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	defer func() {
		// The connection waits idle again, without a deadline.
		if derr := c.c.SetDeadline(time.Time{}); derr != nil && err == nil {
			err = derr
		}
	}()
	if _, err := io.WriteString(c.c, request); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if resp.Close {
		return errors.New("the proxy closed the connection after the answer")
	}
	return nil
}
