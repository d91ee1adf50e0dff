package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// licenceKind recognises a licence by the text every copy of it has.
type licenceKind struct {
	name string
	re   *regexp.Regexp
}

// allowedKinds are the licences compatible with distributing the binaries under MPL-2.0: MPL-2.0
// itself, and the permissive licences whose notices travel with the binaries in
// THIRD_PARTY_NOTICES (MPL 2.0 section 3.3 allows a Larger Work combining them). A licence not
// listed here fails `make notices` and its test until someone has read it and added it.
func allowedKinds() []licenceKind {
	return []licenceKind{
		{"MPL-2.0", regexp.MustCompile(`Mozilla Public License,? [Vv]ersion 2\.0`)},
		{"Apache-2.0", regexp.MustCompile(`Apache License\s+Version 2\.0|Licensed under the Apache License, Version 2\.0`)},
		{"BSD-3-Clause", regexp.MustCompile(`(?s)Redistribution and use in source and binary forms.*(Neither the name|names of its\s+contributors)`)},
		{"BSD-2-Clause", regexp.MustCompile(`Redistribution and use in source and binary forms`)},
		{"MIT", regexp.MustCompile(`Permission is hereby granted, free of charge`)},
		{"ISC", regexp.MustCompile(`Permission to use, copy, modify, and(/or)? distribute this software for any`)},
	}
}

// deniedKinds are licences known not to allow shipping the module inside an MPL-2.0 binary
// release; they are named in the error so that nobody takes them for an unread licence.
func deniedKinds() []licenceKind {
	return []licenceKind{
		{"AGPL", regexp.MustCompile(`GNU AFFERO GENERAL PUBLIC LICENSE|GNU Affero General Public License`)},
		{"LGPL", regexp.MustCompile(`GNU LESSER GENERAL PUBLIC LICENSE|GNU Lesser General Public License`)},
		{"GPL", regexp.MustCompile(`GNU GENERAL PUBLIC LICENSE|GNU General Public License`)},
		{"BUSL-1.1", regexp.MustCompile(`Business Source License`)},
		{"SSPL", regexp.MustCompile(`Server Side Public License`)},
	}
}

// classify names the allowed licences a text holds (a file may hold two, e.g. MIT and
// Apache-2.0); none when it holds no allowed licence. BSD-2-Clause is not named beside
// BSD-3-Clause, whose text contains it.
func classify(text []byte) []string {
	var kinds []string
	for _, k := range allowedKinds() {
		if k.name == "BSD-2-Clause" && len(kinds) > 0 && kinds[len(kinds)-1] == "BSD-3-Clause" {
			continue
		}
		if k.re.Match(text) {
			kinds = append(kinds, k.name)
		}
	}
	return kinds
}

// denied names the first incompatible licence a text holds, or "".
func denied(text []byte) string {
	for _, k := range deniedKinds() {
		if k.re.Match(text) {
			return k.name
		}
	}
	return ""
}

// A LicenceError is a module whose licence does not allow shipping it in the release: no licence
// file, a licence not recognised, or one known to be incompatible with MPL-2.0 distribution.
type LicenceError struct {
	Module string // path and version
	File   string // the licence file read; "" when the module has none
	Denied string // the incompatible licence found; "" when none was recognised at all
}

func (e *LicenceError) Error() string {
	switch {
	case e.File == "":
		return fmt.Sprintf("%s: no LICENSE, LICENCE or COPYING file at the module's root: find its licence upstream and, if it allows MPL-2.0 distribution, replace the module by a version that ships it", e.Module)
	case e.Denied != "":
		return fmt.Sprintf("%s: %s is %s, which does not allow distributing the binaries under MPL-2.0: drop or replace the module", e.Module, e.File, e.Denied)
	default:
		return fmt.Sprintf("%s: licence in %s not recognised: read it, and add it to allowedKinds in internal/tools/notices only if MPL-2.0 distribution allows it", e.Module, e.File)
	}
}

// textFile is a licence or notice file of a module, with the licences found in it.
type textFile struct {
	Name  string
	Kinds []string // empty for a NOTICE file
	Text  string
}

// licenceFiles reads the licence files (LICENSE*, LICENCE*, COPYING*) and notice files (NOTICE*)
// at a module's root. Every licence file must be an allowed licence; there must be one.
func licenceFiles(module, dir string) ([]textFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (run go mod download)", module, err)
	}
	var files []textFile
	licences := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		n := strings.ToUpper(e.Name())
		isLicence := strings.HasPrefix(n, "LICENSE") || strings.HasPrefix(n, "LICENCE") || strings.HasPrefix(n, "COPYING")
		if !isLicence && !strings.HasPrefix(n, "NOTICE") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", module, err)
		}
		f := textFile{Name: e.Name(), Text: string(b)}
		if isLicence {
			licences++
			f.Kinds = classify(b)
			if len(f.Kinds) == 0 {
				return nil, &LicenceError{Module: module, File: path, Denied: denied(b)}
			}
		}
		files = append(files, f)
	}
	if licences == 0 {
		return nil, &LicenceError{Module: module}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}
