package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// binary is a main package whose dependencies ship in a release.
type binary struct {
	Name    string // the binary's name
	Package string // its main package, relative to the module's root
}

// component is a module (or Go's standard library) compiled into at least one binary.
type component struct {
	Path     string // module path, or "Go standard library"
	Version  string
	Dir      string          // where its licence files are
	Binaries map[string]bool // binary names
}

const stdlib = "Go standard library"

// listed is the part of `go list -json` read here.
type listed struct {
	ImportPath string
	Standard   bool
	Deps       []string
	Module     *listedModule
}

type listedModule struct {
	Path    string
	Version string
	Dir     string
	Main    bool
	Replace *listedModule
}

// A ListError is `go list` failing for a platform (a package that does not build there, or a
// module that cannot be downloaded).
type ListError struct {
	Platform string
	Err      error
	Stderr   string
}

func (e *ListError) Error() string {
	return fmt.Sprintf("go list -deps for %s: %v\n%s", e.Platform, e.Err, e.Stderr)
}

func (e *ListError) Unwrap() error { return e.Err }

// buildList returns the components compiled into the binaries on any of the platforms (os/arch),
// as the release builds them (CGO_ENABLED=0), from `go list -deps -json` run in dir.
func buildList(dir string, bins []binary, platforms []string) ([]*component, error) {
	type result struct {
		pkgs []listed
		err  error
	}
	results := make([]result, len(platforms))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, p := range platforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i].pkgs, results[i].err = goList(dir, p, bins)
		}()
	}
	wg.Wait()
	std, err := goroot(dir)
	if err != nil {
		return nil, err
	}

	byPath := map[string]*component{}
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		pkgs := map[string]listed{}
		for _, p := range r.pkgs {
			pkgs[p.ImportPath] = p
		}
		for _, b := range bins {
			root, err := mainPackage(r.pkgs, b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", platforms[i], err)
			}
			for _, ip := range append([]string{root.ImportPath}, root.Deps...) {
				p, ok := pkgs[ip]
				if !ok {
					return nil, fmt.Errorf("%s: go list named %s as a dependency of %s but did not list it", platforms[i], ip, b.Package)
				}
				c, err := componentOf(p, std)
				if err != nil {
					return nil, err
				}
				if c == nil {
					continue // the provider's own module
				}
				if have, ok := byPath[c.Path]; ok {
					c = have
				} else {
					byPath[c.Path] = c
				}
				c.Binaries[b.Name] = true
			}
		}
	}
	list := make([]*component, 0, len(byPath))
	for _, c := range byPath {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	return list, nil
}

// goList lists the binaries' packages and their dependencies for one platform.
func goList(dir, platform string, bins []binary) ([]listed, error) {
	goos, goarch, ok := strings.Cut(platform, "/")
	if !ok || goos == "" || goarch == "" {
		return nil, fmt.Errorf("-platforms: %q is not os/arch (e.g. linux/amd64)", platform)
	}
	args := []string{"list", "-deps", "-json=ImportPath,Standard,Deps,Module"}
	for _, b := range bins {
		args = append(args, b.Package)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &ListError{Platform: platform, Err: err, Stderr: stderr.String()}
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, &ListError{Platform: platform, Err: err}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// mainPackage finds a binary's main package among the listed packages: the one in the main
// module whose directory is the binary's package directory.
func mainPackage(pkgs []listed, b binary) (listed, error) {
	want := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(b.Package)), "./")
	for _, p := range pkgs {
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, p.Module.Path), "/")
		if rel == "" {
			rel = "."
		}
		if rel == want {
			return p, nil
		}
	}
	return listed{}, fmt.Errorf("go list did not list the main package %s of %s", b.Package, b.Name)
}

// goroot is the standard library of the go command that lists the packages: its version and
// its GOROOT, which holds its LICENSE.
func goroot(dir string) (component, error) {
	cmd := exec.Command("go", "env", "-json", "GOROOT", "GOVERSION")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return component{}, fmt.Errorf("go env: %w\n%s", err, stderr.String())
	}
	var env struct{ GOROOT, GOVERSION string }
	if err := json.Unmarshal(out, &env); err != nil {
		return component{}, fmt.Errorf("go env -json: %w", err)
	}
	return component{Path: stdlib, Version: env.GOVERSION, Dir: env.GOROOT}, nil
}

// componentOf is the module (after replacements) a package belongs to, or the standard library
// std; nil for the main module.
func componentOf(p listed, std component) (*component, error) {
	if p.Standard {
		std.Binaries = map[string]bool{}
		return &std, nil
	}
	m := p.Module
	if m == nil {
		return nil, fmt.Errorf("package %s is in no module: build in module mode", p.ImportPath)
	}
	if m.Main {
		return nil, nil
	}
	if m.Replace != nil {
		r := m.Replace
		if r.Version == "" { // a directory replacement: the module as required, the files from r
			m = &listedModule{Path: m.Path, Version: m.Version, Dir: r.Dir}
		} else {
			m = &listedModule{Path: r.Path, Version: r.Version, Dir: r.Dir}
		}
	}
	if m.Dir == "" {
		return nil, fmt.Errorf("%s@%s: not in the module cache: run go mod download %s", m.Path, m.Version, m.Path)
	}
	return &component{Path: m.Path, Version: m.Version, Dir: m.Dir, Binaries: map[string]bool{}}, nil
}

const (
	heavyRule = "================================================================================"
	lightRule = "--------------------------------------------------------------------------------"
)

// write renders the notices: a header, one line per component, then each component's licence
// and notice files verbatim. It reads every licence first and returns all the LicenceErrors at
// once (errors.Join), so one run names every module that blocks the release.
func write(w io.Writer, comps []*component, bins []binary, platforms []string) error {
	files := make([][]textFile, len(comps))
	var errs []error
	for i, c := range comps {
		f, err := licenceFiles(c.Path+" "+c.Version, c.Dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files[i] = f
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	var names, pkgs []string
	for _, b := range bins {
		names = append(names, b.Name)
		pkgs = append(pkgs, b.Package)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "THIRD-PARTY SOFTWARE NOTICES\n\n")
	fmt.Fprintf(&buf, "%s are distributed under the Mozilla Public License 2.0 (LICENSE).\n", strings.Join(names, " and "))
	fmt.Fprintf(&buf, "They are built with the Go toolchain and the modules listed below, each under its own\n")
	fmt.Fprintf(&buf, "licence, whose text follows with the module's NOTICE file where it has one.\n\n")
	fmt.Fprintf(&buf, "Generated by internal/tools/notices (make notices) from go list -deps %s\n", strings.Join(pkgs, " "))
	fmt.Fprintf(&buf, "for %s.\n\n", strings.Join(platforms, ", "))
	fmt.Fprintf(&buf, "%d components:\n\n", len(comps))
	for i, c := range comps {
		fmt.Fprintf(&buf, "  %-70s %s\n", c.Path+" "+c.Version, strings.Join(kindsOf(files[i]), ", "))
	}
	for i, c := range comps {
		fmt.Fprintf(&buf, "\n%s\n%s %s\n", heavyRule, c.Path, c.Version)
		fmt.Fprintf(&buf, "Licence: %s\n", strings.Join(kindsOf(files[i]), ", "))
		var in []string
		for _, b := range bins {
			if c.Binaries[b.Name] {
				in = append(in, b.Name)
			}
		}
		fmt.Fprintf(&buf, "In: %s\n", strings.Join(in, ", "))
		for _, f := range files[i] {
			fmt.Fprintf(&buf, "%s\n%s:\n\n%s", lightRule, f.Name, f.Text)
			if !strings.HasSuffix(f.Text, "\n") {
				buf.WriteByte('\n')
			}
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// kindsOf is the licences of a component's files, each once, in a stable order.
func kindsOf(files []textFile) []string {
	seen := map[string]bool{}
	var kinds []string
	for _, f := range files {
		for _, k := range f.Kinds {
			if !seen[k] {
				seen[k] = true
				kinds = append(kinds, k)
			}
		}
	}
	sort.Strings(kinds)
	return kinds
}
