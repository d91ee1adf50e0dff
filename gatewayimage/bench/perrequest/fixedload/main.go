// Command fixedload sends an exact number of keep-alive GETs: -c connections, opened before the
// count starts, each sending -n requests one after another. It prints "ready" once connected,
// waits for a line on stdin, sends the requests, prints "done N bad B", and keeps the
// connections open until stdin closes, so that no accept or close falls inside a measured window
// (perrequest/instructions.sh).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:29050", "the gateway's address")
	conns := flag.Int("c", 64, "connections")
	perConn := flag.Int("n", 400, "requests per connection")
	ua := flag.String("ua", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "User-Agent")
	flag.Parse()
	req := []byte("GET / HTTP/1.1\r\nHost: " + *addr + "\r\nUser-Agent: " + *ua + "\r\n\r\n")
	cs := make([]net.Conn, *conns)
	for i := range cs {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fixedload:", err)
			os.Exit(1)
		}
		cs[i] = c
	}
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "fixedload: no go line on stdin:", err)
		os.Exit(1)
	}
	var bad atomic.Int64
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !exchange(c, req, *perConn) {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Println("done", *conns**perConn, "bad", bad.Load())
	_, _ = io.Copy(io.Discard, in) // until stdin closes
	for _, c := range cs {
		c.Close()
	}
}

// exchange sends req n times on c, reading each answer (200 with a Content-Length) whole.
func exchange(c net.Conn, req []byte, n int) bool {
	r := bufio.NewReader(c)
	for range n {
		if _, err := c.Write(req); err != nil {
			return false
		}
		status, length := "", -1
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return false
			}
			if status == "" {
				status = string(line)
			}
			if len(line) <= 2 {
				break
			}
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if length < 0 || len(status) < 12 || status[9:12] != "200" {
			return false
		}
		if _, err := io.CopyN(io.Discard, r, int64(length)); err != nil {
			return false
		}
	}
	return true
}
