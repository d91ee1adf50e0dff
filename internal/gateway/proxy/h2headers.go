package proxy

import (
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2HeaderBlock is a HEADERS frame with its header block (and the CONTINUATION frames that go on
// with it) decoded: what the Framer's ReadMetaHeaders gives as an http2.MetaHeadersFrame, with the
// same checks and errors (readHeaderBlock), without the allocations of its own that it makes for
// every block: the frame, the list of fields and the function that collects them.
//
// A connection has one (h2Conn.block), and its fields are the reader's until the next block:
// whatever outlives the frame's processing copies them (h2Stream.request, h2Conn.trailers).
type h2HeaderBlock struct {
	*http2.HeadersFrame
	fields []hpack.HeaderField
	// truncated: the fields went past the header list bound (h2MaxHeaderList) and the rest were
	// not kept (the request is refused with a 431).
	truncated bool

	// The decoder's state while the block is decoded (emit):
	invalid                       error // the first malformed field (names the field, not its value)
	sawRegular                    bool
	headersRemain, trailersRemain uint32
}

// pseudoFields are the block's pseudo-header fields: those before its first regular one (a
// pseudo-header field after a regular one is malformed: emit).
func (b *h2HeaderBlock) pseudoFields() []hpack.HeaderField {
	for i, hf := range b.fields {
		if !hf.IsPseudo() {
			return b.fields[:i]
		}
	}
	return b.fields
}

// regularFields are the block's fields that are not pseudo-header fields.
func (b *h2HeaderBlock) regularFields() []hpack.HeaderField {
	return b.fields[len(b.pseudoFields()):]
}

// emit takes one decoded field (the hpack decoder's emit function, set once per connection):
// http2.Framer.readMetaFrame's checks, in its order. A malformed field stops the decoding and makes
// the block a stream error; a field past the header list bound stops it and truncates the block.
// A "trailer" field counts as the fields it names, against a bound of its own.
func (b *h2HeaderBlock) emit(hdec *hpack.Decoder, hf hpack.HeaderField) {
	if !httpguts.ValidHeaderFieldValue(hf.Value) {
		b.invalid = headerFieldError{"value", hf.Name} // not the value: it may be a secret
	}
	if hf.IsPseudo() {
		if b.sawRegular {
			b.invalid = headerFieldError{"position", hf.Name}
		}
	} else {
		b.sawRegular = true
		if !validWireFieldName(hf.Name) {
			b.invalid = headerFieldError{"name", hf.Name}
		}
	}
	if b.invalid != nil {
		hdec.SetEmitEnabled(false)
		return
	}
	remain, size := &b.headersRemain, hf.Size()
	if hf.Name == "trailer" {
		n := uint32(strings.Count(hf.Value, ",") + 1)
		remain, size = &b.trailersRemain, uint32(len(hf.Value))-n+1+n*hpack.HeaderField{}.Size()
	}
	if size > *remain {
		hdec.SetEmitEnabled(false)
		b.truncated = true
		b.headersRemain, b.trailersRemain = 0, 0
		return
	}
	*remain -= size
	b.fields = append(b.fields, hf)
}

// headerFieldError is a malformed field of a header block: its name, and what is wrong (value,
// name, or the position of a pseudo-header field after a regular one).
type headerFieldError struct{ what, name string }

func (e headerFieldError) Error() string {
	return "malformed header field " + e.what + " in field " + e.name
}

// validWireFieldName reports whether name is a field name as HTTP/2 sends it: a token in lower
// case (RFC 9113 8.2.1).
func validWireFieldName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !httpguts.IsTokenRune(r) || 'A' <= r && r <= 'Z' {
			return false
		}
	}
	return true
}

// newHeaderDecoder gives h the HPACK decoder of its header blocks (readHeaderBlock): its emit
// function collects into h.block; a string longer than the header list bound is an error.
func (h *h2Conn) newHeaderDecoder() {
	h.hdec = hpack.NewDecoder(4096, func(hf hpack.HeaderField) { h.block.emit(h.hdec, hf) })
	h.hdec.SetMaxStringLength(h2MaxHeaderList)
}

// readHeaderBlock decodes the header block that hf begins, reading the CONTINUATION frames that go
// on with it, into h.block. The errors are the Framer's (readMetaFrame) for the same bytes:
//   - a fragment larger than twice what the bounds have left (any after the bound was passed,
//     the CONTINUATION flood of CVE-2024-27316), or one after a malformed field: a connection
//     error PROTOCOL_ERROR;
//   - a fragment or block end HPACK cannot decode: a connection error COMPRESSION_ERROR;
//   - a malformed field, a duplicate or unknown pseudo-header field, or request and response
//     pseudo-header fields together: a stream error PROTOCOL_ERROR;
//   - a frame other than the block's CONTINUATION in its middle: the Framer's own check, a
//     connection error PROTOCOL_ERROR.
func (h *h2Conn) readHeaderBlock(hf *http2.HeadersFrame) (*h2HeaderBlock, error) {
	b := &h.block
	clear(b.fields)
	*b = h2HeaderBlock{HeadersFrame: hf, fields: b.fields[:0], headersRemain: h2MaxHeaderList, trailersRemain: h2MaxHeaderList}
	h.hdec.SetEmitEnabled(true)
	frag, ended := hf.HeaderBlockFragment(), hf.HeadersEnded()
	for {
		if int64(len(frag)) > 2*int64(b.headersRemain+b.trailersRemain) || b.invalid != nil {
			return b, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if _, err := h.hdec.Write(frag); err != nil {
			return b, http2.ConnectionError(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		f, err := h.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		cf, ok := f.(*http2.ContinuationFrame)
		if !ok { // the Framer lets nothing else come in a block's middle (RFC 9113 6.10)
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := h.hdec.Close(); err != nil {
		return b, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if b.invalid != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: b.invalid}
	}
	if err := checkPseudoFields(b.pseudoFields()); err != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return b, nil
}

// checkPseudoFields: the Framer's check of a block's pseudo-header fields (MetaHeadersFrame's
// checkPseudos): known names only, none twice, not those of a request and of an answer together.
func checkPseudoFields(pf []hpack.HeaderField) error {
	var request, answer bool
	for i, hf := range pf {
		switch hf.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			request = true
		case ":status":
			answer = true
		default:
			return headerFieldError{"pseudo-header field name", hf.Name}
		}
		for _, prev := range pf[:i] {
			if hf.Name == prev.Name {
				return headerFieldError{"duplicate pseudo-header field", hf.Name}
			}
		}
	}
	if request && answer {
		return headerFieldError{"mix of request and answer pseudo-header fields", pf[0].Name}
	}
	return nil
}
