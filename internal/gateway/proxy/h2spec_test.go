package proxy

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// h2specVersion is the h2spec the conformance test runs (`make tools` installs it).
const h2specVersion = "github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"

// h2specKnown lists the h2spec cases the gateway does not pass, each with the reason (the shape
// of the conformance suite's documented differences). Empty: every server case passes.
var h2specKnown = map[string]string{
	"http2/3.5 Sends invalid connection preface": "the port serves HTTP/1.1 as well as h2c: bytes that are not the " +
		"HTTP/2 preface are read as an HTTP/1.1 request, and this one (\"INVALID CONNECTION PREFACE\") is " +
		"answered 400 in HTTP/1.1 and the connection closed, as net/http's server on a port with h2c does; " +
		"h2spec wants the connection closed without an answer",
}

// h2specBinary finds h2spec, installing it with `go install` when it is missing (as `make tools`
// does).
func h2specBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env GOPATH: %v", err)
	}
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "h2spec")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if out, err := exec.Command("go", "install", h2specVersion).CombinedOutput(); err != nil {
		t.Fatalf("h2spec is missing and `go install %s` failed (run `make tools`): %v\n%s", h2specVersion, err, out)
	}
	return bin
}

type junitSuites struct {
	Suites []struct {
		Cases []struct {
			Package string `xml:"package,attr"`
			Name    string `xml:"classname,attr"`
			Failure *struct {
				Text string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
			Error   *struct {
				Text string `xml:",chardata"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestH2specConformance runs h2spec's server cases (generic, HPACK and RFC 7540, strict ones
// included) against the gateway's HTTP/2 front end: every case passes, or is listed in
// h2specKnown with its reason.
func TestH2specConformance(t *testing.T) {
	bin := h2specBinary(t)
	_, _, gw := startServer(t, Options{}, ServerOptions{}, echoInstance(t))
	_, port, _ := strings.Cut(gw, ":")
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	out, err := exec.Command(bin, "-h", "127.0.0.1", "-p", port, "-S", "-o", "5", "-j", report).CombinedOutput()
	raw, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("h2spec wrote no report (%v): %v\n%s", rerr, err, out)
	}
	// h2spec copies frame bytes into its messages as they came, control characters included
	// (a NUL was seen), which XML does not allow: they are made visible rather than parsed.
	var clean bytes.Buffer
	for _, b := range raw {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			fmt.Fprintf(&clean, "\\x%02x", b)
			continue
		}
		clean.WriteByte(b)
	}
	raw = clean.Bytes()
	var suites junitSuites
	if err := xml.Unmarshal(raw, &suites); err != nil {
		t.Fatalf("h2spec's report: %v", err)
	}
	passed, seen := 0, map[string]bool{}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			id := c.Package + " " + c.Name
			seen[id] = true
			msg := ""
			switch {
			case c.Failure != nil:
				msg = c.Failure.Text
			case c.Error != nil:
				msg = c.Error.Text
			case c.Skipped != nil:
				msg = "skipped"
			}
			if msg == "" {
				passed++
				if _, ok := h2specKnown[id]; ok {
					t.Errorf("h2spec %s passes now: remove it from h2specKnown", id)
				}
				continue
			}
			if _, ok := h2specKnown[id]; !ok {
				t.Errorf("h2spec %s: %s", id, strings.TrimSpace(msg))
			}
		}
	}
	if passed < 140 {
		t.Errorf("h2spec passed %d cases, want the 140 or more of its server suite (exit: %v)\n%s", passed, err, out)
	}
	t.Logf("h2spec: %s cases passed", strconv.Itoa(passed))
}
