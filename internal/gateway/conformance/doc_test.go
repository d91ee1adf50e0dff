package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docPath is the case list in the docs, generated from the table.
var docPath = filepath.Join("..", "..", "..", "docs", "conformance.md")

// updateDocEnv names the environment variable that makes TestConformanceDoc rewrite the doc.
const updateDocEnv = "CONFORMANCE_UPDATE_DOC"

// TestConformanceDoc fails when docs/conformance.md is not the table's list: it cannot go stale.
func TestConformanceDoc(t *testing.T) {
	want := renderDoc(conformanceCases())
	if os.Getenv(updateDocEnv) == "1" {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v: generate it with %s=1 go test ./internal/gateway/conformance -run TestConformanceDoc", err, updateDocEnv)
	}
	if string(got) != want {
		t.Errorf("docs/conformance.md is not the case table's list: regenerate it with %s=1 go test ./internal/gateway/conformance -run TestConformanceDoc, and commit it", updateDocEnv)
	}
}

const docHead = `# Gateway conformance: the same bytes through the gateway and HAProxy 2.6

Generated from the case table of ` + "`internal/gateway/conformance`" + ` (` + "`cases_test.go`, `requests_test.go`, `responses_test.go`" + `) by
` + "`" + updateDocEnv + `=1 go test ./internal/gateway/conformance -run TestConformanceDoc` + "`" + `; a test fails when this page
and the table differ. ` + "`make test`" + ` runs the suite; ` + "`make tools`" + ` installs HAProxy 2.6 (Debian's ` + "`haproxy`" + `).

Each case sends the same raw client bytes, on a new connection, through the gateway (the
` + "`vamp-gateway`" + ` binary, built by the test and programmed through its admin API with one route; run
twice, with its own HTTP/1.1 front end and with ` + "`--net-http-only`" + `: one set of rules holds on
every path, so both must give the gateway column's outcome; the two cases where net/http's
forwarding of a body differs, not a framing rule, say so in the last column) and through HAProxy 2.6
(` + "`mode http`" + `, keep-alive on both sides), each in front of a raw-socket backend of its own that records exactly the bytes and request boundaries it received and answers with
the case's scripted bytes, well-behaved or not. Every request names itself (` + "`/rq-<id>`" + `) and the
backend echoes the id in its answer. For the gateway the suite asserts, per case:

- the outcome in the table (below);
- the backend received exactly the requests the client sent as requests: nothing smuggled in a
  body, nothing twice (except a retry the case allows), nothing the client was refused, and all of
  it framed unambiguously (the backend's parser is strict);
- every client got the answer to its own request, follow-up clients on new connections included
  (they come after the backend's stray bytes, if the case has any);
- ambiguous framing is refused with the connection closed.

For HAProxy it asserts the outcome in the table, so that the HAProxy column stays what HAProxy does.
Where the two differ, the last column says why the gateway deliberately does otherwise; everywhere
else they must agree.

An outcome lists what the client got, one token per answer, then how its connection ended:

| token | meaning |
|---|---|
| ` + "`fwd`" + ` | the backend's answer to this very request |
| ` + "`fwd-cut`" + ` | the backend's answer, its body cut short by the end of the connection |
| ` + "`400`" + `, ` + "`502`" + `, ... | an answer of the proxy's own (interim ` + "`100`" + ` and ` + "`103`" + ` too) |
| ` + "`garbage`" + ` | bytes that are not an HTTP/1.1 answer |
| ` + "`open`" + ` | the connection is still usable: a probe request sent after the answers got its own answer |
| ` + "`close`" + ` | the proxy closed the connection |
| ` + "`tunnel`" + ` | after a 101 (or a CONNECT's 2xx) bytes went through to the backend and back |
| ` + "`hang`" + ` | nothing more within the case's deadline (never an intended outcome) |

Response-side cases mostly send two or three plain requests (` + "`GET /rq-a`" + ` with Host) on one connection
(whether an answer left the client's connection in doubt) and have follow-up clients (whether it
left the instance connection in doubt).

` + "`FuzzInterleavings`" + ` in the same package drives the gateway with random interleavings of requests on
three client connections, pipelined or not, and instance answers of all the misbehaving kinds
below; its property is that answers map one to one to requests, in order (` + "`make fuzz`" + `; ` + "`make test`" + `
runs its seeds, among them the reproduction of issue 13).
`

// renderDoc is docs/conformance.md for the table.
func renderDoc(cases []Case) string {
	var b strings.Builder
	b.WriteString(docHead)
	differ := 0
	for _, c := range cases {
		if c.Why != "" {
			differ++
		}
	}
	fmt.Fprintf(&b, "\n%d cases; the gateway and HAProxy 2.6 agree on %d, differ on %d.\n", len(cases), len(cases)-differ, differ)
	for _, side := range []string{"request", "response"} {
		if side == "request" {
			b.WriteString("\n## Request side\n\nThe backend answers every request `200` with the id.\n\n")
			b.WriteString("| # | case | client bytes | gateway | HAProxy 2.6 | why the gateway differs (or why both are right) |\n|---|---|---|---|---|---|\n")
		} else {
			b.WriteString("\n## Response side\n\n")
			b.WriteString("| # | case | backend's answer (to request `a` unless said) | client bytes | follow-ups | gateway | HAProxy 2.6 | why the gateway differs (or why both are right) |\n|---|---|---|---|---|---|---|---|\n")
		}
		n := 0
		for _, c := range cases {
			if c.Side != side {
				continue
			}
			n++
			bytesCol := "`" + summarize(c.Send) + "`"
			if c.AwaitContinue {
				bytesCol += ", then the client waits for 100 Continue (at most 1 s)"
			}
			if len(c.Pieces) > 0 {
				writes := "writes"
				if len(c.Pieces) == 1 {
					writes = "write"
				}
				bytesCol += fmt.Sprintf(", then in %d more %s `%s`", len(c.Pieces), writes, summarize(strings.Join(c.Pieces, "")))
			}
			if c.Followups > 0 {
				bytesCol += fmt.Sprintf("; %d follow-up clients", c.Followups)
			}
			if c.HalfClose {
				bytesCol += ", then the client shuts its write side"
			}
			if side == "request" {
				if c.Backend != "" {
					bytesCol += "; backend: " + c.Backend
				}
				fmt.Fprintf(&b, "| %d | %s | %s | `%s` | `%s` | %s |\n", n, c.Name, bytesCol, c.Gateway, c.HAProxy, c.remark())
				continue
			}
			backend := c.Backend
			if backend == "" {
				backend = "200 with Content-Length"
			}
			if plain := plainRequests(c.Send); plain != "" {
				bytesCol = plain
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | `%s` | `%s` | %s |\n", n, c.Name, backend, bytesCol, c.Followups, c.Gateway, c.HAProxy, c.remark())
		}
	}
	return b.String()
}

// summarize is a client's bytes as a Go string literal's inside, long runs and lists shortened.
func summarize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i >= 24 {
			fmt.Fprintf(&b, "<%d×%c>", j-i, s[i])
		} else {
			q := strconv.Quote(s[i:j])
			b.WriteString(q[1 : len(q)-1])
		}
		i = j
	}
	out := b.String()
	out = collapseRepeats(out)
	if len(out) > 260 {
		out = out[:260] + "…"
	}
	return strings.ReplaceAll(out, "|", `\|`)
}

// collapseRepeats shortens the numbered header lists and repeated chunks the cases generate.
func collapseRepeats(s string) string {
	hdr := regexp.MustCompile(`(X-H-0: value-0\\r\\n)(X-H-\d+: value-\d+\\r\\n)+`)
	s = hdr.ReplaceAllStringFunc(s, func(m string) string {
		return fmt.Sprintf(`<%d fields X-H-N: value-N\r\n>`, strings.Count(m, `\r\n`))
	})
	chunk := regexp.MustCompile(`(1\\r\\nx\\r\\n){3,}`)
	return chunk.ReplaceAllStringFunc(s, func(m string) string {
		return fmt.Sprintf(`<%d×"1\r\nx\r\n">`, strings.Count(m, `1\r\nx\r\n`))
	})
}

// plainRequest is a request line with Host and nothing else, as get() writes it.
var plainRequest = regexp.MustCompile(`^([A-Z]+) /rq-([a-z0-9]+) HTTP/1\.1\r\n` + H + `\r\n`)

// plainRequests lists bytes made only of plain requests as "GET a, HEAD b" ("" otherwise).
func plainRequests(s string) string {
	var reqs []string
	for s != "" {
		m := plainRequest.FindStringSubmatch(s)
		if m == nil {
			return ""
		}
		reqs = append(reqs, "`"+m[1]+" /rq-"+m[2]+"`")
		s = s[len(m[0]):]
	}
	return strings.Join(reqs, ", ")
}

// remark is the doc's last column: why the gateway differs, or a note on why both are right.
func (c Case) remark() string {
	r := ""
	switch {
	case c.Why != "":
		r = c.Why
	case c.Note != "":
		r = "(both) " + c.Note
	}
	if c.NetHTTPOnly != "" {
		if r != "" {
			r += ". "
		}
		r += fmt.Sprintf("With `--net-http-only` the outcome is `%s`: %s", c.NetHTTPOnly, c.NetHTTPOnlyWhy)
	}
	return r
}
