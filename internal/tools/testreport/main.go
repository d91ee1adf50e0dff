// Command testreport reads `go test -json` on stdin, prints the output of every failed test, a
// line per package, and a closing "N passed, N failed, N skipped" line. It exits non-zero when a
// test failed, a package failed to build, no test ran, or a test was skipped: CI never hides a
// skipped test. A skip is allowed only when its message contains "[allowed-skip]".
// With -label (e.g. -label "terraform 1.5.7") the closing line names the run, so that two runs of
// the same packages (the acceptance tests against two Terraform CLIs) are told apart.
//
// While tests run it prints, once a minute, every test that has run longer than stuckAfter: a
// hung test is then named long before go test's -timeout ends it (with its goroutine dump,
// which is part of the failed test's or the package's output and is printed with it).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// stuckAfter is how long a test runs before the report names it as still running.
const stuckAfter = 3 * time.Minute

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	label := flag.String("label", "", "what this run is, printed in its closing line (e.g. terraform 1.5.7)")
	flag.Parse()
	outputs := map[string]*strings.Builder{} // package/test -> output
	var passed, failed, skipped, allowedSkips int
	var failures, skips []string
	pkgFailed := map[string]bool{}
	pkgElapsed := map[string]float64{}
	start := time.Now()

	running := newRunningTests()
	go running.reportStuck(time.Minute, stuckAfter)

	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if json.Unmarshal(line, &ev) != nil {
			// Build errors arrive as plain text.
			fmt.Println(string(line))
			continue
		}
		key := ev.Package + "/" + ev.Test
		if ev.Test != "" {
			running.update(key, ev.Action)
		}
		switch ev.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			b.WriteString(ev.Output)
		case "pass":
			if ev.Test != "" {
				passed++
			} else {
				pkgElapsed[ev.Package] = ev.Elapsed
			}
		case "fail":
			if ev.Test != "" {
				failed++
				failures = append(failures, key)
			} else {
				pkgFailed[ev.Package] = true
				pkgElapsed[ev.Package] = ev.Elapsed
			}
		case "skip":
			if ev.Test == "" {
				continue // a package without tests
			}
			out := ""
			if b := outputs[key]; b != nil {
				out = b.String()
			}
			if strings.Contains(out, "[allowed-skip]") {
				allowedSkips++
				continue
			}
			skipped++
			skips = append(skips, key+"\n"+out)
		}
	}

	for _, f := range failures {
		fmt.Printf("=== FAILED %s\n%s\n", f, outputs[f])
	}
	for _, s := range skips {
		fmt.Printf("=== SKIPPED (not allowed) %s\n", s)
	}
	pkgs := make([]string, 0, len(pkgElapsed))
	for p := range pkgElapsed {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		status := "ok  "
		if pkgFailed[p] {
			status = "FAIL"
			// The package's own output: a build or TestMain failure, or the goroutine dump of
			// a timeout or a crash outside the failed test's lines.
			if b := outputs[p+"/"]; b != nil {
				fmt.Print(b.String())
			}
		}
		fmt.Printf("%s %s\t%.1fs\n", status, p, pkgElapsed[p])
	}
	fmt.Printf("(%d allowed skips, %.0fs)\n", allowedSkips, time.Since(start).Seconds())
	fmt.Println(summary(*label, passed, failed, skipped))
	if failed > 0 || skipped > 0 || passed == 0 || len(pkgFailed) > 0 {
		os.Exit(1)
	}
}

// runningTests is the tests started and not yet ended, with when they started.
type runningTests struct {
	mu      sync.Mutex
	started map[string]time.Time
}

func newRunningTests() *runningTests { return &runningTests{started: map[string]time.Time{}} }

func (r *runningTests) update(key, action string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch action {
	case "run":
		r.started[key] = time.Now()
	case "pass", "fail", "skip":
		delete(r.started, key)
	}
}

// reportStuck prints, every interval, the tests that have run longer than after.
func (r *runningTests) reportStuck(interval, after time.Duration) {
	for range time.Tick(interval) {
		for _, line := range r.stuck(time.Now(), after) {
			fmt.Fprintln(os.Stderr, line)
		}
	}
}

func (r *runningTests) stuck(now time.Time, after time.Duration) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lines []string
	for key, t := range r.started {
		if d := now.Sub(t); d >= after {
			lines = append(lines, fmt.Sprintf("testreport: %s still running after %s", key, d.Round(time.Second)))
		}
	}
	sort.Strings(lines)
	return lines
}

// summary is the closing line: the counts, after the run's label when it has one.
func summary(label string, passed, failed, skipped int) string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", passed, failed, skipped)
	if label != "" {
		s = label + ": " + s
	}
	return s
}
