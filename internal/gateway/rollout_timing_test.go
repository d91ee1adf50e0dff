package gateway

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

func TestOnTickGrid(t *testing.T) {
	base := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		after, want time.Duration
	}{
		{0, 0}, {999 * time.Millisecond, time.Second}, {1001 * time.Millisecond, time.Second},
		{4999999 * time.Microsecond, 5 * time.Second}, {5400 * time.Millisecond, 5 * time.Second},
		{5600 * time.Millisecond, 6 * time.Second},
	} {
		if got := onTickGrid(base, base.Add(tc.after), time.Second).Sub(base); got != tc.want {
			t.Errorf("%v after the base: on the grid at %v, want %v", tc.after, got, tc.want)
		}
	}
}

// The guide's promise: a healthy canary with 4 steps and a 5s interval is promoted 4 intervals
// (20s) after the start, ticking every second. The ticks here come as a real ticker's do, each
// up to 2ms early or late (seeded); judged on the grid, promotion is at exactly 20s. Judged at
// the raw times, as before, a step whose interval-end tick came early waited one more tick: the
// same ticks promote at 20 s + 1 s per such step, up to 24 s (20% late, the finding).
func TestRolloutTimingOnTheTickGrid(t *testing.T) {
	policy := rollout.Policy{
		Gateway: "g", Canary: "c", Stable: []string{"s"}, Steps: []int{10, 25, 50, 100},
		Interval: 5 * time.Second, Checks: rollout.Checks{Max5xxRate: 0.05, MinRequests: 1},
	}
	base := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	run := func(seed uint64, grid bool) time.Duration {
		rng := rand.New(rand.NewPCG(seed, 1))
		e, err := rollout.New(policy, map[string]int{"s": 100, "c": 0})
		if err != nil {
			t.Fatal(err)
		}
		e.Start(base, nil) // the first tick runs at once: the start is the PUT
		for k := 1; k < 100; k++ {
			jitter := time.Duration(rng.IntN(4001)-2000) * time.Microsecond
			now := base.Add(time.Duration(k)*time.Second + jitter)
			if grid {
				now = onTickGrid(base, now, time.Second)
			}
			if d := e.Tick(now, rollout.Window{Requests: 100}); d.Phase == rollout.PhasePromoted {
				return e.State().FinishedAt.Sub(base)
			}
		}
		t.Fatal("not promoted in 100 ticks")
		return 0
	}
	lateRaw := 0
	for seed := uint64(1); seed <= 20; seed++ {
		if got := run(seed, true); got != 20*time.Second {
			t.Fatalf("seed %d: promoted %v after the start on the grid; the guide says 4 intervals = 20s", seed, got)
		}
		if raw := run(seed, false); raw > 20*time.Second {
			lateRaw++
		}
	}
	if lateRaw == 0 {
		t.Fatal("at the raw jittered times no roll-out was late: this test would not catch the old behaviour")
	}
	t.Logf("20 seeded jittered tickers: on the grid all promoted at exactly 20s; at the raw times %d of 20 were late", lateRaw)
}
