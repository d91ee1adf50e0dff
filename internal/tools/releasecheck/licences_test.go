package releasecheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// licenceKinds recognise a module's licence file by the text every copy of that licence has.
// Each is compatible with distributing the binaries under MPL-2.0: MPL-2.0 itself, and the
// permissive licences whose notices travel with the source (MPL 2.0 section 3.3 allows a Larger
// Work combining them). A licence not listed here fails the test until someone has read it.
var licenceKinds = []struct {
	name string
	re   *regexp.Regexp
}{
	{"MPL-2.0", regexp.MustCompile(`Mozilla Public License,? [Vv]ersion 2\.0`)},
	{"Apache-2.0", regexp.MustCompile(`Apache License\s+Version 2\.0|Licensed under the Apache License, Version 2\.0`)},
	{"BSD-3-Clause", regexp.MustCompile(`(?s)Redistribution and use in source and binary forms.*(Neither the name|names of its\s+contributors)`)},
	{"BSD-2-Clause", regexp.MustCompile(`Redistribution and use in source and binary forms`)},
	{"MIT", regexp.MustCompile(`Permission is hereby granted, free of charge`)},
	{"ISC", regexp.MustCompile(`Permission to use, copy, modify, and(/or)? distribute this software for any`)},
}

// The modules compiled into the provider and the gateway (what a release ships) all have a
// licence file, and each is one of licenceKinds.
func TestDependencyLicences(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}@{{.Version}}\t{{.Dir}}{{end}}", ".", "./gatewayimage")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	seen := map[string]bool{}
	count := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		mod, dir, ok := strings.Cut(line, "\t")
		if !ok || seen[mod] || strings.HasPrefix(mod, "github.com/vamp-canary/terraform-provider-vamp@") {
			continue
		}
		seen[mod] = true
		kind, err := licenceOf(dir)
		if err != nil {
			t.Errorf("%s: %v", mod, err)
			continue
		}
		count[kind]++
	}
	var summary []string
	for k, n := range count {
		summary = append(summary, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(summary)
	t.Logf("%d modules in the binaries: %s", len(seen), strings.Join(summary, ", "))
	if len(seen) < 20 {
		t.Fatalf("go list found only %d modules; the provider has more dependencies than that", len(seen))
	}
}

func licenceOf(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		n := strings.ToUpper(e.Name())
		if !strings.HasPrefix(n, "LICENSE") && !strings.HasPrefix(n, "LICENCE") && !strings.HasPrefix(n, "COPYING") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		for _, k := range licenceKinds {
			if k.re.Match(b) {
				return k.name, nil
			}
		}
		return "", &unknownLicence{file: filepath.Join(dir, e.Name())}
	}
	return "", &unknownLicence{file: dir + " (no LICENSE file)"}
}

type unknownLicence struct{ file string }

func (e *unknownLicence) Error() string {
	return "licence not recognised in " + e.file + ": read it, and add it to licenceKinds only if MPL-2.0 distribution allows it"
}
