package state_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/state"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
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
	if err := state.Save(path, in); err != nil {
		t.Fatal(err)
	}
	out, found, err := state.Load(path)
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
	gws, found, err := state.Load(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || found || gws != nil {
		t.Errorf("want (nil, false, nil), got (%v, %v, %v)", gws, found, err)
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
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			os.WriteFile(path, []byte(content), 0o600)
			_, _, err := state.Load(path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("want an error naming %s, got %v", path, err)
			}
		})
	}
}

func TestSaveIntoMissingDirectoryFails(t *testing.T) {
	err := state.Save(filepath.Join(t.TempDir(), "no", "such", "state.json"), nil)
	if err == nil || !strings.Contains(err.Error(), "state.json") {
		t.Errorf("want an error naming the file, got %v", err)
	}
}
