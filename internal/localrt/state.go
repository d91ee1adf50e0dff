package localrt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// stateDoc is the state file: the definitions of every service, so that restarting the dev
// runtime brings back what Terraform deployed (its state still says the services exist).
type stateDoc struct {
	Services []Service `json:"services"`
}

// Restore starts the services of Options.StateFile (no file: nothing to do). A definition that
// no longer validates is an error naming the file, and nothing is started.
func (r *Runner) Restore() error {
	if r.opts.StateFile == "" {
		return nil
	}
	data, err := os.ReadFile(r.opts.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local runtime state file: %w", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("local runtime state file %s: %w; fix or delete it", r.opts.StateFile, err)
	}
	for i := range doc.Services {
		doc.Services[i].Normalize()
		if err := doc.Services[i].Validate(); err != nil {
			return fmt.Errorf("local runtime state file %s: services[%d].%v; fix or delete it", r.opts.StateFile, i, err)
		}
	}
	for _, svc := range doc.Services {
		if _, err := r.Put(svc); err != nil {
			return fmt.Errorf("local runtime state file %s: %s: %w", r.opts.StateFile, svc.ID, err)
		}
	}
	r.log.Info("local services restored", "file", r.opts.StateFile, "services", len(doc.Services))
	return nil
}

// save writes the latest definition of every service to Options.StateFile (write, fsync,
// rename, so a crash leaves the old or the new file). A failure is logged: the processes run
// anyway, only a restart of the runtime would forget them.
func (r *Runner) save() {
	if r.opts.StateFile == "" {
		return
	}
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return // Close stops the processes but must not forget the services
	}
	doc := stateDoc{Services: []Service{}}
	for _, id := range slices.Sorted(maps.Keys(r.services)) {
		doc.Services = append(doc.Services, cloneService(r.services[id].latest().def))
	}
	r.mu.Unlock()
	if err := writeFileAtomic(r.opts.StateFile, doc); err != nil {
		r.log.Error("local runtime state not saved; a restart will forget the latest change", "file", r.opts.StateFile, "error", err)
	}
}

func writeFileAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
