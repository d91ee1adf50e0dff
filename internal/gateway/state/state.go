// Package state keeps the gateway's accepted configuration in one JSON file so that a restart
// serves exactly what was last accepted. Writes are atomic (temp file, fsync, rename, fsync of the
// directory): a crash leaves either the old or the new file, never a torn one.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
	"github.com/vamp-canary/terraform-provider-vamp/internal/rollout"
)

// formatVersion is written into every file so that a later layout can be told apart.
const formatVersion = 1

// File is the document on disk.
type File struct {
	FormatVersion int                  `json:"format_version"`
	Gateways      []gatewayapi.Gateway `json:"gateways"`
	// Rollouts are the roll-outs' engine states by gateway name, written in the same file (and
	// the same write) as the weights they set, so a restart resumes exactly where it was.
	Rollouts map[string]rollout.State `json:"rollouts,omitempty"`
}

// Load reads path. A missing file is a first start: it returns (File{}, false, nil). Anything
// else that is not a well-formed state file is an error that names the file and the fault.
func Load(path string) (f File, found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, false, nil
	}
	if err != nil {
		return File{}, false, fmt.Errorf("state file %s: %w", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return File{}, true, fmt.Errorf("state file %s is empty; it is written atomically, so this is not a crash artefact: "+
			"restore it from a backup or delete it to start with no gateways", path)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, true, fmt.Errorf("state file %s is corrupt: %v; restore it from a backup or delete it to start with no gateways", path, err)
	}
	if dec.More() {
		return File{}, true, fmt.Errorf("state file %s is corrupt: data after the JSON document", path)
	}
	if f.FormatVersion != formatVersion {
		return File{}, true, fmt.Errorf("state file %s has format_version %d; this gateway reads version %d", path, f.FormatVersion, formatVersion)
	}
	seen := make(map[string]bool, len(f.Gateways))
	for i, gw := range f.Gateways {
		if gw.Name == "" {
			return File{}, true, fmt.Errorf("state file %s: gateways[%d] has no name", path, i)
		}
		if seen[gw.Name] {
			return File{}, true, fmt.Errorf("state file %s: gateway %q appears twice", path, gw.Name)
		}
		seen[gw.Name] = true
	}
	for name := range f.Rollouts {
		if !seen[name] {
			return File{}, true, fmt.Errorf("state file %s: rollouts has %q, which is not one of its gateways", path, name)
		}
	}
	return f, true, nil
}

// RemoveStaleTemps removes the temporary files that Save leaves next to path when the process
// dies between creating one and renaming it (path + ".tmp-*"), and returns their names. Call it
// at start, before anything saves: the gateway is the state file's only writer.
func RemoveStaleTemps(path string) ([]string, error) {
	pattern := filepath.Join(filepath.Dir(path), globEscape(filepath.Base(path))+".tmp-*")
	stale, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("state file %s: looking for stale temporary files: %w", path, err)
	}
	var removed []string
	for _, name := range stale {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("state file %s: removing the stale temporary file %s: %w", path, name, err)
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// globEscape escapes the characters filepath.Match gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Save replaces path with f's gateways (sorted by name, so the file diffs well) and roll-outs.
func Save(path string, f File) error {
	sorted := append([]gatewayapi.Gateway(nil), f.Gateways...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	if sorted == nil {
		sorted = []gatewayapi.Gateway{}
	}
	data, err := json.MarshalIndent(File{FormatVersion: formatVersion, Gateways: sorted, Rollouts: f.Rollouts}, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("state file %s: write: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("state file %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file %s: close: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file %s: rename: %w", path, err)
	}
	committed = true
	// The rename is durable only once the directory entry is on disk.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state file %s: open directory for fsync: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state file %s: fsync directory: %w", path, err)
	}
	return nil
}
