package state_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/state"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

func TestSaveThenLoadRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	strength := 100
	in := []gatewayapi.Gateway{
		{Name: "sava/9050", Version: 3, Port: 9050, Routes: []gatewayapi.Route{{Name: "c", Weight: 100, Gateway: "sava/sava_cluster/webport"}}},
		{Name: "sava/sava_cluster/webport", Version: 7, Sticky: "route", Routes: []gatewayapi.Route{
			{Name: "sava:1.0.0", Condition: "user-agent == Firefox", ConditionStrength: &strength, Instances: []gatewayapi.Instance{{Host: "10.0.0.1", Port: 8080}}},
		}},
	}
	if err := state.Save(path, state.File{Gateways: in}); err != nil {
		t.Fatal(err)
	}
	f, found, err := state.Load(path)
	out := f.Gateways
	if err != nil || !found || len(out) != 2 {
		t.Fatalf("Load: %v found=%v %d gateways", err, found, len(out))
	}
	// Sorted by name, every field kept.
	if out[0].Name != "sava/9050" || out[1].Version != 7 || *out[1].Routes[0].ConditionStrength != 100 || out[1].Routes[0].Instances[0].Port != 8080 {
		t.Errorf("round trip changed the gateways: %+v", out)
	}
	// No temp files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("want only the state file in its directory, got %d entries", len(entries))
	}
}

func TestLoadMissingFileIsAFirstStart(t *testing.T) {
	f, found, err := state.Load(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || found || f.Gateways != nil || f.Rollouts != nil {
		t.Errorf("want (File{}, false, nil), got (%v, %v, %v)", f, found, err)
	}
}

func TestLoadRefusesBrokenFilesNamingThem(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":       `{"format_version": 1, "gateways": [{"name": "a"`,
		"unknown field":   `{"format_version": 1, "gateways": [], "extra": true}`,
		"future version":  `{"format_version": 2, "gateways": []}`,
		"unnamed gateway": `{"format_version": 1, "gateways": [{"port": 1, "routes": []}]}`,
		"duplicate":       `{"format_version": 1, "gateways": [{"name": "a", "routes": []}, {"name": "a", "routes": []}]}`,
		"trailing data":   `{"format_version": 1, "gateways": []} {}`,
		"whitespace only": "  \n",
		"orphan rollout":  `{"format_version": 1, "gateways": [], "rollouts": {"a": {"phase": "pending"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := state.Load(path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("want an error naming %s, got %v", path, err)
			}
		})
	}
}

func TestSaveIntoMissingDirectoryFails(t *testing.T) {
	err := state.Save(filepath.Join(t.TempDir(), "no", "such", "state.json"), state.File{})
	if err == nil || !strings.Contains(err.Error(), "state.json") {
		t.Errorf("want an error naming the file, got %v", err)
	}
}

func TestRolloutStateRoundTripsWithItsGateway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	at := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)
	st := rollout.State{
		Policy: rollout.Policy{
			Gateway: "sava/sava_cluster/webport", Canary: "sava:1.1.0", Stable: []string{"sava:1.0.0"},
			Steps: []int{10, 25, 50, 100}, Interval: time.Minute,
			Checks: rollout.Checks{Max5xxRate: 0.01, MaxP99: 500 * time.Millisecond, MinRequests: 20},
		},
		Phase: rollout.PhaseProgressing, Step: 2, StableShares: []int{1},
		Weights:   map[string]int{"sava:1.1.0": 25, "sava:1.0.0": 75},
		StartedAt: at, LastStepAt: at.Add(time.Minute), Reason: "step 1 passed",
	}
	in := state.File{
		Gateways: []gatewayapi.Gateway{{Name: "sava/sava_cluster/webport", Routes: []gatewayapi.Route{}}},
		Rollouts: map[string]rollout.State{"sava/sava_cluster/webport": st},
	}
	if err := state.Save(path, in); err != nil {
		t.Fatal(err)
	}
	out, _, err := state.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := out.Rollouts["sava/sava_cluster/webport"]
	if got.Policy.Fingerprint() != st.Policy.Fingerprint() || got.Step != 2 || !got.LastStepAt.Equal(st.LastStepAt) || got.Weights["sava:1.1.0"] != 25 {
		t.Errorf("roll-out changed in the round trip:\n got %+v\nwant %+v", got, st)
	}
	if _, err := rollout.Resume(got); err != nil {
		t.Errorf("the loaded state does not resume: %v", err)
	}
}

// TestRemoveStaleTempsRemovesOnlyTheStateFilesTemps: what Save leaves when the process dies
// between creating its temporary file and renaming it goes at the next start; nothing else does.
func TestRemoveStaleTempsRemovesOnlyTheStateFilesTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state[1].json") // a name with glob characters
	keep := []string{"state[1].json", "other.json.tmp-1", "state[1].json.bak", "state1.json.tmp-2"}
	stale := []string{"state[1].json.tmp-123", "state[1].json.tmp-9876543"}
	for _, name := range append(append([]string{}, keep...), stale...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := state.RemoveStaleTemps(path)
	if err != nil || len(removed) != len(stale) {
		t.Fatalf("RemoveStaleTemps = %v, %v; want the %d stale files", removed, err, len(stale))
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, ",") != "other.json.tmp-1,state1.json.tmp-2,state[1].json,state[1].json.bak" {
		t.Errorf("left %v, want the state file and the unrelated files only", left)
	}
	if removed, err := state.RemoveStaleTemps(filepath.Join(t.TempDir(), "state.json")); err != nil || len(removed) != 0 {
		t.Errorf("in an empty directory: %v, %v", removed, err)
	}
}
