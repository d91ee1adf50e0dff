package taskwatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
)

// TestScalerFindsTheAppInAnyGroup: the gateway's Marathon scaler scales a route's service by its
// service id, although the provider deployed it in a group the gateway was not told about.
func TestScalerFindsTheAppInAnyGroup(t *testing.T) {
	f := start(t, emulator.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	provider := marathon.New(f.client, marathon.Options{Group: "team-a", PollInterval: 5 * time.Millisecond})
	if _, err := provider.Apply(ctx, seed()); err != nil {
		t.Fatal(err)
	}
	const inGroup = "/team-a/sava/sava-cluster/sava-1.0.0"
	sc := Scaler{Source: f.source(t, time.Hour), Driver: marathon.New(f.client, marathon.Options{})}
	if err := sc.Scale(ctx, serviceID, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.emu.WaitUntil(ctx, func() bool { a, _ := f.emu.App(inGroup); return a.Instances == 3 && len(a.Tasks) == 3 }); err != nil {
		a, _ := f.emu.App(inGroup)
		t.Fatalf("app %s has %d instances, %d tasks after Scale(3): %v", inGroup, a.Instances, len(a.Tasks), err)
	}
	if err := sc.Scale(ctx, "other/c/x:1", 2); err == nil || !strings.Contains(err.Error(), "other/c/x:1") {
		t.Fatalf("scaling an unknown service: %v, want an error naming it", err)
	}
}
