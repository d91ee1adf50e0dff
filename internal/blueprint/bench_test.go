package blueprint

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSeedPipeline is what data "vamp_blueprint" does for the seed's four documents: read,
// resolve, merge in order, normalize, validate.
func BenchmarkSeedPipeline(b *testing.B) {
	var docs [][]byte
	for _, name := range []string{"step1_sava.yaml", "step3_sava_1.1.0.yaml", "step4_split_50_50.yaml", "step5_firefox.yaml"} {
		doc, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, doc)
	}
	b.ReportAllocs()
	for b.Loop() {
		var deployed *Blueprint
		for _, doc := range docs {
			next, err := parseVamp(doc)
			if err != nil {
				b.Fatal(err)
			}
			deployed = Merge(deployed, next)
		}
		deployed.Normalize()
		if errs := deployed.Validate(); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
