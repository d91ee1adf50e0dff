package eject

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/routing"
)

// TestWithheldEjectionsAreCountedAndLoggedAtMostOncePerInterval: every withheld ejection is
// counted; the log says so once per LogEvery, with how many went unlogged in between.
func TestWithheldEjectionsAreCountedAndLoggedAtMostOncePerInterval(t *testing.T) {
	p := routing.NewPool()
	a, b := p.Get("a:1"), p.Get("b:1")
	tbl, err := routing.New(routing.Spec{Routes: []routing.Route{{Name: "r", Weight: 100, Backends: []*routing.Backend{a, b}}}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	e := &Ejections{}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if got := e.Eject(log, tbl, a, t0, time.Hour, 3); got != routing.Ejected {
		t.Fatalf("eject a: %v", got)
	}
	for i := range 5 {
		if got := e.Eject(log, tbl, b, t0.Add(time.Duration(i)*time.Second), time.Hour, 3); got != routing.Withheld {
			t.Fatalf("eject b, the last one (%d): %v, want withheld", i, got)
		}
	}
	if e.Ejected() != 1 || e.Withheld() != 5 {
		t.Fatalf("ejected %d, withheld %d; want 1 and 5", e.Ejected(), e.Withheld())
	}
	if n := strings.Count(out.String(), "instance not ejected"); n != 1 || strings.Count(out.String(), "instance ejected after") != 1 {
		t.Fatalf("want one line for the ejection and one for five withheld within %v, got:\n%s", LogEvery, out.String())
	}
	out.Reset()
	if got := e.Eject(log, tbl, b, t0.Add(LogEvery), time.Hour, 3); got != routing.Withheld {
		t.Fatalf("eject b after %v: %v, want withheld", LogEvery, got)
	}
	if !strings.Contains(out.String(), "instance not ejected") || !strings.Contains(out.String(), "withheld_since_last_line=4") {
		t.Fatalf("after %v: want a new line counting the 4 unlogged, got:\n%s", LogEvery, out.String())
	}
}
