package blueprint

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzReadVamp: no document makes the Vamp readers, Resolve, Normalize, Validate or Merge panic; a read
// blueprint normalizes idempotently; every fault has a message.
func FuzzReadVamp(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range files {
		doc, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	for _, doc := range []string{
		"gateways: {9050: {routes: {c/w: {weight: 100%}}}, \"9051\": c/w}\nclusters: {c: {breed: {name: s, deployable: 'cmd:x', ports: {w: 80}}, scale: {memory: 1GB}}}",
		"clusters: {c: {services: [s, {name: t, ports: {w: 8080/tcp}}], gateways: {w: {sticky: route, routes: {s: {condition: has cookie a}}}}}}",
		"a: &a [*a]",
		"clusters: {c: {services: [{<<: *x}]}}",
		"name: x\nclusters:\n  c:\n    services: {breed: {name: s, health_checks: [{port: w, interval: 5}]}, dialects: {marathon: {a: [1, 2]}}}",
	} {
		f.Add([]byte(doc))
	}
	base, err := parseVamp(mustRead(f, "step1_sava.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		b, err := parseVamp(doc)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		merged := Merge(base, b)
		b.Normalize()
		once := b.Clone()
		b.Normalize()
		if !reflect.DeepEqual(b, once) {
			t.Fatalf("Normalize is not idempotent for %q", doc)
		}
		for _, e := range b.Validate() {
			if e.Summary == "" || e.Detail == "" {
				t.Fatalf("fault without text: %+v", e)
			}
		}
		merged.Normalize()
		merged.Validate()
		RemovedWithWeight(base, merged)
	})
}

func mustRead(f *testing.F, name string) []byte {
	doc, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return doc
}
