package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func policy() Policy {
	return Policy{
		Service: "/sava/sava-1-1-0", Min: 1, Max: 3,
		Upper: 500 * time.Millisecond, Lower: 100 * time.Millisecond,
		Window: time.Minute, Cooldown: 2 * time.Minute,
	}
}

// series samples p99(t) every 10s from t0 to end.
func series(end time.Duration, p99 func(at time.Duration) time.Duration) []Sample {
	var s []Sample
	for at := time.Duration(0); at <= end; at += 10 * time.Second {
		s = append(s, Sample{At: t0.Add(at), P99: p99(at)})
	}
	return s
}

// run ticks every 10s up to end and returns the instances after each tick and the reasons.
func run(t *testing.T, e *Escalator, end time.Duration, p99 func(time.Duration) time.Duration) (map[time.Duration]int, []string) {
	t.Helper()
	got := map[time.Duration]int{}
	var reasons []string
	samples := series(end, p99)
	for i, s := range samples {
		n, why := e.Tick(s.At, samples[:i+1])
		got[s.At.Sub(t0)] = n
		if why != "" {
			reasons = append(reasons, s.At.Sub(t0).String()+" "+why)
		}
	}
	return got, reasons
}

// A slow variant scales up after a full window above upper, again after the cooldown, and
// stops at max; when it gets fast it scales down the same way and stops at min.
func TestScalesUpThenDownWithWindowAndCooldown(t *testing.T) {
	e, err := New(policy(), 1)
	if err != nil {
		t.Fatal(err)
	}
	slowUntil := 6 * time.Minute
	p99 := func(at time.Duration) time.Duration {
		if at < slowUntil {
			return 800 * time.Millisecond
		}
		return 40 * time.Millisecond
	}
	got, reasons := run(t, e, 12*time.Minute, p99)
	for at, want := range map[time.Duration]int{
		50 * time.Second:  1, // the window is not covered yet
		time.Minute:       2, // above 500ms from 0s to 60s
		170 * time.Second: 2, // cooldown (2m) runs until 180s
		3 * time.Minute:   3,
		5 * time.Minute:   3, // max
		// fast from 6m: covered by 7m, but the cooldown from 3m has long passed
		6*time.Minute + 50*time.Second: 3,
		7 * time.Minute:                2,
		8 * time.Minute:                2,
		9 * time.Minute:                1,
		12 * time.Minute:               1, // min
	} {
		if got[at] != want {
			t.Errorf("at %v: %d instances, want %d", at, got[at], want)
		}
	}
	want := []string{
		"1m0s p99 above 500ms for 1m0s: scaled /sava/sava-1-1-0 from 1 to 2 instances",
		"3m0s p99 above 500ms for 1m0s: scaled /sava/sava-1-1-0 from 2 to 3 instances",
		"7m0s p99 below 100ms for 1m0s: scaled /sava/sava-1-1-0 from 3 to 2 instances",
		"9m0s p99 below 100ms for 1m0s: scaled /sava/sava-1-1-0 from 2 to 1 instances",
	}
	if strings.Join(reasons, "\n") != strings.Join(want, "\n") {
		t.Errorf("reasons:\n%s\nwant:\n%s", strings.Join(reasons, "\n"), strings.Join(want, "\n"))
	}
}

func TestADipInsideTheWindowHoldsTheScale(t *testing.T) {
	e, _ := New(policy(), 1)
	got, _ := run(t, e, 3*time.Minute, func(at time.Duration) time.Duration {
		if at == 40*time.Second || at == 100*time.Second {
			return 200 * time.Millisecond // between the thresholds
		}
		return 800 * time.Millisecond
	})
	// Every window up to [100s, 160s] holds a dip (the 100s sample holds until 110s);
	// [110s, 170s] is the first one above 500ms throughout.
	for at, want := range map[time.Duration]int{time.Minute: 1, 90 * time.Second: 1, 160 * time.Second: 1, 170 * time.Second: 2} {
		if got[at] != want {
			t.Errorf("at %v: %d instances, want %d", at, got[at], want)
		}
	}
}

func TestBetweenThresholdsNothingMoves(t *testing.T) {
	e, _ := New(policy(), 2)
	got, reasons := run(t, e, 10*time.Minute, func(time.Duration) time.Duration { return 300 * time.Millisecond })
	if got[10*time.Minute] != 2 || len(reasons) != 0 {
		t.Errorf("%v %v", got[10*time.Minute], reasons)
	}
	p := policy()
	p.Lower = 0 // never down
	e, _ = New(p, 3)
	if got, _ := run(t, e, 10*time.Minute, func(time.Duration) time.Duration { return 0 }); got[10*time.Minute] != 3 {
		t.Errorf("lower 0 scaled down to %d", got[10*time.Minute])
	}
}

func TestInstancesOutsideTheBoundsAreClamped(t *testing.T) {
	e, _ := New(policy(), 7)
	if n, why := e.Tick(t0, nil); n != 3 || why != "7 instances is outside min 1 and max 3" {
		t.Errorf("%d %q", n, why)
	}
}

type recordingScaler struct {
	calls []int
	err   error
}

func (r *recordingScaler) Scale(_ context.Context, id string, n int) error {
	if r.err != nil {
		return r.err
	}
	r.calls = append(r.calls, n)
	return nil
}

func TestApplyScalesThroughTheScalerAndRetriesAfterAFailure(t *testing.T) {
	e, _ := New(policy(), 1)
	slow := series(time.Minute, func(time.Duration) time.Duration { return time.Second })
	s := &recordingScaler{err: errors.New("marathon: app is locked by a deployment")}
	n, _, err := e.Apply(context.Background(), s, t0.Add(time.Minute), slow)
	if err == nil || n != 1 || e.State().Instances != 1 || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("failed scale: %d %v %+v", n, err, e.State())
	}
	s.err = nil
	if n, _, err := e.Apply(context.Background(), s, t0.Add(time.Minute), slow); err != nil || n != 2 || len(s.calls) != 1 || s.calls[0] != 2 {
		t.Errorf("retry: %d %v %v", n, err, s.calls)
	}
	// Persisted and resumed: the cooldown continues.
	raw, _ := json.Marshal(e.State())
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	e2, err := Resume(policy(), st)
	if err != nil {
		t.Fatal(err)
	}
	later := series(2*time.Minute, func(time.Duration) time.Duration { return time.Second })
	if n, _ := e2.Tick(t0.Add(2*time.Minute), later); n != 2 {
		t.Errorf("resumed escalator ignored the cooldown: %d", n)
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Policy)
		want string
	}{
		{func(p *Policy) { p.Service = "" }, "service: name the service variant"},
		{func(p *Policy) { p.Min = 0 }, "min: 0: keep at least 1 instance"},
		{func(p *Policy) { p.Max = 0 }, "max: 0 is below min 1"},
		{func(p *Policy) { p.Upper = 0 }, "upper: 0s: give the p99 latency"},
		{func(p *Policy) { p.Lower = time.Second }, "lower: 1s is not below upper 500ms"},
		{func(p *Policy) { p.Window = 0 }, "window: 0s"},
		{func(p *Policy) { p.Cooldown = -1 }, "cooldown: -1ns is negative"},
		{func(p *Policy) { p.Step = -2 }, "step: -2 is negative"},
	} {
		p := policy()
		tc.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestKeepTrimsToWhatTheWindowNeeds(t *testing.T) {
	s := series(5*time.Minute, func(time.Duration) time.Duration { return time.Second })
	kept := Keep(s, t0.Add(5*time.Minute), time.Minute)
	if len(kept) != 7 || !kept[0].At.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("kept %d from %v", len(kept), kept[0].At.Sub(t0))
	}
	e, _ := New(policy(), 1)
	if n, _ := e.Tick(t0.Add(5*time.Minute), kept); n != 2 {
		t.Errorf("the kept samples do not cover the window: %d", n)
	}
}
