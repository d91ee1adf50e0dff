package conformance

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// caseDeadline bounds one side of a case (its conversation and follow-ups): a proxy that hangs
// fails the case in this time, it never stalls the suite.
const caseDeadline = 5 * time.Second

// sideResult is what one proxy made of a case.
type sideResult struct {
	outcome   string
	followups []string
	final     map[string]string // the client's final answer per request id
	records   []ConnRecord
	err       error
}

// runSide runs a case through the proxy at addr to its backend be: the conversation, then the
// backend's Later bytes (stray answers), then the follow-up clients, each on a new connection.
func runSide(c Case, addr string, be *Backend) sideResult {
	deadline := time.Now().Add(caseDeadline)
	res := sideResult{final: map[string]string{}}
	toks, err := Converse(addr, c.conversation(), deadline, res.final)
	if err != nil {
		res.err = err
		return res
	}
	res.outcome = Outcome(toks)
	be.Release()
	for i := 0; i < c.Followups; i++ {
		id := fmt.Sprintf("f%d", i)
		conv := Conversation{
			Send:     []byte("GET /private/rq-" + id + " HTTP/1.1\r\nHost: conformance.test\r\n\r\n"),
			Requests: []ClientRequest{{ID: id, Method: "GET"}},
			ProbeID:  fmt.Sprintf("fp%d", i),
		}
		toks, err := Converse(addr, conv, deadline, res.final)
		if err != nil {
			res.followups = append(res.followups, err.Error())
			continue
		}
		res.followups = append(res.followups, Outcome(toks))
	}
	res.records = be.Records()
	return res
}

// boundaryProblems checks what the backend saw against what the client got: every request the
// backend received is one the client sent as a request (nothing smuggled, nothing sent twice, all
// of it well framed), and the client got an answer to it that is not a refusal; every answer
// from the backend is the answer to the request it was given for.
func boundaryProblems(c Case, res sideResult, hangs bool) []string {
	var problems []string
	allowed := map[string]bool{"probe": true}
	for _, r := range c.conversation().Requests {
		allowed[r.ID] = true
	}
	for i := 0; i < c.Followups; i++ {
		allowed[fmt.Sprintf("f%d", i)], allowed[fmt.Sprintf("fp%d", i)] = true, true
	}
	seen := map[string]int{}
	for n, rec := range res.records {
		if rec.Err != nil {
			problems = append(problems, fmt.Sprintf("the backend could not frame what it was sent (%v); bytes: %q", rec.Err, clip(rec.Rest)))
		}
		for _, r := range rec.Requests {
			seen[r.ID]++
			if !allowed[r.ID] {
				problems = append(problems, fmt.Sprintf("backend connection %d received request %q (%s %s) that the client never sent as a request of its own: a request boundary moved", n, r.ID, r.Method, r.Target))
			}
		}
	}
	for id, n := range seen {
		if n > 1 && id != c.MayRetry {
			problems = append(problems, fmt.Sprintf("the backend received request %q %d times", id, n))
		}
		if !allowed[id] {
			continue
		}
		tok, answered := res.final[id]
		switch {
		case !answered && !hangs: // an outcome that ends in hang has its last answer still to come
			problems = append(problems, fmt.Sprintf("the backend received request %q but the client got no answer to it", id))
		case len(tok) == 3 && tok[0] == '4':
			problems = append(problems, fmt.Sprintf("the backend received request %q that the client was answered %s (refused)", id, tok))
		}
	}
	ids := make([]string, 0, len(res.final))
	for id := range res.final {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		tok := res.final[id]
		if strings.HasPrefix(tok, "wrong") {
			problems = append(problems, fmt.Sprintf("the client got %s as the answer to request %q: another request's answer", tok, id))
		}
		if (tok == TokFwd || tok == TokCut) && seen[id] == 0 {
			problems = append(problems, fmt.Sprintf("the client got a backend answer to %q that the backend never received", id))
		}
	}
	return problems
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// gatewayMode is one way the gateway serves a port: the suite runs every case through each.
type gatewayMode struct {
	name  string   // in failure messages
	flags []string // vamp-gateway flags
}

// gatewayModes: the gateway's own HTTP/1.1 front end (handing odd requests to net/http), and
// --net-http-only (net/http and httputil.ReverseProxy for everything). One set of framing rules
// holds on every path, so both must give the table's gateway outcome.
var gatewayModes = []gatewayMode{
	{name: "gateway"},
	{name: "gateway --net-http-only", flags: []string{"--net-http-only"}},
}

// netHTTPOnly: the mode hands every connection to net/http.
func (m gatewayMode) netHTTPOnly() bool { return slices.Contains(m.flags, "--net-http-only") }

// proxySide is one proxy's front port for a case, and the case's backend behind it.
type proxySide struct {
	name    string
	addr    string
	backend *Backend
}

// TestConformance runs every case through the gateway (in each of its modes) and HAProxy 2.6 at
// the same time, each to a backend of its own with the case's script, and asserts the gateway's
// intended outcome, the request boundaries, every client's own answer, and HAProxy's outcome as
// the table records it.
func TestConformance(t *testing.T) {
	cases := conformanceCases()
	newBackend := func(c Case) *Backend {
		be, err := NewBackendAtHead(c.Script, c.AtHead)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(be.Close)
		return be
	}
	gateways := make([][]proxySide, len(gatewayModes)) // [mode][case]
	var gwLogs []*logTail
	for m, mode := range gatewayModes {
		admin, token, logs := startGateway(t, mode.flags...)
		gwLogs = append(gwLogs, logs)
		for i, c := range conformanceCases() { // scripts keep state: each backend gets its own
			be := newBackend(c)
			addr := programGateway(t, admin, token, fmt.Sprintf("conformance/c%d", i), be.Port())
			gateways[m] = append(gateways[m], proxySide{name: mode.name, addr: addr, backend: be})
		}
	}
	haBackends := make([]*Backend, len(cases))
	haPorts := make([]int, len(cases))
	for i, c := range conformanceCases() {
		haBackends[i] = newBackend(c)
		haPorts[i] = haBackends[i].Port()
	}
	haAddrs := startHAProxy(t, haPorts)

	t.Run("case", func(t *testing.T) {
		for i, c := range cases {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				sides := []proxySide{{name: "HAProxy 2.6", addr: haAddrs[i], backend: haBackends[i]}}
				for m := range gatewayModes {
					sides = append(sides, gateways[m][i])
				}
				results := make([]sideResult, len(sides))
				var wg sync.WaitGroup
				for n, side := range sides {
					wg.Add(1)
					go func() { defer wg.Done(); results[n] = runSide(c, side.addr, side.backend) }()
				}
				wg.Wait()
				for n, side := range sides {
					res := results[n]
					if res.err != nil {
						t.Errorf("%s: %v", side.name, res.err)
						continue
					}
					if n == 0 {
						if res.outcome != c.HAProxy {
							t.Errorf("HAProxy 2.6: outcome %q, but the table says %q (correct the case's HAProxy field and regenerate docs/conformance.md)", res.outcome, c.HAProxy)
						}
					} else {
						want := c.gatewayOutcome(gatewayModes[n-1].netHTTPOnly())
						if res.outcome != want {
							t.Errorf("%s: outcome %q, want %q", side.name, res.outcome, want)
						}
						for _, p := range boundaryProblems(c, res, strings.HasSuffix(want, TokHang)) {
							t.Errorf("%s: %s", side.name, p)
						}
					}
					for f, out := range res.followups {
						if out != "fwd open" {
							t.Errorf("%s: follow-up client %d (GET /private/rq-f%d on a new connection): outcome %q, want \"fwd open\"", side.name, f, f, out)
						}
					}
				}
				if t.Failed() {
					t.Logf("client bytes: %q", c.Send)
					for n, side := range sides {
						t.Logf("%s: its backend saw: %s", side.name, describe(results[n].records))
					}
				}
			})
		}
	})
	if t.Failed() {
		for m, mode := range gatewayModes {
			t.Logf("%s: its last log lines:\n%s", mode.name, gwLogs[m])
		}
	}
}

func describe(recs []ConnRecord) string {
	var b strings.Builder
	for n, rec := range recs {
		fmt.Fprintf(&b, "\n  conn %d:", n)
		for _, r := range rec.Requests {
			fmt.Fprintf(&b, " [%s %s id=%s body=%dB]", r.Method, r.Target, r.ID, len(r.Body))
		}
		if len(rec.Rest) > 0 {
			fmt.Fprintf(&b, " rest=%q", clip(rec.Rest))
		}
		if rec.Err != nil {
			fmt.Fprintf(&b, " err=%v", rec.Err)
		}
	}
	return b.String()
}

// refusedAndClosed is the outcome of a refused request: one error answer of the gateway's own,
// then the connection closed.
var refusedAndClosed = regexp.MustCompile(`^[45][0-9][0-9] close$`)

// TestCaseTable checks the table itself: unique names, at least 80 cases, a reason exactly where
// the gateway and HAProxy differ, ambiguous framing expected refused with the connection closed.
func TestCaseTable(t *testing.T) {
	cases := conformanceCases()
	if len(cases) < 80 {
		t.Errorf("%d cases; the suite promises at least 80", len(cases))
	}
	names := map[string]bool{}
	name := regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	for _, c := range cases {
		if names[c.Name] {
			t.Errorf("case %q: name used twice", c.Name)
		}
		names[c.Name] = true
		if !name.MatchString(c.Name) {
			t.Errorf("case %q: names are lower-case words joined by '-'", c.Name)
		}
		if c.Side != "request" && c.Side != "response" {
			t.Errorf("case %q: side %q, want request or response", c.Name, c.Side)
		}
		if c.Gateway != c.HAProxy && c.Why == "" {
			t.Errorf("case %q: the gateway (%q) and HAProxy (%q) differ and the case does not say why", c.Name, c.Gateway, c.HAProxy)
		}
		if (c.NetHTTPOnly == "") != (c.NetHTTPOnlyWhy == "") || c.NetHTTPOnly == c.Gateway && c.NetHTTPOnly != "" {
			t.Errorf("case %q: a --net-http-only outcome of its own (%q) comes with the reason it differs from the front end's (%q), and only then", c.Name, c.NetHTTPOnly, c.Gateway)
		}
		if c.Ambiguous && c.NetHTTPOnly != "" {
			t.Errorf("case %q: ambiguous framing is refused the same way on every path", c.Name)
		}
		if c.Gateway == c.HAProxy && c.Why != "" {
			t.Errorf("case %q: says why it differs from HAProxy, but both outcomes are %q", c.Name, c.Gateway)
		}
		if c.Ambiguous && !refusedAndClosed.MatchString(c.Gateway) {
			t.Errorf("case %q: ambiguous framing must be refused with the connection closed (\"400 close\"), the table expects %q", c.Name, c.Gateway)
		}
		if strings.HasPrefix(c.Name, "cl-te") && c.Gateway != "400 close" {
			t.Errorf("case %q: a request with Content-Length and Transfer-Encoding is answered 400 and its connection closed, the table expects %q", c.Name, c.Gateway)
		}
	}
}
