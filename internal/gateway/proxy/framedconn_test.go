package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
)

// readerConn is a net.Conn that reads from a byte stream and discards what is written.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c *readerConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *readerConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzFramedConn: whatever a client sends on a connection served by net/http, net/http reads
// through framedConn exactly the requests whose heads framedConn checked, one to one and in
// order: no request is hidden in another's body (smuggled), none is read without its check.
// Its seeds run with plain go test.
func FuzzFramedConn(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET /n HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\nGET /lf HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fc := newFramedConn(&readerConn{r: bytes.NewReader(data)}, nil, nil)
		br := bufio.NewReader(fc)
		read := 0
		for fc.state != framedPass && fc.state != framedAwaitSwitch {
			req, err := http.ReadRequest(br)
			if err != nil || fc.state == framedPass {
				break // or an HTTP/2 preface, which net/http's server takes as such
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				break
			}
			read++
			// bufio may have read into the next head already: framedConn is at most one ahead.
			if fc.heads < read || fc.heads > read+1 {
				t.Fatalf("net/http read %d requests, framedConn checked %d heads, in %q", read, fc.heads, data)
			}
			if len(req.Header["Upgrade"]) > 0 {
				break // what follows waits for the instance's answer
			}
		}
	})
}
