package marathon

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
)

// TestScaleChangesOnlyInstances: SLA scaling PUTs just the instance count: the running tasks
// stay, the image stays, and a locked app is not forced.
func TestScaleChangesOnlyInstances(t *testing.T) {
	e, d := startDriver(t)
	ctx := timeout(t, 10*time.Second)
	const id, appID = "sava/sava_cluster/sava:1.0.0", "/vamp/sava/sava-cluster/sava-1.0.0"
	if _, err := d.Apply(ctx, seedService("sava:1")); err != nil {
		t.Fatal(err)
	}
	before, _ := e.App(appID)
	taskIDs := func(a emulator.App) []string {
		var out []string
		for _, tk := range a.Tasks {
			out = append(out, tk.ID)
		}
		return out
	}
	running := func(n int) func() bool {
		return func() bool { a, _ := e.App(appID); return len(a.Tasks) == n && len(a.Deployments) == 0 }
	}

	if err := d.Scale(ctx, id, 4); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitUntil(ctx, running(4)); err != nil {
		t.Fatalf("after Scale(4): %v", err)
	}
	after, _ := e.App(appID)
	for _, tid := range taskIDs(before) {
		if !slices.Contains(taskIDs(after), tid) {
			t.Errorf("task %s was replaced by scaling up; tasks before %v, after %v", tid, taskIDs(before), taskIDs(after))
		}
	}
	if got := field(after.Definition, "container", "docker", "image"); got != "sava:1" {
		t.Errorf("scaling changed the image to %v", got)
	}
	st, _, err := d.Get(ctx, id)
	if err != nil || st.Service.Instances != 4 {
		t.Fatalf("Get after Scale(4): %d instances, %v", st.Service.Instances, err)
	}

	if err := d.Scale(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitUntil(ctx, running(1)); err != nil {
		t.Fatalf("after Scale(1): %v", err)
	}

	if _, err := e.LockApp(appID); err != nil {
		t.Fatal(err)
	}
	err = d.Scale(ctx, id, 3)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Scale of a locked app: %v, want an error saying it is locked", err)
	}
	if a, _ := e.App(appID); a.Instances != 1 {
		t.Errorf("the locked app was scaled to %d", a.Instances)
	}
	if err := d.Scale(ctx, "no/such/service:1", 2); err == nil {
		t.Error("scaling a missing app did not fail")
	}
}
