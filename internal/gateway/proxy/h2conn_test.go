package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The gateway's own HTTP/2 front end (h2conn.go, h2stream.go), from outside: net/http's HTTP/2
// client, h2load, and a raw client that sends what no well-behaved client sends (the attacks
// net/http's server defends against).

// h2Client is net/http's HTTP/2 client speaking h2c with prior knowledge (the transport's
// unencrypted HTTP/2, golang.org/x/net/http2's client inside).
func h2Client(t testing.TB) *http.Client {
	t.Helper()
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: protocols}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// h2Instance answers GET with the request's path, Host and cookie ("path host cookie"), POST with
// the length and SHA-256 of its body, /chunked with a chunked body and a trailer, and /slow after
// release is closed. requests counts what it got.
type h2Instance struct {
	addr     string
	requests atomic.Int64
	arrived  chan string
	release  chan struct{}
	once     sync.Once
}

func startH2Instance(t *testing.T) *h2Instance {
	in := &h2Instance{arrived: make(chan string, 1024), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.requests.Add(1)
		switch {
		case r.URL.Path == "/slow":
			in.arrived <- r.URL.Path
			select {
			case <-in.release:
			case <-r.Context().Done():
				in.arrived <- "gone"
				return
			}
		case r.URL.Path == "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			for i := range 3 {
				fmt.Fprintf(w, "part %d;", i)
				_ = http.NewResponseController(w).Flush() // the test's client sees a failure
			}
			w.Header().Set("X-Sum", "3 parts")
			return
		case r.Method == http.MethodPost:
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%d %x te=%q", n, h.Sum(nil), r.TransferEncoding)
			return
		}
		fmt.Fprintf(w, "%s %s %s", r.URL.RequestURI(), r.Host, r.Header.Get("Cookie"))
	}))
	t.Cleanup(func() {
		in.once.Do(func() { close(in.release) })
		srv.Close()
	})
	in.addr = srv.Listener.Addr().String()
	return in
}

func (in *h2Instance) releaseSlow() { in.once.Do(func() { close(in.release) }) }

// h2Get fetches url and returns its status, body and the answer.
func h2Get(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, string(body)
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestH2NetHTTPClientInEveryIOMode: net/http's own HTTP/2 client, with many streams at once on
// its connection, gets every stream's own answer, whichever way the front end reads its sockets,
// and through net/http's h2 (NetHTTPOnly) too; bodies whole and streamed, with and without a
// content-length, reach the instance whole (flow control: a body larger than the stream's
// window); :authority is the instance's Host; cookie fields are joined; a chunked answer arrives
// de-chunked with its trailer.
func TestH2NetHTTPClientInEveryIOMode(t *testing.T) {
	in := startH2Instance(t)
	type variant struct {
		name    string
		mode    ioMode
		netHTTP bool
	}
	variants := []variant{{"net/http's h2", ioArrivalOrder, true}}
	for _, m := range ioModes {
		variants = append(variants, variant{m.name, m.mode, false})
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			srv, _, gw := startServerIO(t, v.mode, Options{}, ServerOptions{NetHTTPOnly: v.netHTTP}, in.addr)
			c := h2Client(t)
			base := "http://" + gw
			var wg sync.WaitGroup
			errs := make(chan string, 400)
			for g := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 10 {
						path := fmt.Sprintf("/echo/%d/%d?q=%d", g, i, i)
						resp, err := c.Get(base + path)
						if err != nil {
							errs <- fmt.Sprintf("%s: %v", path, err)
							continue
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if want := path + " " + gw + " "; err != nil || resp.StatusCode != 200 || string(body) != want || resp.ProtoMajor != 2 {
							errs <- fmt.Sprintf("%s: %s %q (%v, HTTP/%d), want 200 %q", path, resp.Status, body, err, resp.ProtoMajor, want)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			if !v.netHTTP {
				found := false
				srv.mu.Lock()
				for fc := range srv.conns {
					found = found || fc.h2.Load() != nil
				}
				srv.mu.Unlock()
				if !found {
					t.Error("no connection of the front end is served as HTTP/2: net/http served it")
				}
			}

			req := newRequest(t, http.MethodGet, base+"/host", nil)
			req.Host = "shop.example"
			req.Header.Add("Cookie", "a=1")
			req.Header.Add("Cookie", "b=2")
			if resp, body := h2Get(t, c, req); resp.StatusCode != 200 || body != "/host shop.example a=1; b=2" {
				t.Errorf("Host and cookies: %s %q", resp.Status, body)
			}

			big := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16) // 300 KiB: four times the stream's window
			sum := fmt.Sprintf("%x", sha256.Sum256(big))
			for _, b := range []struct {
				name string
				body io.Reader
				te   string
			}{
				{"content-length", bytes.NewReader(big), "[]"},
				{"streamed", io.MultiReader(bytes.NewReader(big[:100<<10]), bytes.NewReader(big[100<<10:])), `["chunked"]`},
			} {
				req := newRequest(t, http.MethodPost, base+"/upload", b.body)
				if b.name == "streamed" {
					req.ContentLength = -1
				}
				resp, body := h2Get(t, c, req)
				want := fmt.Sprintf("%d %s te=%s", len(big), sum, b.te)
				if v.netHTTP {
					want = fmt.Sprintf("%d %s", len(big), sum) // net/http's transfer coding is its own
					body = body[:min(len(body), len(want))]
				}
				if resp.StatusCode != 200 || body != want {
					t.Errorf("POST %s: %s %q, want %q", b.name, resp.Status, body, want)
				}
			}
			resp, body := h2Get(t, c, newRequest(t, http.MethodPost, base+"/small", strings.NewReader("hello")))
			if want := fmt.Sprintf("5 %x te=[]", sha256.Sum256([]byte("hello"))); resp.StatusCode != 200 || body != want && !v.netHTTP {
				t.Errorf("POST hello: %s %q, want %q", resp.Status, body, want)
			}

			resp, body = h2Get(t, c, newRequest(t, http.MethodGet, base+"/chunked", nil))
			if resp.StatusCode != 200 || body != "part 0;part 1;part 2;" || resp.Trailer.Get("X-Sum") != "3 parts" {
				t.Errorf("chunked answer: %s %q, trailer %v", resp.Status, body, resp.Trailer)
			}
			if te := resp.Header.Get("Transfer-Encoding"); te != "" {
				t.Errorf("chunked answer: Transfer-Encoding %q passed on in HTTP/2", te)
			}
		})
	}
}

// TestH2LoadEveryStreamAnswered: h2load, many concurrent streams on few connections: every
// request succeeds, and the instance got each once.
func TestH2LoadEveryStreamAnswered(t *testing.T) {
	bin, err := exec.LookPath("h2load")
	if err != nil {
		t.Fatalf("h2load is missing (Debian's nghttp2-client; `make tools` installs it): %v", err)
	}
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	const n = 4000
	out, err := exec.Command(bin, "-n", strconv.Itoa(n), "-c", "8", "-m", "20", "http://"+gw+"/load").CombinedOutput()
	if err != nil {
		t.Fatalf("h2load: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("h2load's summary not found:\n%s", out)
	}
	if m[4] != strconv.Itoa(n) || m[5] != "0" || m[6] != "0" {
		t.Errorf("h2load: %s of %d succeeded, %s failed, %s errored\n%s", m[4], n, m[5], m[6], out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("status codes: %d 2xx", n)) {
		t.Errorf("h2load: not every answer is a 2xx:\n%s", out)
	}
	if got := in.requests.Load(); got != n {
		t.Errorf("the instance got %d requests, want %d", got, n)
	}
}

// rawH2 is a client that writes frames as it is told.
type rawH2 struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

// dialRawH2 connects, sends the preface and an empty SETTINGS, and reads the server's SETTINGS.
func dialRawH2(t *testing.T, addr string, dialer *net.Dialer) *rawH2 {
	t.Helper()
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	conn, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawH2{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f := c.next()
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("the server's first frame is %v, want SETTINGS", f)
	}
	if err := c.fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	return c
}

// next reads the next frame, waiting at most 10 seconds.
func (c *rawH2) next() http2.Frame {
	c.t.Helper()
	f, err := c.nextErr()
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

func (c *rawH2) nextErr() (http2.Frame, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	return c.fr.ReadFrame()
}

// block encodes header fields given as name, value pairs.
func (c *rawH2) block(fields ...string) []byte {
	c.hbuf.Reset()
	for i := 0; i < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(c.hbuf.Bytes())
}

func (c *rawH2) request(id uint32, end bool, fields ...string) {
	c.t.Helper()
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block(fields...), EndStream: end, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

func getFields(path string) []string {
	return []string{":method", "GET", ":scheme", "http", ":path", path, ":authority", "shop.example"}
}

// answer reads frames until stream id's answer ended, and returns its status, fields and body.
func (c *rawH2) answer(id uint32) (status string, fields map[string]string, body string) {
	c.t.Helper()
	fields = map[string]string{}
	var b strings.Builder
	for {
		switch f := c.next().(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID != id {
				continue
			}
			for _, hf := range f.Fields {
				if hf.Name == ":status" {
					status = hf.Value
				} else {
					fields[hf.Name] = hf.Value
				}
			}
			if f.StreamEnded() {
				return status, fields, b.String()
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				continue
			}
			b.Write(f.Data())
			if f.StreamEnded() {
				return status, fields, b.String()
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				c.t.Fatalf("stream %d reset: %v", id, f.ErrCode)
			}
		case *http2.GoAwayFrame:
			c.t.Fatalf("GOAWAY %v while waiting for stream %d", f.ErrCode, id)
		}
	}
}

// goAway reads frames until a GOAWAY and returns its code; false: the connection closed first.
func (c *rawH2) goAway() (http2.ErrCode, bool) {
	for {
		f, err := c.nextErr()
		if err != nil {
			return 0, false
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			return g.ErrCode, true
		}
	}
}

// TestH2RefusesConnectAndAnswersErrorsAsHTTP11: CONNECT is 405 with Allow, an unreachable
// instance 502 with the HTTP/1.1 text, a target the gateway does not forward 400; HEAD and
// the sticky cookie; the connection carries on.
func TestH2RefusesConnectAndAnswersErrorsAsHTTP11(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	_, _, gw := startServer(t, Options{}, ServerOptions{}, deadAddr)
	c := dialRawH2(t, gw, nil)
	c.request(1, true, ":method", "CONNECT", ":authority", "shop.example:443")
	status, fields, body := c.answer(1)
	if status != "405" || fields["allow"] != allowedMethods || !strings.Contains(body, "CONNECT is not served here") {
		t.Errorf("CONNECT: %s %v %q", status, fields, body)
	}
	c.request(3, true, getFields("/x")...)
	status, fields, body = c.answer(3)
	if status != "502" || body != "vamp gateway: route \"r\": its instance did not answer (Bad Gateway)\n" ||
		fields["content-type"] != "text/plain; charset=utf-8" || fields["content-length"] != strconv.Itoa(len(body)) {
		t.Errorf("unreachable instance: %s %v %q", status, fields, body)
	}
	c.request(5, true, getFields("/a b")...)
	if status, _, body = c.answer(5); status != "400" || !strings.Contains(body, `target "/a b"`) {
		t.Errorf("a target with a space: %s %q", status, body)
	}
}

// TestH2StickyCookieAndHead: the sticky cookie on an HTTP/2 answer, and HEAD without a body.
func TestH2StickyCookieAndHead(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	c := dialRawH2(t, gw, nil)
	c.request(1, true, ":method", "HEAD", ":scheme", "http", ":path", "/h", ":authority", "shop.example")
	status, fields, body := c.answer(1)
	if status != "200" || body != "" || fields["content-length"] != strconv.Itoa(len("/h shop.example ")) {
		t.Errorf("HEAD: %s %v %q", status, fields, body)
	}
	for name := range fields {
		switch name {
		case "connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection":
			t.Errorf("HEAD: connection-specific field %q passed on", name)
		}
	}
}

// TestH2ShutdownSendsGoAwayAndFinishesStreams: Server.Shutdown sends GOAWAY, lets the stream in
// flight finish, then closes the connection and returns.
func TestH2ShutdownSendsGoAwayAndFinishesStreams(t *testing.T) {
	in := startH2Instance(t)
	srv, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	c := dialRawH2(t, gw, nil)
	c.request(1, true, getFields("/slow")...)
	<-in.arrived
	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shutdown <- srv.Shutdown(ctx)
	}()
	if code, ok := c.goAway(); !ok || code != http2.ErrCodeNo {
		t.Fatalf("Shutdown: GOAWAY %v (%v), want NO_ERROR", code, ok)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while a stream was in flight", err)
	default:
	}
	in.releaseSlow()
	if status, _, body := c.answer(1); status != "200" || body != "/slow shop.example " {
		t.Errorf("the stream in flight: %s %q", status, body)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := c.nextErr(); err == nil {
		t.Error("the connection is still open after Shutdown")
	}
}

// TestH2ClientGoAwayLeavesTimeForFramesInFlight: after the client's GOAWAY the gateway sends its
// own and keeps reading: a PING the client sent once it saw that GOAWAY is still answered (h2spec
// generic/3.8; a close right after the GOAWAY would reset it), and the client's close ends the
// connection without waiting for the grace.
func TestH2ClientGoAwayLeavesTimeForFramesInFlight(t *testing.T) {
	_, _, gw := startServer(t, Options{}, ServerOptions{}, echoInstance(t))
	c := dialRawH2(t, gw, nil)
	if err := c.fr.WriteGoAway(0, http2.ErrCodeNo, nil); err != nil {
		t.Fatal(err)
	}
	if code, ok := c.goAway(); !ok || code != http2.ErrCodeNo {
		t.Fatalf("the client's GOAWAY: GOAWAY %v (%v), want NO_ERROR", code, ok)
	}
	data := [8]byte{'a', 'f', 't', 'e', 'r'}
	if err := c.fr.WritePing(false, data); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := c.nextErr()
		if err != nil {
			t.Fatalf("the PING sent after the GOAWAYs: %v, want its acknowledgement", err)
		}
		if p, ok := f.(*http2.PingFrame); ok {
			if !p.IsAck() || p.Data != data {
				t.Fatalf("PING answered with %v, want the acknowledgement of %q", p, data)
			}
			break
		}
	}
	tcp, ok := c.conn.(*net.TCPConn)
	if !ok {
		t.Fatalf("the client's connection is a %T, want a *net.TCPConn", c.conn)
	}
	if err := tcp.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if f, err := c.nextErr(); err == nil {
		t.Fatalf("after the client's close: %v, want the connection closed", f)
	}
}

// TestH2ResetCancelsForwarding: RST_STREAM from the client ends the request at the instance.
func TestH2ResetCancelsForwarding(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	c := dialRawH2(t, gw, nil)
	c.request(1, true, getFields("/slow")...)
	<-in.arrived
	if err := c.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	if got := <-in.arrived; got != "gone" {
		t.Fatalf("the instance saw %q, want its request cancelled", got)
	}
	c.request(3, true, getFields("/after")...)
	if status, _, body := c.answer(3); status != "200" || body != "/after shop.example " {
		t.Errorf("after the reset: %s %q", status, body)
	}
}

// TestH2RapidResetIsBounded (CVE-2023-44487): a client that opens and resets streams faster than
// their forwarding ends gets GOAWAY ENHANCE_YOUR_CALM once h2MaxRunning forwardings run.
func TestH2RapidResetIsBounded(t *testing.T) {
	hang := make(chan struct{})
	arrived := make(chan struct{}, 2*h2MaxRunning)
	inst := rawInstance(t, func(conn net.Conn) {
		arrived <- struct{}{}
		<-hang // reads nothing, answers nothing
		conn.Close()
	})
	t.Cleanup(func() { close(hang) })
	_, _, gw := startServer(t, Options{}, ServerOptions{}, inst)
	c := dialRawH2(t, gw, nil)
	go func() {
		for id := uint32(1); id < 2*(h2MaxRunning+50); id += 2 {
			c.request(id, true, getFields("/r")...)
			// Reset once the stream is forwarding (its instance connection came): a stream reset
			// before it starts (at the end of the dispatcher's round, startAfterRound) ends at
			// once and costs the gateway nothing more.
			select {
			case <-arrived:
			case <-hang:
				return
			}
			if c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	if code, ok := c.goAway(); !ok || code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("rapid reset: GOAWAY %v (%v), want ENHANCE_YOUR_CALM", code, ok)
	}
}

// TestH2ContinuationFloodEndsConnection (CVE-2024-27316): HEADERS without END_HEADERS followed by
// CONTINUATION frames without end: the connection ends once the header list passes the bound,
// the gateway reads no more.
func TestH2ContinuationFloodEndsConnection(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	c := dialRawH2(t, gw, nil)
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(getFields("/")...), EndStream: true}); err != nil {
		t.Fatal(err)
	}
	junk := c.block("x-junk", strings.Repeat("j", 8000))
	sent := 0
	for ; sent < 1000; sent++ {
		if err := c.fr.WriteContinuation(1, false, junk); err != nil {
			break
		}
	}
	code, ok := c.goAway()
	if !ok {
		t.Logf("the connection closed without GOAWAY after %d CONTINUATION frames", sent)
	} else if code != http2.ErrCodeProtocol {
		t.Errorf("CONTINUATION flood: GOAWAY %v, want PROTOCOL_ERROR", code)
	}
	if sent == 1000 && !ok {
		t.Error("the gateway read 1000 CONTINUATION frames (8 MB) without ending the connection")
	}
	if in.requests.Load() != 0 {
		t.Error("the flooded request reached the instance")
	}
}

// TestH2HpackBombAnswered431: a header block that decodes to more than h2MaxHeaderList (one
// large field in the dynamic table, referred to again and again: a few bytes each) is answered
// 431 without reaching the instance, and the connection carries on.
func TestH2HpackBombAnswered431(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	c := dialRawH2(t, gw, nil)
	c.hbuf.Reset()
	fields := getFields("/bomb")
	for i := 0; i < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	big := hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 3000)}
	_ = c.enc.WriteField(big) // into the dynamic table
	for range 200 {
		_ = c.enc.WriteField(big) // one byte each: 600 KB decoded
	}
	block := bytes.Clone(c.hbuf.Bytes())
	if len(block) > 16384 {
		t.Fatalf("the bomb's block is %d bytes: more than one frame", len(block))
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := c.answer(1); status != "431" || !strings.Contains(body, "header list") {
		t.Errorf("HPACK bomb: %s %q, want 431", status, body)
	}
	c.request(3, true, getFields("/after")...)
	if status, _, body := c.answer(3); status != "200" || body != "/after shop.example " {
		t.Errorf("after the bomb: %s %q", status, body)
	}
	if n := in.requests.Load(); n != 1 {
		t.Errorf("the instance got %d requests, want 1 (not the bomb)", n)
	}
}

// smallReceiveBuffer makes a dialled socket's receive buffer small, so that a client that reads
// nothing soon fills what the server can send.
func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	return errors.Join(err, serr)
}

// TestH2ControlFloodsEndConnection: a client that sends PINGs or SETTINGS and reads none of the
// acknowledgements is dropped once h2MaxQueuedControl of them wait (the writes then fail),
// rather than queued without bound.
func TestH2ControlFloodsEndConnection(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	for _, flood := range []string{"PING", "SETTINGS"} {
		t.Run(flood, func(t *testing.T) {
			c := dialRawH2(t, gw, &net.Dialer{Control: smallReceiveBuffer})
			const most = 2_000_000 // 34 MB of PINGs: far beyond socket buffers and the queue
			// The frames go out in batches of 64 KiB (a write per frame would make this test a
			// matter of system calls: minutes on a loaded machine).
			bw := bufio.NewWriterSize(c.conn, 64<<10)
			fr := http2.NewFramer(bw, nil)
			sent := 0
			for ; sent < most; sent++ {
				var err error
				if flood == "PING" {
					err = fr.WritePing(false, [8]byte{1})
				} else {
					err = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
				}
				if err == nil && bw.Available() < 64 {
					err = bw.Flush()
				}
				if err != nil {
					break
				}
			}
			if sent == most {
				t.Fatalf("%s flood: the gateway took %d frames without reading being required", flood, most)
			}
		})
	}
}

// TestH2BodyFlowControlAndContentLength: a body longer than its content-length is a stream error;
// DATA beyond the stream's window a FLOW_CONTROL_ERROR.
func TestH2BodyFlowControlAndContentLength(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, in.addr)
	c := dialRawH2(t, gw, nil)
	c.request(1, false, ":method", "POST", ":scheme", "http", ":path", "/cl", ":authority", "a", "content-length", "3")
	if err := c.fr.WriteData(1, true, []byte("four")); err != nil {
		t.Fatal(err)
	}
	for {
		f := c.next()
		if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID == 1 {
			if r.ErrCode != http2.ErrCodeProtocol {
				t.Errorf("a body longer than its content-length: RST_STREAM %v, want PROTOCOL_ERROR", r.ErrCode)
			}
			break
		}
	}
	c.request(3, false, ":method", "POST", ":scheme", "http", ":path", "/fc", ":authority", "a")
	chunk := make([]byte, 16384)
	for range 4 { // 64 KiB - 4: within the window
		if err := c.fr.WriteData(3, false, chunk[:16383]); err != nil {
			t.Fatal(err)
		}
	}
	for { // the gateway gives the window back as the body goes to the instance
		if w, ok := c.next().(*http2.WindowUpdateFrame); ok && w.StreamID == 3 {
			break
		}
	}
	if err := c.fr.WriteData(3, true, chunk[:100]); err != nil { // beyond the initial window
		t.Fatal(err)
	}
	status, _, body := c.answer(3)
	if want := 4*16383 + 100; status != "200" || !strings.HasPrefix(body, strconv.Itoa(want)+" ") {
		t.Errorf("a body within the windows as given back: %s %q", status, body)
	}
}

// TestH2NeverGetsAnotherRequestsAnswer: an instance that sends bytes after an answer (here after a
// HEAD answered with a Content-Length) never has them read as a later stream's answer, whichever
// way the front end reads its sockets (the pool's reuse check with the HTTP/2 front end's round,
// netpoll.Arrivals.NextRound).
func TestH2NeverGetsAnotherRequestsAnswer(t *testing.T) {
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			inst := startStrayInstance(t, "HTTP/1.1 200 OK\r\nContent-Length: 49\r\n\r\n", poisoned, false)
			_, _, gw := startServerIO(t, m.mode, Options{}, ServerOptions{}, inst.addr)
			c := dialRawH2(t, gw, nil)
			id := uint32(1)
			for round := range 100 {
				c.request(id, true, ":method", "HEAD", ":scheme", "http", ":path", "/trigger", ":authority", "a")
				if status, _, _ := c.answer(id); status != "200" {
					t.Fatalf("round %d: trigger: %s", round, status)
				}
				inst.stray <- struct{}{}
				<-inst.wrote
				want := fmt.Sprintf("/private/%d", round)
				c.request(id+2, true, getFields(want)...)
				if status, _, body := c.answer(id + 2); status != "200" || body != want {
					t.Fatalf("round %d: got %s %q, want %q", round, status, body, want)
				}
				id += 4
				for len(inst.events) > 0 {
					if ev := <-inst.events; ev != "closed" {
						t.Fatalf("round %d: a connection with stray bytes was reused", round)
					}
				}
			}
		})
	}
}

// TestH2PrefaceOnlyAtConnectionStart (RFC 9113 3.4): the HTTP/2 preface switches a connection to
// HTTP/2 only before its first request; after a request it is a bad request (400), and the
// connection closes after the answer, in every way the front end reads its sockets.
func TestH2PrefaceOnlyAtConnectionStart(t *testing.T) {
	in := startH2Instance(t)
	for _, m := range ioModes {
		t.Run(m.name, func(t *testing.T) {
			_, _, gw := startServerIO(t, m.mode, Options{}, ServerOptions{}, in.addr)
			before := in.requests.Load()
			conn, err := net.Dial("tcp", gw)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(conn)
			if _, err := io.WriteString(conn, "GET /first HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			first, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("the first request's answer: %v", err)
			}
			body, _ := io.ReadAll(first.Body)
			first.Body.Close()
			if first.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "/first ") {
				t.Fatalf("the first request: %d %q, want 200 from the instance", first.StatusCode, body)
			}
			if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
				t.Fatal(err)
			}
			late, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("after a late preface: %v, want a 400 answer", err)
			}
			body, _ = io.ReadAll(late.Body)
			late.Body.Close()
			if late.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "RFC 9113 3.4") || !late.Close {
				t.Fatalf("a late preface: %d %q (close %v), want 400 naming RFC 9113 3.4 and Connection: close", late.StatusCode, body, late.Close)
			}
			if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Fatalf("the connection carried on after the 400 (read %d, %v), want it closed", n, err)
			}
			if got := in.requests.Load() - before; got != 1 {
				t.Fatalf("the instance got %d requests, want the first one only", got)
			}
		})
	}
}

// TestH2HeaderBlockWithinReadHeaderTimeout: a header block begun and not finished (HEADERS
// without END_HEADERS, then nothing) ends the connection once ReadHeaderTimeout has passed, as
// an unfinished request head does on HTTP/1.1, even while another stream is open (the idle
// timeout, ten minutes here, does not apply then); the instance never sees the request.
func TestH2HeaderBlockWithinReadHeaderTimeout(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{ReadHeaderTimeout: 100 * time.Millisecond, IdleTimeout: 10 * time.Minute}, in.addr)
	c := dialRawH2(t, gw, nil)
	c.request(1, true, getFields("/slow")...)
	if got := <-in.arrived; got != "/slow" {
		t.Fatalf("the instance got %q, want /slow", got)
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: c.block(getFields("/never")...), EndStream: true}); err != nil {
		t.Fatal(err)
	}
	if code, ok := c.goAway(); !ok || code != http2.ErrCodeNo {
		t.Fatalf("an unfinished header block: GOAWAY %v (%v), want NO_ERROR once ReadHeaderTimeout passed", code, ok)
	}
	if got := in.requests.Load(); got != 1 {
		t.Fatalf("the instance got %d requests, want only /slow", got)
	}
}

// TestH2IdleConnectionClosedAfterIdleTimeout: a connection with no stream open, after its
// preface, is closed (GOAWAY NO_ERROR) once the idle timeout has passed.
func TestH2IdleConnectionClosedAfterIdleTimeout(t *testing.T) {
	in := startH2Instance(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{IdleTimeout: 100 * time.Millisecond}, in.addr)
	c := dialRawH2(t, gw, nil)
	if code, ok := c.goAway(); !ok || code != http2.ErrCodeNo {
		t.Fatalf("an idle HTTP/2 connection: GOAWAY %v (%v), want NO_ERROR after the idle timeout", code, ok)
	}
}

// TestH2EarlyAnswerDuringStreamedBody: an instance that answers (413) before a streamed body
// ends, and neither reads on nor closes, has its answer passed on while the client pauses in the
// middle of its body, as on HTTP/1.1 (the instance is looked at every bodyWaitSlice), not once
// the client goes on or the idle timeout (ten minutes here) passes; the stream then ends with
// RST_STREAM NO_ERROR (RFC 9113 8.1).
func TestH2EarlyAnswerDuringStreamedBody(t *testing.T) {
	hold := make(chan struct{})
	inst := rawInstance(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n\r\ntoo large")
		<-hold // reads no more of the body, and keeps the connection open
		conn.Close()
	})
	t.Cleanup(func() { close(hold) }) // before rawInstance's, which waits for this handler
	_, _, gw := startServer(t, Options{}, ServerOptions{IdleTimeout: 10 * time.Minute}, inst)
	c := dialRawH2(t, gw, nil)
	c.request(1, false, ":method", "POST", ":scheme", "http", ":path", "/upload", ":authority", "shop.example")
	if err := c.fr.WriteData(1, false, []byte("the first part of a large upload")); err != nil {
		t.Fatal(err)
	}
	status, _, body := c.answer(1)
	if status != "413" || body != "too large" {
		t.Fatalf("an early answer during the body: %s %q, want the instance's 413", status, body)
	}
	for {
		f := c.next()
		if rst, ok := f.(*http2.RSTStreamFrame); ok && rst.StreamID == 1 {
			if rst.ErrCode != http2.ErrCodeNo {
				t.Fatalf("the stream ended with RST_STREAM %v, want NO_ERROR after the answer", rst.ErrCode)
			}
			return
		}
	}
}

// TestH2StreamsOfABatchStartInTheirOrder: the streams that the frames of one read opened are
// started once every whole frame read is handled, the first last (startOpened): a goroutine made
// ready takes the scheduler's next-to-run slot and pushes the one there to the back of the run
// queue, so the first runs first and the others follow in their order. Here the streams go to idle
// workers (p.streams, which nobody takes in this test) in the order they are started.
func TestH2StreamsOfABatchStartInTheirOrder(t *testing.T) {
	p := &Proxy{streams: make(chan *h2Stream, 8)}
	h := &h2Conn{s: &Server{p: p}}
	for id := uint32(1); id <= 7; id += 2 {
		h.opened = append(h.opened, &h2Stream{id: id})
	}
	h.startOpened()
	var got []uint32
	for len(p.streams) > 0 {
		got = append(got, (<-p.streams).id)
	}
	if want := []uint32{3, 5, 7, 1}; !slices.Equal(got, want) {
		t.Fatalf("streams started in the order %v, want %v (the first one last)", got, want)
	}
	if len(h.opened) != 0 {
		t.Fatalf("%d streams left to start", len(h.opened))
	}
}

// TestWholeFrameBuffered: the reader starts the streams it opened before a read that would wait:
// when what is buffered is not a whole frame. The look never reads (a Peek with fewer than 9 bytes
// buffered would wait for the client, with the streams not started).
func TestWholeFrameBuffered(t *testing.T) {
	var frame bytes.Buffer
	if err := http2.NewFramer(&frame, nil).WritePing(false, [8]byte{1}); err != nil {
		t.Fatal(err)
	}
	whole := frame.Bytes() // 9 + 8 bytes
	for _, c := range []struct {
		name     string
		buffered []byte
		want     bool
	}{
		{"nothing", nil, false},
		{"part of a frame header", whole[:5], false},
		{"a frame header without its payload", whole[:12], false},
		{"a whole frame", whole, true},
		{"a whole frame and part of the next", append(slices.Clone(whole), whole[:3]...), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr, pw := io.Pipe() // a client that sends nothing more: a read from it would wait
			t.Cleanup(func() { pw.Close() })
			br := bufio.NewReader(io.MultiReader(bytes.NewReader(c.buffered), pr))
			if len(c.buffered) > 0 {
				if _, err := br.Peek(len(c.buffered)); err != nil {
					t.Fatal(err)
				}
			}
			if got := wholeFrameBuffered(br); got != c.want {
				t.Fatalf("wholeFrameBuffered with %d bytes buffered = %v, want %v", br.Buffered(), got, c.want)
			}
		})
	}
}
