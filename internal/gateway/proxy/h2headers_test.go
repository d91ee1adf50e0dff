package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerBlockFrames writes header blocks as a client would send them: each block a HEADERS frame
// on its own stream (1, 3, 5, ...) and CONTINUATION frames, the block's bytes cut at the given
// places (cuts, in order, each within the block; any beyond its length are left out).
func headerBlockFrames(t testing.TB, blocks [][]byte, cuts [][]int, padded, priority, endStream bool) []byte {
	var wire bytes.Buffer
	fr := http2.NewFramer(&wire, nil)
	for i, block := range blocks {
		var frags [][]byte
		last := 0
		for _, c := range cuts[i] {
			if c > last && c < len(block) {
				frags = append(frags, block[last:c])
				last = c
			}
		}
		frags = append(frags, block[last:])
		p := http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: frags[0], EndStream: endStream, EndHeaders: len(frags) == 1}
		if padded {
			p.PadLength = 3
		}
		if priority {
			p.Priority = http2.PriorityParam{StreamDep: 0, Weight: 15}
		}
		if err := fr.WriteHeaders(p); err != nil {
			t.Fatal(err)
		}
		for j, frag := range frags[1:] {
			if err := fr.WriteContinuation(uint32(2*i+1), j == len(frags)-2, frag); err != nil {
				t.Fatal(err)
			}
		}
	}
	return wire.Bytes()
}

// blockReader reads header blocks from wire as the gateway does (h2Conn.readBlockFrame).
func blockReader(wire []byte) *h2Conn {
	h := &h2Conn{}
	h.fr = http2.NewFramer(nil, bytes.NewReader(wire))
	h.fr.SetMaxReadFrameSize(h2MaxFrame)
	h.newHeaderDecoder()
	return h
}

// framerReader reads them with the Framer's own header block reader (ReadMetaHeaders), as the
// gateway did before readHeaderBlock, with the same bounds.
func framerReader(wire []byte) *http2.Framer {
	fr := http2.NewFramer(nil, bytes.NewReader(wire))
	fr.SetMaxReadFrameSize(h2MaxFrame)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = h2MaxHeaderList
	return fr
}

// blockOutcome is what reading one header block gave: the fields (and whether they were cut at
// the bound), or the kind of error.
func blockOutcome(f http2.Frame, err error) string {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("stream error %v on %d", se.Code, se.StreamID)
	case errors.As(err, &ce):
		return fmt.Sprintf("connection error %v", http2.ErrCode(ce))
	case err != nil:
		return "error " + err.Error()
	}
	switch f := f.(type) {
	case *h2HeaderBlock:
		return fmt.Sprintf("stream %d end %v truncated %v priority %v fields %q", f.StreamID, f.StreamEnded(), f.truncated, f.HasPriority(), fieldList(f.fields))
	case *http2.MetaHeadersFrame:
		return fmt.Sprintf("stream %d end %v truncated %v priority %v fields %q", f.StreamID, f.StreamEnded(), f.Truncated, f.HasPriority(), fieldList(f.Fields))
	default:
		return fmt.Sprintf("frame %T", f)
	}
}

func fieldList(fs []hpack.HeaderField) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name + ": " + f.Value
	}
	return out
}

// readBoth reads every header block of wire both ways and fails on the first difference. A
// connection error ends the reading, as it ends the connection.
func readBoth(t *testing.T, wire []byte) {
	t.Helper()
	h, fr := blockReader(wire), framerReader(wire)
	for i := 0; ; i++ {
		gf, gerr := h.readBlockFrame()
		wf, werr := fr.ReadFrame()
		got, want := blockOutcome(gf, gerr), blockOutcome(wf, werr)
		if got != want {
			t.Fatalf("block %d: readHeaderBlock gave\n\t%s\nthe Framer's ReadMetaHeaders\n\t%s", i, got, want)
		}
		var ce http2.ConnectionError
		if gerr != nil && (errors.As(gerr, &ce) || !errors.As(gerr, new(http2.StreamError))) {
			return
		}
	}
}

// requestBlocks encodes header lists with one HPACK encoder, so that later blocks use the
// dynamic table the earlier ones filled.
func requestBlocks(lists ...[]hpack.HeaderField) [][]byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	var out [][]byte
	for _, l := range lists {
		buf.Reset()
		for _, f := range l {
			_ = enc.WriteField(f)
		}
		out = append(out, bytes.Clone(buf.Bytes()))
	}
	return out
}

func fields(kv ...string) []hpack.HeaderField {
	var out []hpack.HeaderField
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

var h2Request = fields(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "example.com",
	"user-agent", "Mozilla/5.0 Firefox/120.0", "accept", "*/*")

// The header block cases: each is read by both readers and must give the same outcome.
var headerBlockCases = map[string][][]hpack.HeaderField{
	"request, then the same request from the dynamic table": {h2Request, h2Request},
	"pseudo-header field after a regular one":               {fields(":method", "GET", "accept", "*/*", ":path", "/")},
	"upper case field name":                                 {fields(":method", "GET", "Accept", "*/*")},
	"field name with a space":                               {fields(":method", "GET", "ac cept", "*/*")},
	"empty field name":                                      {fields(":method", "GET", "", "x")},
	"value with a newline":                                  {fields(":method", "GET", "x-a", "1\n2")},
	"value with NUL":                                        {fields(":method", "GET", "x-a", "1\x002")},
	"unknown pseudo-header field":                           {fields(":method", "GET", ":foo", "x")},
	"duplicate pseudo-header field":                         {fields(":method", "GET", ":method", "POST")},
	"request and answer pseudo-header fields":               {fields(":method", "GET", ":status", "200")},
	"answer pseudo-header field alone":                      {fields(":status", "200")},
	"no field at all":                                       {{}},
	"fields past the header list bound":                     {append(slices.Clone(h2Request), fields("x-big", strings.Repeat("a", 40<<10), "x-big2", strings.Repeat("b", 30<<10))...)},
	"one field larger than the bound":                       {fields(":method", "GET", "x-big", strings.Repeat("a", 70<<10))},
	"trailer fields within their own bound":                 {append(slices.Clone(h2Request), fields("trailer", "a, b, c", "x-big", strings.Repeat("a", 60<<10))...)},
	"trailer field past its bound":                          {fields(":method", "GET", "trailer", strings.Repeat("a,", 2000))},
	"a bad field, then a good request":                      {fields(":method", "GET", "Bad", "x"), h2Request},
}

// TestH2HeaderBlockAsTheFramerReadsIt: readHeaderBlock gives, for every block, what the Framer's
// own header block reader gives (http2.Framer.ReadMetaHeaders, which the gateway used before):
// the same fields, the same truncation at the header list bound, the same stream and connection
// errors; with the blocks in one frame or cut into CONTINUATION frames, with padding and priority.
func TestH2HeaderBlockAsTheFramerReadsIt(t *testing.T) {
	for name, lists := range headerBlockCases {
		blocks := requestBlocks(lists...)
		for _, cut := range []int{0, 1, 7, 4096, 16384} {
			for _, pp := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/cut %d/padded %v", name, cut, pp), func(t *testing.T) {
					cuts := make([][]int, len(blocks))
					for i, b := range blocks {
						for c := cut; cut > 0 && c < len(b); c += cut {
							cuts[i] = append(cuts[i], c)
						}
					}
					readBoth(t, headerBlockFrames(t, blocks, cuts, pp, pp, !pp))
				})
			}
		}
	}
}

// TestH2HeaderBlockContinuationFlood: a block that goes on in CONTINUATION frames past twice the
// bound ends the connection (PROTOCOL_ERROR), as the Framer's reader does (CVE-2024-27316), and
// so does a CONTINUATION frame after a malformed field.
func TestH2HeaderBlockContinuationFlood(t *testing.T) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range h2Request {
		_ = enc.WriteField(f)
	}
	for i := 0; buf.Len() < 3*h2MaxHeaderList; i++ {
		_ = enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-%d", i), Value: strings.Repeat("v", 1000)})
	}
	block := buf.Bytes()
	var cuts []int
	for c := 1000; c < len(block); c += 1000 {
		cuts = append(cuts, c)
	}
	wire := headerBlockFrames(t, [][]byte{block}, [][]int{cuts}, false, false, true)
	readBoth(t, wire)
	_, err := blockReader(wire).readBlockFrame()
	if ce := (http2.ConnectionError(0)); !errors.As(err, &ce) || http2.ErrCode(ce) != http2.ErrCodeProtocol {
		t.Fatalf("a CONTINUATION flood: %v, want a connection error PROTOCOL_ERROR", err)
	}

	bad := requestBlocks(fields(":method", "GET", "Bad", "x", "x-a", strings.Repeat("v", 100)))[0]
	wire = headerBlockFrames(t, [][]byte{bad}, [][]int{{len(bad) - 50}}, false, false, true)
	readBoth(t, wire)
}

// TestH2HeaderBlockOfIndexedFieldsAllocatesNothing: once the dynamic table holds a request's
// fields, reading the same request again (as browsers and h2load send it) allocates nothing but the
// Framer's HEADERS frame: the fields go into the connection's block, the decoder's emit function is
// the connection's.
func TestH2HeaderBlockOfIndexedFieldsAllocatesNothing(t *testing.T) {
	const n = 100
	lists := make([][]hpack.HeaderField, n+2)
	for i := range lists {
		lists[i] = h2Request
	}
	blocks := requestBlocks(lists...)
	h := blockReader(headerBlockFrames(t, blocks, make([][]int, len(blocks)), false, false, true))
	read := func() {
		f, err := h.readBlockFrame()
		if b, ok := f.(*h2HeaderBlock); err != nil || !ok || len(b.fields) != len(h2Request) {
			t.Fatalf("read %v, %v", f, err)
		}
	}
	read() // fills the dynamic table
	allocs := testing.AllocsPerRun(n, read)
	if allocs > 1 {
		t.Fatalf("reading a request of indexed fields: %.1f allocations, want at most 1 (the Framer's HeadersFrame)", allocs)
	}
}

// FuzzH2HeaderBlockAsTheFramerReadsIt: for any bytes as header blocks, cut into CONTINUATION
// frames anywhere, readHeaderBlock and the Framer's reader agree.
func FuzzH2HeaderBlockAsTheFramerReadsIt(f *testing.F) {
	for _, lists := range headerBlockCases {
		blocks := requestBlocks(lists...)
		f.Add(bytes.Join(blocks, []byte{0xff, 0xfe}), uint16(0), false)
		f.Add(bytes.Join(blocks, []byte{0xff, 0xfe}), uint16(5), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, pp bool) {
		// Blocks are separated by 0xff 0xfe (bytes HPACK may use too: the fuzzer finds both).
		blocks := bytes.Split(data, []byte{0xff, 0xfe})
		if len(blocks) > 8 {
			blocks = blocks[:8]
		}
		cuts := make([][]int, len(blocks))
		for i, b := range blocks {
			for c := int(cut); cut > 0 && c < len(b) && len(cuts[i]) < 64; c += int(cut) {
				cuts[i] = append(cuts[i], c)
			}
		}
		readBoth(t, headerBlockFrames(t, blocks, cuts, pp, pp, !pp))
	})
}
