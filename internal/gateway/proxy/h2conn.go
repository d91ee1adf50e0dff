package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The gateway's own HTTP/2 front end, for connections that begin with the HTTP/2 client preface
// (h2c with prior knowledge): frames are read and written with golang.org/x/net/http2's Framer and
// hpack. One goroutine per connection reads frames (h2Conn.serve); each request stream is
// forwarded on a goroutine of its own (h2stream.go), started at the end of the arrival-order
// dispatcher's next round (startAfterRound), as an HTTP/1.1 request, by the forwarding
// policy, routing, upstream pool, answer framing and metrics of the HTTP/1.1 front end; answers
// are appended as frames to the connection's output buffer, which one writer goroutine
// (writeLoop) writes, many answers in one write.
//
// Limits (and the attacks net/http's server defends against): at most h2MaxStreams streams open
// at once (more are refused, REFUSED_STREAM), at most h2MaxRunning stream goroutines including
// those of streams the client reset and whose forwarding has not ended yet (more is the rapid
// reset attack, CVE-2023-44487: GOAWAY ENHANCE_YOUR_CALM); a header list of at most
// h2MaxHeaderList decoded bytes (431; readHeaderBlock ends the connection on a CONTINUATION flood,
// CVE-2024-27316, and stops decoding an HPACK bomb at the bound); at most h2MaxQueuedControl
// control frames (SETTINGS and PING acknowledgements, resets, window updates) waiting to be
// written: a client that floods them and does not read is dropped.

const (
	// h2MaxStreams is the SETTINGS_MAX_CONCURRENT_STREAMS the gateway advertises.
	h2MaxStreams = 100
	// h2MaxRunning bounds a connection's stream goroutines, those of reset streams included.
	h2MaxRunning = 4 * h2MaxStreams
	// h2MaxHeaderList is the SETTINGS_MAX_HEADER_LIST_SIZE advertised and enforced (decoded bytes,
	// RFC 9113's measure: names, values and 32 per field): four times the HTTP/1.1 front end's
	// head buffer.
	h2MaxHeaderList = 64 << 10
	// h2ConnWindow is the connection's receive window for request bodies; a stream's is the
	// protocol's initial 65535.
	h2ConnWindow   = 1 << 20
	h2StreamWindow = 65535
	// h2MaxFrame is the largest frame read and DATA frame written (the protocol's default).
	h2MaxFrame = 16384
	// h2MaxQueuedControl bounds the control frames waiting to be written.
	h2MaxQueuedControl = 10000
	// h2MaxOut is how much output may wait for the writer before streams wait for it.
	h2MaxOut = 256 << 10
	// h2MaxNames, h2MaxValues and h2MaxValueLen bound the copies of answer field names and
	// values a connection keeps for its HPACK encoder (encode).
	h2MaxNames    = 128
	h2MaxValues   = 256
	h2MaxValueLen = 256
	// h2MaxSettings bounds the settings in one SETTINGS frame (net/http's bound).
	h2MaxSettings = 100
	// h2GoAwayGrace is how long a connection that sent GOAWAY (NO_ERROR) stays open after its
	// last stream ended (net/http's goAwayTimeout): frames the client sent before it saw the
	// GOAWAY are still read (a PING is answered), and a close right after the GOAWAY would find
	// them unread and reset the connection, the GOAWAY possibly with it. A client that closes
	// first ends the connection at once.
	h2GoAwayGrace = time.Second
)

// h2Conn is one HTTP/2 connection.
type h2Conn struct {
	s    *Server
	c    *clientConn
	conn net.Conn
	fr   *http2.Framer // the reader's
	// hdec decodes the header blocks the reader reads into block (readHeaderBlock).
	hdec  *hpack.Decoder
	block h2HeaderBlock
	// opened holds the streams the frames read so far opened, for the reader to start once it has
	// handled every whole frame it has (startOpened).
	opened     []*h2Stream
	remoteAddr string
	clientIP   string

	mu   sync.Mutex
	cond sync.Cond // on mu: send windows, room in out, streams ending
	// out holds the frames to be written; the writer takes it whole (writeLoop), spare is the
	// buffer it gives back.
	out, spare []byte
	wfr        *http2.Framer // writes frames into out (h2Out), under mu
	henc       *hpack.Encoder
	hbuf       bytes.Buffer
	lower      map[string]string // canonical header names in lower case, for the encoder
	values     map[string]string // copies of header values the encoder may index (encode)
	queued     int               // control frames in out
	// sendWindow is the peer's connection window for DATA; recvWindow the gateway's for the
	// peer's.
	sendWindow     int64
	recvWindow     int64
	peerInitWindow int64
	peerMaxFrame   uint32
	streams        map[uint32]*h2Stream
	running        int    // stream goroutines
	maxID          uint32 // the highest stream the client opened
	resetByUs      [32]uint32
	resetNext      int
	goingAway      bool // GOAWAY sent: no stream is opened any more; closed when none is left
	closing        bool // the writer closes the connection once out is written
	closed         bool // the connection ended: streams stop
	idle           bool // no stream: the read deadline is the idle timeout
	// idleUntil is when an idle connection is closed (idle); headerUntil, when not zero, when the
	// header block being read must have come whole (ReadHeaderTimeout, readFrame). The
	// read deadline is the earlier of those that apply (applyReadDeadline).
	idleUntil, headerUntil time.Time
	wdeadline              int64
	kick                   chan struct{} // wakes the writer
	writerDone             chan struct{}
	closeOnce              sync.Once
	// grace closes a connection that sent GOAWAY h2GoAwayGrace after its last stream (idleCheck;
	// under mu).
	grace *time.Timer
}

// h2Out is the writing Framer's destination: the connection's output buffer (mu held).
type h2Out struct{ h *h2Conn }

func (o h2Out) Write(p []byte) (int, error) {
	o.h.out = append(o.h.out, p...)
	return len(p), nil
}

// serveH2 serves the connection as HTTP/2 from its preface on, until it ends.
func (c *clientConn) serveH2() {
	if !c.state.CompareAndSwap(stateActive, stateH2) {
		return // closed meanwhile
	}
	conn, prefix, ok := c.detach()
	if !ok {
		c.s.remove(c)
		return
	}
	h := newH2Conn(c, conn)
	c.h2.Store(h)
	if c.s.shutdown.Load() {
		h.goAway() // Shutdown may have looked at the connection before it was HTTP/2
	}
	h.serve(prefix)
	c.s.remove(c)
}

func newH2Conn(c *clientConn, conn net.Conn) *h2Conn {
	h := &h2Conn{
		s: c.s, c: c, conn: conn, remoteAddr: c.remoteAddr, clientIP: c.clientIP,
		sendWindow: 65535, recvWindow: h2StreamWindow, peerInitWindow: 65535, peerMaxFrame: 16384,
		streams: map[uint32]*h2Stream{}, lower: map[string]string{}, values: map[string]string{},
		kick: make(chan struct{}, 1), writerDone: make(chan struct{}),
	}
	h.cond.L = &h.mu
	h.wfr = http2.NewFramer(h2Out{h}, nil)
	h.henc = hpack.NewEncoder(&h.hbuf)
	return h
}

// serve reads the connection's frames until it ends; prefix: the bytes the HTTP/1.1 front end
// read, the preface's beginning.
func (h *h2Conn) serve(prefix []byte) {
	go h.writeLoop()
	defer func() {
		h.close()
		<-h.writerDone
	}()
	h.mu.Lock()
	// The server's preface: its SETTINGS, and a connection window larger than the initial one.
	_ = h.wfr.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: h2MaxStreams},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList},
	)
	_ = h.wfr.WriteWindowUpdate(0, h2ConnWindow-h2StreamWindow)
	h.recvWindow = h2ConnWindow
	h.idle, h.idleUntil = true, time.Now().Add(h.s.opts.IdleTimeout)
	h.applyReadDeadline()
	h.mu.Unlock()
	h.signal()

	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(prefix), h.conn), 16<<10)
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(br, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		return
	}
	h.fr = http2.NewFramer(nil, br)
	h.newHeaderDecoder()
	h.fr.SetMaxReadFrameSize(h2MaxFrame)
	h.fr.SetReuseFrames()
	first := true
	for {
		f, err := h.readFrame(br)
		if err == nil && first {
			// RFC 9113 3.4: the client's preface ends with a SETTINGS frame.
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				err = http2.ConnectionError(http2.ErrCodeProtocol)
			}
			first = false
		}
		if err == nil {
			err = h.process(f)
		}
		if err != nil || !wholeFrameBuffered(br) {
			h.startOpened() // before the reader waits (or stops)
		}
		if err == nil {
			continue
		}
		var se http2.StreamError
		var ce http2.ConnectionError
		switch {
		case errors.Is(err, errControlFlood):
			h.closeNow()
		case errors.As(err, &se):
			h.resetStream(se.StreamID, se.Code)
			continue
		case errors.As(err, &ce):
			h.fail(http2.ErrCode(ce))
		case errors.Is(err, http2.ErrFrameTooLarge):
			h.fail(http2.ErrCodeFrameSize)
		case isTimeout(err):
			h.goAway() // idle for the idle timeout
		}
		return
	}
}

// readFrame reads the next frame from br (the Framer's source). A HEADERS frame that is not
// whole in br already, or whose header block goes on in CONTINUATION frames, must come whole
// within ReadHeaderTimeout, as a request head on HTTP/1.1 must: a client that begins a header
// block and stops, or trickles it, would otherwise hold the connection for as long as it has
// a stream open (the idle timeout applies only without one). Once the block is read the
// deadline is what it was. A whole HEADERS frame in the buffer (the usual case) costs a look at
// its 9-byte frame header only.
func (h *h2Conn) readFrame(br *bufio.Reader) (http2.Frame, error) {
	if hdr, err := br.Peek(9); err == nil && http2.FrameType(hdr[3]) == http2.FrameHeaders {
		if http2.Flags(hdr[4])&http2.FlagHeadersEndHeaders == 0 || !wholeFrameBuffered(br) {
			h.mu.Lock()
			h.headerUntil = time.Now().Add(h.s.opts.ReadHeaderTimeout)
			h.applyReadDeadline()
			h.mu.Unlock()
			f, err := h.readBlockFrame()
			h.mu.Lock()
			h.headerUntil = time.Time{}
			h.applyReadDeadline()
			h.mu.Unlock()
			return f, err
		}
	}
	return h.readBlockFrame()
}

// readBlockFrame reads the next frame; a HEADERS frame comes with the rest of its header block,
// decoded, as the connection's h2HeaderBlock (readHeaderBlock).
func (h *h2Conn) readBlockFrame() (http2.Frame, error) {
	f, err := h.fr.ReadFrame()
	hf, ok := f.(*http2.HeadersFrame)
	if err != nil || !ok {
		return f, err
	}
	b, err := h.readHeaderBlock(hf)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// applyReadDeadline sets the connection's read deadline: the earlier of the header block's
// (headerUntil) and, without a stream, the idle timeout's; none otherwise (mu held).
func (h *h2Conn) applyReadDeadline() {
	t := h.headerUntil
	if h.idle && (t.IsZero() || h.idleUntil.Before(t)) {
		t = h.idleUntil
	}
	_ = h.conn.SetReadDeadline(t)
}

// process handles one frame; a StreamError resets its stream, a ConnectionError ends the
// connection (GOAWAY).
func (h *h2Conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *h2HeaderBlock:
		return h.processHeaders(f)
	case *http2.DataFrame:
		return h.processData(f)
	case *http2.SettingsFrame:
		return h.processSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			h.mu.Lock()
			_ = h.wfr.WritePing(true, f.Data)
			err := h.queuedControl()
			h.mu.Unlock()
			h.signal()
			return err
		}
	case *http2.WindowUpdateFrame:
		return h.processWindowUpdate(f)
	case *http2.RSTStreamFrame:
		h.mu.Lock()
		defer h.mu.Unlock()
		if f.StreamID > h.maxID {
			return http2.ConnectionError(http2.ErrCodeProtocol) // on an idle stream (RFC 9113 5.1)
		}
		if st := h.streams[f.StreamID]; st != nil {
			h.endStream(st)
			st.cancel()
			h.cond.Broadcast()
		}
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol} // RFC 9113 5.3.1
		}
		// Priorities are not followed (RFC 9113 5.3.2 lets a server ignore them).
	case *http2.GoAwayFrame:
		h.goAway() // the client opens no stream any more: close once its streams are answered
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // clients push nothing (RFC 9113 8.4)
	case *http2.ContinuationFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // not after a HEADERS (the Framer joins those)
	}
	return nil // frames of unknown types are ignored (RFC 9113 5.5)
}

// queuedControl counts a control frame appended to out (mu held): a client that makes the
// gateway queue more than h2MaxQueuedControl of them without reading is dropped.
func (h *h2Conn) queuedControl() error {
	if h.queued++; h.queued > h2MaxQueuedControl {
		return errControlFlood
	}
	return nil
}

// errControlFlood: the client made the gateway queue more than h2MaxQueuedControl control frames
// (a SETTINGS, PING or reset flood while it reads nothing): the connection is closed at once, a
// GOAWAY would not reach it.
var errControlFlood = errors.New("the client floods the connection with frames that need an answer and reads none")

func (h *h2Conn) processSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	if f.NumSettings() > h2MaxSettings {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	h.mu.Lock()
	defer func() {
		h.mu.Unlock()
		h.signal()
	}()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			h.henc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingInitialWindowSize:
			// RFC 9113 6.9.2: the change applies to every open stream's window.
			delta := int64(s.Val) - h.peerInitWindow
			h.peerInitWindow = int64(s.Val)
			for _, st := range h.streams {
				if st.sendWindow += delta; st.sendWindow > 1<<31-1 {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			h.cond.Broadcast()
		case http2.SettingMaxFrameSize:
			h.peerMaxFrame = s.Val
		}
		return nil
	})
	if err != nil {
		return err
	}
	_ = h.wfr.WriteSettingsAck()
	return h.queuedControl()
}

func (h *h2Conn) processWindowUpdate(f *http2.WindowUpdateFrame) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.StreamID == 0 {
		if h.sendWindow += int64(f.Increment); h.sendWindow > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		h.cond.Broadcast()
		return nil
	}
	if f.StreamID > h.maxID {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	st := h.streams[f.StreamID]
	if st == nil {
		return nil // a closed stream's: it may have been in flight
	}
	if st.sendWindow += int64(f.Increment); st.sendWindow > 1<<31-1 {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
	}
	h.cond.Broadcast()
	return nil
}

// processHeaders opens a stream with a request (or ends one with its trailers).
func (h *h2Conn) processHeaders(f *h2HeaderBlock) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // clients open odd streams only
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.streams[id]; st != nil {
		return h.trailers(st, f)
	}
	if id <= h.maxID {
		// A stream identifier must be larger than every one opened before (RFC 9113 5.1.1).
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	h.maxID = id
	if h.goingAway {
		return nil
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if len(h.streams) >= h2MaxStreams {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	if h.running >= h2MaxRunning {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm) // rapid reset (CVE-2023-44487)
	}
	st := newH2Stream(h, id)
	if f.truncated {
		st.refuse = errHeaderListTooLarge
	} else if err := st.request(f); err != nil {
		return err
	}
	st.remoteDone = f.StreamEnded()
	st.bodyEnd = st.remoteDone
	if st.remoteDone && st.declared > 0 {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // RFC 9113 8.1.1
	}
	h.streams[id] = st
	h.running++
	if h.idle {
		h.idle = false
		h.applyReadDeadline()
	}
	h.opened = append(h.opened, st)
	return nil
}

// startOpened starts the streams opened by the frames just read (startAfterRound).
func (h *h2Conn) startOpened() {
	if len(h.opened) == 0 {
		return
	}
	h.s.p.startAfterRound(h.opened)
	clear(h.opened)
	h.opened = h.opened[:0]
}

// wholeFrameBuffered reports whether br holds a whole frame, which the next read takes without
// waiting.
func wholeFrameBuffered(br *bufio.Reader) bool {
	if br.Buffered() < 9 {
		return false // Peek would read (and wait)
	}
	hdr, err := br.Peek(9)
	if err != nil {
		return false
	}
	return br.Buffered() >= 9+(int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
}

// trailers ends st's request body with a trailer section (RFC 9113 8.1).
func (h *h2Conn) trailers(st *h2Stream, f *h2HeaderBlock) error {
	if st.remoteDone {
		if st.localDone {
			// Closed, though its goroutine has not ended yet: a frame after END_STREAM both ways
			// is a connection error of type STREAM_CLOSED (RFC 9113 5.1). Once the stream is
			// forgotten it is one too (PROTOCOL_ERROR: a reused identifier, processHeaders).
			return http2.ConnectionError(http2.ErrCodeStreamClosed)
		}
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeStreamClosed} // half-closed (remote)
	}
	if !f.StreamEnded() || len(f.pseudoFields()) > 0 {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	if st.declared >= 0 && st.received != st.declared {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	st.trailer = slices.Clone(f.regularFields()) // the block's fields are the reader's
	st.remoteDone, st.bodyEnd = true, true
	st.wakeBody()
	return nil
}

// processData takes a part of a request body, within the flow-control windows.
func (h *h2Conn) processData(f *http2.DataFrame) error {
	id, n := f.StreamID, int64(f.Length)
	h.mu.Lock()
	defer func() {
		h.mu.Unlock()
		h.signal()
	}()
	if id > h.maxID {
		return http2.ConnectionError(http2.ErrCodeProtocol) // an idle stream's
	}
	if n > h.recvWindow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	st := h.streams[id]
	if st == nil || st.remoteDone {
		// Counted and given back at once: the connection's window is shared.
		if n > 0 {
			_ = h.wfr.WriteWindowUpdate(0, uint32(n))
		}
		if st == nil && h.wasReset(id) {
			return h.queuedControl()
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if n > st.recvWindow {
		_ = h.wfr.WriteWindowUpdate(0, uint32(n))
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	data := f.Data()
	if pad := n - int64(len(data)); pad > 0 {
		// Padding counts against the windows and is given back at once.
		_ = h.wfr.WriteWindowUpdate(0, uint32(pad))
		_ = h.wfr.WriteWindowUpdate(id, uint32(pad))
		if err := h.queuedControl(); err != nil {
			return err
		}
	}
	h.recvWindow -= int64(len(data))
	st.recvWindow -= int64(len(data))
	st.received += int64(len(data))
	if st.declared >= 0 && (st.received > st.declared || f.StreamEnded() && st.received != st.declared) {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // RFC 9113 8.1.1
	}
	st.body = append(st.body, data...)
	if f.StreamEnded() {
		st.remoteDone, st.bodyEnd = true, true
	}
	st.wakeBody()
	return nil
}

// resetStream resets stream id (a stream error, RFC 9113 5.4.2).
func (h *h2Conn) resetStream(id uint32, code http2.ErrCode) {
	h.mu.Lock()
	if id > h.maxID && id%2 == 1 {
		h.maxID = id // an idle stream that a stream error closed (a malformed HEADERS)
	}
	_ = h.wfr.WriteRSTStream(id, code)
	err := h.queuedControl()
	if st := h.streams[id]; st != nil {
		h.endStream(st)
		st.cancel()
		h.cond.Broadcast()
	}
	h.rememberReset(id)
	h.mu.Unlock()
	h.signal()
	if err != nil {
		h.closeNow()
	}
}

// rememberReset notes a stream the gateway reset: frames the client sent before it saw the reset
// are dropped, not answered with STREAM_CLOSED (mu held).
func (h *h2Conn) rememberReset(id uint32) {
	h.resetByUs[h.resetNext] = id
	h.resetNext = (h.resetNext + 1) % len(h.resetByUs)
}

func (h *h2Conn) wasReset(id uint32) bool {
	for _, r := range h.resetByUs {
		if r == id {
			return true
		}
	}
	return false
}

// endStream forgets st (mu held); once none is left the connection waits for the idle timeout,
// or closes after a GOAWAY.
func (h *h2Conn) endStream(st *h2Stream) {
	if h.streams[st.id] != st {
		return
	}
	delete(h.streams, st.id)
	h.idleCheck()
}

// idleCheck (mu held): a connection without streams closes h2GoAwayGrace after a GOAWAY, else
// waits for the idle timeout.
func (h *h2Conn) idleCheck() {
	if len(h.streams) > 0 || h.running > 0 {
		return
	}
	if h.goingAway {
		if h.grace == nil && !h.closed {
			h.grace = time.AfterFunc(h2GoAwayGrace, h.close)
		}
		return
	}
	if !h.idle && !h.closed {
		h.idle, h.idleUntil = true, time.Now().Add(h.s.opts.IdleTimeout)
		h.applyReadDeadline()
	}
}

// goAway sends GOAWAY (NO_ERROR): the streams begun are answered, none is opened any more, and
// the connection closes h2GoAwayGrace after the last one ends, or when the client closes it
// (Server.Shutdown, the idle timeout, the client's own GOAWAY).
func (h *h2Conn) goAway() {
	h.mu.Lock()
	if !h.goingAway && !h.closed {
		h.goingAway = true
		_ = h.wfr.WriteGoAway(h.maxID, http2.ErrCodeNo, nil)
	}
	h.idleCheck()
	h.mu.Unlock()
	h.signal()
}

// fail ends the connection with a connection error (RFC 9113 5.4.1): GOAWAY with code, then the
// close.
func (h *h2Conn) fail(code http2.ErrCode) {
	h.mu.Lock()
	if !h.closed {
		_ = h.wfr.WriteGoAway(h.maxID, code, nil)
		h.goingAway = true
	}
	h.stopLocked()
	h.mu.Unlock()
	h.signal()
}

// close ends the connection after what is in out is written (the reader is done).
func (h *h2Conn) close() {
	h.mu.Lock()
	h.stopLocked()
	h.mu.Unlock()
	h.signal()
}

// closeNow closes the connection at once (Server.Close).
func (h *h2Conn) closeNow() {
	h.close()
	h.closeOnce.Do(func() { h.conn.Close() })
}

// stopLocked stops every stream and has the writer close the connection (mu held).
func (h *h2Conn) stopLocked() {
	h.closed, h.closing = true, true
	if h.grace != nil {
		h.grace.Stop()
	}
	for _, st := range h.streams {
		st.cancel()
	}
	clear(h.streams)
	h.cond.Broadcast()
}

// signal wakes the writer; a wake-up that is pending already does (the writer takes out after
// it takes the wake-up).
func (h *h2Conn) signal() {
	if len(h.kick) > 0 {
		return
	}
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// writeLoop is the connection's one writer: it takes what the streams appended to out and
// writes it. Before it takes the buffer it lets the other runnable goroutines go first, so that
// the streams whose answers are ready append theirs and one write carries them all.
func (h *h2Conn) writeLoop() {
	defer close(h.writerDone)
	defer h.closeOnce.Do(func() { h.conn.Close() })
	for range h.kick {
		runtime.Gosched()
		h.mu.Lock()
		buf := h.out
		h.out, h.spare = h.spare[:0], nil
		h.queued = 0
		h.cond.Broadcast() // room in out
		h.mu.Unlock()
		var err error
		if len(buf) > 0 {
			stall := h.s.opts.IdleTimeout
			if err = boundWrite(nil, nil, h.conn, &h.wdeadline, stall); err == nil {
				_, err = h.conn.Write(buf)
			}
		}
		h.mu.Lock()
		if err != nil {
			h.stopLocked()
			h.out = h.out[:0]
		}
		if cap(buf) <= 4*h2MaxOut {
			h.spare = buf[:0]
		}
		done := h.closing && len(h.out) == 0
		more := len(h.out) > 0
		h.mu.Unlock()
		if done {
			return
		}
		if more {
			h.signal()
		}
	}
}

// writeHeaders appends a HEADERS frame (CONTINUATION frames after it when the block is larger
// than the peer's frame size) for stream id with the block in h.hbuf (mu held).
func (h *h2Conn) writeHeaders(id uint32, end bool) {
	block := h.hbuf.Bytes()
	maxFrame := int(h.peerMaxFrame)
	first := block
	if len(first) > maxFrame {
		first = first[:maxFrame]
	}
	block = block[len(first):]
	_ = h.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: end, EndHeaders: len(block) == 0})
	for len(block) > 0 {
		part := block
		if len(part) > maxFrame {
			part = part[:maxFrame]
		}
		block = block[len(part):]
		_ = h.wfr.WriteContinuation(id, len(block) == 0, part)
	}
	h.hbuf.Reset()
}

// encode adds a header field to the block in h.hbuf (mu held); name is canonical and goes in
// lower case. name and value may point into an instance connection's buffer, which is read into
// again: the encoder's dynamic table keeps the strings of the fields it indexes, so a field is
// indexed only with copies that stay (h.lower, h.values), and one without a copy is sent never
// indexed.
func (h *h2Conn) encode(name, value string) {
	lower, ok := h.lower[name]
	if !ok {
		lower = strings.ToLower(name)
		if len(h.lower) >= h2MaxNames {
			clear(h.lower)
		}
		h.lower[strings.Clone(name)] = lower
	}
	v, ok := h.values[value]
	if !ok && len(value) <= h2MaxValueLen {
		if len(h.values) >= h2MaxValues {
			clear(h.values) // the copies stay valid where the table still holds them
		}
		v = strings.Clone(value)
		h.values[v] = v
		ok = true
	}
	if !ok {
		_ = h.henc.WriteField(hpack.HeaderField{Name: lower, Value: value, Sensitive: true})
		return
	}
	_ = h.henc.WriteField(hpack.HeaderField{Name: lower, Value: v})
}

// encodeStatus adds :status to the block (mu held).
func (h *h2Conn) encodeStatus(status int) {
	v := ""
	if status >= 100 && status < len(statusValues) {
		v = statusValues[status]
	} else {
		v = strconv.Itoa(status)
	}
	_ = h.henc.WriteField(hpack.HeaderField{Name: ":status", Value: v})
}

// statusValues are the :status values of the codes 100 to 599, made once.
var statusValues = func() (v [600]string) {
	for code := 100; code < len(v); code++ {
		v[code] = strconv.Itoa(code)
	}
	return v
}()

var errHeaderListTooLarge = errors.New("the request's header list is larger than the gateway takes")
