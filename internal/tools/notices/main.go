// Command notices writes THIRD_PARTY_NOTICES (`make notices`): the licence and NOTICE texts of
// every module compiled into the provider and the gateway, and of Go's standard library, for
// every platform a release builds. goreleaser puts the file into each release zip (.goreleaser.yml);
// the Apache-2.0, BSD and MIT licences ask that their notices go with binary redistributions.
//
//	go run ./internal/tools/notices -o bin/THIRD_PARTY_NOTICES
//
// The build list is `go list -deps -json` of the two main packages with GOOS/GOARCH set to each
// platform (with CGO_ENABLED=0, as the release builds), so a module compiled in on one platform
// only is named too. Each module's licence files (LICENSE*, LICENCE*, COPYING*) and notice files
// (NOTICE*) are read from the module cache. It fails, naming each module, when a module has no
// licence file or one whose licence is not known to allow distributing the binaries under MPL-2.0.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// releasePlatforms is goreleaser's build matrix (goos x goarch minus its ignores);
// TestPlatformsAreGoreleasers keeps the two equal.
const releasePlatforms = "darwin/amd64,darwin/arm64," +
	"freebsd/386,freebsd/amd64,freebsd/arm,freebsd/arm64," +
	"linux/386,linux/amd64,linux/arm,linux/arm64," +
	"windows/386,windows/amd64,windows/arm64"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "notices:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("notices", flag.ContinueOnError)
	out := fs.String("o", "bin/THIRD_PARTY_NOTICES", "the file to write")
	platforms := fs.String("platforms", releasePlatforms, "comma-separated os/arch the release builds for")
	dir := fs.String("C", ".", "the module's root directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: give the file with -o", fs.Args())
	}
	bins := releaseBinaries()
	ps := strings.Split(*platforms, ",")
	comps, err := buildList(*dir, bins, ps)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := write(&buf, comps, bins, ps); err != nil {
		return err
	}
	if err := writeFile(*out, buf.Bytes()); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d components (%s), %d bytes\n", *out, len(comps), summary(buf.Bytes()), buf.Len())
	return nil
}

// releaseBinaries are the binaries a release ships: the provider (the zips) and the gateway
// (the image, and the zips' users run it).
func releaseBinaries() []binary {
	return []binary{
		{Name: "terraform-provider-vamp", Package: "."},
		{Name: "vamp-gateway", Package: "./gatewayimage"},
	}
}

// writeFile replaces path with data, never leaving a partial file behind.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".notices-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // after the rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// summary counts the components per licence in a written notices file, e.g. "MIT 13, MPL-2.0 10".
func summary(notices []byte) string {
	count := map[string]int{}
	for _, s := range parseSections(notices) {
		for _, k := range s.Kinds {
			count[k]++
		}
	}
	var parts []string
	for k, n := range count {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// section is one component's part of a notices file.
type section struct {
	Path, Version string
	Kinds         []string // from its Licence: line
	In            []string // from its In: line
	Body          string   // its licence and notice texts
}

// parseSections reads the per-component sections of a notices file back.
func parseSections(notices []byte) []section {
	parts := strings.Split(string(notices), "\n"+heavyRule+"\n")
	var out []section
	for _, p := range parts[1:] {
		head, body, _ := strings.Cut(p, lightRule+"\n")
		lines := strings.Split(strings.TrimSpace(head), "\n")
		var s section
		s.Body = body
		for i, l := range lines {
			switch {
			case i == 0:
				if v, ok := strings.CutPrefix(l, stdlib+" "); ok {
					s.Path, s.Version = stdlib, v
				} else {
					s.Path, s.Version, _ = strings.Cut(l, " ") // module paths have no spaces
				}
			case strings.HasPrefix(l, "Licence: "):
				s.Kinds = strings.Split(strings.TrimPrefix(l, "Licence: "), ", ")
			case strings.HasPrefix(l, "In: "):
				s.In = strings.Split(strings.TrimPrefix(l, "In: "), ", ")
			}
		}
		out = append(out, s)
	}
	return out
}
