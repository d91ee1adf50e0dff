package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

var root = filepath.Join("..", "..", "..")

// goListModules lists, independently of buildList (a text template instead of -json and Deps),
// the modules compiled into pkgs for one platform: "path version", or "Go standard library".
func goListModules(t *testing.T, platform string, pkgs ...string) map[string]bool {
	t.Helper()
	goos, goarch, _ := strings.Cut(platform, "/")
	args := append([]string{"list", "-deps", "-f",
		`{{if .Standard}}std{{else}}{{with .Module}}{{if not .Main}}{{with .Replace}}{{.Path}} {{.Version}}{{else}}{{.Path}} {{.Version}}{{end}}{{end}}{{end}}{{end}}`},
		pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("go list for %s: %v\n%s", platform, err, stderr.String())
		return nil
	}
	mods := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		switch l {
		case "":
		case "std":
			mods[stdlib] = true
		default:
			mods[l] = true
		}
	}
	return mods
}

// The notices file names every module compiled into the provider or the gateway on any release
// platform, and nothing else; each with the licence text of a licence that allows MPL-2.0
// distribution, and the binaries it is in.
func TestNoticesNameEveryModuleOfBothBinaries(t *testing.T) {
	out := filepath.Join(t.TempDir(), "THIRD_PARTY_NOTICES")
	if err := run([]string{"-C", root, "-o", out}); err != nil {
		t.Fatalf("notices: %v", err)
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]section{}
	for _, s := range parseSections(doc) {
		key := s.Path
		if s.Path != stdlib {
			key += " " + s.Version
		}
		sections[key] = s
	}

	// The build list, per platform, both binaries at once.
	platforms := strings.Split(releasePlatforms, ",")
	lists := make([]map[string]bool, len(platforms))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, p := range platforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			lists[i] = goListModules(t, p, ".", "./gatewayimage")
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := map[string]bool{}
	for _, l := range lists {
		for m := range l {
			want[m] = true
		}
	}
	if len(want) < 20 {
		t.Fatalf("go list found only %d modules; the provider has more dependencies than that", len(want))
	}
	allowed := map[string]bool{}
	for _, k := range allowedKinds() {
		allowed[k.name] = true
	}
	count := map[string]int{}
	for m := range want {
		s, ok := sections[m]
		if !ok {
			t.Errorf("%s: compiled into the binaries but not in THIRD_PARTY_NOTICES", m)
			continue
		}
		if len(s.Kinds) == 0 || strings.TrimSpace(s.Body) == "" {
			t.Errorf("%s: no licence named or no licence text (Licence: %q)", m, s.Kinds)
			continue
		}
		found := classify([]byte(s.Body))
		for _, k := range s.Kinds {
			if !allowed[k] {
				t.Errorf("%s: licence %s does not allow MPL-2.0 distribution", m, k)
			}
			if !slices.Contains(found, k) {
				t.Errorf("%s: named %s but its text in THIRD_PARTY_NOTICES is not (found %q)", m, k, found)
			}
			count[k]++
		}
	}
	for m := range sections {
		if !want[m] {
			t.Errorf("%s: in THIRD_PARTY_NOTICES but compiled into neither binary", m)
		}
	}

	// Which binary each module is in, on this platform.
	host := runtime.GOOS + "/" + runtime.GOARCH
	for _, b := range releaseBinaries() {
		for m := range goListModules(t, host, b.Package) {
			if s, ok := sections[m]; ok && !slices.Contains(s.In, b.Name) {
				t.Errorf("%s: compiled into %s, but its In: line is %q", m, b.Name, s.In)
			}
		}
	}
	var sum []string
	for k, n := range count {
		sum = append(sum, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(sum)
	t.Logf("%d components in %d bytes: %s", len(want), len(doc), strings.Join(sum, ", "))
}

// A module without a licence file, with an unknown licence or with one that forbids shipping it
// fails the run, each named, and no file is written.
func TestLicenceProblemsNameTheModule(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, files map[string]string) *component {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, text := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return &component{Path: "example.com/" + name, Version: "v1.0.0", Dir: d, Binaries: map[string]bool{"vamp-gateway": true}}
	}
	mit := "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"
	comps := []*component{
		mk("fine", map[string]string{"LICENSE": mit, "NOTICE": "Copyright the fine authors\n"}),
		mk("none", map[string]string{"README.md": "no licence here"}),
		mk("gpl", map[string]string{"COPYING": "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n"}),
		mk("odd", map[string]string{"LICENSE.txt": "Do what you like, but buy me a beer.\n"}),
	}
	bins := releaseBinaries()
	var buf bytes.Buffer
	err := write(&buf, comps, bins, []string{"linux/amd64"})
	if buf.Len() != 0 {
		t.Errorf("a failed run wrote %d bytes", buf.Len())
	}
	var got []string
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			var le *LicenceError
			if !errors.As(e, &le) {
				t.Errorf("not a *LicenceError: %v", e)
				continue
			}
			got = append(got, fmt.Sprintf("%s file=%t denied=%s", le.Module, le.File != "", le.Denied))
		}
	} else {
		t.Fatalf("want the joined errors of three modules, got %v", err)
	}
	want := []string{
		"example.com/none v1.0.0 file=false denied=",
		"example.com/gpl v1.0.0 file=true denied=GPL",
		"example.com/odd v1.0.0 file=true denied=",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	for _, name := range []string{"none", "gpl", "odd"} {
		if !strings.Contains(err.Error(), "example.com/"+name+" v1.0.0") {
			t.Errorf("the error does not name example.com/%s: %v", name, err)
		}
	}

	// The module alone: its section reads back with its licence, its NOTICE and its binary.
	buf.Reset()
	if err := write(&buf, comps[:1], bins, []string{"linux/amd64"}); err != nil {
		t.Fatal(err)
	}
	s := parseSections(buf.Bytes())
	if len(s) != 1 || s[0].Path != "example.com/fine" || s[0].Version != "v1.0.0" ||
		!slices.Equal(s[0].Kinds, []string{"MIT"}) || !slices.Equal(s[0].In, []string{"vamp-gateway"}) ||
		!strings.Contains(s[0].Body, "Permission is hereby granted") || !strings.Contains(s[0].Body, "Copyright the fine authors") {
		t.Errorf("section read back: %+v", s)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		// go.yaml.in/yaml/v3's LICENSE holds both.
		{"Permission is hereby granted, free of charge ...\nLicensed under the Apache License, Version 2.0 ...", []string{"Apache-2.0", "MIT"}},
		{"Redistribution and use in source and binary forms ... Neither the name of Google", []string{"BSD-3-Clause"}},
		{"Redistribution and use in source and binary forms, with or without", []string{"BSD-2-Clause"}},
		// MPL-2.0 names the GPL as a Secondary License: it is still MPL-2.0.
		{"Mozilla Public License Version 2.0 ... GNU General Public License, Version 2.0", []string{"MPL-2.0"}},
		{"GNU GENERAL PUBLIC LICENSE Version 3", nil},
	} {
		got := classify([]byte(c.text))
		sort.Strings(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("classify(%.40q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// releasePlatforms is goreleaser's build matrix, and the Go toolchain builds each of them.
func TestPlatformsAreGoreleasers(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, ".goreleaser.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Builds []struct {
			Goos   []string `yaml:"goos"`
			Goarch []string `yaml:"goarch"`
			Ignore []struct {
				Goos   string `yaml:"goos"`
				Goarch string `yaml:"goarch"`
			} `yaml:"ignore"`
		} `yaml:"builds"`
	}
	if err := yaml.Unmarshal(doc, &g); err != nil {
		t.Fatalf(".goreleaser.yml: %v", err)
	}
	var matrix []string
	for _, b := range g.Builds {
		for _, goos := range b.Goos {
			for _, arch := range b.Goarch {
				ignored := false
				for _, ig := range b.Ignore {
					ignored = ignored || (ig.Goos == goos && ig.Goarch == arch)
				}
				if !ignored {
					matrix = append(matrix, goos+"/"+arch)
				}
			}
		}
	}
	sort.Strings(matrix)
	ours := strings.Split(releasePlatforms, ",")
	if !slices.Equal(matrix, ours) {
		t.Errorf("releasePlatforms in internal/tools/notices: %q\n.goreleaser.yml builds: %q\nmake them the same, so that the notices cover every zip", ours, matrix)
	}
	out, err := exec.Command("go", "tool", "dist", "list").Output()
	if err != nil {
		t.Fatalf("go tool dist list: %v", err)
	}
	ports := strings.Fields(string(out))
	for _, p := range matrix {
		if !slices.Contains(ports, p) {
			t.Errorf(".goreleaser.yml builds %s, which this Go toolchain does not (go tool dist list): add it to ignore", p)
		}
	}
}
