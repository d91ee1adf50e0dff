package conformance

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Case is one row of the conformance table: raw client bytes, the backend's script, and what
// the gateway and HAProxy 2.6 make of them (outcome tokens: see client.go).
type Case struct {
	Name string
	Side string // "request": the client's bytes are the point; "response": the backend's answer is

	Send      string // the client's raw bytes, written at once
	Answers   string // the requests the client waits answers for, by id ("a b"; "HEAD:a"); default "a"
	HalfClose bool   // shut the client's write side after Send (and Pieces)
	// Pieces are written after Send, each in a write of its own (a body in pieces).
	Pieces []string
	// AwaitContinue: the client waits for 100 Continue (at most a second, as curl) before Pieces.
	AwaitContinue bool
	// AtHead answers a request as soon as its head has come, before its body (an early answer,
	// or a close); nil: every request is answered when it is complete (Script).
	AtHead    Script
	Script    Script // the backend's answers; nil: OK to every request
	Followups int    // clients that each send one GET on a new connection after the backend's Later bytes
	MayRetry  string // a request id the gateway may send twice: the instance provably did not process it

	// Backend summarises the backend's answer for the docs ("" for an OK answer).
	Backend string

	Gateway   string // the gateway's intended outcome, asserted
	HAProxy   string // HAProxy 2.6's outcome, asserted: the table says what HAProxy does
	Why       string // why the gateway deliberately differs from HAProxy; set exactly when they differ
	Note      string // where they agree, what makes the outcome the right one (for the docs)
	Ambiguous bool   // ambiguous framing: the gateway must answer 400 and close the connection

	// NetHTTPOnly is the outcome of gateway --net-http-only where it differs from the gateway's
	// own front end (Gateway), and NetHTTPOnlyWhy says why; "" where they agree, as they must on
	// every framing rule.
	NetHTTPOnly, NetHTTPOnlyWhy string
}

// gatewayOutcome is the outcome the case expects of the gateway in the mode named.
func (c Case) gatewayOutcome(netHTTPOnly bool) string {
	if netHTTPOnly && c.NetHTTPOnly != "" {
		return c.NetHTTPOnly
	}
	return c.Gateway
}

func (c Case) conversation() Conversation {
	conv := Conversation{Send: []byte(c.Send), HalfClose: c.HalfClose, AwaitContinue: c.AwaitContinue}
	for _, p := range c.Pieces {
		conv.Pieces = append(conv.Pieces, []byte(p))
	}
	answers := c.Answers
	if answers == "" {
		answers = "a"
	}
	for _, a := range strings.Fields(answers) {
		method, id, found := strings.Cut(a, ":")
		if !found {
			method, id = "GET", a
		}
		conv.Requests = append(conv.Requests, ClientRequest{ID: id, Method: method})
	}
	return conv
}

// The client bytes are written with these helpers: H is the Host line, get(id) a plain GET.
const H = "Host: conformance.test\r\n"

func get(id string) string { return "GET /rq-" + id + " HTTP/1.1\r\n" + H + "\r\n" }

// smuggled is a request hidden in another's body: no proxy may ever hand it to the backend.
var smuggled = get("smuggled")

// answered is the request the answer* scripts answer specially: the first of a conversation.
const answered = "a"

// answerWith answers request "a" with raw ({id} replaced by the id) and every other request OK.
func answerWith(raw string) Script {
	return func(r *Request) Reply {
		if r.ID != answered {
			return OK(r)
		}
		return Reply{Data: []byte(strings.ReplaceAll(raw, "{id}", r.ID))}
	}
}

// answerThenLater answers request "a" with raw, and writes later on the same connection after the
// client's conversation (stray bytes in a later segment).
func answerThenLater(raw, later string) Script {
	return func(r *Request) Reply {
		if r.ID != answered {
			return OK(r)
		}
		return Reply{Data: []byte(strings.ReplaceAll(raw, "{id}", r.ID)), Later: []byte(later)}
	}
}

// answerThenClose answers request "a" with raw and closes the connection.
func answerThenClose(raw string) Script {
	return func(r *Request) Reply {
		if r.ID != answered {
			return OK(r)
		}
		return Reply{Data: []byte(strings.ReplaceAll(raw, "{id}", r.ID)), Close: true}
	}
}

// tunnelOn answers request id with raw and then echoes the connection's bytes.
func tunnelOn(id, raw string) Script {
	return func(r *Request) Reply {
		if r.ID != id {
			return OK(r)
		}
		return Reply{Data: []byte(strings.ReplaceAll(raw, "{id}", r.ID)), Tunnel: true}
	}
}

// closeOnFirst closes the connection without an answer the first time request id arrives, and
// answers it OK the next time.
func closeOnFirst(id string) Script {
	var n atomic.Int32
	return func(r *Request) Reply {
		if r.ID != id {
			return OK(r)
		}
		if n.Add(1) == 1 {
			return Reply{Close: true}
		}
		return OK(r)
	}
}

// poison is the stray answer of the reproduction.
const poison = "HTTP/1.1 200 OK\r\nX-Id: poisoned\r\nContent-Length: 8\r\n\r\nPOISONED"

func repeatHeader(n int, name string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s-%d: value-%d\r\n", name, i, i)
	}
	return b.String()
}

// conformanceCases is the table. docs/conformance.md is generated from it (TestConformanceDoc).
func conformanceCases() []Case {
	var all []Case
	for _, c := range requestCases() {
		c.Side = "request"
		all = append(all, c)
	}
	for _, c := range responseCases() {
		c.Side = "response"
		all = append(all, c)
	}
	return all
}

// refused is the outcome of a request the gateway refuses as malformed or ambiguous.
const refused = "400 close"
