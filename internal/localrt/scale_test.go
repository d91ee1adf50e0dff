package localrt

import (
	"context"
	"strings"
	"testing"
)

// TestScaleKeepsTheRunningInstances: Scale (the gateway's SLA scaling) and a PUT that changes
// only the instance count start or stop instances; the instances that run keep running, and
// removed ones stop after the drain.
func TestScaleKeepsTheRunningInstances(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	svc := helperService(t, "app/c/scaled", "serve", nil)
	mustPut(t, r, svc)
	first := waitHealthy(t, r, svc.ID).Instances[0].PID
	ctx := context.Background()

	if err := r.Scale(ctx, svc.ID, 3); err != nil {
		t.Fatal(err)
	}
	st := waitHealthy(t, r, svc.ID)
	if len(st.Instances) != 3 || st.Service.Instances != 3 || st.Instances[0].PID != first || len(st.Replacing) != 0 {
		t.Fatalf("after Scale(3): %d instances (definition %d), first pid %d (was %d), replacing %d",
			len(st.Instances), st.Service.Instances, st.Instances[0].PID, first, len(st.Replacing))
	}
	if inst, _ := r.Resolve(svc.ID, "webport"); len(inst) != 3 {
		t.Fatalf("Resolve after Scale(3) = %+v, want 3 instances", inst)
	}

	// A PUT of the definition with another count resizes too (Terraform restoring drift).
	svc.Instances = 2
	mustPut(t, r, svc)
	st = waitHealthy(t, r, svc.ID)
	if len(st.Instances) != 2 || st.Instances[0].PID != first {
		t.Fatalf("after a PUT with 2 instances: %+v", st.Instances)
	}
	removed := st.Instances[1].PID

	if err := r.Scale(ctx, svc.ID, 1); err != nil {
		t.Fatal(err)
	}
	st, _ = r.Get(svc.ID)
	if len(st.Instances) != 1 || st.Instances[0].PID != first {
		t.Fatalf("after Scale(1): %+v", st.Instances)
	}
	if inst, _ := r.Resolve(svc.ID, "webport"); len(inst) != 1 {
		t.Fatalf("Resolve right after Scale(1) = %+v: a removed instance must leave discovery at once", inst)
	}
	eventually(t, "the removed instance to stop", func() bool { return processGone(removed) })

	for _, tc := range []struct {
		id   string
		n    int
		want string
	}{{svc.ID, 0, "between 1 and"}, {svc.ID, MaxInstances + 1, "between 1 and"}, {"app/c/none", 2, "no such service"}} {
		if err := r.Scale(ctx, tc.id, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Scale(%s, %d) = %v, want an error containing %q", tc.id, tc.n, err, tc.want)
		}
	}
}
