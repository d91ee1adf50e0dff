package conformance

import (
	"strconv"
	"strings"
)

// post is a request line and Host for a request with a body; the caller adds framing and body.
func post(id string) string { return "POST /rq-" + id + " HTTP/1.1\r\n" + H }

// repeatPiece is n pieces of size bytes of c: a large body written in parts.
func repeatPiece(n, size int, c string) []string {
	pieces := make([]string, n)
	for i := range pieces {
		pieces[i] = strings.Repeat(c, size)
	}
	return pieces
}

// answerAtHead answers request "a" as soon as its head has come, before its body, with raw ({id}
// replaced by the id; none when empty), and closes the connection with closeAfter.
func answerAtHead(raw string, closeAfter bool) Script {
	return func(r *Request) Reply {
		if r.ID != answered {
			return Reply{}
		}
		return Reply{Data: []byte(strings.ReplaceAll(raw, "{id}", r.ID)), Close: closeAfter}
	}
}

// websocket is the rest of a websocket handshake's head (RFC 6455 4.1).
const websocket = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// requestCases: the client's bytes are the point; the backend answers every request OK.
func requestCases() []Case {
	return []Case{
		// ---- baseline
		{Name: "get", Send: get("a"), Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "head", Send: "HEAD /rq-a HTTP/1.1\r\n" + H + "\r\n", Answers: "HEAD:a", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "delete", Send: "DELETE /rq-a HTTP/1.1\r\n" + H + "\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "options", Send: "OPTIONS /rq-a HTTP/1.1\r\n" + H + "\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "leading-empty-line", Send: "\r\n" + get("a"), Gateway: refused, HAProxy: "fwd open",
			Why: "RFC 9112 2.2 says a server SHOULD ignore one empty line before a request line; the gateway refuses it, as net/http does for a connection's first request; HAProxy 2.6 skips it"},
		{Name: "header-value-whitespace", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-A:   spaced \t \r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "header-value-obs-text", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-A: caf\xe9\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "lower-case-method", Send: "get /rq-a HTTP/1.1\r\n" + H + "\r\n", Gateway: "fwd open", HAProxy: "fwd open"},

		// ---- Content-Length
		{Name: "cl", Send: post("a") + "Content-Length: 5\r\n\r\nhello", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "cl-zero", Send: post("a") + "Content-Length: 0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "cl-leading-zeros", Send: post("a") + "Content-Length: 005\r\n\r\nhello", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "cl-duplicate-same", Send: post("a") + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "cl-duplicate-conflict", Note: "RFC 9110 8.6 / RFC 9112 6.3: differing Content-Length values are unrecoverable framing", Send: post("a") + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-list-same", Send: post("a") + "Content-Length: 5, 5\r\n\r\nhello", Gateway: refused, HAProxy: "fwd open",
			Why: "RFC 9110 8.6 lets a recipient either reject a list of identical Content-Length values or use the value; the gateway rejects any Content-Length that is not one number (as net/http does), HAProxy 2.6 uses the value"},
		{Name: "cl-list-conflict", Send: post("a") + "Content-Length: 5, 6\r\n\r\nhello!", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-negative", Send: post("a") + "Content-Length: -5\r\n\r\nhello", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-plus-sign", Send: post("a") + "Content-Length: +5\r\n\r\nhello", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-hex", Send: post("a") + "Content-Length: 0x5\r\n\r\nhello", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-overflow", Send: post("a") + "Content-Length: 99999999999999999999999\r\n\r\nhello", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-space-inside", Send: post("a") + "Content-Length: 1 2\r\n\r\nhello world!", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-body-short-then-eof", Note: "the client ended before its body did: the instance never answered, so no answer may be made up for it", Send: post("a") + "Content-Length: 10\r\n\r\nhello", HalfClose: true, Gateway: "close", HAProxy: "close"},
		{Name: "get-with-body", Send: "GET /rq-a HTTP/1.1\r\n" + H + "Content-Length: 5\r\n\r\nhello", Gateway: "fwd open", HAProxy: "fwd open"},

		// ---- Transfer-Encoding
		{Name: "chunked", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-upper-case", Send: post("a") + "Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-size-upper-hex", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\nA\r\nhellohello\r\n0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-size-leading-zeros", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-extension", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0;last\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-extension-quoted", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5;n=\"v;1\"\r\nhello\r\n0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-trailers", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-empty-body", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-many-chunks", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1\r\nx\r\n", 200) + "0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunk-size-overflow", Note: "a malformed chunked body is the client's fault: 400 and the connection closed (RFC 9112 7.1), never a 502 that blames the instance", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "chunk-size-16-digits", Note: "chunk sizes are bounded: a size no body can have is refused at once, not waited for", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "chunk-size-negative", Note: "a malformed chunked body is the client's fault: 400 and the connection closed (RFC 9112 7.1)", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "chunk-size-not-hex", Note: "a malformed chunked body is the client's fault: 400 and the connection closed (RFC 9112 7.1)", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\ng\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "chunk-size-empty", Note: "a malformed chunked body is the client's fault: 400 and the connection closed (RFC 9112 7.1)", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "chunk-data-too-long", Note: "chunk data not followed by CRLF: 400 and the connection closed (RFC 9112 7.1)", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "chunk-bare-lf", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", Gateway: refused, HAProxy: "fwd open",
			Why: "RFC 9112 7.1: chunk lines end in CRLF (the bare-LF leniency of 2.2 is for the head only): the gateway refuses them, HAProxy 2.6 accepts bare LF", Ambiguous: true},
		{Name: "chunk-missing-last-chunk", Note: "the client ended before its body did: the instance never answered, so no answer may be made up for it", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", HalfClose: true, Gateway: "close", HAProxy: "close"},
		{Name: "te-identity", Send: post("a") + "Transfer-Encoding: identity\r\n\r\nhello", Gateway: "501 close", HAProxy: refused,
			Why: "RFC 9112 6.1: a transfer coding the server does not understand SHOULD get 501 Not Implemented, and the gateway closes the connection since the body's length is unknown; HAProxy 2.6 answers 400", Ambiguous: true},
		{Name: "te-gzip-chunked", Send: post("a") + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: "501 close", HAProxy: "422 close",
			Why: "RFC 9112 6.1: a transfer coding the server does not implement (gzip) SHOULD get 501; HAProxy 2.6 answers 422"},
		{Name: "te-chunked-gzip", Note: "RFC 9112 6.3: chunked not the final coding of a request: the server MUST answer 400 and close", Send: post("a") + "Transfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "te-chunked-twice", Send: post("a") + "Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: "501 close", HAProxy: refused,
			Why: "chunked applied twice (RFC 9112 7: a sender MUST NOT) is a coding the gateway cannot decode: 501 and the connection closed; HAProxy 2.6 answers 400", Ambiguous: true},
		{Name: "te-two-fields", Send: post("a") + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: "501 close", HAProxy: refused,
			Why: "chunked applied twice (RFC 9112 7: a sender MUST NOT) is a coding the gateway cannot decode: 501 and the connection closed; HAProxy 2.6 answers 400", Ambiguous: true},
		{Name: "te-xchunked", Send: post("a") + "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: "501 close", HAProxy: refused,
			Why: "RFC 9112 6.1: a transfer coding the server does not understand SHOULD get 501 Not Implemented, and the gateway closes the connection since the body's length is unknown; HAProxy 2.6 answers 400", Ambiguous: true},
		{Name: "te-space-before-colon", Send: post("a") + "Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "te-vertical-tab", Send: post("a") + "Transfer-Encoding:\x0bchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true},

		// ---- Content-Length and Transfer-Encoding together (RFC 9112 6.1, 6.3)
		{Name: "cl-te", Send: post("a") + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1 lets a server either reject a request with both Content-Length and Transfer-Encoding or process it by the chunked framing and close the connection after it: the gateway rejects it (one rule on every path, no smuggling through any parser's leniency); HAProxy 2.6 processes it and closes", Ambiguous: true},
		{Name: "te-cl", Send: post("a") + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1 lets a server either reject a request with both Content-Length and Transfer-Encoding or process it by the chunked framing and close the connection after it: the gateway rejects it (one rule on every path, no smuggling through any parser's leniency); HAProxy 2.6 processes it and closes", Ambiguous: true},
		{Name: "cl-te-obs-fold", Send: post("a") + "Content-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1 lets a server either reject a request with both Content-Length and Transfer-Encoding or process it by the chunked framing and close the connection after it: the gateway rejects it (one rule on every path, no smuggling through any parser's leniency); HAProxy 2.6 processes it and closes; the folded Transfer-Encoding must not hide it", Ambiguous: true},
		{Name: "cl-te-bare-lf", Send: "POST /rq-a HTTP/1.1\r\n" + H + "X-Before: 1\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1 lets a server either reject a request with both Content-Length and Transfer-Encoding or process it by the chunked framing and close the connection after it: the gateway rejects it (one rule on every path, no smuggling through any parser's leniency); HAProxy 2.6 processes it and closes; a bare-LF line before it must not hide it", Ambiguous: true},
		{Name: "cl-te-long-head", Note: "RFC 9112 6.1: refused whatever the head's size", Send: post("a") + "X-Pad: " + strings.Repeat("p", 17<<10) + "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "cl-te-http10-keep-alive", Send: "POST /rq-a HTTP/1.0\r\n" + H + "Connection: keep-alive\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1 lets a server either reject a request with both Content-Length and Transfer-Encoding or process it by the chunked framing and close the connection after it: the gateway rejects it (one rule on every path, no smuggling through any parser's leniency); HAProxy 2.6 processes it and closes, HTTP/1.0 with keep-alive included", Ambiguous: true},
		{Name: "cl-te-http10", Send: "POST /rq-a HTTP/1.0\r\n" + H + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1 lets a server either reject a request with both Content-Length and Transfer-Encoding or process it by the chunked framing and close the connection after it: the gateway rejects it (one rule on every path, no smuggling through any parser's leniency); HAProxy 2.6 processes it and closes, HTTP/1.0 included", Ambiguous: true},
		{Name: "cl-te-identity", Send: post("a") + "Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello", Gateway: refused, HAProxy: refused, Ambiguous: true},
		{Name: "te-http10-keep-alive", Send: "POST /rq-a HTTP/1.0\r\n" + H + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled, Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message MUST be treated as faulty framing and the connection closed after it; the gateway refuses it (400, closed: net/http, which serves such connections, would ignore the Transfer-Encoding of an HTTP/1.0 request and mis-frame it), HAProxy 2.6 processes it as chunked and closes", Ambiguous: true},
		{Name: "te-http10", Send: "POST /rq-a HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message MUST be treated as faulty framing and the connection closed after it; the gateway refuses it (400, closed: net/http, which serves such connections, would ignore the Transfer-Encoding of an HTTP/1.0 request and mis-frame it), HAProxy 2.6 processes it as chunked and closes", Ambiguous: true},

		// ---- header syntax
		{Name: "obs-fold", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-A: one\r\n two\r\n\r\n", Gateway: refused, HAProxy: "fwd open",
			Why: "RFC 9112 5.2: a server MUST reject obs-fold in a request with 400 or replace it with spaces; the gateway rejects it (folding is how the CL+TE refusal was bypassed), HAProxy 2.6 unfolds it"},
		{Name: "bare-lf-line-ending", Note: "RFC 9112 2.2: a recipient MAY take a bare LF as the end of a head line (net/http does); either way the request may not hang", Send: "GET /rq-a HTTP/1.1\n" + "Host: conformance.test\n\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "bare-cr-in-value", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-A: one\rtwo\r\n\r\n", Gateway: refused, HAProxy: refused},
		{Name: "bare-cr-line-ending", Send: "GET /rq-a HTTP/1.1\r" + H + "\r\n", Gateway: refused, HAProxy: refused},
		{Name: "nul-in-value", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-A: one\x00two\r\n\r\n", Gateway: refused, HAProxy: "502 open",
			Why: "RFC 9110 5.5: NUL is never valid in a field value and the gateway refuses it; HAProxy 2.6 forwards it (the strict backend then refused it, hence 502)"},
		{Name: "nul-in-target", Send: "GET /rq-a\x00b HTTP/1.1\r\n" + H + "\r\n", Gateway: refused, HAProxy: refused},
		{Name: "space-in-header-name", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X A: 1\r\n\r\n", Gateway: refused, HAProxy: refused},
		{Name: "space-before-colon", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-A : 1\r\n\r\n", Gateway: refused, HAProxy: refused},
		{Name: "header-without-colon", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-A\r\n\r\n", Gateway: refused, HAProxy: refused},
		{Name: "header-empty-name", Send: "GET /rq-a HTTP/1.1\r\n" + H + ": 1\r\n\r\n", Gateway: refused, HAProxy: refused},
		{Name: "header-name-non-token", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X(A): 1\r\n\r\n", Gateway: refused, HAProxy: refused},
		{Name: "missing-host", Send: "GET /rq-a HTTP/1.1\r\n\r\n", Gateway: refused, HAProxy: "fwd open",
			Why: "RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host; HAProxy 2.6 forwards it"},
		{Name: "two-hosts", Send: "GET /rq-a HTTP/1.1\r\n" + H + "Host: other.test\r\n\r\n", Gateway: refused, HAProxy: refused},
		{Name: "many-headers-100", Send: "GET /rq-a HTTP/1.1\r\n" + H + repeatHeader(100, "X-H") + "\r\n", Gateway: "fwd open", HAProxy: refused,
			Why: "HAProxy 2.6 refuses more than tune.http.maxhdr (101) header fields; the gateway bounds a head by its size, not by its number of fields"},
		{Name: "many-headers-200", Send: "GET /rq-a HTTP/1.1\r\n" + H + repeatHeader(200, "X-H") + "\r\n", Gateway: "fwd open", HAProxy: refused,
			Why: "HAProxy 2.6 refuses more than tune.http.maxhdr (101) header fields; the gateway bounds a head by its size, not by its number of fields"},
		{Name: "long-head-12k", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-Pad: " + strings.Repeat("p", 12<<10) + "\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "long-head-20k", Send: "GET /rq-a HTTP/1.1\r\n" + H + "X-Pad: " + strings.Repeat("p", 20<<10) + "\r\n\r\n", Gateway: "fwd open", HAProxy: refused,
			Why: "HAProxy 2.6 refuses a head larger than its buffer (tune.bufsize, 16 KiB); the gateway takes heads up to net/http's limit (1 MiB)"},
		{Name: "long-head-20k-post", Send: post("a") + "X-Pad: " + strings.Repeat("p", 20<<10) + "\r\nContent-Length: 5\r\n\r\nhello", Gateway: "fwd open", HAProxy: refused,
			Why: "HAProxy 2.6 refuses a head larger than its buffer (tune.bufsize, 16 KiB); the gateway takes heads up to net/http's limit (1 MiB)"},
		{Name: "long-target-8k", Send: "GET /rq-a/" + strings.Repeat("t", 8<<10) + " HTTP/1.1\r\n" + H + "\r\n", Gateway: "fwd open", HAProxy: "fwd open"},

		// ---- request line
		{Name: "absolute-form", Send: "GET http://conformance.test/rq-a HTTP/1.1\r\n" + H + "\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "absolute-form-other-host", Send: "GET http://elsewhere.test/rq-a HTTP/1.1\r\n" + H + "\r\n", Gateway: "fwd open", HAProxy: refused,
			Why: "RFC 9112 3.2.2: the authority of an absolute-form target replaces Host, and the gateway serves it so; HAProxy 2.6 refuses a target whose authority differs from Host"},
		{Name: "absolute-form-https", Send: "GET https://conformance.test/rq-a HTTP/1.1\r\n" + H + "\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "target-with-space", Send: "GET /rq-a b HTTP/1.1\r\n" + H + "\r\n", Gateway: refused, HAProxy: refused},
		{Name: "method-non-token", Send: "G(T /rq-a HTTP/1.1\r\n" + H + "\r\n", Gateway: refused, HAProxy: refused},
		{Name: "version-lower-case", Send: "GET /rq-a http/1.1\r\n" + H + "\r\n", Gateway: refused, HAProxy: refused},
		{Name: "version-2", Send: "GET /rq-a HTTP/2.0\r\n" + H + "\r\n", Gateway: "505 close", HAProxy: "fwd open",
			Why: "an HTTP/2.0 request line on an HTTP/1 connection is answered 505 HTTP Version Not Supported (RFC 9110 15.6.6); HAProxy 2.6 forwards it as HTTP/1.1"},
		{Name: "version-missing", Send: "GET /rq-a\r\n" + H + "\r\n", Gateway: refused, HAProxy: refused},
		{Name: "http10", Send: "GET /rq-a HTTP/1.0\r\n" + H + "\r\n", Gateway: "fwd close", HAProxy: "fwd close"},
		{Name: "http10-no-host", Send: "GET /rq-a HTTP/1.0\r\n\r\n", Gateway: "fwd close", HAProxy: "fwd close"},
		{Name: "http10-keep-alive", Send: "GET /rq-a HTTP/1.0\r\n" + H + "Connection: keep-alive\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "http10-post", Send: "POST /rq-a HTTP/1.0\r\n" + H + "Content-Length: 5\r\n\r\nhello", Gateway: "fwd close", HAProxy: "fwd close"},
		{Name: "connection-close", Send: "GET /rq-a HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n", Gateway: "fwd close", HAProxy: "fwd close"},

		// ---- Expect, Upgrade, CONNECT
		{Name: "expect-100-continue", Send: post("a") + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", Gateway: "100 fwd open", HAProxy: "fwd open",
			Why: "the gateway answers 100 Continue itself before reading the body (RFC 9110 10.1.1 lets a proxy do so; net/http's server does); HAProxy 2.6 leaves it to the instance"},
		{Name: "expect-100-instance-continues", Send: post("a") + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
			Script:  answerWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Id: {id}\r\nContent-Length: 1\r\n\r\na"),
			Backend: "100 Continue, then 200", Gateway: "100 100 fwd open", HAProxy: "100 fwd open",
			Why: "the gateway answers 100 Continue itself before reading the body and passes the instance's 100 on too (RFC 9110 15.2: a client accepts any number of 1xx answers); HAProxy 2.6 only relays the instance's"},
		{Name: "cl-large-body", Send: post("a") + "Content-Length: 65536\r\n\r\n" + strings.Repeat("b", 65536), Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-large-chunk", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n10000\r\n" + strings.Repeat("b", 65536) + "\r\n0\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "expect-unknown", Send: post("a") + "Expect: something-else\r\nContent-Length: 5\r\n\r\nhello", Gateway: "417 close", HAProxy: "fwd open",
			Why: "RFC 9110 10.1.1: an expectation other than 100-continue MAY be answered 417, which the gateway does; HAProxy 2.6 forwards it"},
		{Name: "upgrade-accepted", Send: "GET /rq-a HTTP/1.1\r\n" + H + websocket,
			Script:  tunnelOn("a", "HTTP/1.1 101 Switching Protocols\r\nX-Id: {id}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
			Backend: "101 with Upgrade: websocket, then echoes", Gateway: "fwd tunnel", HAProxy: "fwd tunnel"},
		{Name: "upgrade-declined", Send: "GET /rq-a HTTP/1.1\r\n" + H + websocket, Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "upgrade-websocket-without-key", Send: "GET /rq-a HTTP/1.1\r\n" + H + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			Script:  tunnelOn("a", "HTTP/1.1 101 Switching Protocols\r\nX-Id: {id}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
			Backend: "101 with Upgrade: websocket, then echoes", Gateway: "fwd tunnel", HAProxy: "400 close",
			Why: "HAProxy 2.6 checks a websocket handshake (Sec-WebSocket-Key, RFC 6455 4.1) and refuses one without; the gateway leaves the handshake to the instance, which accepted it here"},
		{Name: "upgrade-unknown-protocol", Send: "GET /rq-a HTTP/1.1\r\n" + H + "Connection: Upgrade\r\nUpgrade: foo/1\r\n\r\n",
			Script:  tunnelOn("a", "HTTP/1.1 101 Switching Protocols\r\nX-Id: {id}\r\nConnection: Upgrade\r\nUpgrade: foo/1\r\n\r\n"),
			Backend: "101 with Upgrade: foo/1, then echoes", Gateway: "fwd tunnel", HAProxy: "fwd tunnel"},
		{Name: "connect", Send: "CONNECT rq-a.test:443 HTTP/1.1\r\nHost: rq-a.test:443\r\n\r\n", Answers: "CONNECT:a",
			Script:  tunnelOn("a", "HTTP/1.1 200 Connection established\r\nX-Id: {id}\r\n\r\n"),
			Backend: "200, then echoes", Gateway: "405 open", HAProxy: "fwd tunnel",
			Why: "the gateway is the origin of its instances, not a forward proxy (RFC 9110 9.3.6): CONNECT is refused with 405 instead of being relayed to an instance, as HAProxy 2.6 does"},

		// ---- bodies streamed by the front end (issue 18): in pieces, answered early, cut short
		{Name: "cl-body-in-pieces", Send: post("a") + "Content-Length: 15\r\n\r\n", Pieces: []string{"hello", "-world", "-1234"}, Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "cl-large-body-in-pieces", Send: post("a") + "Content-Length: 262144\r\n\r\n", Pieces: repeatPiece(16, 16<<10, "p"), Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-in-pieces", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5", Pieces: []string{"\r\nhel", "lo\r\n", "6;x=y\r\n worl", "d\r\n0\r\nX-T: 1\r\n", "\r\n"}, Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-extensions-and-trailers", Send: post("a") + "Transfer-Encoding: chunked\r\nTrailer: X-T, X-U\r\n\r\n5;a=b\r\nhello\r\n6;c;d=\"e f\"\r\n world\r\n0;last=1\r\nX-T: 1\r\nX-U: 2\r\n\r\n", Gateway: "fwd open", HAProxy: "fwd open"},
		{Name: "chunked-trailer-bare-cr", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\r\n" + smuggled + "\r\n", Gateway: refused, HAProxy: refused, Ambiguous: true,
			Note: "a bare CR in a trailer line could end the trailer section early for a lenient instance and pass what follows as a request: refused as in a head"},
		{Name: "chunked-trailer-obs-fold", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n folded\r\n\r\n", Gateway: refused, HAProxy: "fwd open", Ambiguous: true,
			Why: "RFC 9112 5.2 and 7.1.2: trailer fields follow the rules of head fields, and obs-fold in a request is refused there (the gateway passes a chunked body through as it came, so a folded line would reach the instance); HAProxy 2.6 takes it"},
		{Name: "pipelined-body-in-pieces-then-get", Send: post("a") + "Content-Length: 10\r\n\r\nhello", Pieces: []string{"world" + get("b")}, Answers: "a b", Gateway: "fwd fwd open", HAProxy: "fwd fwd open"},
		{Name: "early-answer-413",
			Send: post("a") + "Content-Length: 1000000\r\n\r\n" + strings.Repeat("u", 1000), AtHead: answerAtHead("HTTP/1.1 413 Content Too Large\r\nX-Id: {id}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", true),
			Backend: "413 at the head, then closes", Gateway: "fwd close", HAProxy: "fwd hang",
			Why: "RFC 9112 9.6: the instance answered before the body was sent whole, so the rest of it is not read and the gateway closes the client's connection after the answer (draining what the client still sends for a bounded while first); HAProxy 2.6 keeps the connection and reads the client's next bytes as the rest of the body", NetHTTPOnly: "hang", NetHTTPOnlyWhy: "the net/http path (hand-offs, and every request in this mode) sends the body before it reads the answer, so it waits for the rest of a body the client does not send; the front end looks at the instance while it waits for the client (issue 18)"},
		{Name: "instance-closes-mid-body", Note: "the instance closed in the middle of the body, before any answer: 502, never sent again (it may have begun to process the request), and the client's connection closes since the rest of its body is not read",
			Send: post("a") + "Content-Length: 100000\r\n\r\n" + strings.Repeat("u", 100), AtHead: answerAtHead("", true),
			Backend: "closes at the head, without an answer", Gateway: "502 close", HAProxy: "502 close", NetHTTPOnly: "hang", NetHTTPOnlyWhy: "the net/http path (hand-offs, and every request in this mode) sends the body before it reads the answer, so it waits for the rest of a body the client does not send; the front end looks at the instance while it waits for the client (issue 18)"},
		{Name: "cl-body-abort-then-followups", Note: "a client that goes away in the middle of its body: the instance connection that carried part of it is closed, never used for the follow-up clients", Send: post("a") + "Content-Length: 100\r\n\r\nhello", HalfClose: true, Followups: 2, Gateway: "close", HAProxy: "close"},
		{Name: "chunked-abort-then-followups", Note: "a client that goes away in the middle of its chunked body: the instance connection that carried part of it is closed, never used for the follow-up clients", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n64\r\nhello", HalfClose: true, Followups: 2, Gateway: "close", HAProxy: "close"},
		{Name: "expect-100-instance-never-continues", Send: post("a") + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n", AwaitContinue: true, Pieces: []string{"hello"},
			Gateway: "100 fwd open", HAProxy: "fwd open",
			Why: "the client waits for 100 Continue (at most a second, as curl) before its body: the gateway answers 100 itself at once and sends the body to the instance without Expect, so nothing waits on an instance that never sends 100 (net/http's server and nginx do the same); HAProxy 2.6 passes the expectation on, and the client sends its body after its own wait"},

		// ---- pipelining
		{Name: "pipelined-gets", Send: get("a") + get("b") + get("c"), Answers: "a b c", Gateway: "fwd fwd fwd open", HAProxy: "fwd fwd fwd open"},
		{Name: "pipelined-head-get", Send: "HEAD /rq-a HTTP/1.1\r\n" + H + "\r\n" + get("b"), Answers: "HEAD:a b", Gateway: "fwd fwd open", HAProxy: "fwd fwd open"},
		{Name: "pipelined-cl-bodies", Send: post("a") + "Content-Length: 5\r\n\r\nhello" + post("b") + "Content-Length: 3\r\n\r\nabc" + get("c"), Answers: "a b c", Gateway: "fwd fwd fwd open", HAProxy: "fwd fwd fwd open"},
		{Name: "pipelined-chunked-bodies", Send: post("a") + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + post("b") + "Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n" + get("c"), Answers: "a b c", Gateway: "fwd fwd fwd open", HAProxy: "fwd fwd fwd open"},
		{Name: "pipelined-body-looks-like-request", Send: post("a") + "Content-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled + get("b"), Answers: "a b", Gateway: "fwd fwd open", HAProxy: "fwd fwd open"},
		{Name: "pipelined-after-refused", Send: post("a") + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("b"), Answers: "a b", Gateway: refused, HAProxy: "fwd close",
			Why: "RFC 9112 6.1 lets a server either reject a request with both Content-Length and Transfer-Encoding or process it by the chunked framing and close the connection after it: the gateway rejects it (one rule on every path, no smuggling through any parser's leniency); HAProxy 2.6 processes it and closes: the pipelined GET is never read", Ambiguous: true},
		{Name: "pipelined-cl-zero-then-get", Send: post("a") + "Content-Length: 0\r\n\r\n" + get("b"), Answers: "a b", Gateway: "fwd fwd open", HAProxy: "fwd fwd open"},
	}
}
