package main

import (
	"strings"
	"testing"
	"time"
)

func TestStuckNamesOnlyTestsStillRunningPastTheLimit(t *testing.T) {
	r := newRunningTests()
	r.update("pkg/TestEnded", "run")
	r.update("pkg/TestHung", "run")
	r.update("pkg/TestEnded", "pass")
	r.update("pkg/TestSkipped", "run")
	r.update("pkg/TestSkipped", "skip")

	if got := r.stuck(time.Now(), time.Hour); len(got) != 0 {
		t.Fatalf("nothing has run for an hour, got %q", got)
	}
	got := r.stuck(time.Now().Add(4*time.Minute), 3*time.Minute)
	if len(got) != 1 || !strings.Contains(got[0], "pkg/TestHung still running after 4m") {
		t.Fatalf("want only pkg/TestHung named as running for 4m, got %q", got)
	}
}

func TestSummaryNamesTheRun(t *testing.T) {
	if got, want := summary("terraform 1.5.7", 51, 1, 0), "terraform 1.5.7: 51 passed, 1 failed, 0 skipped"; got != want {
		t.Errorf("with a label: %q, want %q", got, want)
	}
	if got, want := summary("", 3, 0, 2), "3 passed, 0 failed, 2 skipped"; got != want {
		t.Errorf("without: %q, want %q", got, want)
	}
}
